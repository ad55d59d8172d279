"""Run-time state of the integration: one :class:`SatelliteRuntime` per satellite subentry.

It owns the satellite's :class:`~.satellite.SatelliteStream` (started as a config-entry
background task), keeps the current detections per event for the entities, logs connection
loss and recovery once each, and raises a repair issue while a satellite stays down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .const import (
    ALL_EVENTS,
    CONF_ENABLED_EVENTS,
    CONF_HOLD_TIME,
    DEFAULT_SENSITIVITY,
    DOMAIN,
    sensitivity_key,
)
from .engine.types import AudioFormat, Detection
from .satellite import DetectorLike, SatelliteStream, Timing

if TYPE_CHECKING:
    from .clips import ClipManager
    from .guard import Guard

_LOGGER = logging.getLogger(__package__)


@dataclass(frozen=True, slots=True)
class Settings:
    """Detection settings of the hub entry's options."""

    enabled: tuple[str, ...]
    sensitivity: Mapping[str, str]
    hold_s: float | None  # None: the model's per-event hold times

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Settings:
        """Read (and default) the options."""
        enabled = tuple(
            event for event in options.get(CONF_ENABLED_EVENTS, ALL_EVENTS) if event in ALL_EVENTS
        )
        sensitivity = {
            event: str(options.get(sensitivity_key(event), DEFAULT_SENSITIVITY))
            for event in ALL_EVENTS
        }
        hold = options.get(CONF_HOLD_TIME)
        return cls(enabled, sensitivity, None if hold is None else float(hold))


@dataclass(frozen=True, slots=True)
class HubTiming:
    """Time constants of the integration (seconds); tests shorten them."""

    stream: Timing = field(default_factory=Timing)
    repair_after: float = 300.0  # a satellite down this long raises a repair issue
    level_interval: float = 10.0  # sound level / diagnostics refresh
    probe_connect: float = 10.0
    probe_audio: float = 10.0


TIMING = HubTiming()
"""The timing in use; tests replace this module attribute with shorter values."""


@dataclass(slots=True)
class EventState:
    """What an entity shows for one event on one satellite."""

    active: Detection | None = None
    last: Detection | None = None
    last_detected: datetime | None = None
    verified: bool | None = None  # the verifier's verdict on ``last`` (None: none)


def issue_id(subentry_id: str) -> str:
    """Repair issue id of a satellite that is down."""
    return f"satellite_down_{subentry_id}"


