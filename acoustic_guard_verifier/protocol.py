"""Wire protocol of ``POST /v1/verify`` (see ``docs/verifier-openapi.yaml``): parts, metadata,
error codes. Everything here is pure data validation, no I/O."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

EVENTS: Final = ("smoke_alarm", "co_alarm", "glass_break", "footsteps")
CLIP_PART: Final = "clip"
METADATA_PART: Final = "metadata"
WAV_CONTENT_TYPES: Final = frozenset(
    {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-pn-wav"}
)
MAX_METADATA_BYTES: Final = 16_384
MAX_TEXT: Final = 200


class ProtocolError(Exception):
    """A request the server refuses: HTTP ``status``, machine ``code``, human ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


def bad_metadata(message: str) -> ProtocolError:
    return ProtocolError(400, "bad_metadata", message)


@dataclass(frozen=True, slots=True)
class ClipMetadata:
    """What the first stage says about the clip. Only ``event`` is required."""

    event: str
    satellite: str | None = None
    confidence: float | None = None
    start: str | None = None
    model_version: str | None = None


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise bad_metadata(f"'{key}' must be a string of at most {MAX_TEXT} characters")
    return value


def parse_metadata(raw: bytes) -> ClipMetadata:
    """Validate the ``metadata`` part (a JSON object); raise ``ProtocolError`` 400 if bad."""
    if len(raw) > MAX_METADATA_BYTES:
        raise bad_metadata(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_metadata(f"metadata is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise bad_metadata("metadata must be a JSON object")
    event = data.get("event")
    if event not in EVENTS:
        raise bad_metadata(f"'event' must be one of {', '.join(EVENTS)} (got {event!r})")
    confidence = data.get("confidence")
    if confidence is not None:
        if (
            isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not math.isfinite(confidence)
            or not 0.0 <= confidence <= 1.0
        ):
            raise bad_metadata("'confidence' must be a number between 0 and 1")
        confidence = float(confidence)
    start = _optional_text(data, "start")
    if start is not None:
        try:
            datetime.fromisoformat(start)
        except ValueError as err:
            raise bad_metadata(f"'start' is not an ISO 8601 date-time: {start!r}") from err
    return ClipMetadata(
        event=event,
        satellite=_optional_text(data, "satellite"),
        confidence=confidence,
        start=start,
        model_version=_optional_text(data, "model_version"),
    )
