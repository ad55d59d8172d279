"""Config flow, satellite subentry flow (add / reconfigure) and options flow, on real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import voluptuous_serialize
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT, STATE_OFF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.acoustic_guard.const import DOMAIN, SUBENTRY_SATELLITE

from .conftest import setup_hub, state_of, wait_for
from .wyoming_mic import MicServer, quiet_room, stream


async def _silent(handler: object) -> None:
    """Accept the connection, send nothing."""
    await asyncio.sleep(3600)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serializable(result: Mapping[str, Any]) -> None:
    """The form can be sent to the frontend (as the HTTP view does)."""
    assert result["type"] is FlowResultType.FORM
    fields = voluptuous_serialize.convert(
        result["data_schema"], custom_serializer=cv.custom_serializer
    )
    assert fields


def _form(name: str, port: int) -> dict[str, object]:
    return {CONF_NAME: name, CONF_HOST: "127.0.0.1", CONF_PORT: port}


async def test_user_flow_creates_hub_with_first_satellite(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    _serializable(result)
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form("Kitchen ", server.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.title == "Acoustic Guard"
    [subentry] = entry.subentries.values()
    assert subentry.subentry_type == SUBENTRY_SATELLITE
    assert subentry.title == "Kitchen"
    assert subentry.unique_id == f"127.0.0.1:{server.port}"
    assert dict(subentry.data) == {
        CONF_NAME: "Kitchen",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: server.port,
    }
    await hass.async_block_till_done()


async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form("Kitchen", _closed_port())
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    silent = await mic_server(_silent)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form("Kitchen", silent.port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "no_audio"}

    good = await mic_server(stream(quiet_room(2.0), speed=4))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form("Kitchen", good.port)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_single_hub(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    await setup_hub(hass, {"Kitchen": server.port})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


async def test_add_and_reconfigure_satellite(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    kitchen = await mic_server(stream(quiet_room(2.0), speed=4))
    hall = await mic_server(stream(quiet_room(2.0, seed=1), speed=4))
    entry = await setup_hub(hass, {"Kitchen": kitchen.port})

    async def add(port: int) -> dict[str, object]:
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_SATELLITE), context={"source": SOURCE_USER}
        )
        _serializable(result)
        return dict(
            await hass.config_entries.subentries.async_configure(
                result["flow_id"], _form("Hall", port)
            )
        )

    assert (await add(kitchen.port))["reason"] == "already_configured"
    result = await add(_closed_port())
    assert result["errors"] == {"base": "cannot_connect"}
    result = await add(hall.port)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert sorted(s.title for s in entry.subentries.values()) == ["Hall", "Kitchen"]
    hall_id = next(s.subentry_id for s in entry.subentries.values() if s.title == "Hall")
    # The new satellite's device and entities appear without a restart.
    await wait_for(hass, lambda: state_of(hass, "binary_sensor.hall_smoke_alarm") == STATE_OFF)

    async def reconfigure(name: str, port: int) -> dict[str, object]:
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_SATELLITE),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": hall_id},
        )
        _serializable(result)
        assert result["step_id"] == "reconfigure"
        return dict(
            await hass.config_entries.subentries.async_configure(
                result["flow_id"], _form(name, port)
            )
        )

    assert (await reconfigure("Hall", kitchen.port))["reason"] == "already_configured"
    moved = await mic_server(stream(quiet_room(2.0, seed=2), speed=4))
    result = await reconfigure("Landing", moved.port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    subentry = entry.subentries[hall_id]
    assert subentry.title == "Landing"
    assert subentry.data[CONF_PORT] == moved.port
    assert subentry.unique_id == f"127.0.0.1:{moved.port}"
    await wait_for(hass, lambda: moved.connections >= 1, what="streaming from the new address")

    # Removing the satellite removes its device and entities (no stale devices).
    devices = dr.async_get(hass)
    assert devices.async_get_device({(DOMAIN, hall_id)}) is not None
    assert hass.config_entries.async_remove_subentry(entry, hall_id)
    await hass.async_block_till_done()
    assert devices.async_get_device({(DOMAIN, hall_id)}) is None
    assert er.async_get(hass).async_get("binary_sensor.hall_smoke_alarm") is None
    assert state_of(hass, "binary_sensor.kitchen_smoke_alarm") is not None


async def test_options_flow(
    hass: HomeAssistant, mic_server: Callable[..., Awaitable[MicServer]]
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port})
    assert hass.states.get("binary_sensor.kitchen_footsteps") is not None

    result = await hass.config_entries.options.async_init(entry.entry_id)
    _serializable(result)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "enabled_events": ["smoke_alarm", "co_alarm", "glass_break"],
            "sensitivity_smoke_alarm": "high",
            "sensitivity_co_alarm": "medium",
            "sensitivity_glass_break": "low",
            "sensitivity_footsteps": "medium",
            "hold_time": 30,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["hold_time"] == 30.0
    assert entry.options["sensitivity_smoke_alarm"] == "high"
    settings = entry.runtime_data.settings
    assert settings.enabled == ("smoke_alarm", "co_alarm", "glass_break")
    assert settings.sensitivity["glass_break"] == "low"
    assert settings.hold_s == 30.0
    # Clearing the hold time goes back to the model's per-event hold times.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "enabled_events": ["smoke_alarm", "co_alarm", "glass_break"],
            "sensitivity_smoke_alarm": "high",
            "sensitivity_co_alarm": "medium",
            "sensitivity_glass_break": "low",
            "sensitivity_footsteps": "medium",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "hold_time" not in entry.options
    assert entry.runtime_data.settings.hold_s is None
    # The entry reloaded with the new options: footsteps entities are gone.
    assert hass.states.get("binary_sensor.kitchen_footsteps") is None
    assert hass.states.get("binary_sensor.acoustic_guard_footsteps") is None
    assert hass.states.get("binary_sensor.kitchen_glass_break") is not None
