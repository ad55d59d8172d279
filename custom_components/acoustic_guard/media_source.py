"""Detection clips in the media browser: Acoustic Guard → satellite → date → clips.

Identifiers: ``""`` (root), ``<satellite_id>``, ``<satellite_id>/<date>``, and a clip's id
``<satellite_id>/<date>/<HHMMSS>_<event>``. A clip resolves to :class:`~.clip_view.ClipView`'s URL
(``/api/acoustic_guard/clips/<clip_id>.wav``), an authenticated view: the media source's
``resolve_media`` signs the path for the frontend, like core's ``nest`` event media.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.core import HomeAssistant

from .clip_store import CLIP_ID, DATE, SATELLITE_ID, ClipInfo, ClipNotFound, ClipStore
from .clip_view import MIME_TYPE, clip_url
from .clips import clips_root
from .const import DOMAIN, SUBENTRY_SATELLITE

TITLE = "Acoustic Guard"
EVENT_NAMES = {
    "smoke_alarm": "Smoke alarm",
    "co_alarm": "Carbon monoxide alarm",
    "glass_break": "Glass break",
    "footsteps": "Footsteps",
}
VERIFICATION_NAMES = {
    "verified": "verified",
    "rejected": "rejected by the verifier",
    "unverified": "unverified (verifier failed)",
}


async def async_get_media_source(hass: HomeAssistant) -> AcousticGuardMediaSource:
    """The ``media_source`` platform."""
    return AcousticGuardMediaSource(hass)


def clip_title(meta: dict[str, Any], clip: ClipInfo) -> str:
    """``14:30:05 · Smoke alarm · 93% · verified`` from the clip's sidecar."""
    stem_time = clip.stem[:6]
    parts = [f"{stem_time[0:2]}:{stem_time[2:4]}:{stem_time[4:6]}"]
    event = str(meta.get("event") or clip.stem.split("_", 1)[-1])
    parts.append(EVENT_NAMES.get(event, event))
    confidence = meta.get("confidence")
    if isinstance(confidence, int | float):
        parts.append(f"{confidence:.0%}")
    verification = meta.get("verification")
    if verification is None and isinstance(meta.get("verified"), bool):
        verification = "verified" if meta["verified"] else "rejected"
    if isinstance(verification, str) and verification in VERIFICATION_NAMES:
        parts.append(VERIFICATION_NAMES[verification])
    return " · ".join(parts)


