"""The integration's verifier client against real servers on loopback (and one real verifier)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acoustic_guard_verifier.protocol import parse_metadata
from custom_components.acoustic_guard.verification import (
    MAX_RESPONSE_BYTES,
    VerificationResult,
    VerifierError,
    VerifierFailure,
    build_metadata,
    create_ssl_context,
    endpoint_url,
    verify,
)

from .conftest import TOKEN, StartApp

META = {
    "event": "smoke_alarm",
    "satellite": "Kitchen",
    "confidence": 0.83,
    "start": "2026-11-25T12:00:00+00:00",
    "model_version": "test",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIP = b"RIFF....WAVEfmt "  # the fake servers below never decode it
GOOD = {"verified": True, "confidence": 0.9, "labels": []}


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def fake_verifier(handler: Handler | None = None) -> web.Application:
    """A stand-in verifier whose answer the test chooses."""

    async def good(request: web.Request) -> web.Response:
        return web.json_response(GOOD)

    app = web.Application()
    app.router.add_post("/v1/verify", handler or good)
    return app


async def fails_with(
    session: aiohttp.ClientSession, url: str, reason: VerifierFailure, limit: float = 5.0
) -> VerifierError:
    with pytest.raises(VerifierError) as info:
        await verify(session, url, TOKEN, CLIP, META, timeout=limit)
    assert info.value.reason is reason, info.value
    return info.value


async def test_real_verifier_confirms_a_real_alarm(
    session: aiohttp.ClientSession, verifier_url: str, smoke_clip: bytes
) -> None:
    result = await verify(session, verifier_url, TOKEN, smoke_clip, META, timeout=10.0)
    assert isinstance(result, VerificationResult)
    assert result.verified is True
    assert 0.5 <= result.confidence <= 1.0
    assert result.raw["event"] == "smoke_alarm"


async def test_real_verifier_rejects_music(
    session: aiohttp.ClientSession, verifier_url: str, music_clip: bytes
) -> None:
    result = await verify(session, verifier_url, TOKEN, music_clip, META, timeout=10.0)
    assert result.verified is False


async def test_real_verifier_wrong_token_is_auth(
    session: aiohttp.ClientSession, verifier_url: str, smoke_clip: bytes
) -> None:
    with pytest.raises(VerifierError) as info:
        await verify(session, verifier_url, "nope", smoke_clip, META, timeout=10.0)
    assert info.value.reason is VerifierFailure.AUTH
    assert "unauthorized" in info.value.message


async def test_real_verifier_refusal_is_rejected(
    session: aiohttp.ClientSession, verifier_url: str
) -> None:
    with pytest.raises(VerifierError) as info:
        await verify(session, verifier_url, TOKEN, b"not audio", META, timeout=10.0)
    assert info.value.reason is VerifierFailure.REJECTED
    assert "415" in info.value.message


async def test_request_carries_clip_metadata_and_token(
    session: aiohttp.ClientSession, start_app: StartApp
) -> None:
    seen: dict[str, object] = {}

    async def record(request: web.Request) -> web.Response:
        seen["auth"] = request.headers.get("Authorization")
        post = await request.post()
        clip = post["clip"]
        assert isinstance(clip, web.FileField)
        seen["clip"] = clip.file.read()
        seen["clip_type"] = clip.content_type
        metadata = post["metadata"]
        assert isinstance(metadata, bytes | bytearray)  # a non-text part without a filename
        seen["metadata"] = json.loads(metadata)
        return web.json_response({"verified": False, "confidence": 0})

    url = await start_app(fake_verifier(record))
    result = await verify(session, url + "/", TOKEN, CLIP, META, timeout=5.0)
    assert result == VerificationResult(False, 0.0, {"verified": False, "confidence": 0})
    assert seen == {
        "auth": f"Bearer {TOKEN}",
        "clip": CLIP,
        "clip_type": "audio/wav",
        "metadata": META,
    }


async def test_server_down_is_connection(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await fails_with(session, f"http://127.0.0.1:{port}", VerifierFailure.CONNECTION)
    assert str(port) in error.message


async def test_slow_server_is_timeout(session: aiohttp.ClientSession, start_app: StartApp) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 5)
        return web.json_response(GOOD)

    url = await start_app(fake_verifier(slow))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fails_with(session, url, VerifierFailure.TIMEOUT, limit=0.3)
    assert loop.time() - started < 2.0
    release.set()


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not json</html>",
        b'["verified", true]',
        b'{"confidence": 0.5}',
        b'{"verified": "yes", "confidence": 0.5}',
        b'{"verified": true}',
        b'{"verified": true, "confidence": 1.5}',
        b'{"verified": true, "confidence": true}',
        b'{"verified": true, "confidence": NaN}',
        b"\xff\xfe\x00garbage",
    ],
)
async def test_garbage_answer_is_bad_response(
    session: aiohttp.ClientSession, start_app: StartApp, body: bytes
) -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    url = await start_app(fake_verifier(garbage))
    await fails_with(session, url, VerifierFailure.BAD_RESPONSE)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_answer_is_refused(
    session: aiohttp.ClientSession, start_app: StartApp, chunked: bool
) -> None:
    padding = "x" * (MAX_RESPONSE_BYTES + 10_000)
    payload = json.dumps({**GOOD, "padding": padding}).encode()

    async def huge(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=payload, content_type="application/json")
        response = web.StreamResponse()
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(payload), 4096):
            await response.write(payload[start : start + 4096])
        await response.write_eof()
        return response

    url = await start_app(fake_verifier(huge))
    await fails_with(session, url, VerifierFailure.RESPONSE_TOO_LARGE)


async def test_redirect_is_not_followed(
    session: aiohttp.ClientSession, start_app: StartApp
) -> None:
    hits: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response(GOOD)

    other = await start_app(fake_verifier(elsewhere))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{other}/v1/verify")

    url = await start_app(fake_verifier(redirect))
    error = await fails_with(session, url, VerifierFailure.REDIRECT)
    assert other in error.message
    assert hits == []  # the clip never reached the other host


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, VerifierFailure.SERVER_ERROR),
        (503, VerifierFailure.SERVER_ERROR),
        (401, VerifierFailure.AUTH),
        (403, VerifierFailure.AUTH),
        (413, VerifierFailure.REJECTED),
        (404, VerifierFailure.REJECTED),
    ],
)
async def test_http_errors(
    session: aiohttp.ClientSession,
    start_app: StartApp,
    status: int,
    reason: VerifierFailure,
) -> None:
    async def fail(request: web.Request) -> web.Response:
        return web.json_response({"error": "boom", "message": "it broke"}, status=status)

    url = await start_app(fake_verifier(fail))
    error = await fails_with(session, url, reason)
    assert f"HTTP {status}" in error.message
    assert "boom: it broke" in error.message


async def test_invalid_requests_send_nothing(session: aiohttp.ClientSession) -> None:
    bad_calls = [
        ("ftp://host/v1/verify", TOKEN, CLIP, META, 5.0),
        ("not a url", TOKEN, CLIP, META, 5.0),
        ("http://127.0.0.1:1", "", CLIP, META, 5.0),
        ("http://127.0.0.1:1", "two\nlines", CLIP, META, 5.0),
        ("http://127.0.0.1:1", TOKEN, b"", META, 5.0),
        ("http://127.0.0.1:1", TOKEN, CLIP, {"event": object()}, 5.0),
        ("http://127.0.0.1:1", TOKEN, CLIP, META, 0.0),
    ]
    for url, token, clip, meta, timeout in bad_calls:
        with pytest.raises(VerifierError) as info:
            await verify(session, url, token, clip, meta, timeout=timeout)
        assert info.value.reason is VerifierFailure.INVALID_REQUEST, (url, token, timeout)


def test_build_metadata_matches_the_protocol() -> None:
    start = dt.datetime(2026, 11, 25, 12, 0, 3, 250000, tzinfo=dt.UTC)
    meta = build_metadata(
        "co_alarm", satellite="Hall", confidence=1.2, start=start, model_version="1.0"
    )
    assert meta == {
        "event": "co_alarm",
        "satellite": "Hall",
        "confidence": 1.0,
        "start": "2026-11-25T12:00:03.250000+00:00",
        "model_version": "1.0",
    }
    assert parse_metadata(json.dumps(meta).encode()).start == meta["start"]
    assert build_metadata("footsteps") == {"event": "footsteps"}


def test_endpoint_url() -> None:
    assert str(endpoint_url("http://h:8765")) == "http://h:8765/v1/verify"
    assert str(endpoint_url("https://h/")) == "https://h/v1/verify"
    assert str(endpoint_url(" https://h/custom/check ")) == "https://h/custom/check"


# --- HTTPS ---------------------------------------------------------------------------------


def _write_ca_and_server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate for 127.0.0.1 signed by it (PEM files)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acoustic Guard test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
async def https_url(socket_enabled: None, tmp_path: Path) -> AsyncGenerator[tuple[str, Path]]:
    ca_file, cert_file, key_file = _write_ca_and_server_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    # A client that refuses our certificate makes the server's handshake fail, which asyncio
    # reports to the loop's exception handler (and the Home Assistant harness fails the test
    # on any such report): let exactly those through as expected.
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(the_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ConnectionResetError | ssl.SSLError) and "transport" in str(
            context.get("message", "")
        ):
            return
        if previous is not None:
            previous(the_loop, context)
        else:
            the_loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    runner = web.AppRunner(fake_verifier(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    try:
        yield f"https://127.0.0.1:{runner.addresses[0][1]}", ca_file
    finally:
        await runner.cleanup()
        await asyncio.sleep(0)
        loop.set_exception_handler(previous)


async def test_https_with_custom_ca(
    session: aiohttp.ClientSession, https_url: tuple[str, Path]
) -> None:
    url, ca_file = https_url
    context = await asyncio.get_running_loop().run_in_executor(
        None, create_ssl_context, str(ca_file)
    )
    result = await verify(session, url, TOKEN, CLIP, META, timeout=5.0, ssl_context=context)
    assert result.verified is True


async def test_https_untrusted_certificate_is_tls(
    session: aiohttp.ClientSession, https_url: tuple[str, Path]
) -> None:
    url, _ = https_url
    error = await fails_with(session, url, VerifierFailure.TLS)
    assert "certificate" in error.message.lower()


def test_bad_ca_file_is_tls(tmp_path: Path) -> None:
    with pytest.raises(VerifierError) as info:
        create_ssl_context(str(tmp_path / "missing.pem"))
    assert info.value.reason is VerifierFailure.TLS
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(VerifierError) as info:
        create_ssl_context(str(junk))
    assert info.value.reason is VerifierFailure.TLS
