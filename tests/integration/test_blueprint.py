"""End to end: a real alarm recording over Wyoming → engine → guard (panel armed away) → the
real reference verifier → sensor, bus event → an automation from the repository's blueprint
turns a siren on and notifies a phone → the clip is in the media source and can be deleted.

The siren is a real ``siren`` entity: the ``switch_as_x`` helper over a template switch that
drives an ``input_boolean`` (Home Assistant 2025.4 has no template siren). The phone is the
only stand-in: ``notify.mobile_app_pixel`` is a recorded service (no Companion app here).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from homeassistant.components import media_source
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_mock_service,
)

from custom_components.acoustic_guard.const import DOMAIN, EVENT_DETECTION

from .conftest import model_version, offline_events, setup_hub, state_of, wait_for
from .guard_support import (
    TOKEN,
    AppServers,
    StartApp,
    panel_action,
    reference_verifier,
    setup_panel,
    use_fast_guard,
)
from .wyoming_mic import SMOKE_WAV, MicServer, quiet_room, read_wav, stream

REPO = Path(__file__).resolve().parents[2]
BLUEPRINT = REPO / "blueprints" / "automation" / "acoustic_guard" / "siren_on_detection.yaml"
SIREN = "siren.siren_relay"
POWERED = "{{ is_state('input_boolean.siren_relay_power', 'on') }}"


@pytest.fixture(autouse=True)
def _fast_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_guard(monkeypatch)


@pytest.fixture
async def start_app(socket_enabled: None) -> AsyncGenerator[StartApp]:
    async with AppServers() as servers:
        yield servers.start


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A private config folder (blueprints, clips) with the repository's blueprint in it."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "acoustic_guard" / BLUEPRINT.name
    target.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    return tmp_path


async def _setup_siren(hass: HomeAssistant) -> None:
    """siren.siren_relay: switch_as_x over a template switch over an input_boolean."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"siren_relay_power": {}}}
    )
    assert await async_setup_component(
        hass,
        "switch",
        {
            "switch": [
                {
                    "platform": "template",
                    "switches": {
                        "siren_relay": {
                            "unique_id": "siren_relay",
                            "value_template": POWERED,
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": {"entity_id": "input_boolean.siren_relay_power"},
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": {"entity_id": "input_boolean.siren_relay_power"},
                            },
                        }
                    },
                }
            ]
        },
    )
    await hass.async_block_till_done()
    helper = MockConfigEntry(
        domain="switch_as_x",
        title="Siren relay",
        options={"entity_id": "switch.siren_relay", "invert": False, "target_domain": "siren"},
        version=1,
        minor_version=2,
    )
    helper.add_to_hass(hass)
    assert await hass.config_entries.async_setup(helper.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, SIREN) == "off"


def _phone(hass: HomeAssistant) -> str:
    """A phone's device of the mobile_app integration (what the blueprint's selector offers)."""
    app_entry = MockConfigEntry(domain="mobile_app", title="Pixel")
    app_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=app_entry.entry_id, identifiers={("mobile_app", "pixel")}, name="Pixel"
    )
    return device.id


async def _automation_from_blueprint(hass: HomeAssistant, phone: str) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "acoustic_guard_siren",
                "alias": "Siren on detection",
                "use_blueprint": {
                    "path": "acoustic_guard/siren_on_detection.yaml",
                    "input": {
                        "events": ["smoke_alarm", "co_alarm", "glass_break"],
                        "siren": SIREN,
                        "notify_device": phone,
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert state_of(hass, "automation.siren_on_detection") == STATE_ON


async def test_alarm_recording_end_to_end_sounds_the_siren(
    hass: HomeAssistant,
    config_dir: Path,
    mic_server: Callable[..., Awaitable[MicServer]],
    start_app: StartApp,
) -> None:
    if not SMOKE_WAV.is_file():
        pytest.skip(f"{SMOKE_WAV} not available")
    alarm = read_wav(SMOKE_WAV)
    if "smoke_alarm" not in await hass.async_add_executor_job(offline_events, alarm, None):
        pytest.skip(f"the shipped model ({model_version()}) misses this alarm offline too")
    await _setup_siren(hass)
    await setup_panel(hass)
    await panel_action(hass, "alarm_arm_away")
    phone = _phone(hass)
    notifications = async_mock_service(hass, "notify", "mobile_app_pixel")
    await _automation_from_blueprint(hass, phone)
    url = await start_app(reference_verifier())
    events = async_capture_events(hass, EVENT_DETECTION)

    server = await mic_server(stream(quiet_room(3.0), alarm, speed=2))
    entry = await setup_hub(
        hass,
        {"Kitchen": server.port},
        {
            "alarm_panel": "alarm_control_panel.house",
            "verifier_url": url,
            "verifier_token": TOKEN,
            "verifier_timeout": 10.0,
            "verify_smoke_alarm": "confirm",
        },
    )
    guard = entry.runtime_data.guard
    assert guard is not None
    assert guard.armed
    smoke = "binary_sensor.kitchen_smoke_alarm"
    await wait_for(hass, lambda: len(events) >= 1, limit=40, what="a verified detection")
    data = events[0].data
    assert data["event"] == "smoke_alarm"
    assert data["satellite"] == "Kitchen"
    assert data["verified"] is True
    assert data["verification"] == "verified"
    assert data["pattern"]
    assert state_of(hass, smoke) == STATE_ON
    # The blueprint's automation: the siren sounds and the phone gets a link to the clips.
    await wait_for(hass, lambda: state_of(hass, SIREN) == STATE_ON, what="siren on")
    await wait_for(hass, lambda: len(notifications) == 1, what="notification")
    message = notifications[0].data
    assert message["title"] == "Smoke alarm heard by Kitchen"
    assert "confirmed by the verifier" in message["message"]
    assert message["data"]["url"].startswith("/media-browser/")

    # The clip is stored under the config folder and listed by the media source ...
    clip_id = str(data["clip_id"])
    assert str(data["clip"]).endswith(clip_id)
    wav = config_dir / "acoustic_guard" / "clips" / f"{clip_id}.wav"
    assert wav.is_file()
    assert await async_setup_component(hass, "media_source", {})
    root = await media_source.async_browse_media(hass, f"media-source://{DOMAIN}")
    assert root.children
    # The notification's link opens the media browser at the day's folder holding the clip:
    # every path segment is "<media type>,<media id>" (URL-encoded) of a browsable folder.
    link = message["data"]["url"]
    assert message["data"]["clickAction"] == link
    segments = [unquote(s) for s in link.removeprefix("/media-browser/browser/").split("/")]
    assert len(segments) == 3, link
    folder = None
    for i, segment in enumerate(segments):
        media_type, media_id = segment.split(",", 1)
        folder = await media_source.async_browse_media(hass, media_id)
        if i:  # the Acoustic Guard root is linked as the frontend names it ("app")
            assert folder.media_content_type == media_type
    assert folder is not None
    assert data["clip"] in [child.media_content_id for child in folder.children or []]
    # ... and the delete action removes it.
    await hass.services.async_call(
        DOMAIN, "delete_clip", {"media_content_id": data["clip"]}, blocking=True
    )
    assert not wav.exists()
