"""Write one split: numbered 16 kHz int16 WAVs, ``labels.jsonl``, ``SUMMARY.json``.

A split is written into ``<out>/.<split>.partial`` and renamed to ``<out>/<split>`` only
when complete, so a reader polling for ``labels.jsonl`` never sees a half-written set.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .audio import write_wav


class SplitWriter:
    def __init__(self, out_root: Path, split: str) -> None:
        self.split = split
        self.final = out_root / split
        self.tmp = out_root / f".{split}.partial"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.records: list[dict[str, Any]] = []

    def add(self, index: int, audio: np.ndarray, record: dict[str, Any]) -> dict[str, Any]:
        name = f"{index:05d}.wav"
        write_wav(self.tmp / name, audio)
        rec = {"file": name, "split": self.split, **record}
        self.records.append(rec)
        return rec

    def close(self, notes: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self.records.sort(key=lambda r: r["file"])
        with (self.tmp / "labels.jsonl").open("w") as f:
            for r in self.records:
                f.write(json.dumps(r) + "\n")
        summary = summarize(self.split, self.records, notes, extra or {})
        (self.tmp / "SUMMARY.json").write_text(json.dumps(summary, indent=2) + "\n")
        old = self.final.with_name(f".{self.split}.old")
        if old.exists():
            shutil.rmtree(old)
        if self.final.exists():
            self.final.rename(old)
        self.tmp.rename(self.final)
        if old.exists():
            shutil.rmtree(old)
        return summary


def summarize(
    split: str, records: list[dict[str, Any]], notes: list[str], extra: dict[str, Any]
) -> dict[str, Any]:
    kinds = Counter(r["kind"] for r in records)
    clips_per_event: Counter[str] = Counter()
    seconds_per_event: Counter[str] = Counter()
    patterns: Counter[str] = Counter()
    for r in records:
        for ev in {e["event"] for e in r["events"]}:
            clips_per_event[ev] += 1
        for e in r["events"]:
            seconds_per_event[e["event"]] += e["end"] - e["start"]
            patterns[f"{e['event']}/{e['pattern']}"] += 1
    sources: Counter[str] = Counter()
    for r in records:
        for s in {str(r["source"]), *r.get("mix", [])}:
            sources[s] += 1
    total = sum(float(r["duration"]) for r in records)
    neg = sum(float(r["duration"]) for r in records if r["kind"] != "positive")
    return {
        "split": split,
        "files": len(records),
        "hours": round(total / 3600, 3),
        "negative_hours": round(neg / 3600, 3),
        "kinds": dict(kinds),
        "clips_per_event": dict(clips_per_event),
        "event_seconds": {k: round(v, 1) for k, v in seconds_per_event.items()},
        "patterns": dict(sorted(patterns.items())),
        "recipes": dict(sorted(Counter(r.get("recipe", "?") for r in records).items())),
        "sources": dict(sorted(sources.items())),
        "notes": notes,
        **extra,
    }
