"""The Home Assistant-free streaming loop and the defensive Wyoming reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import pytest

from custom_components.acoustic_guard.engine.detector import Detector
from custom_components.acoustic_guard.engine.types import AudioFormat, Detection
from custom_components.acoustic_guard.satellite import SatelliteStream, Timing
from custom_components.acoustic_guard.wyoming_protocol import (
    Limits,
    ProtocolError,
    audio_format,
    read_event,
)

from .wyoming_mic import MicServer, quiet_room, stream


def _reader(data: bytes, limit: int = 64 * 1024) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_reader_decodes_header_data_and_payload() -> None:
    extra = json.dumps({"width": 2, "channels": 1}).encode()
    head = {"type": "audio-chunk", "data": {"rate": 16000}, "data_length": len(extra)}
    raw = json.dumps({**head, "payload_length": 4}).encode() + b"\n" + extra + b"\x01\x02\x03\x04"
    event = await read_event(_reader(raw))
    assert event is not None
    assert event.type == "audio-chunk"
    assert event.data == {"rate": 16000, "width": 2, "channels": 1}
    assert event.payload == b"\x01\x02\x03\x04"
    assert audio_format(event.data) == AudioFormat(16000, 2, 1)
    assert await read_event(_reader(b"")) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe garbage\n", "not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"data": {}}\n', "no type"),
        (b'{"type": "audio-chunk", "payload_length": -1}\n', "invalid payload_length"),
        (b'{"type": "audio-chunk", "payload_length": "9"}\n', "invalid payload_length"),
        (b'{"type": "x", "data_length": 99999999}\n', "data_length 99999999 exceeds"),
        (b'{"type": "x", "payload_length": 10}\nabc', "closed inside the event body"),
        (b'{"type": "x", "data_length": 3}\nabc', "extra data is not JSON"),
        (b'{"type": "x"', "in the middle of an event header"),
        (b"x" * 70000 + b"\n", "event header"),
    ],
)
async def test_reader_rejects_malformed_events(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        await read_event(_reader(raw), Limits(header=1024, data=1024, payload=1024))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rate": 0, "width": 2, "channels": 1}, "rate 0"),
        ({"rate": 16000, "width": 0, "channels": 1}, "width 0"),
        ({"rate": 16000, "width": 2, "channels": 0}, "channel count 0"),
        ({"rate": 16000, "width": 2}, "without channels"),
        ({"rate": "16000", "width": 2, "channels": 1}, "not an integer"),
    ],
)
def test_audio_format_rejects_impossible_formats(data: dict[str, object], message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        audio_format(data)


class SlowDetector:
    """The real detector on a (simulated) much slower CPU."""

    def __init__(self, delay: float) -> None:
        self.inner = Detector()
        self.delay = delay

    def feed(self, pcm: bytes, fmt: AudioFormat) -> list[Detection]:
        time.sleep(self.delay)
        return self.inner.feed(pcm, fmt)

    def flush(self) -> list[Detection]:
        return self.inner.flush()

    @property
    def level_dbfs(self) -> float | None:
        return self.inner.level_dbfs


async def _until(predicate: Callable[[], bool], limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def _run_stream(satellite: SatelliteStream, until: Callable[[], bool]) -> None:
    task = asyncio.create_task(satellite.run())
    try:
        await _until(until)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_slow_inference_drops_and_counts_audio(
    mic_server: Callable[..., Awaitable[MicServer]],
) -> None:
    server = await mic_server(stream(quiet_room(4.0), speed=40))
    satellite = SatelliteStream(
        "127.0.0.1",
        server.port,
        lambda: SlowDetector(0.05),
        timing=Timing(no_audio=5, max_queued_audio=1.0),
    )
    await _run_stream(satellite, lambda: satellite.stats.dropped_s > 2.0)
    stats = satellite.stats
    assert stats.dropped_chunks > 0
    assert stats.queued_s <= 1.0 + 0.1
    # Every second received is either processed, dropped or still queued.
    assert stats.received_s == pytest.approx(
        stats.processed_s + stats.dropped_s + stats.queued_s, abs=0.2
    )


async def test_stream_runs_without_home_assistant_and_reports_transitions(
    mic_server: Callable[..., Awaitable[MicServer]],
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    transitions: list[tuple[bool, str | None]] = []
    satellite = SatelliteStream(
        "127.0.0.1",
        server.port,
        Detector,
        on_state=lambda up, reason: transitions.append((up, reason)),
        timing=Timing(no_audio=1.0, backoff_initial=0.05, backoff_max=0.2),
    )
    task = asyncio.create_task(satellite.run())
    try:
        await _until(lambda: satellite.connected)
        await server.stop()
        await _until(lambda: not satellite.connected)
        restarted = await MicServer(stream(quiet_room(2.0), speed=4), server.port).start()
        await _until(lambda: satellite.connected)
        await restarted.stop()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert transitions[0] == (True, None)
    assert transitions[1][0] is False
    assert transitions[2] == (True, None)
    assert satellite.stats.connects == 2
