"""The guard's options: two collapsed sections of the hub's options form, stored flat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .conftest import setup_hub, wait_for
from .wyoming_mic import MicServer, quiet_room, stream

DETECTION = {
    "enabled_events": ["smoke_alarm", "co_alarm", "glass_break", "footsteps"],
    "sensitivity_smoke_alarm": "medium",
    "sensitivity_co_alarm": "medium",
    "sensitivity_glass_break": "medium",
    "sensitivity_footsteps": "medium",
}
GUARD = {
    "alarm_panel": "alarm_control_panel.house",
    "arming_states": ["armed_away", "armed_night"],
    "report_smoke_alarm": "always",
    "report_co_alarm": "always",
    "report_glass_break": "armed",
    "report_footsteps": "always",
    "trigger_panel": True,
}
VERIFIER = {
    "verifier_url": "https://verifier.lan:8765",
    "verifier_token": "s3cret",
    "verifier_timeout": 4,
    "verify_smoke_alarm": "annotate",
    "verify_co_alarm": "off",
    "verify_glass_break": "confirm",
    "verify_footsteps": "off",
    "intrusion_fail_open": False,
}


async def _configure(hass: HomeAssistant, entry_id: str, user_input: dict[str, Any]) -> Any:
    result = await hass.config_entries.options.async_init(entry_id)
    assert result["type"] is FlowResultType.FORM
    return await hass.config_entries.options.async_configure(result["flow_id"], user_input)


async def test_guard_options_sections(
    hass: HomeAssistant,
    mic_server: Callable[..., Awaitable[MicServer]],
    tmp_path: Path,
) -> None:
    server = await mic_server(stream(quiet_room(2.0), speed=4))
    entry = await setup_hub(hass, {"Kitchen": server.port})

    form = await hass.config_entries.options.async_init(entry.entry_id)
    assert form["type"] is FlowResultType.FORM
    keys = [str(key) for key in form["data_schema"].schema]
    assert "guard" in keys
    assert "verifier" in keys

    result = await _configure(
        hass, entry.entry_id, {**DETECTION, "guard": GUARD, "verifier": VERIFIER}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    options = dict(entry.options)
    assert "guard" not in options
    assert "verifier" not in options
    assert options["alarm_panel"] == "alarm_control_panel.house"
    assert options["arming_states"] == ["armed_away", "armed_night"]
    assert options["report_footsteps"] == "always"
    assert options["verifier_timeout"] == 4.0
    assert options["verify_glass_break"] == "confirm"
    assert options["intrusion_fail_open"] is False
    guard = entry.runtime_data.guard
    assert guard is not None
    assert guard.settings.panel == "alarm_control_panel.house"
    assert guard.settings.verify_mode("glass_break") == "confirm"
    assert not guard.settings.fail_open("glass_break")
    assert guard.settings.fail_open("smoke_alarm")
    assert not guard.settings.gated("footsteps")

    # Clearing the panel and the verifier URL removes them; modes other than off then fail.
    # (The frontend leaves a cleared optional field out.)
    no_url = {key: value for key, value in VERIFIER.items() if key != "verifier_url"}
    no_panel = {key: value for key, value in GUARD.items() if key != "alarm_panel"}
    result = await _configure(
        hass,
        entry.entry_id,
        {**DETECTION, "guard": no_panel, "verifier": no_url},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "verifier_url_required"}
    for verifier, error in (
        ({**VERIFIER, "verifier_url": "ftp://verifier.lan"}, "invalid_verifier_url"),
        ({**VERIFIER, "verifier_token": ""}, "verifier_token_required"),
        ({**VERIFIER, "verifier_ca_file": str(tmp_path / "missing.pem")}, "ca_file_not_found"),
    ):
        result = await _configure(hass, entry.entry_id, {**DETECTION, "verifier": verifier})
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": error}, verifier

    all_off = {key: "off" for key in VERIFIER if key.startswith("verify_")}
    result = await _configure(
        hass,
        entry.entry_id,
        {
            **DETECTION,
            "guard": no_panel,
            "verifier": {**no_url, **all_off},
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "alarm_panel" not in entry.options
    assert "verifier_url" not in entry.options
    assert entry.runtime_data.guard is not None
    assert not entry.runtime_data.guard.has_panel
    assert hass.states.get("select.acoustic_guard_guard_mode") is not None
    satellite = next(iter(entry.runtime_data.satellites.values()))

    await wait_for(hass, lambda: satellite.available, what="streaming after reload")
