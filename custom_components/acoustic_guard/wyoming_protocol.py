"""A defensive reader for the Wyoming wire protocol (no Home Assistant, no ``wyoming`` package).

A Wyoming event is one JSON header line (``type``, optional ``data``, ``data_length``,
``payload_length``), then ``data_length`` bytes of extra JSON merged into ``data``, then
``payload_length`` bytes of payload. The ``wyoming`` package's reader trusts the header; a
microphone on the network must not be able to make Home Assistant allocate gigabytes or hang,
so every size is checked against :class:`Limits` before anything is read.

The integration implements the protocol itself instead of requiring the ``wyoming`` package
because Home Assistant core's own Wyoming integration pins a different version of it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Final

from .engine.types import AudioFormat

AUDIO_START: Final = "audio-start"
AUDIO_CHUNK: Final = "audio-chunk"
AUDIO_STOP: Final = "audio-stop"

MAX_RATE: Final = 192_000
MAX_CHANNELS: Final = 32
VALID_WIDTHS: Final = (1, 2, 3, 4)


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed Wyoming event; message says what."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds for one event (bytes)."""

    header: int = 64 * 1024
    data: int = 64 * 1024
    # One second of 48 kHz / 32-bit / 8-channel audio is 1.5 MiB; real mics send ~64 ms chunks.
    payload: int = 2 * 1024 * 1024


@dataclass(slots=True)
class Event:
    """One decoded Wyoming event."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"invalid {key} {value!r}")
    if value > limit:
        raise ProtocolError(f"{key} {value} exceeds the limit of {limit} bytes")
    return value


async def read_event(reader: asyncio.StreamReader, limits: Limits = Limits()) -> Event | None:
    """Read one event; None at a clean end of stream. Raises :class:`ProtocolError`."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            return None
        raise ProtocolError("connection closed in the middle of an event header") from err
    except asyncio.LimitOverrunError as err:
        raise ProtocolError(
            f"event header longer than the reader's buffer ({err.consumed} bytes)"
        ) from err
    if len(line) > limits.header:
        raise ProtocolError(f"event header of {len(line)} bytes exceeds {limits.header}")
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"event header is not JSON: {line[:40]!r}") from err
    if not isinstance(header, dict):
        raise ProtocolError("event header is not a JSON object")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("event header has no type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError(f"{event_type}: data is not a JSON object")
    data_length = _length(header, "data_length", limits.data)
    payload_length = _length(header, "payload_length", limits.payload)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise ProtocolError(f"{event_type}: extra data is not a JSON object")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else b""
    except asyncio.IncompleteReadError as err:
        raise ProtocolError(f"{event_type}: connection closed inside the event body") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"{event_type}: extra data is not JSON") from err
    return Event(event_type, data, payload)


def encode_event(event_type: str, data: dict[str, Any] | None = None) -> bytes:
    """Serialise a payload-less event (what the integration sends: ``describe``...)."""
    header: dict[str, Any] = {"type": event_type}
    body = b""
    if data:
        body = json.dumps(data).encode()
        header["data_length"] = len(body)
    return json.dumps(header).encode() + b"\n" + body


def audio_format(data: dict[str, Any]) -> AudioFormat:
    """The :class:`AudioFormat` an audio-start / audio-chunk announces. Raises ProtocolError."""
    try:
        rate, width, channels = (data[key] for key in ("rate", "width", "channels"))
    except KeyError as err:
        raise ProtocolError(f"audio format without {err.args[0]}") from err
    for name, value in (("rate", rate), ("width", width), ("channels", channels)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError(f"audio {name} {value!r} is not an integer")
    if not 0 < rate <= MAX_RATE:
        raise ProtocolError(f"impossible audio rate {rate} Hz")
    if width not in VALID_WIDTHS:
        raise ProtocolError(f"impossible audio width {width} bytes")
    if not 0 < channels <= MAX_CHANNELS:
        raise ProtocolError(f"impossible audio channel count {channels}")
    return AudioFormat(rate=rate, width=width, channels=channels)


def seconds_of(pcm_len: int, fmt: AudioFormat) -> float:
    """Duration in seconds of ``pcm_len`` bytes of ``fmt`` audio."""
    return pcm_len / (fmt.rate * fmt.width * fmt.channels)
