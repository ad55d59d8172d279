"""The authenticated HTTP view that serves a detection clip's WAV file."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import HomeAssistantView

from .clip_store import ClipNotFound, ClipStore
from .clips import clips_root

MIME_TYPE = "audio/wav"
CLIP_URL = "/api/acoustic_guard/clips/{clip_id}.wav"


def clip_url(clip_id: str) -> str:
    """Relative URL of a clip's WAV (served by :class:`ClipView`)."""
    return CLIP_URL.format(clip_id=clip_id)


class ClipView(HomeAssistantView):
    """Serve a clip's WAV to authenticated users (or a signed path from the media browser)."""

    url = "/api/acoustic_guard/clips/{satellite_id}/{date}/{stem}.wav"
    name = "api:acoustic_guard:clip"
    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        """Serve files from ``<config>/acoustic_guard/clips`` only."""
        self.hass = hass

    async def get(
        self, request: web.Request, satellite_id: str, date: str, stem: str
    ) -> web.StreamResponse:
        """The WAV file (404 for anything that is not a stored clip)."""
        clip_id = f"{satellite_id}/{date}/{stem}"
        store = ClipStore(clips_root(self.hass))
        try:
            path = store.path_of(clip_id)
        except ClipNotFound:
            return self.json_message("Not a clip", HTTPStatus.NOT_FOUND)
        if not await self.hass.async_add_executor_job(path.is_file):
            return self.json_message("No such clip", HTTPStatus.NOT_FOUND)
        return web.FileResponse(path, headers={"Content-Type": MIME_TYPE})
