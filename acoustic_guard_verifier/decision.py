"""The verification rule: YAMNet class evidence combined with the engine's pattern analysis.

For each event two scores are read from YAMNet's per-frame class probabilities
(``[frames, 521]``, one frame per 0.48 s). A *clip score* for a group of classes is the
mean, over the ``TOP_FRAMES`` best frames, of the per-frame maximum over the group (short
events such as glass break fill only two or three frames; sustained alarms fill them all):

- ``strong``: the classes that name the event itself. YAMNet alone verifies the event when
  their clip score reaches the event's ``strong`` threshold.
- ``support``: the classes a real event also lights up (an alarm is also "Alarm",
  "Beep, bleep", "Buzzer"). When the engine's own pattern analysis of the same clip finds
  the event (the T3 / T4 rhythm, the impact-then-shatter shape, a walking cadence), a clip
  score at the lower ``support`` threshold verifies it.

Anything else is rejected. Carbon monoxide has no AudioSet class: a CO alarm is verified by
the engine's T4 rhythm plus YAMNet hearing an alarm or beep, or by YAMNet's smoke/fire
alarm classes alone (an alarm is sounding, whatever its kind: life safety first).

``confidence`` is the evidence the rule used: the strong score, or when the engine found
the pattern, the larger of the strong and support scores. The thresholds were chosen on
the validation split (``tune.py``), never on the evaluation split (``measure.py`` only
measures there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

TOP_FRAMES: Final = 2

# AudioSet indices (yamnet_class_map.csv).
SMOKE_DETECTOR: Final = 393
FIRE_ALARM: Final = 394
ALARM: Final = 382
BEEP: Final = 475
BUZZER: Final = 392
GLASS: Final = 435
SHATTER: Final = 437
BREAKING: Final = 464
SMASH: Final = 463
WALK_FOOTSTEPS: Final = 48

ALARM_SPECIFIC: Final = (SMOKE_DETECTOR, FIRE_ALARM)
ALARM_SUPPORT: Final = (SMOKE_DETECTOR, FIRE_ALARM, ALARM, BEEP, BUZZER)
GLASS_CLASSES: Final = (GLASS, SHATTER, BREAKING, SMASH)


@dataclass(frozen=True, slots=True)
class EventRule:
    """YAMNet classes and thresholds for one event."""

    strong_classes: tuple[int, ...]
    strong: float
    support_classes: tuple[int, ...]
    support: float


# Chosen on the validation split with ``python -m acoustic_guard_verifier.tune`` (support:
# keep >= 98 % of alarm / 90 % of glass positives when the pattern is found; strong: let
# <= 2 % of the negatives through on YAMNet alone), rounded towards recall. YAMNet barely
# hears short CO beeps (val: support >= 0.3 kept 51 % of T4 clips) nor footsteps (no
# threshold keeps 40 % of them): for those two the engine's re-analysis of the pattern
# decides, and YAMNet alone verifies only an unmistakable alarm / walking sound.
RULES: Final[Mapping[str, EventRule]] = {
    "smoke_alarm": EventRule(ALARM_SPECIFIC, 0.65, ALARM_SUPPORT, 0.08),
    "co_alarm": EventRule(ALARM_SPECIFIC, 0.65, ALARM_SUPPORT, 0.01),
    "glass_break": EventRule(GLASS_CLASSES, 0.35, GLASS_CLASSES, 0.02),
    "footsteps": EventRule((WALK_FOOTSTEPS,), 0.2, (WALK_FOOTSTEPS,), 0.0),
}


@dataclass(frozen=True, slots=True)
class PatternFinding:
    """The engine turned ``event`` on while re-analysing the clip."""

    confidence: float
    pattern: str


@dataclass(frozen=True, slots=True)
class PatternEvidence:
    """What the engine's pattern analysis found in the clip (``available`` False: not run)."""

    available: bool
    found: Mapping[str, PatternFinding] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verifier's answer for one event."""

    verified: bool
    confidence: float
    rule: str
    """``yamnet`` (strong class evidence), ``yamnet+pattern`` or ``rejected``."""
    strong_score: float
    support_score: float
    pattern: str | None


def clip_score(scores: npt.NDArray[np.float32], classes: Sequence[int]) -> float:
    """Mean over the ``TOP_FRAMES`` best frames of the per-frame max over ``classes``."""
    if scores.shape[0] == 0:
        return 0.0
    per_frame = np.max(scores[:, list(classes)], axis=1)
    best = np.sort(per_frame)[::-1][:TOP_FRAMES]
    return float(np.mean(best))


def decide(
    event: str,
    scores: npt.NDArray[np.float32],
    patterns: PatternEvidence,
    rules: Mapping[str, EventRule] = RULES,
) -> Verdict:
    """Apply the rule of ``event`` (a key of ``rules``) to YAMNet's scores and the patterns."""
    rule = rules[event]
    strong = clip_score(scores, rule.strong_classes)
    support = clip_score(scores, rule.support_classes)
    finding = patterns.found.get(event)
    if strong >= rule.strong:
        verified, used = True, "yamnet"
    elif finding is not None and support >= rule.support:
        verified, used = True, "yamnet+pattern"
    else:
        verified, used = False, "rejected"
    confidence = max(strong, support) if finding is not None else strong
    return Verdict(
        verified=verified,
        confidence=round(min(1.0, max(0.0, confidence)), 4),
        rule=used,
        strong_score=round(strong, 4),
        support_score=round(support, 4),
        pattern=finding.pattern if finding is not None else None,
    )


def scaled_rules(factor: float, rules: Mapping[str, EventRule] = RULES) -> dict[str, EventRule]:
    """Every threshold multiplied by ``factor`` (a sweep for ``measure``)."""
    return {
        event: replace(rule, strong=rule.strong * factor, support=rule.support * factor)
        for event, rule in rules.items()
    }


def top_labels(
    scores: npt.NDArray[np.float32], names: Sequence[str], count: int = 5
) -> list[dict[str, object]]:
    """The ``count`` classes with the highest clip score, best first."""
    if scores.shape[0] == 0:
        return []
    k = min(TOP_FRAMES, scores.shape[0])
    clip = np.mean(np.sort(scores, axis=0)[::-1][:k], axis=0)
    order = np.argsort(-clip)[:count]
    return [
        {"index": int(i), "label": names[int(i)], "score": round(float(clip[i]), 4)} for i in order
    ]
