"""The demo satellite: deterministic generated audio, streamed like wyoming-mic-external."""

from __future__ import annotations

import asyncio
import socket

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from devtools.demo_satellite import make_config, start_server
from devtools.scenario import SCENARIOS, build


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _band_energy(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    return float(spec[(freqs >= lo) & (freqs < hi)].sum() / spec.sum())


def test_scenarios_are_in_range() -> None:
    for name in SCENARIOS:
        scenario = build(name)
        assert np.max(np.abs(scenario.samples)) <= 1.0
        assert scenario.events or name == "quiet"
        for span in scenario.events:
            assert 0.0 <= span.start < span.end <= scenario.seconds


def test_scenarios_are_deterministic() -> None:
    assert build("glass").pcm16() == build("glass").pcm16()
    assert build("glass", seed=1).pcm16() != build("glass").pcm16()


def test_smoke_scenario_has_a_t3_alarm_near_3100_hz() -> None:
    scenario = build("smoke")
    (alarm,) = scenario.events
    rate = scenario.rate
    # 0.5 s on / 0.5 s off x3, then 1.5 s off: inside the first cycle, on at 0.2 s, off at 0.7 s.
    on = scenario.samples[int((alarm.start + 0.1) * rate) : int((alarm.start + 0.4) * rate)]
    off = scenario.samples[int((alarm.start + 3.2) * rate) : int((alarm.start + 3.9) * rate)]
    assert _band_energy(on, rate, 3000.0, 3200.0) > 0.8
    assert np.sqrt(np.mean(on**2)) > 30 * np.sqrt(np.mean(off**2))  # the long T3 gap is quiet
    quiet = scenario.samples[: int(alarm.start * rate)]
    assert _band_energy(quiet, rate, 3000.0, 3200.0) < 0.05


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        build("fire")


async def test_streams_like_a_microphone_service(socket_enabled: None) -> None:
    """audio-start, the whole scenario in chunks, audio-stop; describe answers with a mic."""
    config = make_config("glass", speed=0, loop=False, samples_per_chunk=1024)
    port = _free_port()
    server = await start_server("127.0.0.1", port, config)
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            received = bytearray()
            start = info = None
            while True:
                async with asyncio.timeout(10):
                    event = await client.read_event()
                assert event is not None, "the server closed before audio-stop"
                if AudioStart.is_type(event.type):
                    start = AudioStart.from_event(event)
                elif AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    assert (chunk.rate, chunk.width, chunk.channels) == (16000, 2, 1)
                    assert len(chunk.audio) <= 2048
                    received += chunk.audio
                elif Info.is_type(event.type):
                    info = Info.from_event(event)
                elif AudioStop.is_type(event.type):
                    break
        assert start is not None and (start.rate, start.width, start.channels) == (16000, 2, 1)
        assert info is not None and info.mic[0].mic_format.rate == 16000
        assert bytes(received) == config.pcm
    finally:
        await server.stop()


async def test_real_time_pacing(socket_enabled: None) -> None:
    """At speed 4, one second of listening brings about four seconds of audio, not all of it."""
    config = make_config("quiet", speed=4.0, loop=True)
    port = _free_port()
    server = await start_server("127.0.0.1", port, config)
    try:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            loop = asyncio.get_running_loop()
            samples = 0
            first: float | None = None
            while True:
                event = await client.read_event()
                assert event is not None
                if AudioChunk.is_type(event.type):
                    first = loop.time() if first is None else first
                    samples += AudioChunk.from_event(event).samples
                    if loop.time() - first >= 1.0:
                        break
        assert 2.5 <= samples / 16000 <= 6.0
    finally:
        await server.stop()
