"""The aggregation's shortcuts decide exactly what the plain rules decide.

``merge_close`` joins a run of pieces in one go, a full window of quiet glass frames is not
shifted, and an active alarm only looks through the beep memory when a beep was added: each
is checked here against the plain rule (a reference implementation or a chunking that
defeats the shortcut).
"""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.aggregate import (
    Aggregation,
    Beep,
    merge_close,
    params_for,
)
from custom_components.acoustic_guard.engine.types import Detection

HEADS = ["smoke_alarm", "co_alarm", "glass_break", "footsteps", "beeping_appliance"]
FPS = 50.0


def _merge_close_pairwise(beeps: list[Beep], max_gap: float, min_piece: float) -> list[Beep]:
    """The plain rule: each beep joins the (maybe already joined) beep before it."""
    out: list[Beep] = []
    for b in beeps:
        if out and b.on - out[-1].off <= max_gap and max(b.dur, out[-1].dur) >= min_piece:
            a = out[-1]
            wa, wb = max(a.dur, 1e-3), max(b.dur, 1e-3)
            means = [
                (x * wa + y * wb) / (wa + wb)
                for x, y in ((a.smoke, b.smoke), (a.co, b.co), (a.appliance, b.appliance))
            ]
            out[-1] = Beep(a.on, b.off, max(a.peak, b.peak), *means)
        else:
            out.append(b)
    return out


def test_merge_close_equals_the_pairwise_rule_exactly() -> None:
    rng = np.random.default_rng(7)
    for _ in range(3000):
        beeps = []
        t = 0.0
        for _ in range(int(rng.integers(0, 12))):
            t += float(rng.choice([0.0, 0.02, 0.05, 0.1, 0.3, -0.05]))
            dur = float(rng.choice([0.0, 0.01, 0.06, 0.12, 0.2, 0.5])) * float(
                rng.uniform(0.5, 1.5)
            )
            beeps.append(Beep(t, t + dur, *(float(v) for v in rng.random(4))))
            t += dur
        gap = float(rng.choice([0.0, 0.05, 0.1, 0.5]))
        piece = float(rng.choice([0.0, 0.1, 0.2]))
        assert merge_close(beeps, gap, piece) == _merge_close_pairwise(beeps, gap, piece)


def _run(scores: np.ndarray, chunk: int) -> list[Detection]:
    agg = Aggregation(params_for({}, "medium"), FPS)
    out: list[Detection] = []
    for i in range(0, scores.shape[0], chunk):
        part = scores[i : i + chunk]
        out += agg.update(part, HEADS, (i + part.shape[0]) / FPS)
    out += agg.flush(scores.shape[0] / FPS)
    return out


def _decisions(dets: list[Detection]) -> list[tuple[str, bool, float, float | None]]:
    """What was decided, without when (the decision time depends on the chunking)."""
    return [(d.event, d.active, d.start, d.end) for d in dets]


def _glass_scores(hits: list[tuple[int, int]], n: int = 600) -> np.ndarray:
    s = np.full((n, len(HEADS)), 0.02)
    for a, b in hits:
        s[a:b, HEADS.index("glass_break")] = 0.9
    return s


@pytest.mark.parametrize("chunk", [1, 10, 25, 49, 50, 60])
def test_glass_evidence_across_quiet_chunks_counts_within_the_window(chunk: int) -> None:
    # 4 + 4 frames above the threshold (medium needs 8 within 1 s), a quiet stretch between
    near = _glass_scores([(200, 204), (240, 244)])
    on = [d for d in _run(near, chunk) if d.active]
    assert [(d.event, d.start) for d in on] == [("glass_break", 4.0)]
    # the same hits 1.2 s apart: never 8 within one window, even after a quiet full window
    far = _glass_scores([(200, 204), (256, 260)])
    assert [d for d in _run(far, chunk) if d.active] == []


def test_glass_decisions_do_not_depend_on_chunking_after_long_quiet() -> None:
    rng = np.random.default_rng(3)
    scores = _glass_scores([(150, 153), (190, 196), (400, 401), (430, 440), (520, 530)], n=700)
    scores[:, HEADS.index("glass_break")] += rng.uniform(0.0, 0.3, 700)
    ref = _decisions(_run(scores, 1))
    assert ref  # the case does detect something
    for chunk in (7, 25, 50):
        assert _decisions(_run(scores, chunk)) == ref, chunk


def test_active_alarm_keeps_its_last_evidence_from_every_new_beep() -> None:
    """While on, each new strong beep moves the evidence end; the off reports the last one."""
    s = np.full((round(60 * FPS), len(HEADS)), 0.02)
    cycle = [(c + k * 1.0, c + k * 1.0 + 0.5) for c in np.arange(2.0, 30.0, 4.0) for k in range(3)]
    for on, off in cycle:
        s[round(on * FPS) : round(off * FPS), HEADS.index("smoke_alarm")] = 0.9
    dets = [d for d in _run(s, 25) if d.event == "smoke_alarm"]
    assert [d.active for d in dets] == [True, False]
    last_off = max(off for _, off in cycle)
    assert dets[1].end == pytest.approx(last_off, abs=0.03)
    # chunking (beeps added at other moments) gives the same decisions
    for chunk in (1, 13, 100):
        got = [d for d in _run(s, chunk) if d.event == "smoke_alarm"]
        assert _decisions(got) == _decisions(dets), chunk
