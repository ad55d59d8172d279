"""Device triggers: "Smoke alarm heard by this satellite" / "… by any satellite" (hub)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_get_device_automations,
)

from custom_components.acoustic_guard import device_trigger
from custom_components.acoustic_guard.const import DOMAIN

from .conftest import setup_hub, wait_for
from .guard_support import detection_now, use_fast_guard
from .wyoming_mic import MicServer, quiet_room, stream


@pytest.fixture(autouse=True)
def _fast_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_guard(monkeypatch)


async def test_device_triggers_fire_on_detections(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    kitchen = await mic_server(stream(quiet_room(4.0), speed=8))
    hall = await mic_server(stream(quiet_room(4.0, seed=1), speed=8))
    entry = await setup_hub(
        hass,
        {"Kitchen": kitchen.port, "Hall": hall.port},
        {"enabled_events": ["smoke_alarm", "co_alarm", "glass_break"]},
    )
    sats = {s.name: s for s in entry.runtime_data.satellites.values()}
    clips = entry.runtime_data.clips
    assert clips is not None
    await wait_for(
        hass,
        lambda: all(clips.buffer(s.subentry_id).end > 4.0 for s in sats.values()),
        what="both streaming",
    )
    devices = dr.async_get(hass)
    kitchen_device = devices.async_get_device({(DOMAIN, sats["Kitchen"].subentry_id)})
    hub_device = devices.async_get_device({(DOMAIN, entry.entry_id)})
    assert kitchen_device is not None
    assert hub_device is not None

    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, kitchen_device.id
    )
    ours = [t for t in triggers if t["domain"] == DOMAIN]
    assert sorted(t["type"] for t in ours) == ["co_alarm", "glass_break", "smoke_alarm"]
    assert {t["subtype"] for t in ours} == {"satellite"}
    hub_triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, hub_device.id
    )
    assert {t["subtype"] for t in hub_triggers if t["domain"] == DOMAIN} == {"any"}

    smoke_in_kitchen = next(t for t in ours if t["type"] == "smoke_alarm")
    smoke_anywhere = next(t for t in hub_triggers if t["type"] == "smoke_alarm")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "triggers": [smoke_in_kitchen],
                    "actions": [
                        {
                            "event": "kitchen_smoke",
                            "event_data": {"satellite": "{{ trigger.event.data.satellite }}"},
                        }
                    ],
                },
                {
                    "triggers": [smoke_anywhere],
                    "actions": [
                        {
                            "event": "smoke_anywhere",
                            "event_data": {"satellite": "{{ trigger.event.data.satellite }}"},
                        }
                    ],
                },
            ]
        },
    )
    kitchen_runs = async_capture_events(hass, "kitchen_smoke")
    anywhere_runs = async_capture_events(hass, "smoke_anywhere")

    sats["Hall"].async_handle_detections([detection_now(sats["Hall"], "smoke_alarm")])
    await wait_for(hass, lambda: len(anywhere_runs) == 1, what="hall smoke")
    assert anywhere_runs[0].data["satellite"] == "Hall"
    assert kitchen_runs == []
    sats["Kitchen"].async_handle_detections([detection_now(sats["Kitchen"], "co_alarm")])
    sats["Kitchen"].async_handle_detections([detection_now(sats["Kitchen"], "smoke_alarm")])
    await wait_for(hass, lambda: len(kitchen_runs) == 1, what="kitchen smoke")
    await wait_for(hass, lambda: len(anywhere_runs) == 2, what="kitchen smoke anywhere")
    assert kitchen_runs[0].data["satellite"] == "Kitchen"


async def test_trigger_config_validation(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    device = dr.async_get(hass).async_get_device(
        {(DOMAIN, next(iter(entry.runtime_data.satellites)))}
    )
    assert device is not None
    config = {
        "platform": "device",
        "domain": DOMAIN,
        "device_id": device.id,
        "type": "glass_break",
        "subtype": "satellite",
    }
    assert await device_trigger.async_validate_trigger_config(hass, config) == config
    with pytest.raises(InvalidDeviceAutomationConfig):
        await device_trigger.async_validate_trigger_config(
            hass, {**config, "device_id": "not-a-device"}
        )
    with pytest.raises(Exception, match="type"):
        await device_trigger.async_validate_trigger_config(hass, {**config, "type": "doorbell"})
    assert await device_trigger.async_get_triggers(hass, "not-a-device") == []
