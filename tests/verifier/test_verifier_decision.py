"""The verification rule and the metadata validation, on hand-made inputs (no I/O)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

import acoustic_guard_verifier.__main__ as cli
from acoustic_guard_verifier import server
from acoustic_guard_verifier.decision import (
    ALARM,
    ALARM_SPECIFIC,
    ALARM_SUPPORT,
    BEEP,
    GLASS,
    GLASS_CLASSES,
    SHATTER,
    SMOKE_DETECTOR,
    WALK_FOOTSTEPS,
    EventRule,
    PatternEvidence,
    PatternFinding,
    clip_score,
    decide,
    scaled_rules,
    top_labels,
)
from acoustic_guard_verifier.decision import RULES as SHIPPED
from acoustic_guard_verifier.measure import clip_bounds
from acoustic_guard_verifier.protocol import EVENTS, ProtocolError, parse_metadata
from acoustic_guard_verifier.tagger import N_CLASSES
from acoustic_guard_verifier.tune import Candidate, choose

NO_PATTERN = PatternEvidence(available=True)
# Fixed thresholds: these tests check the rule's logic, not the values tuned on val.
RULES = {
    "smoke_alarm": EventRule(ALARM_SPECIFIC, 0.5, ALARM_SUPPORT, 0.3),
    "co_alarm": EventRule(ALARM_SPECIFIC, 0.5, ALARM_SUPPORT, 0.3),
    "glass_break": EventRule(GLASS_CLASSES, 0.3, GLASS_CLASSES, 0.1),
    "footsteps": EventRule((WALK_FOOTSTEPS,), 0.3, (WALK_FOOTSTEPS,), 0.1),
}


def scores(frames: int = 20, **peaks: tuple[int, list[float]]) -> npt.NDArray[np.float32]:
    """A score matrix of low noise with given per-frame values for some classes."""
    out = np.full((frames, N_CLASSES), 0.01, dtype=np.float32)
    for index, values in peaks.values():
        out[: len(values), index] = values
    return out


def pattern(event: str, name: str = "T3") -> PatternEvidence:
    return PatternEvidence(available=True, found={event: PatternFinding(0.8, name)})


def test_clip_score_is_the_mean_of_the_best_two_frames() -> None:
    s = scores(a=(SMOKE_DETECTOR, [0.1, 0.9, 0.3, 0.7]))
    assert clip_score(s, [SMOKE_DETECTOR]) == pytest.approx(0.8)
    assert clip_score(s[:0], [SMOKE_DETECTOR]) == 0.0
    assert clip_score(s[:1], [SMOKE_DETECTOR]) == pytest.approx(0.1)


def test_strong_class_evidence_verifies_alone() -> None:
    verdict = decide("smoke_alarm", scores(a=(SMOKE_DETECTOR, [0.9, 0.8])), NO_PATTERN, RULES)
    assert verdict.verified
    assert verdict.rule == "yamnet"
    assert verdict.confidence == pytest.approx(0.85)


def test_support_needs_the_engine_pattern() -> None:
    beeps = scores(a=(BEEP, [0.6, 0.6]), b=(ALARM, [0.2, 0.2]))
    alone = decide("smoke_alarm", beeps, NO_PATTERN, RULES)
    assert not alone.verified
    assert alone.rule == "rejected"
    with_t3 = decide("smoke_alarm", beeps, pattern("smoke_alarm"), RULES)
    assert with_t3.verified
    assert with_t3.rule == "yamnet+pattern"
    assert with_t3.pattern == "T3"
    assert with_t3.confidence == pytest.approx(0.6)
    # the pattern of another event does not help
    assert not decide("smoke_alarm", beeps, pattern("co_alarm", "T4"), RULES).verified


def test_co_alarm_needs_t4_or_strong_alarm_classes() -> None:
    beeps = scores(a=(BEEP, [0.5, 0.5]))
    assert not decide("co_alarm", beeps, NO_PATTERN, RULES).verified
    assert decide("co_alarm", beeps, pattern("co_alarm", "T4"), RULES).verified
    assert decide("co_alarm", scores(a=(SMOKE_DETECTOR, [0.7, 0.7])), NO_PATTERN, RULES).verified


def test_glass_and_footsteps() -> None:
    shatter = scores(a=(SHATTER, [0.5, 0.4]), b=(GLASS, [0.3]))
    assert decide("glass_break", shatter, NO_PATTERN, RULES).verified
    faint = scores(a=(GLASS, [0.15, 0.15]))
    assert not decide("glass_break", faint, NO_PATTERN, RULES).verified
    assert decide("glass_break", faint, pattern("glass_break", "shatter"), RULES).verified
    steps = scores(a=(WALK_FOOTSTEPS, [0.4, 0.35, 0.3]))
    assert decide("footsteps", steps, NO_PATTERN, RULES).verified
    assert not decide("smoke_alarm", steps, NO_PATTERN, RULES).verified


def test_scaled_rules_move_every_threshold() -> None:
    s = scores(a=(SMOKE_DETECTOR, [0.45, 0.45]))
    assert not decide("smoke_alarm", s, NO_PATTERN, RULES).verified
    assert decide("smoke_alarm", s, NO_PATTERN, scaled_rules(0.8, RULES)).verified


def test_shipped_rules_cover_every_event() -> None:
    assert set(SHIPPED) == set(EVENTS)
    for rule in SHIPPED.values():
        assert 0.0 <= rule.support <= rule.strong <= 1.0
        assert set(rule.strong_classes) <= set(rule.support_classes)


def test_top_labels_best_first() -> None:
    names = [f"class {i}" for i in range(N_CLASSES)]
    labels = top_labels(scores(a=(SHATTER, [0.9, 0.8]), b=(GLASS, [0.5, 0.5])), names, count=2)
    assert [item["index"] for item in labels] == [SHATTER, GLASS]
    assert labels[0] == {"index": SHATTER, "label": f"class {SHATTER}", "score": 0.85}


def test_metadata_accepts_the_documented_fields() -> None:
    meta = parse_metadata(
        b'{"event": "glass_break", "satellite": "Hall", "confidence": 1, '
        b'"start": "2026-11-25T12:00:00Z", "model_version": "1.0", "future_field": [1]}'
    )
    assert meta.event == "glass_break"
    assert meta.satellite == "Hall"
    assert meta.confidence == 1.0
    assert meta.model_version == "1.0"


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff", b"null", b'{"event": null}', b'{"event": "smoke_alarm", "confidence": NaN}'],
)
def test_metadata_rejections(raw: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_metadata(raw)
    assert info.value.status == 400
    assert info.value.code == "bad_metadata"


def test_cli_and_server_share_the_default_limit() -> None:
    assert cli.DEFAULT_MAX_BYTES == server.DEFAULT_MAX_BYTES


def test_measure_clip_bounds() -> None:
    assert clip_bounds(start=5.0, decided=6.0, duration=60.0) == (2.0, 12.0)
    assert clip_bounds(start=1.0, decided=2.0, duration=60.0) == (0.0, 10.0)
    # a late decision moves the clip so that it still holds the evidence
    assert clip_bounds(start=5.0, decided=14.5, duration=60.0) == (4.5, 14.5)
    assert clip_bounds(start=55.0, decided=56.0, duration=58.0) == (52.0, 58.0)


def test_tune_chooses_thresholds_from_the_candidates() -> None:
    def cand(event: str | None, support: float, strong: float) -> Candidate:
        return Candidate("f.wav", event, "k", {"glass_break": strong}, {"glass_break": support})

    cands = [cand("glass_break", s, s) for s in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9)]
    cands += [cand(None, s, s) for s in (0.0, 0.05, 0.1, 0.15, 0.25)]
    row = choose(cands, "glass_break", recall=0.9, strong_fp=0.0)
    assert row["support"] == 0.3  # keeps 9 of 10 positives
    assert row["support_recall"] == 0.9
    assert row["support_rejects_negatives"] == 1.0
    assert row["strong"] == 0.3  # 0.26 would pass no negative, but never below support
