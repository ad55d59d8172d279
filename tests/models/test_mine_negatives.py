"""``models/mine_negatives.py``: windows, label shifting, the train-sources guard, a real run."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np

from models import mine_negatives as mine
from models.data.contract import validate_record


def test_peaks_are_the_maximum_of_each_run_over_the_floor() -> None:
    t = np.arange(10) / 10
    v = np.array([0.1, 0.6, 0.9, 0.7, 0.2, 0.55, 0.2, 0.8, 0.8, 0.1])
    assert mine.peaks(t, v, 0.5) == [(0.9, 0.2), (0.55, 0.5), (0.8, 0.7)]
    assert mine.peaks(t, v, 0.95) == []


def test_choose_takes_the_strongest_and_no_overlapping_window() -> None:
    found = [(0.9, 0, 20.0), (0.8, 0, 25.0), (0.7, 0, 40.0), (0.95, 1, 20.0), (0.6, 1, 100.0)]
    assert mine.choose(found, 10, 10.0) == [(0.95, 1, 20.0), (0.9, 0, 20.0), (0.7, 0, 40.0),
                                            (0.6, 1, 100.0)]  # fmt: skip
    assert mine.choose(found, 2, 10.0) == [(0.95, 1, 20.0), (0.9, 0, 20.0)]


def test_window_stays_inside_the_file_and_keeps_its_length() -> None:
    assert mine.window(20.0, 7.0, 3.0, 300.0) == (13.0, 23.0)
    assert mine.window(2.0, 7.0, 3.0, 300.0) == (0.0, 10.0)
    assert mine.window(299.0, 7.0, 3.0, 300.0) == (290.0, 300.0)
    assert mine.window(3.0, 7.0, 3.0, 6.0) == (0.0, 6.0)  # a file shorter than a window


def test_events_are_clipped_and_moved_to_the_window() -> None:
    ev = {"event": "beeping_appliance", "pattern": "alarm_clock", "start": 9.0, "end": 14.0,
          "on": [[9.0, 9.5], [11.0, 11.5], [13.0, 14.0]]}  # fmt: skip
    out = mine.shifted_events([ev], 10.0, 13.5)
    assert out == [{**ev, "start": 1.0, "end": 3.5, "on": [[1.0, 1.5], [3.0, 3.5]]}]
    assert mine.shifted_events([ev], 20.0, 30.0) == []


def _negative_set(folder: Path, split: str) -> None:
    """Two household files without a target event: a T4-like beeping and near-silence."""
    folder.mkdir(parents=True)
    rate = 16000
    rows = []
    for name, seconds, beeps in (("a.wav", 30.0, True), ("b.wav", 12.0, False)):
        t = np.arange(round(seconds * rate)) / rate
        x = 0.001 * np.random.default_rng(3).standard_normal(t.size)
        on: list[list[float]] = []
        if beeps:  # four 0.1 s beeps every 5.8 s: what the CO head is trained to fire on
            on = [
                [g * 5.8 + 2 + k * 0.2, g * 5.8 + 2.1 + k * 0.2] for g in range(4) for k in range(4)
            ]
            for a, b in on:
                m = (t >= a) & (t < b)
                x[m] += 0.3 * np.sin(2 * np.pi * 3100 * t[m])
        with wave.open(str(folder / name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        events = [{"event": "beeping_appliance", "pattern": "t4_like", "start": on[0][0],
                   "end": on[-1][1], "on": on}] if on else []  # fmt: skip
        rows.append({"file": name, "split": split, "source": "synth:x", "duration": seconds,
                     "kind": "confuser" if on else "negative", "events": events})  # fmt: skip
    (folder / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_real_run_cuts_labelled_windows_around_the_head_peaks(tmp_path: Path) -> None:
    _negative_set(tmp_path / "train_soak", "train_soak")
    out = tmp_path / "mined"
    args = ["--data", str(tmp_path / "train_soak"), "--out", str(out), "--min-score", "0.3"]
    assert mine.main([*args, "--clips", "5"]) == 0
    rows = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert 1 <= len(rows) <= 5
    for r in rows:
        assert validate_record(r) == []
        assert r["mined"]["from"] == "a.wav"  # the beeping file, never the quiet one
        assert r["mined"]["peak"] > 0.3
        assert r["duration"] == 10.0
        with wave.open(str(out / r["file"])) as w:
            assert w.getnframes() == 160000
        assert r["events"] and r["kind"] == "confuser"  # the beeps' labels came along
    summary = json.loads((out / "SUMMARY.json").read_text())
    assert summary["files"] == len(rows)


def test_refuses_sets_from_other_sources_and_sets_with_target_events(tmp_path: Path) -> None:
    _negative_set(tmp_path / "tune_soak", "tune_soak")  # val sources
    args = ["--data", str(tmp_path / "tune_soak"), "--out", str(tmp_path / "o")]
    assert mine.main(args) == 2
    _negative_set(tmp_path / "x", "train_soak")
    labels = tmp_path / "x" / "labels.jsonl"
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    rows[0]["events"][0]["event"] = "co_alarm"
    rows[0]["kind"] = "positive"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert mine.main(["--data", str(tmp_path / "x"), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()
