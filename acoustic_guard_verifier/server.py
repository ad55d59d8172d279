"""The aiohttp application: ``POST /v1/verify`` and ``GET /v1/health``.

Requests are checked in order of cost: token (401), declared size (413), content type (415),
then the multipart body is read with a running byte count (413 as soon as it passes the
limit), the metadata validated (400), the clip decoded (415 / 400). Only then does the
analysis run, in the default executor, at most ``max_parallel`` at a time. The clip is kept
in memory only, never written to disk.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import BodyPartReader, web

from . import __version__
from .protocol import (
    CLIP_PART,
    MAX_METADATA_BYTES,
    METADATA_PART,
    WAV_CONTENT_TYPES,
    ProtocolError,
    parse_metadata,
)
from .service import VerifierService

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = 8 * 1024 * 1024  # keep equal to __main__.DEFAULT_MAX_BYTES
READ_CHUNK: Final = 65_536
HANDLER_ARGS: Final = {"lingering_time": 2.0}
"""After an early 413, aiohttp keeps reading (and dropping) the rest of the upload so the
client sees the answer; 2 s instead of its default 10 s bounds what a rejected upload holds."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class ServerConfig:
    """What the server enforces."""

    token: str
    max_bytes: int = DEFAULT_MAX_BYTES
    threads: int = 1
    max_parallel: int = 2


CONFIG_KEY: Final = web.AppKey("config", ServerConfig)


@dataclass(slots=True)
class ModelSlot:
    """The loaded service; filled at start-up (the app is frozen by then, the slot is not)."""

    service: VerifierService | None = None


SLOT_KEY: Final = web.AppKey("slot", ModelSlot)
LIMIT_KEY: Final = web.AppKey("limit", asyncio.Semaphore)


def error_response(status: int, code: str, message: str) -> web.Response:
    headers = (
        {"WWW-Authenticate": 'Bearer realm="acoustic_guard_verifier"'} if status == 401 else None
    )
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


_HTTP_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error, ours or aiohttp's, leaves as ``{"error", "message"}`` JSON."""
    try:
        return await handler(request)
    except ProtocolError as err:
        return error_response(err.status, err.code, err.message)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = _HTTP_CODES.get(err.status, "http_error")
        return error_response(err.status, code, err.reason)
    except Exception:
        _LOGGER.exception("unexpected error handling %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the verifier failed; see its log")


def check_token(request: web.Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ProtocolError(401, "unauthorized", "missing bearer token")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ProtocolError(401, "unauthorized", "wrong token")


def too_large(limit: int) -> ProtocolError:
    return ProtocolError(413, "payload_too_large", f"the request body is over {limit} bytes")


async def read_parts(request: web.Request, limit: int) -> dict[str, tuple[str, bytes]]:
    """The form's parts by name: (content type, bytes), never more than ``limit`` bytes."""
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError) as err:
        raise ProtocolError(400, "bad_request", f"malformed multipart body: {err}") from err
    parts: dict[str, tuple[str, bytes]] = {}
    total = 0
    while True:
        try:
            part = await reader.next()
        except (ValueError, AssertionError, RuntimeError) as err:
            raise ProtocolError(400, "bad_request", f"malformed multipart body: {err}") from err
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise ProtocolError(400, "bad_request", "nested multipart bodies are not supported")
        name = part.name or ""
        if name in parts:
            raise ProtocolError(400, "bad_request", f"part '{name}' appears twice")
        chunks: list[bytes] = []
        while chunk := await part.read_chunk(READ_CHUNK):
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            chunks.append(chunk)
        if name in (CLIP_PART, METADATA_PART):
            ctype = part.headers.get("Content-Type", "application/octet-stream")
            parts[name] = (ctype.split(";")[0].strip().lower(), b"".join(chunks))
    return parts


