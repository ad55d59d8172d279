"""Detection clips: ring buffers per satellite, capture, annotate, retention, storage health.

``entry.runtime_data.clips`` is a :class:`ClipManager`. Each satellite's stream taps its
received audio into a :class:`~.clip_buffer.ClipBuffer` (see :meth:`ClipManager.add_satellite`).
For a detection, :meth:`ClipManager.async_capture` waits for the post-roll, cuts about 10 s
(3 s before the onset, the rest after it), converts it to 16 kHz mono WAV and stores it with
a JSON sidecar through :class:`~.clip_store.ClipStore` in an executor. It is the only audio
Acoustic Guard ever writes. Failing storage (full disk, unwritable folder) is logged once and
raises the ``clip_storage`` repair issue; detection goes on, the next clip retries, and the
issue goes away once a clip is written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .clip_buffer import CLIP_RATE, ClipBuffer, Piece, render, wav_bytes
from .clip_store import ClipInfo, ClipNotFound, ClipStore
from .const import (
    CLIPS_FOLDER,
    CONF_CLIP_MAX_AGE_DAYS,
    CONF_CLIP_MAX_SIZE_MB,
    DEFAULT_CLIP_MAX_AGE_DAYS,
    DEFAULT_CLIP_MAX_SIZE_MB,
    DOMAIN,
    ISSUE_CLIP_STORAGE,
)
from .engine.types import AudioFormat, Detection
from .satellite import StreamStats

_LOGGER = logging.getLogger(__name__)

RETENTION_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ClipRef:
    """A stored clip: its id, media-source id, WAV path and the WAV file's bytes."""

    clip_id: str
    media_content_id: str
    path: Path
    wav: bytes


