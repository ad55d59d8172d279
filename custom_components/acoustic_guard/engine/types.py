"""Plain data types shared by the engine, the CLI, the integration and the verifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

EVENTS: Final = ("smoke_alarm", "co_alarm", "glass_break", "footsteps")
"""The events the engine reports (the model also has an auxiliary ``beeping_appliance`` head)."""

Sensitivity = Literal["low", "medium", "high"]
SENSITIVITIES: Final = ("low", "medium", "high")


class AudioError(ValueError):
    """Audio that cannot be used (unreadable file, impossible format); message says why."""


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """How PCM bytes are laid out: ``width`` bytes per sample, interleaved channels.

    ``width`` 1 = unsigned 8-bit, 2 = int16, 3 = int24, 4 = int32 or (``is_float``) float32.
    """

    rate: int
    width: int = 2
    channels: int = 1
    is_float: bool = False


@dataclass(frozen=True, slots=True)
class Detection:
    """One state change of one event on one stream.

    ``active=True``: the event turned on (``end`` is None). ``active=False``: it turned off
    after its hold time (``end`` set). Times are seconds of stream audio since the stream
    started; ``time`` is when the decision was taken (``time - start`` is the latency).
    """

    event: str
    active: bool
    start: float
    end: float | None
    time: float
    confidence: float
    pattern: str