async def handle_verify(request: web.Request) -> web.Response:
    started = time.perf_counter()
    app = request.app
    config = app[CONFIG_KEY]
    check_token(request, config.token)
    if request.content_length is not None and request.content_length > config.max_bytes:
        raise too_large(config.max_bytes)
    if request.content_type != "multipart/form-data":
        raise ProtocolError(
            415,
            "unsupported_media_type",
            f"send multipart/form-data with a '{CLIP_PART}' WAV part and a "
            f"'{METADATA_PART}' JSON part (got {request.content_type})",
        )
    parts = await read_parts(request, config.max_bytes)
    for name in (CLIP_PART, METADATA_PART):
        if name not in parts:
            raise ProtocolError(400, "bad_request", f"the '{name}' part is missing")
    meta_type, meta_raw = parts[METADATA_PART]
    if meta_type not in ("application/json", "text/plain", "application/octet-stream"):
        raise ProtocolError(400, "bad_metadata", f"metadata must be JSON (got {meta_type})")
    if len(meta_raw) > MAX_METADATA_BYTES:
        raise ProtocolError(400, "bad_metadata", "metadata is too large")
    metadata = parse_metadata(meta_raw)
    clip_type, clip = parts[CLIP_PART]
    if clip_type not in WAV_CONTENT_TYPES and clip_type != "application/octet-stream":
        raise ProtocolError(
            415, "unsupported_media_type", f"the clip must be audio/wav (got {clip_type})"
        )
    service = app[SLOT_KEY].service
    if service is None:
        raise ProtocolError(503, "not_ready", "the model is not loaded")
    loop = asyncio.get_running_loop()
    async with app[LIMIT_KEY]:
        body = await loop.run_in_executor(None, service.verify, clip, metadata)
    body["elapsed_ms"] = round((time.perf_counter() - started) * 1000.0, 1)
    _LOGGER.info(
        "verify %s from %s (satellite %s): verified=%s confidence=%.2f rule=%s in %.0f ms",
        metadata.event,
        request.remote,
        metadata.satellite,
        body["verified"],
        body["confidence"],
        body["rule"],
        body["elapsed_ms"],
    )
    return web.json_response(body)


async def handle_health(request: web.Request) -> web.Response:
    service = request.app[SLOT_KEY].service
    return web.json_response(
        {
            "status": "ok" if service is not None else "loading",
            "model": service.model_name if service is not None else None,
            "version": __version__,
        },
        status=200 if service is not None else 503,
    )


async def _load_model(app: web.Application) -> None:
    slot = app[SLOT_KEY]
    if slot.service is not None:
        return
    threads = app[CONFIG_KEY].threads
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    slot.service = await loop.run_in_executor(None, VerifierService.load, threads)
    _LOGGER.info(
        "model %s loaded in %.1f s", slot.service.model_name, time.perf_counter() - started
    )


def create_app(config: ServerConfig, service: VerifierService | None = None) -> web.Application:
    """The application; without ``service`` the model is loaded (in an executor) at start-up."""
    if not config.token:
        raise ValueError("an empty token would let anyone in")
    # aiohttp's own limit stays above ours so that our 413 (JSON) answers first.
    app = web.Application(
        middlewares=[json_errors],
        client_max_size=config.max_bytes + 1,
        handler_args=HANDLER_ARGS,
    )
    app[CONFIG_KEY] = config
    app[LIMIT_KEY] = asyncio.Semaphore(config.max_parallel)
    app[SLOT_KEY] = ModelSlot(service)
    # (aiosignal's newer generic Signal type confuses mypy about aiohttp's own signature.)
    app.on_startup.append(_load_model)  # type: ignore[arg-type]
    app.router.add_post("/v1/verify", handle_verify)
    app.router.add_get("/v1/health", handle_health)
    return app


async def start_server(
    config: ServerConfig,
    service: VerifierService | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> tuple[web.AppRunner, str]:
    """Start the verifier in the running loop (tests, benchmarks, end-to-end setups).

    Returns the runner (``await runner.cleanup()`` stops it) and the base URL; ``port`` 0
    picks a free port.
    """
    runner = web.AppRunner(create_app(config, service), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{host}:{bound[1]}"