class AcousticGuardMediaSource(MediaSource):
    """Browse and play detection clips."""

    name = TITLE

    def __init__(self, hass: HomeAssistant) -> None:
        """Clips live under ``<config>/acoustic_guard/clips``."""
        super().__init__(DOMAIN)
        self.hass = hass

    @property
    def store(self) -> ClipStore:
        """The clip folder."""
        return ClipStore(clips_root(self.hass))

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """A clip id → its (signed by the caller) URL."""
        clip_id = item.identifier or ""
        if not CLIP_ID.match(clip_id) or not await self.hass.async_add_executor_job(
            self.store.exists, clip_id
        ):
            raise Unresolvable(f"No Acoustic Guard clip '{clip_id}' (deleted?)")
        return PlayMedia(clip_url(clip_id), MIME_TYPE)

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """Root → satellites → dates → clips."""
        identifier = item.identifier or ""
        parts = identifier.split("/") if identifier else []
        if not parts:
            return await self._async_root()
        if len(parts) == 1 and SATELLITE_ID.match(parts[0]):
            return await self._async_satellite(parts[0])
        if len(parts) == 2 and SATELLITE_ID.match(parts[0]) and DATE.match(parts[1]):
            return await self._async_date(parts[0], parts[1])
        if CLIP_ID.match(identifier):
            return await self._async_clip(identifier)
        raise BrowseError(f"Unknown Acoustic Guard media '{identifier}'")

    # -- levels ---------------------------------------------------------------------------
    async def _async_root(self) -> BrowseMediaSource:
        store = self.store
        satellites = await self.hass.async_add_executor_job(store.satellites)
        names = self._satellite_names()
        children = [
            _directory(sid, names.get(sid) or await self._stored_name(sid), MediaClass.DIRECTORY)
            for sid in satellites
        ]
        children.sort(key=lambda child: child.title.casefold())
        return _directory("", TITLE, MediaClass.APP, children)

    async def _async_satellite(self, satellite_id: str) -> BrowseMediaSource:
        dates = await self.hass.async_add_executor_job(self.store.dates, satellite_id)
        if not dates:
            raise BrowseError(f"No clips of satellite '{satellite_id}'")
        name = self._satellite_names().get(satellite_id) or await self._stored_name(satellite_id)
        children = [
            _directory(f"{satellite_id}/{date}", date, MediaClass.DIRECTORY) for date in dates
        ]
        return _directory(satellite_id, name, MediaClass.DIRECTORY, children)

    async def _async_date(self, satellite_id: str, date: str) -> BrowseMediaSource:
        listing = await self.hass.async_add_executor_job(self._listing, satellite_id, date)
        if not listing:
            raise BrowseError(f"No clips of satellite '{satellite_id}' on {date}")
        name = self._satellite_names().get(satellite_id) or str(
            listing[0][1].get("satellite") or satellite_id
        )
        children = [_clip_item(clip, meta) for clip, meta in listing]
        directory = _directory(
            f"{satellite_id}/{date}", f"{name} · {date}", MediaClass.DIRECTORY, children
        )
        directory.children_media_class = MediaClass.MUSIC
        return directory

    async def _async_clip(self, clip_id: str) -> BrowseMediaSource:
        satellite_id, date, _stem = clip_id.split("/")
        for clip, meta in await self.hass.async_add_executor_job(self._listing, satellite_id, date):
            if clip.clip_id == clip_id:
                return _clip_item(clip, meta)
        raise BrowseError(f"No Acoustic Guard clip '{clip_id}' (deleted?)")

    # -- helpers --------------------------------------------------------------------------
    def _listing(self, satellite_id: str, date: str) -> list[tuple[ClipInfo, dict[str, Any]]]:
        """Executor: the clips of one day with their sidecars (newest first)."""
        store = self.store
        result = []
        for clip in store.clips(satellite_id, date):
            try:
                result.append((clip, store.read_meta(clip.clip_id)))
            except ClipNotFound:
                continue
        return result

    def _satellite_names(self) -> dict[str, str]:
        """Satellite subentry id → its name (configured satellites)."""
        return {
            sub.subentry_id: sub.title
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            for sub in entry.subentries.values()
            if sub.subentry_type == SUBENTRY_SATELLITE
        }

    async def _stored_name(self, satellite_id: str) -> str:
        """A removed satellite's name, from its newest clip's sidecar."""

        def newest_name() -> str:
            store = self.store
            for clip in store.clips(satellite_id):
                try:
                    name = store.read_meta(clip.clip_id).get("satellite")
                except ClipNotFound:
                    continue
                if isinstance(name, str) and name:
                    return name
            return satellite_id

        return await self.hass.async_add_executor_job(newest_name)


def _directory(
    identifier: str,
    title: str,
    media_class: MediaClass,
    children: list[BrowseMediaSource] | None = None,
) -> BrowseMediaSource:
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=identifier,
        media_class=media_class,
        media_content_type=MediaType.PLAYLIST if identifier else "",
        title=title,
        can_play=False,
        can_expand=True,
        children=children if children is not None else [],
        children_media_class=MediaClass.DIRECTORY,
    )


def _clip_item(clip: ClipInfo, meta: dict[str, Any]) -> BrowseMediaSource:
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=clip.clip_id,
        media_class=MediaClass.MUSIC,
        media_content_type=MIME_TYPE,
        title=clip_title(meta, clip),
        can_play=True,
        can_expand=False,
    )
