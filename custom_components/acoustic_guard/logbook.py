"""Logbook entries for the guard's ``acoustic_guard_detection`` bus event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_DETECTION

EVENT_WORDS: Final = {
    "smoke_alarm": "a smoke alarm",
    "co_alarm": "a carbon monoxide alarm",
    "glass_break": "glass breaking",
    "footsteps": "footsteps",
}
VERIFICATION_WORDS: Final = {
    "verified": "confirmed by the verifier",
    "rejected": "rejected by the verifier",
    "unverified": "could not be verified",
}


def describe(data: dict[str, object]) -> dict[str, str]:
    """Logbook name and message of one detection event's data."""
    event = str(data.get("event", ""))
    message = f"heard {EVENT_WORDS.get(event, event.replace('_', ' '))}"
    confidence = data.get("confidence")
    if isinstance(confidence, int | float):
        message += f" (confidence {confidence:.2f})"
    if (words := VERIFICATION_WORDS.get(str(data.get("verification")))) is not None:
        message += f", {words}"
    # The event's ``device_id`` puts the entry in the satellite device's logbook too.
    return {
        LOGBOOK_ENTRY_NAME: str(data.get("satellite") or "Acoustic Guard"),
        LOGBOOK_ENTRY_MESSAGE: message,
    }


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe detections in the logbook: "Kitchen heard a smoke alarm (confidence 0.93)"."""

    @callback
    def async_describe_detection(event: Event) -> dict[str, str]:
        return describe(dict(event.data))

    async_describe_event(DOMAIN, EVENT_DETECTION, async_describe_detection)
