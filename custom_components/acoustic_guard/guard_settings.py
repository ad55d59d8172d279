"""The guard's options (read from the hub entry) and its counters; the clip manager's
interface as the guard uses it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .const import (
    ALL_EVENTS,
    CONF_ALARM_PANEL,
    CONF_ARMING_STATES,
    CONF_INTRUSION_FAIL_OPEN,
    CONF_TRIGGER_PANEL,
    CONF_VERIFIER_CA_FILE,
    CONF_VERIFIER_TIMEOUT,
    CONF_VERIFIER_TOKEN,
    CONF_VERIFIER_URL,
    DEFAULT_ARMING_STATES,
    DEFAULT_VERIFIER_TIMEOUT,
    LIFE_SAFETY_EVENTS,
    REPORT_ALWAYS,
    REPORT_ARMED,
    REPORT_MODES,
    VERIFY_MODES,
    VERIFY_OFF,
    report_key,
    verify_key,
)
from .engine.types import Detection


class ClipRefLike(Protocol):
    """What ``clips.ClipManager.async_capture`` returns."""

    @property
    def clip_id(self) -> str: ...
    @property
    def media_content_id(self) -> str: ...
    @property
    def wav(self) -> bytes: ...


class ClipManagerLike(Protocol):
    """The part of ``clips.ClipManager`` the guard uses."""

    async def async_capture(
        self, satellite_id: str, detection: Detection
    ) -> ClipRefLike | None: ...

    async def async_annotate(self, clip_id: str, **meta: Any) -> None: ...


def _default_report(event: str) -> str:
    return REPORT_ALWAYS if event in LIFE_SAFETY_EVENTS else REPORT_ARMED


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """The guard options of the hub entry."""

    panel: str | None
    arming_states: frozenset[str]
    report: Mapping[str, str]
    trigger_panel: bool
    verifier_url: str | None
    verifier_token: str
    verifier_timeout: float
    verifier_ca_file: str | None
    verify: Mapping[str, str]
    intrusion_fail_open: bool

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GuardSettings:
        """Read (and default) the options."""
        report = {}
        verify_modes = {}
        for event in ALL_EVENTS:
            mode = options.get(report_key(event), _default_report(event))
            report[event] = mode if mode in REPORT_MODES else _default_report(event)
            vmode = options.get(verify_key(event), VERIFY_OFF)
            verify_modes[event] = vmode if vmode in VERIFY_MODES else VERIFY_OFF
        url = str(options.get(CONF_VERIFIER_URL) or "").strip() or None
        return cls(
            panel=options.get(CONF_ALARM_PANEL) or None,
            arming_states=frozenset(options.get(CONF_ARMING_STATES, DEFAULT_ARMING_STATES)),
            report=report,
            trigger_panel=bool(options.get(CONF_TRIGGER_PANEL, False)),
            verifier_url=url,
            verifier_token=str(options.get(CONF_VERIFIER_TOKEN) or ""),
            verifier_timeout=float(options.get(CONF_VERIFIER_TIMEOUT, DEFAULT_VERIFIER_TIMEOUT)),
            verifier_ca_file=str(options.get(CONF_VERIFIER_CA_FILE) or "").strip() or None,
            verify=verify_modes,
            intrusion_fail_open=bool(options.get(CONF_INTRUSION_FAIL_OPEN, True)),
        )

    def gated(self, event: str) -> bool:
        """Is ``event`` reported only while armed."""
        return self.report.get(event, _default_report(event)) == REPORT_ARMED

    def verify_mode(self, event: str) -> str:
        """The event's verification mode (``off`` without a verifier URL)."""
        if self.verifier_url is None:
            return VERIFY_OFF
        return self.verify.get(event, VERIFY_OFF)

    def fail_open(self, event: str) -> bool:
        """Does ``event`` fire when the verifier fails."""
        return event in LIFE_SAFETY_EVENTS or self.intrusion_fail_open


@dataclass(slots=True)
class VerifierStats:
    """Counters of the second stage, for diagnostics."""

    requests: int = 0
    verified: int = 0
    rejected: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    last_latency_s: float | None = None
    no_clip: int = 0  # verification skipped: the clip could not be kept
    suppressed_disarmed: int = 0  # intrusion detections dropped while disarmed
    cancelled_by_disarm: int = 0
    fired: int = 0
