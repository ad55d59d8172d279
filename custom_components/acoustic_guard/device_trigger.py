"""Device triggers: "Smoke alarm heard by this satellite" (or by any, on the hub device).

They listen for the ``acoustic_guard_detection`` bus event, which the guard fires once per
reported detection (after arming, clip and verification), so an automation built from the UI
reacts exactly to what the guard reports.
"""

from __future__ import annotations

from typing import Any, Final

import voluptuous as vol
from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType

from .const import ALL_EVENTS, CONF_ENABLED_EVENTS, DOMAIN, EVENT_DETECTION

CONF_SUBTYPE: Final = "subtype"
SUBTYPE_SATELLITE: Final = "satellite"  # the satellite's own device
SUBTYPE_ANY: Final = "any"  # the hub device: any satellite

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_TYPE): vol.In(ALL_EVENTS),
        vol.Optional(CONF_SUBTYPE): vol.In((SUBTYPE_SATELLITE, SUBTYPE_ANY)),
    }
)


def _device(hass: HomeAssistant, device_id: str) -> tuple[dr.DeviceEntry, str] | None:
    """The device and its identifier in our domain (subentry id or hub entry id)."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    for domain, identifier in device.identifiers:
        if domain == DOMAIN:
            return device, identifier
    return None


def _is_hub(hass: HomeAssistant, identifier: str) -> bool:
    return hass.config_entries.async_get_entry(identifier) is not None


def _enabled_events(hass: HomeAssistant) -> tuple[str, ...]:
    entries = hass.config_entries.async_entries(DOMAIN)
    if not entries:
        return ALL_EVENTS
    enabled = entries[0].options.get(CONF_ENABLED_EVENTS, ALL_EVENTS)
    return tuple(event for event in ALL_EVENTS if event in enabled)


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Validate the trigger; the device must be one of ours."""
    config = TRIGGER_SCHEMA(config)
    if _device(hass, config[CONF_DEVICE_ID]) is None:
        raise InvalidDeviceAutomationConfig(
            f"Device {config[CONF_DEVICE_ID]} is not an Acoustic Guard device"
        )
    return config


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """One trigger per enabled event for a satellite device (or the hub: any satellite)."""
    found = _device(hass, device_id)
    if found is None:
        return []
    subtype = SUBTYPE_ANY if _is_hub(hass, found[1]) else SUBTYPE_SATELLITE
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: event,
            CONF_SUBTYPE: subtype,
        }
        for event in _enabled_events(hass)
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the guard's bus event of this event (and this satellite's device)."""
    event_data: dict[str, Any] = {"event": config[CONF_TYPE]}
    found = _device(hass, config[CONF_DEVICE_ID])
    if found is None or not _is_hub(hass, found[1]):
        event_data[CONF_DEVICE_ID] = config[CONF_DEVICE_ID]
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: "event",
            event_trigger.CONF_EVENT_TYPE: EVENT_DETECTION,
            CONF_EVENT_DATA: event_data,
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
