"""Client of a remote verifier (the second stage): send a candidate's clip, read the verdict.

The protocol is ``docs/verifier-openapi.yaml``: ``POST <url>`` (``…/v1/verify``) with a
multipart form holding ``clip`` (audio/wav) and ``metadata`` (JSON), ``Authorization:
Bearer <token>``; the answer is JSON with at least ``verified`` (bool) and ``confidence``
(0..1). Anything else is a :class:`VerifierError` whose ``reason`` says what went wrong
(one of :class:`VerifierFailure`), so the guard can fail open or closed, count the failure
in diagnostics and raise a repair issue when it persists.

No Home Assistant import: the caller passes its ``aiohttp.ClientSession`` (HA's shared one)
and, for HTTPS with a private CA, an ``ssl.SSLContext`` built by :func:`create_ssl_context`
in an executor (loading certificates is blocking I/O).
"""

from __future__ import annotations

import asyncio
import json
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import aiohttp
from yarl import URL

VERIFY_PATH: Final = "/v1/verify"
MAX_RESPONSE_BYTES: Final = 65_536
MAX_ERROR_TEXT: Final = 200
USER_AGENT: Final = "acoustic-guard-verification/1"


class VerifierFailure(StrEnum):
    """Why a verification did not produce a verdict."""

    INVALID_REQUEST = "invalid_request"
    """Bad URL, clip or metadata on our side: nothing was sent."""
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TLS = "tls"
    AUTH = "auth"
    """401 / 403: the token was refused."""
    REJECTED = "rejected"
    """Another 4xx: the verifier refused the request (too large, not audio, bad metadata)."""
    SERVER_ERROR = "server_error"
    """5xx or any other non-2xx status."""
    REDIRECT = "redirect"
    BAD_RESPONSE = "bad_response"
    """The body is not JSON with ``verified`` (bool) and ``confidence`` (0..1)."""
    RESPONSE_TOO_LARGE = "response_too_large"


