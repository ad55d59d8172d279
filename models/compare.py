#!/usr/bin/env python3
"""Judge model folders on the VALIDATION sets, as models/DECISIONS.md's rules do.

    .venv/bin/python models/compare.py MODEL_DIR [MODEL_DIR ...] [--levels medium]
                                        [--data build/data/val build/data/tune] [--json OUT]

For each folder (``acoustic_guard.onnx`` / ``.npz`` + ``manifest.json`` with the thresholds
``models/tune.py`` wrote into it): runs the real Detector over val + tune (as
``acoustic-guard eval`` does), then prints per level and event the references, recall,
precision, F1, false alarms (count and per hour), median / worst latency, recall per pattern
and the false alarms' causes, plus the sum the session-5 rules used,
S = smoke recall + CO recall + glass F1 + footsteps F1 (medium).

The candidate figures in models/DECISIONS.md come from this (or its earlier /tmp form, same
calls). It refuses held-out data (eval, soak): candidates are never chosen on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.acoustic_guard.engine.evaluate import (  # noqa: E402
    Item,
    evaluate_scored,
    load_labels,
    score_items,
)
from custom_components.acoustic_guard.engine.runtime import get_model  # noqa: E402
from custom_components.acoustic_guard.engine.types import EVENTS  # noqa: E402
from models.data.splits import held_out_data  # noqa: E402

S_TERMS = (
    ("smoke_alarm", "recall"),
    ("co_alarm", "recall"),
    ("glass_break", "f1"),
    ("footsteps", "f1"),
)


def _n(x: Any) -> float:
    return 0.0 if x is None else float(x)


def judge(model_dir: Path, items: Sequence[Item], levels: Sequence[str]) -> dict[str, Any]:
    """Rows of :func:`evaluate_scored` for one model folder, plus S at medium."""
    man = json.loads((model_dir / "manifest.json").read_text())
    model = get_model("auto", model_dir)
    scored = score_items(items, model)
    report = evaluate_scored(scored, man.get("thresholds", {}), model.head_names, levels, EVENTS)
    rows = [r for r in report["rows"] if r["subset"] == "all"]
    medium = {r["event"]: r for r in rows if r["level"] == "medium"}
    s = sum(_n(medium[e][k]) for e, k in S_TERMS) if len(medium) == len(EVENTS) else None
    return {"model": str(model_dir), "version": man.get("version"), "rows": rows, "S": s}


def show(result: dict[str, Any]) -> None:
    print(f"== {result['model']} (version {result['version']})")
    for r in result["rows"]:
        pats = " ".join(f"{k} {v['hits']}/{v['refs']}" for k, v in r["recall_by_pattern"].items())
        causes = ", ".join(f"{k} x{v}" for k, v in r["false_alarm_causes"].items())
        print(
            f"{r['level']:6s} {r['event']:12s} refs {r['refs']:3d} recall {_n(r['recall']):.4f} "
            f"prec {_n(r['precision']):.4f} F1 {_n(r['f1']):.4f} FA {r['false_alarms']} "
            f"({_n(r['fa_per_hour']):.2f}/h) lat {r['latency_median_s']}/{r['latency_worst_s']} "
            f"| {pats} | FA: {causes or '-'}"
        )
    if result["S"] is not None:
        print(f"S (medium) = {result['S']:.4f}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dirs", type=Path, nargs="+")
    ap.add_argument(
        "--data", type=Path, nargs="+", default=[ROOT / "build/data/val", ROOT / "build/data/tune"]
    )
    ap.add_argument("--levels", default="medium", help="comma-separated: low,medium,high")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    items = [i for d in args.data for i in load_labels(d)]
    if held_out_data(args.data, (i.split for i in items)):
        ap.error("refusing held-out data (eval, soak): candidates are judged on val + tune only")
    results = [judge(d, items, args.levels.split(",")) for d in args.model_dirs]
    for r in results:
        show(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