@dataclass(frozen=True, slots=True)
class Retention:
    """How long and how much: clips older than ``max_age_days`` or beyond ``max_mb`` go."""

    max_age_days: float = DEFAULT_CLIP_MAX_AGE_DAYS
    max_mb: float = DEFAULT_CLIP_MAX_SIZE_MB

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Retention:
        """Read (and default) the hub options."""
        return cls(
            float(options.get(CONF_CLIP_MAX_AGE_DAYS, DEFAULT_CLIP_MAX_AGE_DAYS)),
            float(options.get(CONF_CLIP_MAX_SIZE_MB, DEFAULT_CLIP_MAX_SIZE_MB)),
        )

    @property
    def max_age_s(self) -> float:
        """Maximum age in seconds."""
        return self.max_age_days * 86400.0

    @property
    def max_bytes(self) -> int:
        """Maximum total size in bytes."""
        return int(self.max_mb * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class ClipTiming:
    """Clip geometry and waits (seconds); tests may shorten ``post_roll_slack``."""

    pre_roll: float = 3.0
    length: float = 10.0
    buffer: float = 20.0
    # Wait at most this long beyond the post-roll's due time (audio arrives in real time).
    post_roll_slack: float = 5.0


@dataclass(frozen=True, slots=True)
class _Job:
    """One clip to render and store (executor)."""

    pieces: list[Piece]
    start: float
    end: float
    satellite_id: str
    date: str
    stem: str
    meta: dict[str, Any]


def clips_root(hass: HomeAssistant) -> Path:
    """``<config>/acoustic_guard/clips``."""
    return Path(hass.config.path(*CLIPS_FOLDER))


def media_content_id(clip_id: str) -> str:
    """The media-source id of a clip (``media-source://acoustic_guard/<clip_id>``)."""
    return f"media-source://{DOMAIN}/{clip_id}"


async def async_remove_clips(hass: HomeAssistant) -> None:
    """The integration is removed: delete every clip (nothing is left behind)."""
    try:
        await hass.async_add_executor_job(ClipStore(clips_root(hass)).delete_all)
    except OSError as err:
        _LOGGER.warning("Cannot delete the clip folder %s: %s", clips_root(hass), err)
    ir.async_delete_issue(hass, DOMAIN, ISSUE_CLIP_STORAGE)


class _Recorder:
    """One satellite's tap: keeps the ring buffer in step with the stream's detector clock."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.buffer = ClipBuffer(seconds)
        self.stats: StreamStats | None = None
        self._dropped_chunks = 0
        self._dropped_s = 0.0
        self._waiters: list[asyncio.Future[None]] = []

    async def async_next_chunk(self) -> None:
        """Wait for the next chunk."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        finally:
            if future in self._waiters:
                self._waiters.remove(future)

    @callback
    def feed(self, pcm: bytes, fmt: AudioFormat) -> None:
        """``SatelliteStream(on_audio=…)``: called on the loop for every received chunk."""
        stats = self.stats
        if stats is not None:
            if not stats.connected:
                # The first chunk of a connection (the stream marks itself connected right
                # after this tap): the detector's clock restarts at 0 here.
                self.buffer.new_session()
            elif stats.dropped_chunks != self._dropped_chunks:
                # Inference could not keep up and the newest batch was dropped: the detector
                # never saw it, so its clock did not advance. Mirror that.
                self.buffer.drop_tail(max(stats.dropped_s - self._dropped_s, 0.0))
            self._dropped_chunks = stats.dropped_chunks
            self._dropped_s = stats.dropped_s
        self.buffer.append(pcm, fmt)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for future in waiters:
                if not future.done():
                    future.set_result(None)


class ClipManager:
    """Ring buffers, clip capture, annotations, retention and the ``clip_storage`` issue."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        retention: Retention | None = None,
        timing: ClipTiming | None = None,
        root: Path | None = None,
        model_version: str | None = None,
    ) -> None:
        """Create (not start) the manager."""
        self.hass = hass
        self.retention = retention or Retention()
        self.timing = timing or ClipTiming()
        self.store = ClipStore(root or clips_root(hass))
        self.model_version = model_version
        self._recorders: dict[str, _Recorder] = {}
        self._storage_failed = False
        self.failures = 0
        self.written = 0
        self._unsub: CALLBACK_TYPE | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- wiring ---------------------------------------------------------------------------
    def add_satellite(self, satellite_id: str, name: str) -> Callable[[bytes, AudioFormat], None]:
        """A ring buffer for ``satellite_id``; returns its ``on_audio`` tap for the stream."""
        recorder = _Recorder(name, self.timing.buffer)
        self._recorders[satellite_id] = recorder
        return recorder.feed

    def bind_stream(self, satellite_id: str, stats: StreamStats) -> None:
        """Let the tap follow the stream's connections and drops (keeps clocks aligned)."""
        self._recorders[satellite_id].stats = stats

    def buffer(self, satellite_id: str) -> ClipBuffer:
        """The satellite's ring buffer (KeyError if unknown)."""
        return self._recorders[satellite_id].buffer

    @callback
    def async_start(self, satellites: set[str]) -> None:
        """Enforce retention now (in the background) and then every hour.

        Clips of satellites that are no longer configured (``satellites``: the ones that
        are) are deleted: their device and its delete action are gone with them.
        """
        self._unsub = async_track_time_interval(
            self.hass, self._scheduled_retention, RETENTION_INTERVAL, cancel_on_shutdown=True
        )
        self._spawn(self._async_startup(satellites), "retention at start-up")

    async def _async_startup(self, satellites: set[str]) -> None:
        try:
            stored = await self.hass.async_add_executor_job(self.store.satellites)
            for satellite_id in set(stored) - satellites:
                count = await self.async_delete_satellite(satellite_id)
                _LOGGER.info("Deleted %d clip(s) of a removed satellite", count)
        except OSError as err:
            _LOGGER.warning("Cannot clean up clips of removed satellites: %s", err)
        await self.async_enforce_retention()

    @callback
    def async_stop(self) -> None:
        """Entry unload: stop the schedule and pending retention runs."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        for task in self._tasks:
            task.cancel()

    # -- capture --------------------------------------------------------------------------
    async def async_capture(self, satellite_id: str, detection: Detection) -> ClipRef | None:
        """Wait for the post-roll, write the clip atomically, return it (None if it failed).

        Call it as soon as the detection arrives (the ring buffer holds ~20 s): ``start`` and
        ``time`` of the detection are on the current connection's clock.
        """
        recorder = self._recorders.get(satellite_id)
        if recorder is None:
            _LOGGER.warning("No clip for %s: unknown satellite %s", detection.event, satellite_id)
            return None
        buffer = recorder.buffer
        session = buffer.session
        onset = buffer.session_time(detection.start)
        start = onset - self.timing.pre_roll
        end = start + self.timing.length
        heard_at = dt_util.now()
        onset_at = heard_at - timedelta(seconds=max(buffer.end - onset, 0.0))
        # Audio arrives in real time: the post-roll is due in (end - buffer.end) seconds.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(end - buffer.end, 0.0) + self.timing.post_roll_slack):
                while buffer.end < end and buffer.session == session:
                    await recorder.async_next_chunk()
        pieces = buffer.snapshot(start, end, session)
        if not pieces:
            _LOGGER.warning(
                "No clip of %s on %s: its audio is no longer buffered",
                detection.event,
                recorder.name,
            )
            return None
        meta: dict[str, Any] = {
            "event": detection.event,
            "satellite_id": satellite_id,
            "satellite": recorder.name,
            "confidence": round(float(detection.confidence), 4),
            "pattern": detection.pattern,
            "start": onset_at.isoformat(),
            "detected": (onset_at + timedelta(seconds=detection.time - detection.start))
            .replace(microsecond=0)
            .isoformat(),
            "latency_s": round(detection.time - detection.start, 2),
            "pre_roll_s": round(min(onset - max(start, pieces[0].start), self.timing.pre_roll), 2),
            "sample_rate": CLIP_RATE,
            "model_version": self.model_version,
            "verified": None,
        }
        date = onset_at.strftime("%Y-%m-%d")
        stem = f"{onset_at.strftime('%H%M%S')}_{detection.event}"
        try:
            info, wav = await self.hass.async_add_executor_job(
                self._write, _Job(pieces, start, end, satellite_id, date, stem, meta)
            )
        except OSError as err:
            self._failed(err)
            return None
        except ValueError as err:  # audio the converter refused: no clip, nothing to repair
            _LOGGER.warning("No clip of %s on %s: %s", detection.event, recorder.name, err)
            return None
        self._recovered()
        self.written += 1
        _LOGGER.debug("Clip %s written (%d bytes)", info.clip_id, len(wav))
        self._spawn(self.async_enforce_retention(), "retention after a clip")
        return ClipRef(info.clip_id, media_content_id(info.clip_id), info.path, wav)

    def _write(self, job: _Job) -> tuple[ClipInfo, bytes]:
        """Executor: render, encode and store one clip."""
        samples = render(job.pieces, job.start, job.end)
        wav = wav_bytes(samples)
        meta = {**job.meta, "duration_s": round(samples.size / CLIP_RATE, 2)}
        return self.store.write(job.satellite_id, job.date, job.stem, wav, meta), wav

    def _failed(self, err: OSError) -> None:
        self.failures += 1
        if not self._storage_failed:
            self._storage_failed = True
            _LOGGER.error(
                "Cannot write detection clips to %s: %s. Detection goes on without clips; "
                "the next detection tries again",
                self.store.root,
                err,
            )
        else:
            _LOGGER.debug("Clip storage still failing: %s", err)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            ISSUE_CLIP_STORAGE,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_CLIP_STORAGE,
            translation_placeholders={"path": str(self.store.root), "error": str(err)},
        )

    def _recovered(self) -> None:
        if self._storage_failed:
            self._storage_failed = False
            _LOGGER.info("Detection clips are written again to %s", self.store.root)
        ir.async_delete_issue(self.hass, DOMAIN, ISSUE_CLIP_STORAGE)

    # -- metadata, deletion, retention ----------------------------------------------------
    async def async_annotate(self, clip_id: str, **meta: Any) -> None:
        """Merge ``meta`` (e.g. ``verified=True, verifier_confidence=0.93``) into the sidecar.

        A clip deleted meanwhile or a storage error is logged, never raised.
        """
        try:
            await self.hass.async_add_executor_job(self.store.annotate, clip_id, meta)
        except ClipNotFound:
            _LOGGER.debug("Clip %s is gone; annotation %s dropped", clip_id, meta)
        except OSError as err:
            _LOGGER.warning("Cannot annotate clip %s: %s", clip_id, err)

    async def async_delete(self, clip_id: str) -> None:
        """Delete one clip now (ClipNotFound if there is none)."""
        await self.hass.async_add_executor_job(self.store.delete, clip_id)

    async def async_delete_satellite(self, satellite_id: str) -> int:
        """Delete every clip of one satellite now; returns the number deleted."""
        return await self.hass.async_add_executor_job(self.store.delete_satellite, satellite_id)

    async def async_enforce_retention(self) -> int:
        """Delete clips beyond the maximum age or total size; returns how many."""
        retention = self.retention
        try:
            deleted = await self.hass.async_add_executor_job(
                self.store.enforce, retention.max_age_s, retention.max_bytes
            )
        except OSError as err:
            _LOGGER.warning("Clip retention failed: %s", err)
            return 0
        if deleted:
            _LOGGER.debug("Retention deleted %d clip(s)", len(deleted))
        return len(deleted)

    async def async_stats(self) -> dict[str, Any]:
        """Counts and sizes per satellite, for diagnostics (never audio)."""
        error: str | None = None
        try:
            per_satellite = await self.hass.async_add_executor_job(self.store.stats)
        except OSError as err:
            per_satellite, error = {}, str(err)
        return {
            "error": error,
            "max_age_days": self.retention.max_age_days,
            "max_size_mb": self.retention.max_mb,
            "written": self.written,
            "failures": self.failures,
            "storage_failing": self._storage_failed,
            # A list (names, not ids) so that diagnostics read the same every time.
            "satellites": [
                {"name": recorder.name, **per_satellite.get(satellite_id, {"clips": 0, "bytes": 0})}
                for satellite_id, recorder in self._recorders.items()
            ]
            + [
                {"name": "(removed satellite)", **counts}
                for satellite_id, counts in per_satellite.items()
                if satellite_id not in self._recorders
            ],
        }

    @callback
    def _scheduled_retention(self, _now: datetime) -> None:
        self._spawn(self.async_enforce_retention(), "scheduled retention")

    def _spawn(self, coro: Any, name: str) -> None:
        task = self.hass.async_create_background_task(coro, f"{DOMAIN} clips: {name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
