"""Live audio from a real Wyoming server through the integration into entity states."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from custom_components.acoustic_guard import hub
from custom_components.acoustic_guard.const import DOMAIN
from custom_components.acoustic_guard.engine.types import Detection

from .conftest import (
    model_version,
    needs_trained_model,
    offline_events,
    setup_hub,
    state_of,
    wait_for,
)
from .wyoming_mic import SMOKE_WAV, Clip, MicServer, quiet_room, read_wav, stream

EVENT_ENTITIES = ("smoke_alarm", "carbon_monoxide_alarm", "glass_break", "footsteps")


def _to_stereo_48k(clip: Clip) -> Clip:
    mono = np.frombuffer(clip.pcm, "<i2")
    up = np.repeat(mono, 3)
    stereo = np.stack([up, up], axis=1).astype("<i2")
    return Clip(stereo.tobytes(), 48000, 2, 2)


async def test_stream_format_change_level_and_no_drops(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    quiet = quiet_room(8.0)
    server = await mic_server(stream(quiet, _to_stereo_48k(quiet_room(4.0, seed=3)), speed=8))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    satellite = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: satellite.stream.stats.processed_s >= 10.0, what="10 s processed")
    assert state_of(hass, "binary_sensor.kitchen_audio_stream") == STATE_ON
    await wait_for(
        hass,
        lambda: state_of(hass, "sensor.kitchen_sound_level") not in (None, "unknown"),
        what="a sound level",
    )
    level = float(state_of(hass, "sensor.kitchen_sound_level") or "nan")
    assert -90.0 < level < -40.0
    stats = satellite.stream.stats
    assert stats.format_changes >= 1  # 16 kHz mono, then 48 kHz stereo, same connection
    assert stats.audio_format is not None
    assert stats.dropped_s == 0.0
    assert stats.inference_errors == 0
    assert stats.connects == 1


@needs_trained_model
async def test_quiet_room_stays_off(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    quiet = quiet_room(20.0)
    server = await mic_server(stream(quiet, speed=8))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    satellite = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: satellite.stream.stats.processed_s >= 20.0, what="20 s processed")
    for event in EVENT_ENTITIES:
        assert state_of(hass, f"binary_sensor.kitchen_{event}") == STATE_OFF, event
        assert state_of(hass, f"binary_sensor.acoustic_guard_{event}") == STATE_OFF, event
    assert satellite.stream.stats.detections == 0


@needs_trained_model
async def test_smoke_alarm_recording_turns_sensor_on_then_off(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    alarm = read_wav(SMOKE_WAV)
    if "smoke_alarm" not in await hass.async_add_executor_job(offline_events, alarm, None):
        pytest.skip(f"the shipped model ({model_version()}) misses this alarm offline too")
    server = await mic_server(stream(alarm, speed=4))
    await setup_hub(hass, {"Kitchen": server.port})
    await wait_for(
        hass,
        lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_ON,
        limit=30,
        what="smoke on",
    )
    state = hass.states.get("binary_sensor.kitchen_smoke_alarm")
    assert state is not None
    assert 0.0 < state.attributes["confidence"] <= 1.0
    assert state.attributes["last_detected"] is not None
    home = hass.states.get("binary_sensor.acoustic_guard_smoke_alarm")
    assert home is not None
    assert home.state == STATE_ON
    assert home.attributes["satellites"] == ["Kitchen"]
    assert state_of(hass, "binary_sensor.kitchen_carbon_monoxide_alarm") == STATE_OFF
    assert state_of(hass, "binary_sensor.kitchen_glass_break") == STATE_OFF
    # The recording ends, silence follows: off after the hold time.
    await wait_for(
        hass,
        lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_OFF,
        limit=30,
        what="smoke off",
    )
    assert state_of(hass, "binary_sensor.acoustic_guard_smoke_alarm") == STATE_OFF
    off = hass.states.get("binary_sensor.kitchen_smoke_alarm")
    assert off is not None
    assert off.attributes["last_detected"] == state.attributes["last_detected"]


async def test_satellite_killed_then_restarted_recovers(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    behaviour = stream(quiet_room(2.0), speed=2)
    server = await mic_server(behaviour)
    entry = await setup_hub(hass, {"Kitchen": server.port})
    subentry_id = next(iter(entry.subentries))
    issues = ir.async_get(hass)
    await wait_for(hass, lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_OFF)

    await server.stop()
    await wait_for(
        hass,
        lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_UNAVAILABLE,
        what="unavailable",
    )
    assert state_of(hass, "sensor.kitchen_sound_level") == STATE_UNAVAILABLE
    assert state_of(hass, "binary_sensor.kitchen_audio_stream") == STATE_OFF
    assert state_of(hass, "binary_sensor.acoustic_guard_smoke_alarm") == STATE_UNAVAILABLE
    # Down longer than repair_after: a repair issue tells the user the room is unguarded.
    await wait_for(
        hass,
        lambda: issues.async_get_issue(DOMAIN, hub.issue_id(subentry_id)) is not None,
        what="repair issue",
    )

    restarted = await mic_server(behaviour, port=server.port)
    await wait_for(
        hass,
        lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_OFF,
        what="recovered",
    )
    assert restarted.connections >= 1
    assert issues.async_get_issue(DOMAIN, hub.issue_id(subentry_id)) is None
    assert state_of(hass, "binary_sensor.kitchen_audio_stream") == STATE_ON
    # Many failed reconnects while it was down, but one line when lost and one when back.
    assert entry.runtime_data.satellites[subentry_id].stream.stats.failures >= 3
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("Satellite Kitchen" in m and "unavailable" in m for m in messages) == 1
    assert sum("Satellite Kitchen is back" in m for m in messages) == 1


async def test_entities_follow_engine_detections(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    """What the engine reports (real Detection objects) is what the entities show.

    Independent of the model's quality: the engine's own tests cover what it hears.
    """
    kitchen = await mic_server(stream(quiet_room(2.0), speed=2))
    hall = await mic_server(stream(quiet_room(2.0, seed=1), speed=2))
    # Glass break reported whether armed or not (by default only while armed: test_guard.py).
    entry = await setup_hub(
        hass, {"Kitchen": kitchen.port, "Hall": hall.port}, {"report_glass_break": "always"}
    )
    sats = {s.name: s for s in entry.runtime_data.satellites.values()}
    await wait_for(hass, lambda: all(s.available for s in sats.values()), what="both streaming")

    on = Detection("glass_break", True, 10.0, None, 10.8, 0.91, "shatter")
    sats["Hall"].async_handle_detections([on])
    await hass.async_block_till_done()
    state = hass.states.get("binary_sensor.hall_glass_break")
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["confidence"] == 0.91
    assert state.attributes["pattern"] == "shatter"
    assert state.attributes["last_detected"] is not None
    assert state_of(hass, "binary_sensor.kitchen_glass_break") == STATE_OFF
    home = hass.states.get("binary_sensor.acoustic_guard_glass_break")
    assert home is not None
    assert home.state == STATE_ON
    assert home.attributes["satellites"] == ["Hall"]
    assert home.attributes["confidence"] == 0.91

    sats["Kitchen"].async_handle_detections(
        [Detection("glass_break", True, 11.0, None, 11.5, 0.7, "")]
    )
    await hass.async_block_till_done()
    home = hass.states.get("binary_sensor.acoustic_guard_glass_break")
    assert home is not None
    assert sorted(home.attributes["satellites"]) == ["Hall", "Kitchen"]

    sats["Hall"].async_handle_detections(
        [Detection("glass_break", False, 10.0, 14.0, 16.0, 0.91, "")]
    )
    sats["Kitchen"].async_handle_detections(
        [Detection("glass_break", False, 11.0, 15.0, 17.0, 0.7, "")]
    )
    await hass.async_block_till_done()
    off = hass.states.get("binary_sensor.hall_glass_break")
    assert off is not None
    assert off.state == STATE_OFF
    # The last detection stays visible after the event ended.
    assert off.attributes["confidence"] == 0.91
    assert off.attributes["last_detected"] == state.attributes["last_detected"]
    assert state_of(hass, "binary_sensor.acoustic_guard_glass_break") == STATE_OFF
    # A disabled event or unknown head is ignored, not a crash.
    sats["Hall"].async_handle_detections(
        [Detection("beeping_appliance", True, 1.0, None, 1.5, 0.9, "")]
    )

    # Losing the stream while an event is on: unavailable, and off once back.
    sats["Hall"].async_handle_detections([on])
    await hass.async_block_till_done()
    await hall.stop()
    await wait_for(
        hass, lambda: state_of(hass, "binary_sensor.hall_glass_break") == STATE_UNAVAILABLE
    )
    assert state_of(hass, "binary_sensor.acoustic_guard_glass_break") == STATE_OFF