class SatelliteRuntime:
    """One satellite's stream, detections and health, as the entities see them."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        subentry: ConfigSubentry,
        *,
        detector_factory: Callable[[], DetectorLike],
        settings: Settings,
        timing: HubTiming,
        on_audio: Callable[[bytes, AudioFormat], None] | None = None,
    ) -> None:
        """Create (not start) the runtime (``on_audio``: the clip ring buffer's tap)."""
        self.hass = hass
        self.entry = entry
        self.subentry_id = subentry.subentry_id
        self.name = subentry.title
        self.host: str = subentry.data[CONF_HOST]
        self.port: int = int(subentry.data[CONF_PORT])
        self.settings = settings
        self.timing = timing
        self.events: dict[str, EventState] = {event: EventState() for event in settings.enabled}
        self._listeners: set[CALLBACK_TYPE] = set()
        self._level_listeners: set[CALLBACK_TYPE] = set()
        self._repair_timer: CALLBACK_TYPE | None = None
        self._last_level_push = 0.0
        self._ever_connected = False
        self.stream = SatelliteStream(
            self.host,
            self.port,
            detector_factory,
            name=self.name,
            on_detections=self.async_handle_detections,
            on_state=self._on_state,
            on_processed=self._on_processed,
            on_audio=on_audio,
            timing=timing.stream,
        )

    # -- lifecycle ------------------------------------------------------------------------
    @callback
    def async_start(self) -> None:
        """Start streaming as a background task of the entry (unload cancels it)."""
        self.entry.async_create_background_task(
            self.hass, self.stream.run(), f"{DOMAIN} satellite {self.name}"
        )
        self._schedule_repair()

    @callback
    def async_stop(self) -> None:
        """Entry unload: cancel timers (the stream task is cancelled by the entry)."""
        if self._repair_timer:
            self._repair_timer()
            self._repair_timer = None
        ir.async_delete_issue(self.hass, DOMAIN, issue_id(self.subentry_id))

    # -- listeners ------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """True while audio flows."""
        return self.stream.connected

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE, *, level: bool = False) -> CALLBACK_TYPE:
        """Call ``update`` on state changes (``level``: on the throttled level refresh too)."""
        listeners = self._level_listeners if level else self._listeners
        listeners.add(update)
        return lambda: listeners.discard(update)

    def _notify(self, *, level: bool = False) -> None:
        for update in list(self._level_listeners if level else self._listeners):
            update()

    # -- stream callbacks (on the event loop) ---------------------------------------------
    @callback
    def _on_state(self, connected: bool, reason: str | None) -> None:
        if connected:
            if self._ever_connected:
                _LOGGER.warning("Satellite %s is back: audio is flowing again", self.name)
            else:
                _LOGGER.info("Satellite %s connected: audio is flowing", self.name)
            self._ever_connected = True
            if self._repair_timer:
                self._repair_timer()
                self._repair_timer = None
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(self.subentry_id))
        else:
            _LOGGER.warning(
                "Satellite %s (%s:%s) is unavailable: %s; retrying in the background",
                self.name,
                self.host,
                self.port,
                reason,
            )
            for state in self.events.values():
                state.active = None
            self._schedule_repair()
        self._notify()
        self._notify(level=True)

    def _schedule_repair(self) -> None:
        if self._repair_timer is None and not self.stream.connected:
            self._repair_timer = async_call_later(
                self.hass, self.timing.repair_after, self._raise_repair
            )

    @callback
    def _raise_repair(self, _now: datetime) -> None:
        self._repair_timer = None
        if self.stream.connected:
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id(self.subentry_id),
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="satellite_down",
            translation_placeholders={
                "name": self.name,
                "host": self.host,
                "port": str(self.port),
                "minutes": f"{self.timing.repair_after / 60:g}",
                "reason": self.stream.stats.last_error or "unknown",
            },
        )

    @callback
    def async_handle_detections(self, detections: list[Detection]) -> None:
        """Engine state changes pass the guard (arming, verification) to the entities."""
        now = dt_util.utcnow()
        guard = getattr(getattr(self.entry, "runtime_data", None), "guard", None)
        for detection in detections:
            state = self.events.get(detection.event)
            if state is None:
                continue
            latency = max(detection.time - detection.start, 0.0)
            began = now - timedelta(seconds=latency)
            if detection.active:
                _LOGGER.info(
                    "Satellite %s heard %s (confidence %.2f, pattern %s)",
                    self.name,
                    detection.event,
                    detection.confidence,
                    detection.pattern or "-",
                )
            if guard is not None:
                guard.async_detection(self, detection, began)
            elif detection.active:
                self.async_show(detection, began)
            else:
                self.async_clear(detection.event)

    @callback
    def async_show(
        self, detection: Detection, began: datetime, *, verified: bool | None = None
    ) -> None:
        """Turn the event's sensor on (the guard decided it is reported)."""
        state = self.events.get(detection.event)
        if state is None:
            return
        state.active = detection
        state.last = detection
        state.last_detected = began
        state.verified = verified
        self._notify()

    @callback
    def async_clear(self, event: str) -> None:
        """Turn the event's sensor off."""
        state = self.events.get(event)
        if state is not None and state.active is not None:
            state.active = None
            self._notify()

    @callback
    def async_set_verified(self, event: str, verified: bool | None) -> None:
        """The verifier's verdict on the event's last detection (annotate mode)."""
        state = self.events.get(event)
        if state is not None:
            state.verified = verified
            self._notify()

    @callback
    def _on_processed(self) -> None:
        loop_time = self.hass.loop.time()
        if loop_time - self._last_level_push >= self.timing.level_interval:
            self._last_level_push = loop_time
            self._notify(level=True)


@dataclass(slots=True)
class AcousticGuardData:
    """``entry.runtime_data`` of the hub entry."""

    settings: Settings
    satellites: dict[str, SatelliteRuntime] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    guard: Guard | None = None
    clips: ClipManager | None = None


type AcousticGuardConfigEntry = ConfigEntry[AcousticGuardData]
