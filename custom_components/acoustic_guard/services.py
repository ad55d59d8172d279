"""Actions: ``acoustic_guard.delete_clip`` and ``acoustic_guard.delete_clips``.

Registered once in ``async_setup`` (they work on the clip folder, loaded hub or not).
Deleting is immediate and final: the WAV and its sidecar are unlinked at once.
"""

from __future__ import annotations

import logging

import voluptuous as vol
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .clip_store import ClipNotFound, ClipStore
from .clips import clips_root, media_content_id
from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SERVICE_DELETE_CLIP = "delete_clip"
SERVICE_DELETE_CLIPS = "delete_clips"
ATTR_CLIP_ID = "clip_id"
ATTR_MEDIA_CONTENT_ID = "media_content_id"

DELETE_CLIP_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_CLIP_ID): cv.string,
            vol.Optional(ATTR_MEDIA_CONTENT_ID): cv.string,
        }
    ),
    cv.has_at_least_one_key(ATTR_CLIP_ID, ATTR_MEDIA_CONTENT_ID),
)
DELETE_CLIPS_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})


def clip_id_from(value: str) -> str:
    """A clip id from a clip id or a clip's media-source id."""
    prefix = media_content_id("")
    return value[len(prefix) :] if value.startswith(prefix) else value


def _store(hass: HomeAssistant) -> ClipStore:
    return ClipStore(clips_root(hass))


async def _async_delete_clip(call: ServiceCall) -> None:
    hass = call.hass
    given = str(call.data.get(ATTR_CLIP_ID) or call.data.get(ATTR_MEDIA_CONTENT_ID))
    clip_id = clip_id_from(given.strip())
    try:
        await hass.async_add_executor_job(_store(hass).delete, clip_id)
    except ClipNotFound:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="clip_not_found",
            translation_placeholders={"clip": given},
        ) from None
    except OSError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="clip_delete_failed",
            translation_placeholders={"clip": given, "error": str(err)},
        ) from err
    _LOGGER.info("Clip %s deleted", clip_id)


async def _async_delete_clips(call: ServiceCall) -> None:
    hass = call.hass
    device_id: str = call.data[ATTR_DEVICE_ID]
    satellite_id = _satellite_of_device(hass, device_id)
    try:
        count = await hass.async_add_executor_job(_store(hass).delete_satellite, satellite_id)
    except OSError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="clip_delete_failed",
            translation_placeholders={"clip": device_id, "error": str(err)},
        ) from err
    _LOGGER.info("Deleted %d clip(s) of satellite device %s", count, device_id)


def _satellite_of_device(hass: HomeAssistant, device_id: str) -> str:
    """The satellite subentry id behind a device (ServiceValidationError if none)."""
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.entry_id not in device.config_entries:
                continue
            for domain, identifier in device.identifiers:
                if domain == DOMAIN and identifier in entry.subentries:
                    return identifier
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_a_satellite",
        translation_placeholders={"device_id": device_id},
    )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the clip actions (from ``async_setup``)."""
    hass.services.async_register(
        DOMAIN, SERVICE_DELETE_CLIP, _async_delete_clip, schema=DELETE_CLIP_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DELETE_CLIPS, _async_delete_clips, schema=DELETE_CLIPS_SCHEMA
    )
