"""The reference verifier server on loopback: real YAMNet, real engine, real recordings."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sys
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import yaml

from acoustic_guard_verifier.audio_in import SAMPLE_RATE, encode_wav
from acoustic_guard_verifier.protocol import EVENTS
from acoustic_guard_verifier.server import ServerConfig, create_app
from acoustic_guard_verifier.service import VerifierService
from custom_components.acoustic_guard.engine.types import EVENTS as ENGINE_EVENTS

from .conftest import REPO, TOKEN, StartApp

OPENAPI = REPO / "docs" / "verifier-openapi.yaml"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def form(
    clip: bytes,
    metadata: dict[str, Any] | str | None = None,
    clip_type: str = "audio/wav",
) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("clip", clip, filename="clip.wav", content_type=clip_type)
    if metadata is None:
        metadata = {"event": "smoke_alarm"}
    text = metadata if isinstance(metadata, str) else json.dumps(metadata)
    data.add_field("metadata", text, content_type="application/json")
    return data


async def post(
    url: str, data: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/verify", data=data, headers=headers) as resp,
    ):
        return resp.status, await resp.json(content_type=None), resp


async def test_real_smoke_alarm_is_verified(verifier_url: str, smoke_clip: bytes) -> None:
    meta = {
        "event": "smoke_alarm",
        "satellite": "Kitchen",
        "confidence": 0.8,
        "start": "2026-11-25T12:00:00+00:00",
        "model_version": "test",
    }
    status, body, _ = await post(verifier_url, form(smoke_clip, meta), AUTH)
    assert status == 200, body
    assert body["verified"] is True
    assert body["event"] == "smoke_alarm"
    assert body["confidence"] >= 0.5
    labels = {item["index"] for item in body["labels"]}
    assert 393 in labels, body["labels"]  # YAMNet: "Smoke detector, smoke alarm"
    assert body["evidence"]["clip_seconds"] == pytest.approx(10.0, abs=0.01)
    assert body["model"].startswith("yamnet")
    assert body["elapsed_ms"] > 0


@pytest.mark.parametrize("event", ["smoke_alarm", "co_alarm", "glass_break", "footsteps"])
async def test_music_is_not_verified(verifier_url: str, music_clip: bytes, event: str) -> None:
    status, body, _ = await post(verifier_url, form(music_clip, {"event": event}), AUTH)
    assert status == 200, body
    assert body["verified"] is False, body
    assert body["rule"] == "rejected"


async def test_alarm_clip_does_not_verify_glass_or_footsteps(
    verifier_url: str, smoke_clip: bytes
) -> None:
    for event in ("glass_break", "footsteps"):
        status, body, _ = await post(verifier_url, form(smoke_clip, {"event": event}), AUTH)
        assert status == 200
        assert body["verified"] is False, (event, body)


@pytest.mark.parametrize(
    "headers",
    [None, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_token_is_required(
    verifier_url: str, smoke_clip: bytes, headers: dict[str, str] | None
) -> None:
    status, body, resp = await post(verifier_url, form(smoke_clip), headers)
    assert status == 401
    assert body["error"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_oversized_body_is_413(verifier_url: str) -> None:
    big = encode_wav(np.zeros(SAMPLE_RATE * 70, dtype=np.float32))  # 2.2 MB > 2 MB limit
    status, body, _ = await post(verifier_url, form(big), AUTH)
    assert status == 413
    assert body["error"] == "payload_too_large"


async def test_oversized_chunked_body_is_413(verifier_url: str) -> None:
    """No Content-Length: the server counts bytes while reading and stops at the limit."""
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="clip"; filename="c.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(40):  # 40 x 64 kB = 2.6 MB
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, data, _ = await post(verifier_url, body(), headers)
    assert status == 413
    assert data["error"] == "payload_too_large"


async def test_garbage_clip_is_415(verifier_url: str) -> None:
    garbage = os.urandom(50_000)
    status, body, _ = await post(verifier_url, form(garbage), AUTH)
    assert status == 415
    assert body["error"] == "unsupported_media_type"
    status, body, _ = await post(verifier_url, form(b"RIFF", clip_type="image/png"), AUTH)
    assert status == 415


async def test_not_multipart_is_415(verifier_url: str) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    status, body, _ = await post(verifier_url, b'{"event": "smoke_alarm"}', headers)
    assert status == 415
    assert "multipart/form-data" in body["message"]


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"event": "fire"}, "'event' must be one of"),
        ({"satellite": "x"}, "'event' must be one of"),
        ({"event": "smoke_alarm", "confidence": 3}, "'confidence'"),
        ({"event": "smoke_alarm", "confidence": True}, "'confidence'"),
        ({"event": "smoke_alarm", "start": "yesterday"}, "'start'"),
        ({"event": "smoke_alarm", "satellite": 12}, "'satellite'"),
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
    ],
)
async def test_bad_metadata_is_400(
    verifier_url: str, smoke_clip: bytes, metadata: dict[str, Any] | str, fragment: str
) -> None:
    status, body, _ = await post(verifier_url, form(smoke_clip, metadata), AUTH)
    assert status == 400
    assert body["error"] == "bad_metadata"
    assert fragment in body["message"]


async def test_missing_part_is_400(verifier_url: str) -> None:
    data = aiohttp.FormData()
    data.add_field("metadata", '{"event": "smoke_alarm"}', content_type="application/json")
    data.add_field("other", b"x", filename="x.bin")
    status, body, _ = await post(verifier_url, data, AUTH)
    assert status == 400
    assert body == {"error": "bad_request", "message": "the 'clip' part is missing"}


async def test_unusable_wav_is_400(verifier_url: str) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:  # a valid header with no samples
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
    status, body, _ = await post(verifier_url, form(buffer.getvalue()), AUTH)
    assert status == 400
    assert body["error"] == "bad_audio"


async def test_stereo_48k_clip_is_decoded(verifier_url: str, smoke_clip: bytes) -> None:
    """A clip in another format than the integration's (48 kHz stereo 16-bit) still works."""
    with wave.open(io.BytesIO(smoke_clip)) as reader:
        mono = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    up = np.repeat(mono, 3)  # crude 16 -> 48 kHz, fine for a format test
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(48000)
        writer.writeframes(np.stack([up, up], axis=1).astype("<i2").tobytes())
    status, body, _ = await post(verifier_url, form(buffer.getvalue()), AUTH)
    assert status == 200
    assert body["evidence"]["clip_seconds"] == pytest.approx(10.0, abs=0.05)
    assert body["verified"] is True