class VerifierError(Exception):
    """A verification that failed; ``reason`` is machine-readable, the message is for logs."""

    def __init__(self, reason: VerifierFailure, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The verifier's verdict; ``raw`` is the whole JSON answer (labels, model, …)."""

    verified: bool
    confidence: float
    raw: Mapping[str, Any]


def build_metadata(
    event: str,
    *,
    satellite: str | None = None,
    confidence: float | None = None,
    start: datetime | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """The ``metadata`` part as the protocol defines it (``start`` must be timezone-aware)."""
    data: dict[str, Any] = {"event": event}
    if satellite is not None:
        data["satellite"] = satellite[:200]
    if confidence is not None and math.isfinite(confidence):
        data["confidence"] = round(min(1.0, max(0.0, float(confidence))), 4)
    if start is not None:
        data["start"] = start.isoformat()
    if model_version is not None:
        data["model_version"] = model_version[:200]
    return data


def endpoint_url(url: str) -> URL:
    """The verify endpoint of a configured URL: a bare ``http(s)://host[:port][/]`` gets
    ``/v1/verify`` appended; a URL with a path is used as it is."""
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError) as err:
        raise VerifierError(VerifierFailure.INVALID_REQUEST, f"invalid URL {url!r}") from err
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise VerifierError(
            VerifierFailure.INVALID_REQUEST, f"URL must be http:// or https:// with a host: {url!r}"
        )
    if parsed.path in ("", "/"):
        return parsed.with_path(VERIFY_PATH)
    return parsed


def create_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A certificate-checking client context, trusting ``ca_file`` (PEM) if given, else the
    system's CAs. Blocking (reads files): call it in an executor."""
    try:
        if ca_file:
            return ssl.create_default_context(cafile=ca_file)
        return ssl.create_default_context()
    except (OSError, ssl.SSLError) as err:
        raise VerifierError(VerifierFailure.TLS, f"cannot load CA file {ca_file!r}: {err}") from err


def _form(clip_wav: bytes, metadata: Mapping[str, Any]) -> aiohttp.FormData:
    if not clip_wav:
        raise VerifierError(VerifierFailure.INVALID_REQUEST, "the clip is empty")
    try:
        meta_json = json.dumps(dict(metadata), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise VerifierError(
            VerifierFailure.INVALID_REQUEST, f"metadata is not JSON-serialisable: {err}"
        ) from err
    form = aiohttp.FormData()
    form.add_field("clip", clip_wav, filename="clip.wav", content_type="audio/wav")
    form.add_field("metadata", meta_json, content_type="application/json")
    return form


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    if response.content_length is not None and response.content_length > cap:
        raise VerifierError(
            VerifierFailure.RESPONSE_TOO_LARGE,
            f"answer of {response.content_length} bytes (at most {cap} read)",
        )
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(8192):
        total += len(chunk)
        if total > cap:
            raise VerifierError(
                VerifierFailure.RESPONSE_TOO_LARGE, f"answer over {cap} bytes (stopped reading)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _error_detail(body: bytes) -> str:
    """The verifier's ``message`` from a JSON error body, or a short printable excerpt."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        code = data.get("error")
        text = f"{code}: {data['message']}" if isinstance(code, str) else data["message"]
    else:
        text = body.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:MAX_ERROR_TEXT] or "(empty body)"


def parse_verdict(body: bytes) -> VerificationResult:
    """The verdict in a 2xx body, or ``VerifierError(BAD_RESPONSE)``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise VerifierError(VerifierFailure.BAD_RESPONSE, "the answer is not JSON") from err
    if not isinstance(data, dict):
        raise VerifierError(VerifierFailure.BAD_RESPONSE, "the answer is not a JSON object")
    verified = data.get("verified")
    if not isinstance(verified, bool):
        raise VerifierError(VerifierFailure.BAD_RESPONSE, "'verified' is missing or not a bool")
    confidence = data.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        raise VerifierError(
            VerifierFailure.BAD_RESPONSE, "'confidence' is missing or not a number in 0..1"
        )
    return VerificationResult(verified=verified, confidence=float(confidence), raw=data)


async def verify(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    clip_wav: bytes,
    metadata: Mapping[str, Any],
    *,
    timeout: float,  # noqa: ASYNC109 - bounds the whole exchange, passed on to aiohttp too
    ssl_context: ssl.SSLContext | None = None,
) -> VerificationResult:
    """Ask the verifier at ``url`` about one clip; raise ``VerifierError`` on any failure.

    ``timeout`` bounds the whole exchange (connect, upload, answer). Redirects are never
    followed (a clip must not be sent anywhere but the configured host). HTTPS certificates
    are always checked, against ``ssl_context`` when given (a private CA), else the system's.
    """
    target = endpoint_url(url)
    if timeout <= 0:
        raise VerifierError(VerifierFailure.INVALID_REQUEST, "timeout must be positive")
    if not token or not token.isprintable() or token != token.strip():
        raise VerifierError(VerifierFailure.INVALID_REQUEST, "the token is empty or not printable")
    form = _form(clip_wav, metadata)
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    ssl_arg: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    try:
        async with asyncio.timeout(timeout):
            async with session.post(
                target,
                data=form,
                headers=headers,
                allow_redirects=False,
                ssl=ssl_arg,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status = response.status
                if 300 <= status < 400:
                    location = response.headers.get("Location", "(no Location)")
                    raise VerifierError(
                        VerifierFailure.REDIRECT,
                        f"HTTP {status} redirect to {location[:MAX_ERROR_TEXT]} refused",
                    )
                body = await _read_capped(response, MAX_RESPONSE_BYTES)
    except VerifierError:
        raise
    except TimeoutError as err:
        raise VerifierError(VerifierFailure.TIMEOUT, f"no answer within {timeout:g} s") from err
    except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch, ssl.SSLError) as err:
        raise VerifierError(VerifierFailure.TLS, f"TLS failure with {target.host}: {err}") from err
    except aiohttp.ClientConnectionError as err:
        raise VerifierError(
            VerifierFailure.CONNECTION, f"cannot reach {target.host}:{target.port}: {err}"
        ) from err
    except aiohttp.ClientError as err:
        raise VerifierError(VerifierFailure.CONNECTION, f"HTTP error: {err}") from err
    if status in (401, 403):
        raise VerifierError(
            VerifierFailure.AUTH, f"HTTP {status}: token refused ({_error_detail(body)})"
        )
    if 400 <= status < 500:
        raise VerifierError(VerifierFailure.REJECTED, f"HTTP {status}: {_error_detail(body)}")
    if not 200 <= status < 300:
        raise VerifierError(VerifierFailure.SERVER_ERROR, f"HTTP {status}: {_error_detail(body)}")
    return parse_verdict(body)
