"""Choose the verification rule's thresholds on the VALIDATION split (never on eval).

``python -m acoustic_guard_verifier.tune [--data build/data/val]``

Candidates are cut the way the integration cuts clips (``measure.CLIP_S`` seconds from
``measure.PRE_ONSET_S`` before an onset): one per labelled target episode (a positive for
its event), one per confuser episode (``beeping_appliance``) and two at seeded random
places in every file without target events (negatives for every event). For each event
the YAMNet clip scores of its ``strong`` and ``support`` class groups are computed
(``decision.RULES``), then:

- ``support``: the largest threshold that keeps ``--recall`` of the positives (the engine's
  pattern is assumed found, the usual case for a local detection: the support threshold is
  then the whole rule), reported with the share of negatives it rejects;
- ``strong``: the smallest threshold that lets at most ``--strong-fp`` of the negatives
  through on YAMNet alone (no pattern needed), never below ``support``.

It prints the table and the values to put in ``decision.RULES``; it does not edit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from .audio_in import SAMPLE_RATE
from .decision import RULES, clip_score
from .measure import CLIP_S, PRE_ONSET_S
from .tagger import YamnetTagger

DEFAULT_DATA: Final = Path("build/data/val")
GRID: Final = np.round(np.arange(0.01, 0.96, 0.01), 2)
TARGET_RECALL: Final = {"smoke_alarm": 0.98, "co_alarm": 0.98, "glass_break": 0.9, "footsteps": 0.9}


@dataclass(frozen=True, slots=True)
class Candidate:
    file: str
    event: str | None  # the target event of a positive, None for a negative
    kind: str
    strong: dict[str, float]
    support: dict[str, float]


def candidates(data_dir: Path, limit: int | None = None) -> list[Candidate]:
    from custom_components.acoustic_guard.engine.evaluate import load_labels  # noqa: PLC0415
    from custom_components.acoustic_guard.engine.wavfile import load_16k  # noqa: PLC0415

    tagger = YamnetTagger()
    rng = np.random.default_rng(20261125)
    out: list[Candidate] = []
    items = load_labels(data_dir)[:limit]
    for n, item in enumerate(items, 1):
        audio = load_16k(item.path)
        duration = audio.size / SAMPLE_RATE
        cuts: list[tuple[float, str | None, str]] = []
        targets = [r for r in item.refs if r.event in RULES]
        for ref in targets:
            cuts.append((ref.start, ref.event, f"positive:{ref.pattern}"))
        if not targets:
            for ref in item.refs:
                cuts.append((ref.start, None, f"confuser:{ref.pattern}"))
            for _ in range(2):
                cuts.append(
                    (
                        float(rng.uniform(0.0, max(0.0, duration - CLIP_S))) + PRE_ONSET_S,
                        None,
                        f"negative:{item.kind}",
                    )
                )
        for onset, event, kind in cuts:
            begin = max(0.0, onset - PRE_ONSET_S)
            clip = audio[int(begin * SAMPLE_RATE) : int((begin + CLIP_S) * SAMPLE_RATE)]
            scores = tagger.tag(clip)
            out.append(
                Candidate(
                    file=item.file,
                    event=event,
                    kind=kind,
                    strong={e: clip_score(scores, r.strong_classes) for e, r in RULES.items()},
                    support={e: clip_score(scores, r.support_classes) for e, r in RULES.items()},
                )
            )
        if n % 25 == 0:
            print(f"tune: {n}/{len(items)} files", file=sys.stderr)
    return out


def choose(cands: list[Candidate], event: str, recall: float, strong_fp: float) -> dict[str, Any]:
    pos_support = np.array([c.support[event] for c in cands if c.event == event])
    neg = [c for c in cands if c.event != event]
    neg_support = np.array([c.support[event] for c in neg])
    neg_strong = np.array([c.strong[event] for c in neg])
    if pos_support.size == 0 or neg_support.size == 0:
        return {"event": event, "note": "no positives or no negatives"}
    support = float(GRID[0])
    for t in GRID:
        if np.mean(pos_support >= t) >= recall:
            support = float(t)
    strong = next((float(t) for t in GRID if np.mean(neg_strong >= t) <= strong_fp), 0.95)
    strong = max(strong, support)
    pos_strong = np.array([c.strong[event] for c in cands if c.event == event])
    return {
        "event": event,
        "positives": int(pos_support.size),
        "negatives": int(neg_support.size),
        "support": support,
        "support_recall": round(float(np.mean(pos_support >= support)), 4),
        "support_rejects_negatives": round(float(np.mean(neg_support < support)), 4),
        "strong": strong,
        "strong_recall_alone": round(float(np.mean(pos_strong >= strong)), 4),
        "strong_passes_negatives": round(float(np.mean(neg_strong >= strong)), 4),
        "current": {"strong": RULES[event].strong, "support": RULES[event].support},
        "current_support_recall": round(float(np.mean(pos_support >= RULES[event].support)), 4),
        "current_support_rejects": round(float(np.mean(neg_support < RULES[event].support)), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m acoustic_guard_verifier.tune")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--recall", type=float, help="target recall for every event")
    parser.add_argument("--strong-fp", type=float, default=0.02, help="negatives passing alone")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path, default=Path("build/verifier"))
    args = parser.parse_args()
    if args.data.name == "eval":
        parser.error("thresholds are never chosen on the evaluation split")
    cands = candidates(args.data, args.limit)
    rows = [choose(cands, e, args.recall or TARGET_RECALL[e], args.strong_fp) for e in RULES]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"data": str(args.data), "candidates": len(cands), "rows": rows}
    (args.out / f"tune-{args.data.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
