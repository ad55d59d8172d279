"""Set-up, unload / reload hygiene, diagnostics, and restoring state after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, mock_restore_cache
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.acoustic_guard.const import DOMAIN
from custom_components.acoustic_guard.engine import runtime

from .conftest import satellite_subentry, setup_hub, state_of, wait_for
from .wyoming_mic import MicServer, quiet_room, stream


def _our_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if DOMAIN in t.get_name() or "inference" in t.get_name()]


async def test_entities_and_devices(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=2))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    await wait_for(hass, lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_OFF)
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    smoke = entities.async_get("binary_sensor.kitchen_smoke_alarm")
    assert smoke is not None
    assert smoke.original_device_class == "smoke"
    assert smoke.config_subentry_id == next(iter(entry.subentries))
    device = devices.async_get(smoke.device_id or "")
    assert device is not None
    assert device.name == "Kitchen"
    hub_device = devices.async_get(device.via_device_id or "")
    assert hub_device is not None
    assert hub_device.name == "Acoustic Guard"
    classes = {
        event: (entities.async_get(f"binary_sensor.kitchen_{event}") or smoke).original_device_class
        for event in ("carbon_monoxide_alarm", "glass_break", "footsteps")
    }
    assert classes == {
        "carbon_monoxide_alarm": "carbon_monoxide",
        "glass_break": "sound",
        "footsteps": "motion",
    }
    assert entities.async_get("binary_sensor.acoustic_guard_glass_break") is not None


async def test_unload_and_reload_leave_no_tasks_or_sockets(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=2))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    await wait_for(
        hass,
        lambda: (
            entry.runtime_data.satellites
            and all(s.available for s in entry.runtime_data.satellites.values())
        ),
    )
    assert _our_tasks()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(hass, lambda: server.connections == 2, what="reconnect after reload")
    await wait_for(hass, lambda: len(server.tasks) == 1, what="old connection closed")

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert _our_tasks() == []
    # The server sees the client go away: no socket is left open.
    await wait_for(hass, lambda: not server.tasks, what="server connections closed")


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    mic_server: Callable[..., Awaitable[MicServer]],
    snapshot: SnapshotAssertion,
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=2))
    entry = await setup_hub(hass, {"Kitchen": server.port}, {"sensitivity_glass_break": "high"})
    satellite = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: satellite.stream.stats.processed_s > 0.5)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    [sat] = diagnostics["satellites"]
    assert sat["host"] == "**REDACTED**"
    assert sat["available"] is True
    assert sorted(sat["events"]) == ["co_alarm", "footsteps", "glass_break", "smoke_alarm"]
    assert "pcm" not in str(diagnostics) and 'audio": b' not in str(diagnostics)
    assert diagnostics == snapshot(
        exclude=props(
            "port",
            "down_for_s",
            "last_audio_s_ago",
            "received_s",
            "processed_s",
            "level_dbfs",
            "model",
            # What the model hears in the noise depends on the model version.
            "events",
            "detections",
        )
    )


async def test_restart_restores_last_detection(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    attributes = {
        "confidence": 0.93,
        "pattern": "T3",
        "last_detected": "2026-11-24T21:03:00+00:00",
    }
    mock_restore_cache(
        hass,
        [
            State("binary_sensor.kitchen_smoke_alarm", "on", attributes),
            State("binary_sensor.acoustic_guard_smoke_alarm", "on", attributes),
        ],
    )
    server = await mic_server(stream(quiet_room(2.0), speed=2))
    await setup_hub(hass, {"Kitchen": server.port})
    await wait_for(hass, lambda: state_of(hass, "binary_sensor.kitchen_smoke_alarm") == STATE_OFF)
    for entity_id in (
        "binary_sensor.kitchen_smoke_alarm",
        "binary_sensor.acoustic_guard_smoke_alarm",
    ):
        state = hass.states.get(entity_id)
        assert state is not None
        # A restart does not resurrect an alarm: live audio decides; the history stays.
        assert state.state == STATE_OFF
        assert state.attributes["confidence"] == 0.93
        assert state.attributes["pattern"] == "T3"
        assert state.attributes["last_detected"] == "2026-11-24T21:03:00+00:00"


async def test_broken_model_fails_setup_with_a_clear_error(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "manifest.json").write_text("{ this is not json")
    monkeypatch.setattr(runtime, "MODEL_DIR", tmp_path)
    server = await mic_server(stream(quiet_room(2.0), speed=2))
    entry = MockConfigEntry(
        domain=DOMAIN, data={}, subentries_data=[satellite_subentry("Kitchen", server.port)]
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "could not be loaded" in entry.reason or "manifest" in entry.reason
    assert server.connections == 0
