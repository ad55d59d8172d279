"""The labels.jsonl record contract (pure Python: usable from any environment).

One JSON object per WAV file::

    {"file": "00012.wav", "split": "train", "source": "synth:t3", "duration": 10.0,
     "events": [{"event": "smoke_alarm", "start": 1.23, "end": 9.87, "pattern": "T3",
                 "on": [[1.23, 1.73], ...]}],
     "kind": "positive" | "negative" | "confuser"}

Extra keys written by the builder (consumers may ignore them): ``recipe`` (the scene
recipe), ``mix`` (the other sources mixed into the clip), ``rt60`` (room, seconds).
"""

from __future__ import annotations

from typing import Any, Final

from .splits import DATA_SETS

EVENT_NAMES: Final = ("smoke_alarm", "co_alarm", "glass_break", "footsteps", "beeping_appliance")
TARGET_EVENTS: Final = EVENT_NAMES[:4]
KINDS: Final = ("positive", "negative", "confuser")
SPLIT_NAMES: Final = DATA_SETS


def validate_record(rec: dict[str, Any]) -> list[str]:
    """Problems with one labels.jsonl record (empty list = valid)."""
    errs: list[str] = []
    for key, typ in (("file", str), ("split", str), ("source", str), ("kind", str)):
        if not isinstance(rec.get(key), typ):
            errs.append(f"{key} missing or not {typ.__name__}")
    dur = rec.get("duration")
    if not isinstance(dur, int | float) or dur <= 0:
        errs.append("duration must be > 0")
        dur = 0.0
    if rec.get("split") not in SPLIT_NAMES:
        errs.append(f"split {rec.get('split')!r} unknown")
    if rec.get("kind") not in KINDS:
        errs.append(f"kind {rec.get('kind')!r} unknown")
    events = rec.get("events")
    if not isinstance(events, list):
        return [*errs, "events must be a list"]
    for i, ev in enumerate(events):
        where = f"events[{i}]"
        if ev.get("event") not in EVENT_NAMES:
            errs.append(f"{where}.event {ev.get('event')!r} unknown")
        if not isinstance(ev.get("pattern"), str) or not ev.get("pattern"):
            errs.append(f"{where}.pattern missing")
        on = ev.get("on")
        if not isinstance(on, list) or not on:
            errs.append(f"{where}.on must be a non-empty list")
            continue
        prev = -1.0
        for s, e in on:
            if not (0.0 <= s < e <= dur + 1e-6):
                errs.append(f"{where}.on interval [{s}, {e}] outside [0, {dur}]")
            if s < prev - 1e-6:
                errs.append(f"{where}.on not sorted")
            prev = s
        if abs(ev.get("start", -1) - on[0][0]) > 1e-6 or abs(ev.get("end", -1) - on[-1][1]) > 1e-6:
            errs.append(f"{where}.start/end must be the first/last on interval")
    has_target = any(ev.get("event") in TARGET_EVENTS for ev in events)
    if has_target != (rec.get("kind") == "positive"):
        errs.append("kind must be 'positive' exactly when a target event is labelled")
    return errs
