"""Guard mode: arming, the verification policy and what a detection sets off.

Every detection of a satellite passes :meth:`Guard.async_detection` (called by
``hub.SatelliteRuntime.async_handle_detections``):

1. **Arming.** Events whose option says "only when armed" (by default glass break and
   footsteps) are dropped while disarmed. Armed is the linked alarm panel's state (one of the
   arming states) or, without a panel, the integration's own guard-mode select (home / away).
   Disarming cancels pending verifications of those events and turns their sensors off; a
   detection that began before the last disarm never fires.
2. **Clip.** The clip manager (``clips.py``) keeps the detection's clip (it waits for the
   post-roll). A failing clip store never stops the detection.
3. **Verification** per event: ``off`` (fire at once), ``annotate`` (on at once, then marked
   verified / rejected), ``confirm`` (on only once the verifier agrees; rejected: nothing fires,
   the clip is kept and marked rejected). When the verifier fails, smoke and CO fail open (they
   fire, unverified); intrusion events follow the ``intrusion_fail_open`` option. Failures are
   counted for diagnostics; a repair issue appears after a few in a row and goes on success.
4. **Outcome.** The bus event ``acoustic_guard_detection`` (logbook entry, device triggers,
   the blueprint) and, optionally, ``alarm_control_panel.alarm_trigger`` on the linked panel
   for a confirmed intrusion while armed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later, async_track_state_change_event
from homeassistant.util import dt as dt_util

from .clip_view import clip_url
from .const import (
    ALL_EVENTS,
    DOMAIN,
    EVENT_DETECTION,
    GUARD_MODE_AWAY,
    GUARD_MODE_HOME,
    LIFE_SAFETY_EVENTS,
    PANEL_TRANSIENT_STATES,
    VERIFY_ANNOTATE,
    VERIFY_CONFIRM,
    VERIFY_OFF,
)
from .engine.types import Detection
from .guard_settings import ClipManagerLike, ClipRefLike, GuardSettings, VerifierStats
from .verification import (
    VerificationResult,
    VerifierError,
    build_metadata,
    create_ssl_context,
    verify,
)

if TYPE_CHECKING:
    from .hub import SatelliteRuntime

_LOGGER = logging.getLogger(__package__)

VERIFIER_ISSUE_ID = "verifier_failing"

# Outcome of the second stage, as the bus event and the logbook name it.
VERIFICATION_NOT_REQUESTED = "not_requested"
VERIFICATION_VERIFIED = "verified"
VERIFICATION_REJECTED = "rejected"
VERIFICATION_UNVERIFIED = "unverified"  # the verifier failed (or no clip could be kept)


@dataclass(frozen=True, slots=True)
class GuardTiming:
    """Time constants of the guard (seconds); tests shorten them."""

    capture_timeout: float = 60.0  # a clip store that hangs does not hold the detection
    confirmed_hold: float = 10.0  # a confirmed event whose sound already ended stays on this long
    issue_after: int = 3  # consecutive verifier failures before a repair issue


TIMING = GuardTiming()
"""The timing in use; tests replace this module attribute."""


class Guard:
    """Arming state and the per-detection policy of the hub entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        settings: GuardSettings,
        *,
        model_version: str | None = None,
    ) -> None:
        """Create; :meth:`async_start` links the panel."""
        self.hass = hass
        self.entry = entry
        self.settings = settings
        self.timing = TIMING
        self.model_version = model_version
        self.stats = VerifierStats()
        self.armed = False
        self.mode = GUARD_MODE_HOME
        self.armed_at: datetime | None = None
        self.disarmed_at: datetime | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._ssl_error: VerifierError | None = None
        self._tasks: dict[tuple[str, str], set[asyncio.Task[None]]] = {}
        self._heard: set[tuple[str, str]] = set()
        self._hold_timers: dict[tuple[str, str], CALLBACK_TYPE] = {}
        self._listeners: set[CALLBACK_TYPE] = set()
        self._unsub_panel: CALLBACK_TYPE | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def async_start(self) -> None:
        """Load a private CA (executor) and follow the linked panel."""
        ca_file = self.settings.verifier_ca_file
        if self.settings.verifier_url and ca_file:
            try:
                self._ssl_context = await self.hass.async_add_executor_job(
                    create_ssl_context, ca_file
                )
            except VerifierError as err:
                _LOGGER.error("Verifier CA file: %s; verifications will fail", err.message)
                self._ssl_error = err
        if self.settings.panel:
            self._unsub_panel = async_track_state_change_event(
                self.hass, [self.settings.panel], self._panel_changed
            )
            self._apply_panel_state(self.hass.states.get(self.settings.panel))

    @callback
    def async_stop(self) -> None:
        """Entry unload: stop following the panel, cancel timers (tasks die with the entry)."""
        if self._unsub_panel:
            self._unsub_panel()
            self._unsub_panel = None
        for cancel in self._hold_timers.values():
            cancel()
        self._hold_timers.clear()

    # -- arming ---------------------------------------------------------------------------
    @property
    def has_panel(self) -> bool:
        """A linked alarm panel decides arming (the guard-mode select is not used)."""
        return self.settings.panel is not None

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` when the arming changes."""
        self._listeners.add(update)
        return lambda: self._listeners.discard(update)

    @callback
    def async_set_mode(self, mode: str) -> None:
        """The guard-mode select changed (or was restored): away arms, home disarms."""
        if mode not in (GUARD_MODE_HOME, GUARD_MODE_AWAY):
            return
        self.mode = mode
        if not self.has_panel:
            self._set_armed(mode == GUARD_MODE_AWAY, f"guard mode {mode}")

    @callback
    def _panel_changed(self, event: Event[EventStateChangedData]) -> None:
        self._apply_panel_state(event.data["new_state"])

    @callback
    def _apply_panel_state(self, state: State | None) -> None:
        if state is None or state.state in PANEL_TRANSIENT_STATES:
            return  # entry / exit delay, alarm sounding, panel not loaded: unchanged
        self._set_armed(
            state.state in self.settings.arming_states, f"{state.entity_id} is {state.state}"
        )

    @callback
    def _set_armed(self, armed: bool, why: str) -> None:
        if armed == self.armed:
            return
        self.armed = armed
        if armed:
            self.armed_at = dt_util.utcnow()
            _LOGGER.info("Guard armed (%s): intrusion sounds are reported", why)
        else:
            self.disarmed_at = dt_util.utcnow()
            _LOGGER.info("Guard disarmed (%s)", why)
            self._disarm()
        for update in list(self._listeners):
            update()

    def _disarm(self) -> None:
        """Cancel pending work of gated events and turn their sensors off."""
        gated = {event for event in ALL_EVENTS if self.settings.gated(event)}
        for (_satellite_id, event), tasks in list(self._tasks.items()):
            if event in gated:
                for task in tasks:
                    if not task.done():
                        task.cancel()
                        self.stats.cancelled_by_disarm += 1
        for key, cancel in list(self._hold_timers.items()):
            if key[1] in gated:
                cancel()
                del self._hold_timers[key]
        for satellite in self._satellites():
            for event in gated:
                satellite.async_clear(event)

    def _allowed(self, event: str, began: datetime) -> bool:
        """May a detection of ``event`` that began at ``began`` be reported now."""
        if not self.settings.gated(event):
            return True
        if not self.armed:
            return False
        # One that began before the last disarm belongs to the disarmed period.
        return self.disarmed_at is None or began >= self.disarmed_at

    # -- detections -----------------------------------------------------------------------
    @callback
    def async_detection(
        self, satellite: SatelliteRuntime, detection: Detection, began: datetime
    ) -> None:
        """A state change of the engine for ``satellite`` (on the event loop)."""
        event = detection.event
        key = (satellite.subentry_id, event)
        if not detection.active:
            self._heard.discard(key)
            if key not in self._hold_timers:
                satellite.async_clear(event)
            return
        self._heard.add(key)
        if not self._allowed(event, began):
            self.stats.suppressed_disarmed += 1
            _LOGGER.debug("%s heard %s while disarmed: not reported", satellite.name, event)
            return
        mode = self.settings.verify_mode(event)
        if mode != VERIFY_CONFIRM:
            satellite.async_show(detection, began)
            if mode == VERIFY_OFF:
                self._maybe_trigger_panel(satellite, event)
        self._spawn(key, self._async_follow_up(satellite, detection, began, mode))

    def _spawn(self, key: tuple[str, str], coro: Coroutine[Any, Any, None]) -> None:
        task = self.entry.async_create_background_task(
            self.hass, coro, f"{DOMAIN} guard {key[1]} {key[0]}"
        )
        tasks = self._tasks.setdefault(key, set())
        tasks.add(task)

        def _done(finished: asyncio.Task[None]) -> None:
            tasks.discard(finished)
            if not tasks and self._tasks.get(key) is tasks:
                del self._tasks[key]

        task.add_done_callback(_done)

    async def _async_follow_up(
        self, satellite: SatelliteRuntime, detection: Detection, began: datetime, mode: str
    ) -> None:
        """Clip, verification, then the outcome (runs as an entry background task)."""
        event = detection.event
        clip = await self._async_capture(satellite, detection)
        result: VerificationResult | None = None
        if mode != VERIFY_OFF:
            result = await self._async_verify(satellite, detection, began, clip)
        verified = None if result is None else result.verified
        if mode == VERIFY_OFF:
            verification = VERIFICATION_NOT_REQUESTED
        elif result is None:
            verification = VERIFICATION_UNVERIFIED
        else:
            verification = VERIFICATION_VERIFIED if verified else VERIFICATION_REJECTED
        if clip is not None and mode != VERIFY_OFF:
            await self._async_annotate(clip, verification, result)

        if mode == VERIFY_CONFIRM:
            if verified is False:
                _LOGGER.info(
                    "%s heard %s, but the verifier rejected it (confidence %.2f): not reported",
                    satellite.name,
                    event,
                    result.confidence if result else 0.0,
                )
                return
            if verified is None and not self.settings.fail_open(event):
                _LOGGER.warning(
                    "%s heard %s; it could not be verified and intrusion events fail closed: "
                    "not reported (the clip is kept)",
                    satellite.name,
                    event,
                )
                return
            if not self._allowed(event, began):
                return
            satellite.async_show(detection, began, verified=verified)
            key = (satellite.subentry_id, event)
            if key not in self._heard:
                self._hold(satellite, event)
        elif mode == VERIFY_ANNOTATE:
            satellite.async_set_verified(event, verified)
        if mode != VERIFY_OFF and verified is not False:
            self._maybe_trigger_panel(satellite, event)
        self._fire(
            satellite, detection, began, verified=verified, verification=verification, clip=clip
        )

    def _hold(self, satellite: SatelliteRuntime, event: str) -> None:
        """A confirmed event whose sound already ended: on for ``confirmed_hold`` seconds."""
        key = (satellite.subentry_id, event)
        if cancel := self._hold_timers.pop(key, None):
            cancel()

        @callback
        def _release(_now: datetime) -> None:
            self._hold_timers.pop(key, None)
            if key not in self._heard:
                satellite.async_clear(event)

        self._hold_timers[key] = async_call_later(self.hass, self.timing.confirmed_hold, _release)

    # -- clips ----------------------------------------------------------------------------
    def _clips(self) -> ClipManagerLike | None:
        clips: ClipManagerLike | None = getattr(self.entry.runtime_data, "clips", None)
        return clips

    async def _async_capture(
        self, satellite: SatelliteRuntime, detection: Detection
    ) -> ClipRefLike | None:
        clips = self._clips()
        if clips is None:
            return None
        try:
            async with asyncio.timeout(self.timing.capture_timeout):
                return await clips.async_capture(satellite.subentry_id, detection)
        except TimeoutError:
            _LOGGER.warning(
                "%s: the clip of %s was not ready within %g s; going on without it",
                satellite.name,
                detection.event,
                self.timing.capture_timeout,
            )
        except Exception:
            _LOGGER.exception("%s: keeping the clip of %s failed", satellite.name, detection.event)
        return None

    async def _async_annotate(
        self, clip: ClipRefLike, verification: str, result: VerificationResult | None
    ) -> None:
        clips = self._clips()
        if clips is None:
            return
        meta: dict[str, Any] = {"verification": verification}
        if result is not None:
            meta["verified"] = result.verified
            meta["verifier_confidence"] = round(result.confidence, 3)
        try:
            await clips.async_annotate(clip.clip_id, **meta)
        except Exception:
            _LOGGER.exception("Marking clip %s as %s failed", clip.clip_id, verification)

    # -- verification ---------------------------------------------------------------------
    async def _async_verify(
        self,
        satellite: SatelliteRuntime,
        detection: Detection,
        began: datetime,
        clip: ClipRefLike | None,
    ) -> VerificationResult | None:
        """The verifier's verdict, or None when there is none (failure, no clip)."""
        settings = self.settings
        if clip is None or not clip.wav:
            self.stats.no_clip += 1
            _LOGGER.warning(
                "%s: no clip of %s to verify; treated as unverified",
                satellite.name,
                detection.event,
            )
            return None
        assert settings.verifier_url is not None
        self.stats.requests += 1
        started = time.monotonic()
        try:
            if self._ssl_error is not None:
                raise self._ssl_error
            result = await verify(
                async_get_clientsession(self.hass),
                settings.verifier_url,
                settings.verifier_token,
                clip.wav,
                build_metadata(
                    detection.event,
                    satellite=satellite.name,
                    confidence=detection.confidence,
                    start=began,
                    model_version=self.model_version,
                ),
                timeout=settings.verifier_timeout,
                ssl_context=self._ssl_context,
            )
        except VerifierError as err:
            self._failed(satellite, detection.event, err)
            return None
        self.stats.last_latency_s = round(time.monotonic() - started, 3)
        self._succeeded()
        if result.verified:
            self.stats.verified += 1
        else:
            self.stats.rejected += 1
        _LOGGER.debug(
            "Verifier: %s from %s %s (confidence %.2f)",
            detection.event,
            satellite.name,
            "verified" if result.verified else "rejected",
            result.confidence,
        )
        return result

    def _failed(self, satellite: SatelliteRuntime, event: str, err: VerifierError) -> None:
        stats = self.stats
        stats.failures += 1
        stats.consecutive_failures += 1
        reason = str(err.reason)
        stats.failures_by_reason[reason] = stats.failures_by_reason.get(reason, 0) + 1
        stats.last_error = f"{reason}: {err.message}"
        fires = self.settings.verify_mode(event) != VERIFY_CONFIRM or self.settings.fail_open(event)
        _LOGGER.warning(
            "Verifier failed for %s from %s (%s: %s); %s",
            event,
            satellite.name,
            reason,
            err.message,
            "reported as unverified" if fires else "not reported (fail closed), clip kept",
        )
        if stats.consecutive_failures >= self.timing.issue_after:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                VERIFIER_ISSUE_ID,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=VERIFIER_ISSUE_ID,
                translation_placeholders={
                    "count": str(stats.consecutive_failures),
                    "reason": stats.last_error,
                },
            )

    def _succeeded(self) -> None:
        if self.stats.consecutive_failures:
            _LOGGER.info("Verifier answers again")
        self.stats.consecutive_failures = 0
        ir.async_delete_issue(self.hass, DOMAIN, VERIFIER_ISSUE_ID)

    # -- outcome --------------------------------------------------------------------------
    def _maybe_trigger_panel(self, satellite: SatelliteRuntime, event: str) -> None:
        settings = self.settings
        if (
            not settings.trigger_panel
            or settings.panel is None
            or event in LIFE_SAFETY_EVENTS
            or not self.armed
        ):
            return
        _LOGGER.warning(
            "%s heard %s while armed: triggering %s", satellite.name, event, settings.panel
        )
        self.hass.async_create_task(self._async_trigger_panel(settings.panel))

    async def _async_trigger_panel(self, panel: str) -> None:
        state = self.hass.states.get(panel)
        if state is not None and state.state in ("pending", "triggered"):
            return  # already sounding (or in its entry delay)
        try:
            await self.hass.services.async_call(
                "alarm_control_panel",
                "alarm_trigger",
                {ATTR_ENTITY_ID: panel},
                blocking=True,
            )
        except Exception:  # a panel integration's failure must not break detection
            _LOGGER.exception("Triggering %s failed", panel)

    def _fire(
        self,
        satellite: SatelliteRuntime,
        detection: Detection,
        began: datetime,
        *,
        verified: bool | None,
        verification: str,
        clip: ClipRefLike | None,
    ) -> None:
        self.stats.fired += 1
        self.hass.bus.async_fire(
            EVENT_DETECTION,
            {
                "event": detection.event,
                "satellite": satellite.name,
                "satellite_id": satellite.subentry_id,
                "device_id": self.device_id(satellite.subentry_id),
                "confidence": round(detection.confidence, 3),
                "pattern": detection.pattern or None,
                "verified": verified,
                "verification": verification,
                "clip": None if clip is None else clip.media_content_id,
                "clip_id": None if clip is None else clip.clip_id,
                "clip_url": None if clip is None else clip_url(clip.clip_id),
                "start": began.isoformat(),
            },
        )

    def device_id(self, satellite_id: str) -> str | None:
        """The device registry id of a satellite's device."""
        device = dr.async_get(self.hass).async_get_device(identifiers={(DOMAIN, satellite_id)})
        return None if device is None else device.id

    def _satellites(self) -> list[SatelliteRuntime]:
        data = getattr(self.entry, "runtime_data", None)
        satellites: dict[str, SatelliteRuntime] = getattr(data, "satellites", {})
        return list(satellites.values())

    def diagnostics(self) -> dict[str, Any]:
        """Arming and verifier counters (no token, no URL)."""
        settings = self.settings
        return {
            "armed": self.armed,
            "mode": self.mode,
            "panel": settings.panel,
            "arming_states": sorted(settings.arming_states),
            "armed_at": None if self.armed_at is None else self.armed_at.isoformat(),
            "disarmed_at": None if self.disarmed_at is None else self.disarmed_at.isoformat(),
            "report": dict(settings.report),
            "verify": {event: settings.verify_mode(event) for event in ALL_EVENTS},
            "verifier_configured": settings.verifier_url is not None,
            "intrusion_fail_open": settings.intrusion_fail_open,
            "trigger_panel": settings.trigger_panel,
            "pending": sum(len(tasks) for tasks in self._tasks.values()),
            "stats": {
                "requests": self.stats.requests,
                "verified": self.stats.verified,
                "rejected": self.stats.rejected,
                "failures": self.stats.failures,
                "consecutive_failures": self.stats.consecutive_failures,
                "failures_by_reason": dict(self.stats.failures_by_reason),
                # The reason only: the message may name the verifier's host.
                "last_failure_reason": (self.stats.last_error or "").split(":", 1)[0] or None,
                "last_latency_s": self.stats.last_latency_s,
                "no_clip": self.stats.no_clip,
                "suppressed_disarmed": self.stats.suppressed_disarmed,
                "cancelled_by_disarm": self.stats.cancelled_by_disarm,
                "fired": self.stats.fired,
            },
        }
