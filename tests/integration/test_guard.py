"""Guard mode: arming (select and alarm panel), disarm, the verification policy, bus events.

Real parts: a Wyoming server on loopback streams audio (the clip ring buffer fills from it),
the real clip manager writes clips, verifiers are real HTTP servers on loopback (the
reference verifier, or stand-ins speaking its protocol), the Manual alarm panel. Detections
are real ``Detection`` objects handed to ``SatelliteRuntime.async_handle_detections`` (the
engine's own path from audio is covered end to end in ``test_blueprint.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    mock_restore_cache,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.acoustic_guard.const import DOMAIN, EVENT_DETECTION
from custom_components.acoustic_guard.guard import VERIFIER_ISSUE_ID
from custom_components.acoustic_guard.hub import SatelliteRuntime
from custom_components.acoustic_guard.logbook import describe

from .conftest import setup_hub, state_of, wait_for
from .guard_support import (
    PANEL,
    TOKEN,
    AppServers,
    StartApp,
    closed_port,
    detection_now,
    ended,
    panel_action,
    reference_verifier,
    setup_panel,
    sidecar,
    stand_in_verifier,
    use_fast_guard,
)
from .wyoming_mic import SMOKE_WAV, MicServer, quiet_room, read_wav, stream

GLASS = "binary_sensor.kitchen_glass_break"
SMOKE = "binary_sensor.kitchen_smoke_alarm"
CO = "binary_sensor.kitchen_carbon_monoxide_alarm"
FOOTSTEPS = "binary_sensor.kitchen_footsteps"
SELECT = "select.acoustic_guard_guard_mode"

MicStarter = Callable[..., Awaitable[MicServer]]


@pytest.fixture(autouse=True)
def _fast_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_guard(monkeypatch)


@pytest.fixture
async def start_app(socket_enabled: None) -> AsyncGenerator[StartApp]:
    async with AppServers() as servers:
        yield servers.start


async def _hub(
    hass: HomeAssistant, mic_server: MicStarter, options: dict[str, Any] | None = None
) -> SatelliteRuntime:
    """A hub with one streaming satellite (quiet room at 8x, so post-rolls come fast)."""
    server = await mic_server(stream(quiet_room(4.0), speed=8))
    entry = await setup_hub(hass, {"Kitchen": server.port}, options)
    satellite = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: satellite.available, what="streaming")
    await wait_for(
        hass,
        lambda: (
            entry.runtime_data.clips is not None
            and entry.runtime_data.clips.buffer(satellite.subentry_id).end > 4.0
        ),
        what="clip buffer filled",
    )
    return satellite


async def _select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {"entity_id": SELECT, "option": option}, blocking=True
    )
    await hass.async_block_till_done()


def _verifier_options(url: str, token: str = TOKEN, **modes: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "verifier_url": url,
        "verifier_token": token,
        "verifier_timeout": 2.0,
    }
    options.update({f"verify_{event}": mode for event, mode in modes.items()})
    return options


async def test_guard_mode_select_gates_intrusion_sounds(
    hass: HomeAssistant, mic_server: MicStarter
) -> None:
    satellite = await _hub(hass, mic_server)
    events = async_capture_events(hass, EVENT_DETECTION)
    assert state_of(hass, SELECT) == "home"

    # Home (disarmed): glass break is not reported; smoke is (life safety, always).
    glass = detection_now(satellite, "glass_break", pattern="shatter")
    satellite.async_handle_detections([glass])
    smoke = detection_now(satellite, "smoke_alarm", pattern="T3")
    satellite.async_handle_detections([smoke])
    await hass.async_block_till_done()
    assert state_of(hass, GLASS) == STATE_OFF
    assert state_of(hass, SMOKE) == STATE_ON
    await wait_for(hass, lambda: len(events) == 1, what="smoke event")
    data = events[0].data
    assert data["event"] == "smoke_alarm"
    assert data["satellite"] == "Kitchen"
    assert data["verified"] is None
    assert data["verification"] == "not_requested"
    assert data["pattern"] == "T3"
    assert data["confidence"] == 0.9
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, satellite.subentry_id)})
    assert device is not None
    assert data["device_id"] == device.id
    assert str(data["clip"]).startswith(f"media-source://{DOMAIN}/{satellite.subentry_id}/")
    assert data["clip_url"].startswith("/api/acoustic_guard/clips/")
    satellite.async_handle_detections([ended(smoke), ended(glass)])
    await hass.async_block_till_done()
    assert state_of(hass, SMOKE) == STATE_OFF

    # Away: armed at once.
    await _select(hass, "away")
    assert satellite.entry.runtime_data.guard is not None
    assert satellite.entry.runtime_data.guard.armed
    glass = detection_now(satellite, "glass_break", pattern="shatter")
    satellite.async_handle_detections([glass])
    await hass.async_block_till_done()
    assert state_of(hass, GLASS) == STATE_ON
    await wait_for(hass, lambda: len(events) == 2, what="glass event")
    assert events[1].data["event"] == "glass_break"

    # Home again: the glass sensor turns off at once; the smoke sensor is not touched.
    satellite.async_handle_detections([detection_now(satellite, "smoke_alarm")])
    await hass.async_block_till_done()
    await _select(hass, "home")
    assert state_of(hass, GLASS) == STATE_OFF
    assert state_of(hass, SMOKE) == STATE_ON
    assert not satellite.entry.runtime_data.guard.armed


async def test_guard_mode_survives_restart_and_reload(
    hass: HomeAssistant, mic_server: MicStarter
) -> None:
    mock_restore_cache(hass, [State(SELECT, "away")])
    satellite = await _hub(hass, mic_server)
    guard = satellite.entry.runtime_data.guard
    assert guard is not None
    assert state_of(hass, SELECT) == "away"
    assert guard.armed
    satellite.async_handle_detections([detection_now(satellite, "footsteps")])
    await hass.async_block_till_done()
    assert state_of(hass, FOOTSTEPS) == STATE_ON

    await _select(hass, "home")
    entry = satellite.entry
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, SELECT) == "home"
    assert entry.runtime_data.guard is not None
    assert not entry.runtime_data.guard.armed
    await _select(hass, "away")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, SELECT) == "away"
    assert entry.runtime_data.guard is not None
    assert entry.runtime_data.guard.armed
    reloaded = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: reloaded.available, what="streaming after reload")


async def test_alarm_panel_arms_disarm_cancels_and_drops_earlier_sounds(
    hass: HomeAssistant, mic_server: MicStarter, start_app: StartApp
) -> None:
    await setup_panel(hass)
    seen: list[dict[str, Any]] = []
    url = await start_app(stand_in_verifier(delay=2.5, seen=seen))
    options = {
        "alarm_panel": PANEL,
        **_verifier_options(url, glass_break="confirm"),
        "verifier_timeout": 10.0,
    }
    satellite = await _hub(hass, mic_server, options)
    guard = satellite.entry.runtime_data.guard
    assert guard is not None
    events = async_capture_events(hass, EVENT_DETECTION)
    # With a panel, the panel decides: no guard-mode select.
    assert hass.states.get(SELECT) is None
    assert not guard.armed

    await panel_action(hass, "alarm_arm_away")
    assert guard.armed
    footsteps = detection_now(satellite, "footsteps")
    satellite.async_handle_detections([footsteps])
    glass = detection_now(satellite, "glass_break")
    satellite.async_handle_detections([glass])
    await hass.async_block_till_done()
    assert state_of(hass, FOOTSTEPS) == STATE_ON  # verification off: at once
    assert state_of(hass, GLASS) == STATE_OFF  # confirm: waits for the verifier
    await wait_for(hass, lambda: len(seen) == 1, what="verification request")
    assert seen[0]["authorization"] == f"Bearer {TOKEN}"
    assert seen[0]["metadata"]["event"] == "glass_break"
    assert seen[0]["metadata"]["satellite"] == "Kitchen"
    assert seen[0]["clip_bytes"] > 100_000  # ~10 s of 16 kHz int16

    # Disarm while the verifier thinks: the pending verification is cancelled, intrusion
    # sensors go off, and nothing fires afterwards.
    await panel_action(hass, "alarm_disarm")
    assert not guard.armed
    assert state_of(hass, FOOTSTEPS) == STATE_OFF
    await asyncio.sleep(3.0)
    await hass.async_block_till_done()
    assert state_of(hass, GLASS) == STATE_OFF
    assert [e.data["event"] for e in events] == ["footsteps"]
    assert guard.stats.cancelled_by_disarm >= 1

    # Re-armed: a sound that began before the disarm (a late decision) is not reported.
    await panel_action(hass, "alarm_arm_away")
    late = detection_now(satellite, "footsteps", latency=30.0)
    satellite.async_handle_detections([late])
    await hass.async_block_till_done()
    assert state_of(hass, FOOTSTEPS) == STATE_OFF
    # Panel states that are not arming states disarm; entry delays keep the guard as it was.
    await panel_action(hass, "alarm_arm_home")
    assert not guard.armed


async def test_confirmed_intrusion_triggers_the_panel(
    hass: HomeAssistant, mic_server: MicStarter, start_app: StartApp
) -> None:
    await setup_panel(hass)
    url = await start_app(stand_in_verifier(verified=True, confidence=0.95))
    options = {
        "alarm_panel": PANEL,
        "trigger_panel": True,
        **_verifier_options(url, glass_break="confirm"),
    }
    satellite = await _hub(hass, mic_server, options)
    events = async_capture_events(hass, EVENT_DETECTION)
    # Disarmed: nothing, the panel stays disarmed.
    satellite.async_handle_detections([detection_now(satellite, "glass_break")])
    await hass.async_block_till_done()
    await panel_action(hass, "alarm_arm_away")
    glass = detection_now(satellite, "glass_break")
    satellite.async_handle_detections([glass])
    await wait_for(hass, lambda: state_of(hass, GLASS) == STATE_ON, what="confirmed glass")
    await wait_for(hass, lambda: state_of(hass, PANEL) == "triggered", what="panel triggered")
    assert len(events) == 1
    assert events[0].data["verified"] is True
    assert events[0].data["verification"] == "verified"
    state = hass.states.get(GLASS)
    assert state is not None
    assert state.attributes["verified"] is True
    # The alarm sounding keeps the guard armed.
    guard = satellite.entry.runtime_data.guard
    assert guard is not None
    assert guard.armed
    # The engine's sound ended before the verdict? Then it stays on for the confirmed hold.
    satellite.async_handle_detections([ended(glass)])
    await hass.async_block_till_done()
    assert state_of(hass, GLASS) == STATE_OFF
    second = detection_now(satellite, "glass_break")
    satellite.async_handle_detections([second, ended(second, 0.1)])
    await wait_for(hass, lambda: len(events) == 2, what="second glass event")
    assert state_of(hass, GLASS) == STATE_ON
    await wait_for(hass, lambda: state_of(hass, GLASS) == STATE_OFF, limit=5, what="hold over")
    # The panel's alarm time ends: back to armed away, the guard stayed armed throughout.
    await wait_for(hass, lambda: state_of(hass, PANEL) == "armed_away", what="panel re-armed")
    assert guard.armed


async def test_reference_verifier_confirms_an_alarm_and_rejects_glass(
    hass: HomeAssistant, mic_server: MicStarter, start_app: StartApp
) -> None:
    """The real reference verifier hears the real smoke alarm recording in the clips.

    The candidates are CO alarm (the verifier confirms any sounding alarm: life safety) and
    glass break (rejected: no shatter in an alarm recording). The engine itself hears the
    recording's smoke alarm meanwhile (verification off for smoke): reported as usual.
    """
    if not SMOKE_WAV.is_file():
        pytest.skip(f"{SMOKE_WAV} not available")
    url = await start_app(reference_verifier())
    alarm = read_wav(SMOKE_WAV)
    server = await mic_server(stream(alarm, alarm, alarm, speed=2))
    options = {**_verifier_options(url, co_alarm="confirm", glass_break="confirm")}
    options["verifier_timeout"] = 10.0
    entry = await setup_hub(hass, {"Kitchen": server.port}, options)
    satellite = next(iter(entry.runtime_data.satellites.values()))
    guard = entry.runtime_data.guard
    clips = entry.runtime_data.clips
    assert guard is not None
    assert clips is not None
    events = async_capture_events(hass, EVENT_DETECTION)
    await wait_for(
        hass, lambda: clips.buffer(satellite.subentry_id).end > 4.0, what="alarm buffered"
    )
    await _select(hass, "away")

    co_alarm = detection_now(satellite, "co_alarm", latency=1.0, pattern="T4")
    glass = detection_now(satellite, "glass_break", latency=1.0)
    satellite.async_handle_detections([co_alarm, glass])
    await hass.async_block_till_done()
    assert state_of(hass, CO) == STATE_OFF  # not before the verifier agrees
    await wait_for(hass, lambda: state_of(hass, CO) == STATE_ON, limit=30, what="verified")
    await wait_for(hass, lambda: guard.stats.rejected == 1, limit=30, what="glass rejected")
    await hass.async_block_till_done()
    assert guard.stats.verified == 1
    heard = [e.data for e in events if e.data["event"] != "smoke_alarm"]
    assert [data["event"] for data in heard] == ["co_alarm"]
    assert heard[0]["verified"] is True
    assert heard[0]["verification"] == "verified"
    co_state = hass.states.get(CO)
    assert co_state is not None
    assert co_state.attributes["verified"] is True
    # Glass break: rejected, not reported; its clip is kept and marked rejected.
    assert state_of(hass, GLASS) == STATE_OFF
    stored = await hass.async_add_executor_job(clips.store.clips)
    metas = [await sidecar(hass, satellite, clip.clip_id) for clip in stored]
    glass_meta = [meta for meta in metas if meta["event"] == "glass_break"]
    assert len(glass_meta) == 1
    assert glass_meta[0]["verification"] == "rejected"
    assert glass_meta[0]["verified"] is False
    co_meta = [meta for meta in metas if meta["event"] == "co_alarm"]
    assert [meta["verification"] for meta in co_meta] == ["verified"]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("down", "connection"),
        ("slow", "timeout"),
        ("garbage", "bad_response"),
        ("unauthorized", "auth"),
        ("server_error", "server_error"),
    ],
)
async def test_verifier_failure_fails_open_for_alarms_and_closed_for_intrusion_when_set(
    hass: HomeAssistant,
    mic_server: MicStarter,
    start_app: StartApp,
    failure: str,
    reason: str,
) -> None:
    if failure == "down":
        url = f"http://127.0.0.1:{closed_port()}"
    elif failure == "slow":
        url = await start_app(stand_in_verifier(delay=2.5))
    elif failure == "garbage":
        url = await start_app(stand_in_verifier(body=b"<html>surprise</html>"))
    elif failure == "unauthorized":
        url = await start_app(stand_in_verifier(status=401, body=b'{"error":"unauthorized"}'))
    else:
        url = await start_app(stand_in_verifier(status=503, body=b'{"error":"busy"}'))
    options = {
        **_verifier_options(
            url, smoke_alarm="confirm", glass_break="confirm", footsteps="annotate"
        ),
        "verifier_timeout": 1.0,
        "intrusion_fail_open": False,
    }
    satellite = await _hub(hass, mic_server, options)
    guard = satellite.entry.runtime_data.guard
    assert guard is not None
    events = async_capture_events(hass, EVENT_DETECTION)
    await _select(hass, "away")

    smoke = detection_now(satellite, "smoke_alarm")
    glass = detection_now(satellite, "glass_break")
    satellite.async_handle_detections([smoke, glass])
    await wait_for(hass, lambda: guard.stats.failures == 2, limit=15, what="two failures")
    # Smoke fails open: reported, unverified. Glass (intrusion, fail-closed option): not.
    await wait_for(hass, lambda: len(events) == 1, what="smoke reported")
    await hass.async_block_till_done()
    assert state_of(hass, SMOKE) == STATE_ON
    assert state_of(hass, GLASS) == STATE_OFF
    assert [e.data["event"] for e in events] == ["smoke_alarm"]
    assert events[0].data["verified"] is None
    assert events[0].data["verification"] == "unverified"
    assert guard.stats.failures_by_reason == {reason: 2}
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, VERIFIER_ISSUE_ID) is None
    # A third failure in a row: a repair issue.
    satellite.async_handle_detections([detection_now(satellite, "footsteps")])
    await wait_for(hass, lambda: guard.stats.failures == 3, limit=15, what="third failure")
    issue = issues.async_get_issue(DOMAIN, VERIFIER_ISSUE_ID)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["reason"].startswith(reason)
    # Annotate mode: on at once, and stays on (unverified) when the verifier fails.
    assert state_of(hass, FOOTSTEPS) == STATE_ON
    await wait_for(hass, lambda: len(events) == 2, what="footsteps event")
    assert events[1].data["verification"] == "unverified"


async def test_intrusion_fails_open_by_default_and_issue_clears_on_success(
    hass: HomeAssistant,
    mic_server: MicStarter,
    start_app: StartApp,
) -> None:
    options = _verifier_options(f"http://127.0.0.1:{closed_port()}", glass_break="confirm")
    satellite = await _hub(hass, mic_server, options)
    entry = satellite.entry
    guard = entry.runtime_data.guard
    assert guard is not None
    events = async_capture_events(hass, EVENT_DETECTION)
    await _select(hass, "away")
    # (Onsets seconds apart: each gets its own clip.)
    for latency in (0.5, 2.5, 4.5):
        satellite.async_handle_detections(
            [detection_now(satellite, "glass_break", latency=latency)]
        )
    await wait_for(hass, lambda: len(events) == 3, limit=15, what="three unverified")
    assert {e.data["verification"] for e in events} == {"unverified"}
    assert state_of(hass, GLASS) == STATE_ON
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, VERIFIER_ISSUE_ID) is not None

    # The verifier comes back (a new URL in the options): the issue goes on the first answer.
    url = await start_app(stand_in_verifier(verified=True))
    hass.config_entries.async_update_entry(entry, options={**entry.options, "verifier_url": url})
    await hass.async_block_till_done()
    satellite = next(iter(entry.runtime_data.satellites.values()))
    await wait_for(hass, lambda: satellite.available, what="streaming after reload")
    await wait_for(
        hass,
        lambda: (
            entry.runtime_data.clips is not None
            and entry.runtime_data.clips.buffer(satellite.subentry_id).end > 2.0
        ),
        what="buffer after reload",
    )
    satellite.async_handle_detections([detection_now(satellite, "glass_break")])
    await wait_for(hass, lambda: len(events) == 4, limit=15, what="verified event")
    assert events[3].data["verification"] == "verified"
    assert issues.async_get_issue(DOMAIN, VERIFIER_ISSUE_ID) is None


async def test_annotate_marks_a_rejected_detection(
    hass: HomeAssistant, mic_server: MicStarter, start_app: StartApp
) -> None:
    url = await start_app(stand_in_verifier(verified=False, confidence=0.2, delay=0.5))
    satellite = await _hub(hass, mic_server, _verifier_options(url, smoke_alarm="annotate"))
    events = async_capture_events(hass, EVENT_DETECTION)
    satellite.async_handle_detections([detection_now(satellite, "smoke_alarm")])
    await hass.async_block_till_done()
    on = hass.states.get(SMOKE)
    assert on is not None
    assert on.state == STATE_ON  # at once
    assert "verified" not in on.attributes
    await wait_for(hass, lambda: len(events) == 1, limit=15, what="annotated event")
    assert events[0].data["verified"] is False
    assert events[0].data["verification"] == "rejected"
    state = hass.states.get(SMOKE)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["verified"] is False
    meta = await sidecar(hass, satellite, str(events[0].data["clip_id"]))
    assert meta["verification"] == "rejected"
    assert meta["verifier_confidence"] == 0.2


async def test_diagnostics_show_guard_without_secrets(
    hass: HomeAssistant,
    mic_server: MicStarter,
    hass_client: ClientSessionGenerator,
) -> None:
    satellite = await _hub(
        hass,
        mic_server,
        _verifier_options("http://verifier.example:8765", glass_break="confirm"),
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, satellite.entry)
    assert TOKEN not in str(diagnostics)
    assert "verifier.example" not in str(diagnostics)
    guard = diagnostics["guard"]
    assert guard["armed"] is False
    assert guard["verify"]["glass_break"] == "confirm"
    assert guard["report"] == {
        "smoke_alarm": "always",
        "co_alarm": "always",
        "glass_break": "armed",
        "footsteps": "armed",
    }
    assert guard["stats"]["failures"] == 0


def test_logbook_description() -> None:
    entry = describe(
        {
            "event": "co_alarm",
            "satellite": "Hall",
            "confidence": 0.876,
            "verification": "verified",
        }
    )
    assert entry == {
        "name": "Hall",
        "message": "heard a carbon monoxide alarm (confidence 0.88), confirmed by the verifier",
    }
    assert describe({"event": "footsteps", "satellite": "Hall"})["message"] == "heard footsteps"


async def test_unusable_ca_file_is_a_tls_failure(
    hass: HomeAssistant, mic_server: MicStarter, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not a certificate\n")
    options = {
        **_verifier_options("https://127.0.0.1:9", smoke_alarm="confirm"),
        "verifier_ca_file": str(ca_file),
    }
    satellite = await _hub(hass, mic_server, options)
    guard = satellite.entry.runtime_data.guard
    assert guard is not None
    events = async_capture_events(hass, EVENT_DETECTION)
    satellite.async_handle_detections([detection_now(satellite, "smoke_alarm")])
    await wait_for(hass, lambda: len(events) == 1, limit=15, what="smoke reported")
    assert events[0].data["verification"] == "unverified"
    assert guard.stats.failures_by_reason == {"tls": 1}
