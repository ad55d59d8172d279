"""Fixtures of the verifier tests: real audio, the real YAMNet model, real servers on loopback.

pytest-homeassistant-custom-component blocks sockets; every test that opens one requests
``socket_enabled`` (loopback only: it also restricts connections to 127.0.0.1).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import web

from acoustic_guard_verifier.audio_in import SAMPLE_RATE, decode_clip, encode_wav
from acoustic_guard_verifier.server import ServerConfig, start_server
from acoustic_guard_verifier.service import VerifierService

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SMOKE_WAV = SHARED / "data" / "alarms" / "ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"
MUSIC_OGG = SHARED / "data" / "music_speech" / "Kevin_MacLeod_-_Vibe_Ace.ogg"
TOKEN = "test-token-3f9a"
CLIP_SECONDS = 10.0

StartApp = Callable[[web.Application], Awaitable[str]]


@pytest.fixture(scope="session")
def verifier_service() -> VerifierService:
    """YAMNet and the engine, loaded once for the whole session."""
    return VerifierService.load()


@pytest.fixture(scope="session")
def smoke_clip() -> bytes:
    """10 s of a real T3 smoke alarm recording, decoded by the engine's reader, as WAV."""
    if not SMOKE_WAV.is_file():
        pytest.skip(f"{SMOKE_WAV} not available")
    samples = decode_clip(SMOKE_WAV.read_bytes())
    return encode_wav(samples[: int(CLIP_SECONDS * SAMPLE_RATE)])


def generated_music(seconds: float = CLIP_SECONDS) -> npt.NDArray[np.float32]:
    """A deterministic non-alarm: plucked-string chords with a walking bass and a soft noise
    bed (no steady tone, no beeps)."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    beat = 0.375
    for k in range(int(seconds / beat)):
        start = k * beat
        env = np.where(t >= start, np.exp(-(t - start) * 6.0), 0.0)
        for f in chords[(k // 4) % len(chords)]:
            f2 = f * (1.0 + 0.002 * rng.standard_normal())
            out += env * sum(np.sin(2 * np.pi * f2 * h * t) / h**1.5 for h in range(1, 6))
        out += env * 0.8 * np.sin(2 * np.pi * chords[(k // 4) % 3][0] / 2 * t)
    out += 0.01 * rng.standard_normal(t.size)
    scaled: npt.NDArray[np.float32] = (out / np.max(np.abs(out)) * 0.5).astype(np.float32)
    return scaled


@pytest.fixture(scope="session")
def music_clip() -> bytes:
    """10 s of music: a real recording when ffmpeg can decode it, else generated music."""
    if shutil.which("ffmpeg") and MUSIC_OGG.is_file():
        from acoustic_guard_verifier.engine_bridge import engine_wavfile  # noqa: PLC0415

        if engine_wavfile is not None:
            samples = np.asarray(engine_wavfile.load_16k(MUSIC_OGG))
            return encode_wav(samples[int(5 * SAMPLE_RATE) : int(15 * SAMPLE_RATE)])
    return encode_wav(generated_music())


@pytest.fixture
async def start_app(socket_enabled: None) -> AsyncGenerator[StartApp]:
    """Start aiohttp applications on 127.0.0.1 (free ports); clean them all up after."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


@pytest.fixture
async def verifier_url(
    socket_enabled: None, verifier_service: VerifierService
) -> AsyncGenerator[str]:
    """The real reference verifier (YAMNet + engine) with a 2 MB limit."""
    config = ServerConfig(token=TOKEN, max_bytes=2_000_000)
    runner, url = await start_server(config, verifier_service)
    yield url
    await runner.cleanup()
