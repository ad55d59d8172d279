"""Misbehaving satellites: clear log line, connection dropped, retried, nothing else affected."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from .conftest import setup_hub, state_of, wait_for
from .wyoming_mic import MicHandler, MicServer, header, quiet_room, stream


async def _garbage(handler: MicHandler) -> None:
    await handler.send_raw(b"\x89PNG\r\n\x1a\n\x00\x00 this is not a wyoming event\n")
    await asyncio.sleep(3600)


async def _huge_payload(handler: MicHandler) -> None:
    data = {"rate": 16000, "width": 2, "channels": 1}
    await handler.send_raw(header("audio-chunk", data=data, payload_length=10**12))
    await handler.send_raw(b"\x00" * 4096)
    await asyncio.sleep(3600)


async def _zero_rate(handler: MicHandler) -> None:
    data = {"rate": 0, "width": 2, "channels": 1}
    await handler.send_raw(header("audio-start", data=data))
    await handler.send_raw(header("audio-chunk", data=data, payload_length=640) + bytes(640))
    await asyncio.sleep(3600)


async def _silent(handler: MicHandler) -> None:
    await asyncio.sleep(3600)


async def _chatty_but_no_audio(handler: MicHandler) -> None:
    """Events, but never audio: still not a working microphone."""
    data = {"rate": 16000, "width": 2, "channels": 1}
    await handler.send_raw(header("audio-start", data=data))
    while True:
        await handler.send_raw(header("ping") + header("audio-chunk", data=data))
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (_garbage, "event header is not JSON"),
        (_huge_payload, "payload_length 1000000000000 exceeds the limit"),
        (_zero_rate, "impossible audio rate 0 Hz"),
        (_silent, "no audio for 1.5 s"),
        (_chatty_but_no_audio, "no audio for 1.5 s"),
    ],
    ids=["garbage", "huge_payload", "zero_rate", "silent", "events_without_audio"],
)
async def test_bad_satellite_is_dropped_and_retried(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    caplog: pytest.LogCaptureFixture,
    behaviour: Callable[[MicHandler], Awaitable[None]],
    reason: str,
) -> None:
    bad = await mic_server(behaviour)
    good = await mic_server(stream(quiet_room(2.0), speed=2))
    entry = await setup_hub(hass, {"Bad": bad.port, "Good": good.port})
    satellites = {s.name: s for s in entry.runtime_data.satellites.values()}

    # Retried with backoff, each time dropped again.
    await wait_for(hass, lambda: bad.connections >= 3, what="three connection attempts")
    assert state_of(hass, "binary_sensor.bad_smoke_alarm") == STATE_UNAVAILABLE
    assert satellites["Bad"].stream.stats.last_error is not None
    assert reason in satellites["Bad"].stream.stats.last_error
    # Logged once with the reason, not once per retry.
    lines = [r.getMessage() for r in caplog.records if "Satellite Bad" in r.getMessage()]
    assert len(lines) == 1, lines
    assert reason in lines[0]

    # The good satellite never noticed.
    assert state_of(hass, "binary_sensor.good_smoke_alarm") == STATE_OFF
    assert satellites["Good"].stream.stats.connects == 1
    assert satellites["Good"].available
    assert state_of(hass, "binary_sensor.acoustic_guard_smoke_alarm") == STATE_OFF
