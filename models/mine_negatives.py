#!/usr/bin/env python3
"""Mine hard negatives for one head from household audio that holds no target event.

    .venv/bin/python models/mine_negatives.py [--head co_alarm] [--data build/data/train_soak]
        [--out build/data/co_mined] [--clips 600] [--min-score 0.5] [--before 7] [--after 3]
        [--model-dir custom_components/acoustic_guard/model]

Runs the model over ``--data`` with the real Detector (as ``acoustic-guard eval`` does) and
finds where ``--head`` scores highest: every such frame is a false positive, since the set
holds no target event. The strongest peaks over ``--min-score`` (greedy, non-overlapping,
the strongest first, at most ``--clips``) are cut into ``--before`` + ``--after`` second
16 kHz WAVs, with the beeping-appliance labels shifted in, and written as a labelled set
(``labels.jsonl``, ``SUMMARY.json``) that ``models/refit_head.py --extra`` trains on.

Only sets rendered from the *train* sources are mined (``train_soak``): hard negatives must
never come from audio that tuning, candidate choice or evaluation read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.acoustic_guard.engine.evaluate import (  # noqa: E402
    Scored,
    load_labels,
    score_items,
)
from custom_components.acoustic_guard.engine.features import FRAME_RATE  # noqa: E402
from custom_components.acoustic_guard.engine.runtime import MODEL_DIR, get_model  # noqa: E402
from custom_components.acoustic_guard.engine.types import EVENTS  # noqa: E402
from models.data.splits import SOURCES_OF  # noqa: E402

SAMPLE_RATE = 16_000


def head_track(s: Scored, head: str, heads: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Frame times (s) and ``head``'s scores over one scored file."""
    col = (s.columns or tuple(heads)).index(head)
    times, values = [], []
    for scores, t_end in s.chunks:
        n = scores.shape[0]
        times.append(t_end - (n - 1 - np.arange(n)) / FRAME_RATE)
        values.append(scores[:, col])
    if not times:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(times), np.concatenate(values).astype(np.float64)


def peaks(t: np.ndarray, v: np.ndarray, floor: float) -> list[tuple[float, float]]:
    """(score, time) of the maximum of every run of frames over ``floor``."""
    over = v > floor
    out: list[tuple[float, float]] = []
    i, n = 0, len(v)
    while i < n:
        if not over[i]:
            i += 1
            continue
        j = i
        while j < n and over[j]:
            j += 1
        k = i + int(np.argmax(v[i:j]))
        out.append((float(v[k]), float(t[k])))
        i = j
    return out


def choose(
    found: list[tuple[float, int, float]], clips: int, span: float
) -> list[tuple[float, int, float]]:
    """Strongest first; a peak whose window overlaps a chosen one in the same file is skipped."""
    chosen: list[tuple[float, int, float]] = []
    taken: dict[int, list[float]] = {}
    for score, f, t in sorted(found, key=lambda x: (-x[0], x[1], x[2])):
        if any(abs(t - u) < span for u in taken.get(f, [])):
            continue
        taken.setdefault(f, []).append(t)
        chosen.append((score, f, t))
        if len(chosen) >= clips:
            break
    return chosen


def window(t: float, before: float, after: float, duration: float) -> tuple[float, float]:
    """``[t - before, t + after]`` moved inside ``[0, duration]`` (same length when it fits)."""
    a = min(max(0.0, t - before), max(0.0, duration - before - after))
    return a, min(duration, a + before + after)


def shifted_events(events: list[dict[str, Any]], a: float, b: float) -> list[dict[str, Any]]:
    """The events sounding inside ``[a, b]``, their on-intervals clipped and moved to 0."""
    out = []
    for ev in events:
        on = [
            [round(max(s, a) - a, 4), round(min(e, b) - a, 4)]
            for s, e in ev.get("on", [])
            if e > a and s < b and min(e, b) - max(s, a) > 1e-3
        ]
        if on:
            out.append({**ev, "start": on[0][0], "end": on[-1][1], "on": on})
    return out


def _read_slice(path: Path, a: float, b: float) -> bytes:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit PCM")
        w.setpos(round(a * SAMPLE_RATE))
        return w.readframes(round((b - a) * SAMPLE_RATE))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head", default="co_alarm", choices=EVENTS)
    ap.add_argument("--data", type=Path, default=ROOT / "build/data/train_soak")
    ap.add_argument("--out", type=Path, default=ROOT / "build/data/co_mined")
    ap.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    ap.add_argument("--clips", type=int, default=600)
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--before", type=float, default=7.0, help="seconds kept before a peak")
    ap.add_argument("--after", type=float, default=3.0, help="seconds kept after a peak")
    args = ap.parse_args(argv)
    log = sys.stderr

    items = load_labels(args.data)
    splits = {i.split for i in items}
    if any(SOURCES_OF.get(s) != "train" for s in splits):
        print(f"mine: {args.data} is {sorted(splits)}: only train-source sets are mined", file=log)
        return 2
    if any(r.event in EVENTS for i in items for r in i.refs):
        print(f"mine: {args.data} holds target events; mining needs pure negatives", file=log)
        return 2
    lines = (args.data / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    rows = {r["file"]: r for r in (json.loads(line) for line in lines if line.strip())}

    t0 = time.monotonic()
    model = get_model("auto", args.model_dir)
    hours = sum(i.duration for i in items) / 3600
    print(f"mine: scoring {len(items)} files ({hours:.1f} h) for {args.head}", file=log)
    found: list[tuple[float, int, float]] = []
    for f, item in enumerate(items):
        (s,) = score_items([item], model)  # one file at a time: only its peaks are kept
        if s.error:
            print(f"mine: {item.file}: {s.error}", file=log)
            continue
        found += [
            (v, f, t) for v, t in peaks(*head_track(s, args.head, model.head_names), args.min_score)
        ]
    span = args.before + args.after
    chosen = choose(found, args.clips, span)
    print(
        f"mine: {len(found)} peaks over {args.min_score} in {time.monotonic() - t0:.0f} s; "
        f"{len(chosen)} windows of {span:g} s",
        file=log,
    )

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    records = []
    for k, (score, f, t) in enumerate(sorted(chosen, key=lambda x: (x[1], x[2]))):
        item = items[f]
        a, b = window(t, args.before, args.after, item.duration)
        name = f"{k:05d}.wav"
        with wave.open(str(args.out / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(_read_slice(item.path, a, b))
        src = rows[item.file]
        events = shifted_events(src.get("events", []), a, b)
        records.append(
            {
                "file": name,
                "split": src["split"],
                "source": src.get("source", ""),
                "mix": src.get("mix", []),
                "duration": round(b - a, 4),
                "kind": "confuser" if events else "negative",
                "events": events,
                "mined": {"head": args.head, "from": item.file, "start": round(a, 3),
                          "peak": round(score, 4)},
            }
        )  # fmt: skip
    (args.out / "labels.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    summary = {
        "files": len(records),
        "hours": round(sum(r["duration"] for r in records) / 3600, 3),
        "mined_from": str(args.data),
        "head": args.head,
        "min_score": args.min_score,
        "peaks_over_min": len(found),
        "sources": sorted({r["source"] for r in records}),
        "model_dir": str(args.model_dir),
    }
    (args.out / "SUMMARY.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"mine: wrote {len(records)} clips to {args.out}", file=log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
