"""How much does verification cut false alarms, and what does it cost in recall?

``python -m acoustic_guard_verifier.measure [--data build/data/eval] [--level medium]``

1. The engine's evaluation machinery (``engine/evaluate.py``: the real Detector over every
   labelled file, event-based matching) gives the first stage's detections.
2. For each detection ("on" change) the clip the integration would send is cut from the
   recording: ``CLIP_S`` seconds starting ``PRE_ONSET_S`` before the onset, moved later when
   needed so that it ends no earlier than the decision (the clip then holds the evidence
   the local model decided on). It goes through the verifier's own path (16-bit WAV ->
   decode -> YAMNet + the engine's pattern analysis -> the decision rule).
3. Detections the verifier rejects are dropped and the matching is repeated: recall and
   false alarms per hour before and after, per event, for all files and for the held-out
   real recordings.

The same command on ``build/data/val`` is how the rule's thresholds may be chosen
(``--scale`` multiplies every threshold); the evaluation split is only ever measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .audio_in import SAMPLE_RATE, decode_clip, encode_wav
from .decision import RULES, PatternEvidence, decide, scaled_rules, top_labels
from .service import VerifierService

CLIP_S: Final = 10.0
PRE_ONSET_S: Final = 3.0
DEFAULT_DATA: Final = Path("build/data/eval")
DEFAULT_OUT: Final = Path("build/verifier")

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Checked:
    """One first-stage detection with what the verifier computed on its clip."""

    file: str
    event: str
    time: float
    scores: FloatArray
    patterns: PatternEvidence


def clip_bounds(start: float, decided: float, duration: float) -> tuple[float, float]:
    """The clip's [begin, end) in file seconds (see the module docstring)."""
    begin = max(0.0, start - PRE_ONSET_S)
    end = max(begin + CLIP_S, decided)
    begin = max(0.0, end - CLIP_S)
    return begin, min(end, duration)


