"""Constants of the Acoustic Guard integration (config keys, defaults, timing)."""

from __future__ import annotations

from typing import Final

from .engine.types import EVENTS

DOMAIN: Final = "acoustic_guard"

# Hub entry: home-wide options. Satellites are config subentries of type SUBENTRY_SATELLITE
# whose data holds CONF_NAME / CONF_HOST / CONF_PORT (homeassistant.const keys "name", "host",
# "port"); their unique_id is "host:port".
SUBENTRY_SATELLITE: Final = "satellite"
DEFAULT_PORT: Final = 10700
DEFAULT_TITLE: Final = "Acoustic Guard"

# Options of the hub entry (all optional; defaults below).
CONF_ENABLED_EVENTS: Final = "enabled_events"
CONF_SENSITIVITY_PREFIX: Final = "sensitivity_"  # + event, e.g. "sensitivity_smoke_alarm"
CONF_HOLD_TIME: Final = "hold_time"

DEFAULT_SENSITIVITY: Final = "medium"
# Seconds an event stays on after its last evidence. Not set = each event's own hold time
# from the model manifest (e.g. longer for smoke, whose pattern has pauses).
MIN_HOLD_TIME: Final = 1.0
MAX_HOLD_TIME: Final = 300.0

ALL_EVENTS: Final = tuple(EVENTS)

ATTR_CONFIDENCE: Final = "confidence"
ATTR_PATTERN: Final = "pattern"
ATTR_LAST_DETECTED: Final = "last_detected"
ATTR_SATELLITES: Final = "satellites"


def sensitivity_key(event: str) -> str:
    """Option key holding ``event``'s sensitivity."""
    return f"{CONF_SENSITIVITY_PREFIX}{event}"


# Guard mode (issue 5): hub options. A linked alarm panel, or else the integration's own
# guard-mode select, decides "armed"; intrusion events are reported only while armed.
CONF_ALARM_PANEL: Final = "alarm_panel"
CONF_ARMING_STATES: Final = "arming_states"
CONF_REPORT_PREFIX: Final = "report_"  # + event: REPORT_ALWAYS | REPORT_ARMED
CONF_TRIGGER_PANEL: Final = "trigger_panel"
CONF_VERIFIER_URL: Final = "verifier_url"
CONF_VERIFIER_TOKEN: Final = "verifier_token"
CONF_VERIFIER_TIMEOUT: Final = "verifier_timeout"
CONF_VERIFIER_CA_FILE: Final = "verifier_ca_file"
CONF_VERIFY_PREFIX: Final = "verify_"  # + event: VERIFY_OFF | VERIFY_CONFIRM | VERIFY_ANNOTATE
CONF_INTRUSION_FAIL_OPEN: Final = "intrusion_fail_open"

ARMING_STATES: Final = (
    "armed_away",
    "armed_home",
    "armed_night",
    "armed_vacation",
    "armed_custom_bypass",
)
# Panel states that keep the guard as it was (entry/exit delay, alarm sounding, restarting).
PANEL_TRANSIENT_STATES: Final = ("arming", "pending", "triggered", "unavailable", "unknown")
DEFAULT_ARMING_STATES: Final = ("armed_away", "armed_vacation")
REPORT_ALWAYS: Final = "always"
REPORT_ARMED: Final = "armed"
REPORT_MODES: Final = (REPORT_ALWAYS, REPORT_ARMED)
LIFE_SAFETY_EVENTS: Final = ("smoke_alarm", "co_alarm")
VERIFY_OFF: Final = "off"
VERIFY_CONFIRM: Final = "confirm"
VERIFY_ANNOTATE: Final = "annotate"
VERIFY_MODES: Final = (VERIFY_OFF, VERIFY_CONFIRM, VERIFY_ANNOTATE)
DEFAULT_VERIFIER_TIMEOUT: Final = 5.0
GUARD_MODE_HOME: Final = "home"
GUARD_MODE_AWAY: Final = "away"

# Detection clips (issue 5 part 3): hub options and storage folder (under the config dir).
CONF_CLIP_MAX_AGE_DAYS: Final = "clip_max_age_days"
CONF_CLIP_MAX_SIZE_MB: Final = "clip_max_size_mb"
DEFAULT_CLIP_MAX_AGE_DAYS: Final = 30
DEFAULT_CLIP_MAX_SIZE_MB: Final = 500
CLIPS_FOLDER: Final = ("acoustic_guard", "clips")  # <config>/acoustic_guard/clips/
ISSUE_CLIP_STORAGE: Final = "clip_storage"

EVENT_DETECTION: Final = "acoustic_guard_detection"
ATTR_VERIFIED: Final = "verified"


def report_key(event: str) -> str:
    """Option key: is ``event`` reported always or only while armed."""
    return f"{CONF_REPORT_PREFIX}{event}"


def verify_key(event: str) -> str:
    """Option key: ``event``'s verification mode."""
    return f"{CONF_VERIFY_PREFIX}{event}"
