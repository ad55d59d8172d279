"""Acoustic Guard: hear smoke alarms, CO alarms, glass break and footsteps on Wyoming mics.

One hub config entry holds the home-wide options; each microphone satellite is a config
subentry with its own device. Audio is analysed locally by the bundled engine.
"""

from __future__ import annotations

import logging

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType

from . import hub
from .clip_view import ClipView
from .clips import ClipManager, Retention, async_remove_clips
from .const import DOMAIN, SUBENTRY_SATELLITE
from .engine.detector import Detector
from .engine.runtime import get_model
from .entity import hub_device_info
from .guard import VERIFIER_ISSUE_ID, Guard
from .guard_settings import GuardSettings
from .hub import AcousticGuardConfigEntry, AcousticGuardData, SatelliteRuntime, Settings
from .satellite import DetectorLike
from .services import async_setup_services

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SELECT, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Actions (services) and the clip download view exist whether or not the hub is loaded."""
    async_setup_services(hass)
    hass.http.register_view(ClipView(hass))
    return True


async def async_setup_entry(hass: HomeAssistant, entry: AcousticGuardConfigEntry) -> bool:
    """Load the shared model, create one stream per satellite subentry, start them."""
    try:
        model = await hass.async_add_executor_job(get_model)
    except (OSError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="model_load_failed",
            translation_placeholders={"error": str(err)},
        ) from err
    settings = Settings.from_options(entry.options)
    timing = hub.TIMING

    def detector_factory() -> DetectorLike:
        return Detector(
            model,
            sensitivity=dict(settings.sensitivity),
            enabled=settings.enabled,
            hold_s=settings.hold_s,
        )

    data = AcousticGuardData(settings=settings, model_info=_model_info(model))
    data.clips = clips = ClipManager(
        hass,
        retention=Retention.from_options(entry.options),
        model_version=str(data.model_info.get("version") or "") or None,
    )
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_SATELLITE:
            sid = subentry.subentry_id
            data.satellites[sid] = SatelliteRuntime(
                hass,
                entry,
                subentry,
                detector_factory=detector_factory,
                settings=settings,
                timing=timing,
                on_audio=clips.add_satellite(sid, subentry.title),
            )
            clips.bind_stream(sid, data.satellites[sid].stream.stats)
    entry.runtime_data = data
    clips.async_start(set(data.satellites))
    entry.async_on_unload(clips.async_stop)
    data.guard = Guard(
        hass,
        entry,
        GuardSettings.from_options(entry.options),
        model_version=str(data.model_info.get("version") or "") or None,
    )
    await data.guard.async_start()
    entry.async_on_unload(data.guard.async_stop)
    # The hub device exists before the satellites' devices name it as their via_device.
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **hub_device_info(entry))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    for satellite in data.satellites.values():
        satellite.async_start()
        entry.async_on_unload(satellite.async_stop)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: AcousticGuardConfigEntry) -> bool:
    """Unload platforms; the entry cancels the stream tasks, which close their sockets."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: AcousticGuardConfigEntry) -> None:
    """Removal: drop repair issues this entry raised."""
    for subentry_id in entry.subentries:
        ir.async_delete_issue(hass, DOMAIN, hub.issue_id(subentry_id))
    ir.async_delete_issue(hass, DOMAIN, VERIFIER_ISSUE_ID)
    await async_remove_clips(hass)


async def _async_update_listener(hass: HomeAssistant, entry: AcousticGuardConfigEntry) -> None:
    """Options or satellites changed: reload so every stream uses the new settings."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


def _model_info(model: object) -> dict[str, object]:
    """Non-secret facts about the loaded model for diagnostics (best effort)."""
    info: dict[str, object] = {"class": type(model).__name__}
    manifest = getattr(model, "manifest", None)
    if isinstance(manifest, dict):
        for key in ("model_version", "version", "heads", "sample_rate", "chunk_frames"):
            if key in manifest:
                info[key] = manifest[key]
    for key in ("runtime", "name"):
        value = getattr(model, key, None)
        if isinstance(value, str):
            info[key] = value
    return info