def measure(
    data_dir: Path,
    level: str = "medium",
    scales: Sequence[float] = (1.0,),
    limit: int | None = None,
) -> dict[str, Any]:
    """Before/after metrics per event for each threshold scale."""
    from custom_components.acoustic_guard.engine import evaluate  # noqa: PLC0415
    from custom_components.acoustic_guard.engine.aggregate import params_for  # noqa: PLC0415
    from custom_components.acoustic_guard.engine.runtime import get_model  # noqa: PLC0415
    from custom_components.acoustic_guard.engine.types import EVENTS  # noqa: PLC0415
    from custom_components.acoustic_guard.engine.wavfile import load_16k  # noqa: PLC0415

    started = time.monotonic()
    items = evaluate.load_labels(data_dir)[:limit]
    model = get_model()
    print(f"measure: scoring {len(items)} files with the local model", file=sys.stderr)
    scored = [s for s in evaluate.score_items(items, model) if s.error is None]
    params = params_for(model.manifest.get("thresholds"), level)
    per_file = [(s, evaluate.replay(s, params, model.head_names)) for s in scored]

    service = VerifierService.load()
    checked: dict[tuple[str, int], Checked] = {}
    n_dets = sum(1 for _, dets in per_file for d in dets if d.active)
    print(f"measure: verifying {n_dets} detections", file=sys.stderr)
    verify_ms: list[float] = []
    for s, dets in per_file:
        actives = [(i, d) for i, d in enumerate(dets) if d.active]
        if not actives:
            continue
        audio = load_16k(s.item.path)
        duration = audio.size / SAMPLE_RATE
        for i, d in actives:
            begin, end = clip_bounds(d.start, d.time, duration)
            clip = audio[int(begin * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            t0 = time.perf_counter()
            samples = decode_clip(encode_wav(clip))
            scores = service.tagger.tag(samples)
            patterns = service.patterns(samples)
            verify_ms.append((time.perf_counter() - t0) * 1000.0)
            checked[(s.item.file, i)] = Checked(s.item.file, d.event, d.time, scores, patterns)

    details = []
    for s, dets in per_file:
        for i, d in enumerate(dets):
            if not d.active:
                continue
            c = checked[(s.item.file, i)]
            verdict = decide(d.event, c.scores, c.patterns)
            hold = params[d.event].hold_s
            real_event = any(
                r.event == d.event and r.start - evaluate.EARLY_S <= d.time <= r.end + hold
                for r in s.item.refs
            )
            details.append(
                {
                    "file": s.item.file,
                    "source": s.item.source,
                    "event": d.event,
                    "time": round(d.time, 2),
                    "true_event": real_event,
                    "verified": verdict.verified,
                    "rule": verdict.rule,
                    "strong": verdict.strong_score,
                    "support": verdict.support_score,
                    "pattern": verdict.pattern,
                    "labels": [
                        f"{x['label']} {x['score']:.2f}"
                        for x in top_labels(c.scores, service.tagger.names, 3)
                    ],
                }
            )

    runs = []
    for scale in scales:
        rules = scaled_rules(scale) if scale != 1.0 else dict(RULES)
        rows = []
        for event in EVENTS:
            hold = params[event].hold_s
            tallies = {
                key: evaluate.Tally()
                for key in ("all_before", "all_after", "real_before", "real_after")
            }
            for s, dets in per_file:
                kept = [
                    d
                    for i, d in enumerate(dets)
                    if not d.active
                    or d.event != event
                    or decide(
                        event,
                        checked[(s.item.file, i)].scores,
                        checked[(s.item.file, i)].patterns,
                        rules,
                    ).verified
                ]
                before = evaluate.match_file(s.item, dets, event, hold)
                after = evaluate.match_file(s.item, kept, event, hold)
                tallies["all_before"].add(before)
                tallies["all_after"].add(after)
                if s.item.real:
                    tallies["real_before"].add(before)
                    tallies["real_after"].add(after)
            for subset in ("all", "real"):
                b = tallies[f"{subset}_before"].metrics()
                a = tallies[f"{subset}_after"].metrics()
                if subset == "real" and b["refs"] == 0 and b["detections"] == 0:
                    continue
                rows.append(_row(event, subset, b, a))
        runs.append({"scale": scale, "rows": rows})
    return {
        "data": str(data_dir),
        "level": level,
        "files": len(items),
        "hours": round(sum(i.duration for i in items) / 3600.0, 3),
        "model_version": model.manifest.get("version"),
        "verifier": service.model_name,
        "clip": (
            f"{CLIP_S:g} s from {PRE_ONSET_S:g} s before the onset, "
            "ending no earlier than the decision"
        ),
        "detections_verified": len(checked),
        "verify_ms_median": round(float(np.median(verify_ms)), 1) if verify_ms else None,
        "seconds": round(time.monotonic() - started, 1),
        "runs": runs,
        "detections": details,
    }


def _row(event: str, subset: str, b: Mapping[str, Any], a: Mapping[str, Any]) -> dict[str, Any]:
    fa_cut = None
    if b["false_alarms"]:
        fa_cut = round(1.0 - a["false_alarms"] / b["false_alarms"], 4)
    recall_cost = None
    if b["recall"] is not None and a["recall"] is not None:
        recall_cost = round(b["recall"] - a["recall"], 4)
    return {
        "event": event,
        "subset": subset,
        "refs": b["refs"],
        "recall_before": b["recall"],
        "recall_after": a["recall"],
        "recall_cost": recall_cost,
        "false_alarms_before": b["false_alarms"],
        "false_alarms_after": a["false_alarms"],
        "fa_per_hour_before": b["fa_per_hour"],
        "fa_per_hour_after": a["fa_per_hour"],
        "false_alarm_cut": fa_cut,
        "negative_hours": b["negative_hours"],
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100.0 * x:.1f} %"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"Verification on `{report['data']}` ({report['files']} files, {report['hours']} h), "
        f"local model {report['model_version']} at sensitivity {report['level']}, "
        f"verifier {report['verifier']}; {report['detections_verified']} detections verified "
        f"(median {report['verify_ms_median']} ms each).",
        "",
    ]
    for run in report["runs"]:
        lines += [
            f"Thresholds x{run['scale']:g}:",
            "",
            "| event | subset | refs | recall before | recall after | FA before | FA after "
            "| FA/h before | FA/h after | FA cut |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in run["rows"]:
            lines.append(
                f"| {r['event']} | {r['subset']} | {r['refs']} | {_pct(r['recall_before'])} "
                f"| {_pct(r['recall_after'])} | {r['false_alarms_before']} "
                f"| {r['false_alarms_after']} | {_num(r['fa_per_hour_before'])} "
                f"| {_num(r['fa_per_hour_after'])} | {_pct(r['false_alarm_cut'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acoustic_guard_verifier.measure")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="labelled split")
    parser.add_argument("--level", default="medium", help="local sensitivity (default medium)")
    parser.add_argument(
        "--scale", type=float, action="append", help="threshold multiplier (repeatable)"
    )
    parser.add_argument("--limit", type=int, help="only the first N files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    args = parser.parse_args(argv)
    report = measure(args.data, args.level, args.scale or [1.0], args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"measure-{args.data.name}-{args.level}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = format_markdown(report)
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