async def test_health_and_unknown_path(verifier_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{verifier_url}/v1/health") as resp:
            assert resp.status == 200
            health = await resp.json()
        assert health["status"] == "ok"
        assert health["model"].startswith("yamnet")
        async with session.get(f"{verifier_url}/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"] == "not_found"
        async with session.get(f"{verifier_url}/v1/verify") as resp:
            assert resp.status == 405
            assert (await resp.json())["error"] == "method_not_allowed"


async def test_model_loads_at_startup_in_executor(start_app: StartApp, smoke_clip: bytes) -> None:
    """Without a preloaded service the app loads YAMNet itself before it serves."""
    app = create_app(ServerConfig(token=TOKEN))
    url = await start_app(app)
    status, body, _ = await post(url, form(smoke_clip), AUTH)
    assert status == 200
    assert body["verified"] is True


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="empty token"):
        create_app(ServerConfig(token=""))


def test_protocol_events_match_the_engine() -> None:
    assert tuple(EVENTS) == tuple(ENGINE_EVENTS)


async def test_answers_match_the_openapi_document(
    verifier_url: str, smoke_clip: bytes, verifier_service: VerifierService
) -> None:
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    verdict, error = schemas["Verdict"], schemas["Error"]
    assert set(schemas["Metadata"]["properties"]["event"]["enum"]) == set(EVENTS)
    _, body, _ = await post(verifier_url, form(smoke_clip), AUTH)
    assert set(verdict["required"]) <= set(body)
    assert set(body) - {"verifier_version"} <= set(verdict["properties"])
    _, err, _ = await post(verifier_url, form(smoke_clip), None)
    assert set(err) == set(error["required"])
    assert err["error"] in error["properties"]["error"]["enum"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_command_line_server(socket_enabled: None, tmp_path: Path, smoke_clip: bytes) -> None:
    """``python -m acoustic_guard_verifier --port P --token-file F`` serves the protocol."""
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n", encoding="utf-8")
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "acoustic_guard_verifier",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        "--max-bytes",
        "1000000",
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):  # up to 30 s for imports and the model
                try:
                    async with session.get(f"{url}/v1/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert proc.returncode is None, "the server exited early"
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the verifier did not become healthy")
        status, body, _ = await post(url, form(smoke_clip), AUTH)
        assert status == 200
        assert body["verified"] is True
        status, body, _ = await post(url, form(os.urandom(1_100_000)), AUTH)
        assert status == 413
    finally:
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), 15)
    assert b"verify smoke_alarm" in stderr


async def test_command_line_refuses_empty_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  \n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "acoustic_guard_verifier",
        "--token-file",
        str(token_file),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode != 0
    assert b"is empty" in stderr
