"""Fixtures of the Home Assistant tests: short timings, real Wyoming servers, a set-up hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.acoustic_guard import hub
from custom_components.acoustic_guard.const import DOMAIN, SUBENTRY_SATELLITE
from custom_components.acoustic_guard.engine.detector import Detector
from custom_components.acoustic_guard.engine.runtime import MANIFEST_FILE, MODEL_DIR
from custom_components.acoustic_guard.engine.types import AudioFormat
from custom_components.acoustic_guard.satellite import Timing

from .wyoming_mic import Behaviour, Clip, MicServer

FAST = hub.HubTiming(
    stream=Timing(
        connect=2.0, no_audio=1.5, backoff_initial=0.05, backoff_max=0.4, max_queued_audio=60.0
    ),
    repair_after=1.0,
    level_interval=0.1,
    probe_connect=2.0,
    probe_audio=1.0,
)


def offline_events(clip: Clip, hold_s: float | None) -> set[str]:
    """Events the engine itself reports for ``clip`` (same settings, no Home Assistant)."""
    detector = Detector(enabled=None, hold_s=hold_s)
    fmt = AudioFormat(clip.rate, clip.width, clip.channels)
    detections = detector.feed(clip.pcm, fmt) + detector.flush()
    return {d.event for d in detections if d.active}


def model_version() -> str:
    manifest = json.loads((MODEL_DIR / MANIFEST_FILE).read_text())
    return str(manifest.get("version", ""))


def model_is_trained() -> bool:
    return "untrained" not in model_version()


needs_trained_model = pytest.mark.skipif(
    not model_is_trained(),
    reason="needs the trained model (the shipped manifest says 'untrained'); the lead re-runs it",
)


@pytest.fixture(autouse=True)
def private_config_dir(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Give every Home Assistant test its own config folder, so clips never leak between tests."""
    if "hass" in request.fixturenames:
        request.getfixturevalue("hass").config.config_dir = str(tmp_path)


@pytest.fixture(autouse=True)
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> hub.HubTiming:
    """Shorten every time constant so the suite runs in seconds."""
    monkeypatch.setattr(hub, "TIMING", FAST)
    return FAST


@pytest.fixture
async def mic_server(socket_enabled: None) -> AsyncGenerator[Callable[..., Awaitable[MicServer]]]:
    """Start real Wyoming microphone servers on loopback; all stopped at the end."""
    servers: list[MicServer] = []

    async def start(behaviour: Behaviour, port: int = 0) -> MicServer:
        server = await MicServer(behaviour, port).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def satellite_subentry(name: str, port: int, host: str = "127.0.0.1") -> ConfigSubentryData:
    return ConfigSubentryData(
        data={CONF_NAME: name, CONF_HOST: host, CONF_PORT: port},
        subentry_type=SUBENTRY_SATELLITE,
        title=name,
        unique_id=f"{host}:{port}",
    )


async def setup_hub(
    hass: HomeAssistant,
    satellites: dict[str, int],
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A hub entry with one satellite subentry per (name, port), set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Acoustic Guard",
        data={},
        options=dict(options or {}),
        subentries_data=[satellite_subentry(name, port) for name, port in satellites.items()],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def wait_for(
    hass: HomeAssistant, predicate: Callable[[], bool], limit: float = 20.0, what: str = ""
) -> None:
    """Poll ``predicate`` on the running loop until true (real time passes meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def state_of(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state
