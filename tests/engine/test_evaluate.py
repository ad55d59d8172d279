"""Evaluation metrics on hand-made labels, and one real end-to-end run of ``run_eval``."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from custom_components.acoustic_guard.engine import evaluate
from custom_components.acoustic_guard.engine.aggregate import params_for
from custom_components.acoustic_guard.engine.detector import Detector
from custom_components.acoustic_guard.engine.evaluate import (
    Item,
    LabelError,
    Reference,
    Scored,
    evaluate_scored,
    format_markdown,
    load_labels,
    match_file,
    replay,
    run_eval,
)
from custom_components.acoustic_guard.engine.runtime import get_model
from custom_components.acoustic_guard.engine.types import EVENTS, Detection
from custom_components.acoustic_guard.engine.wavfile import read_audio

HEADS = ("smoke_alarm", "co_alarm", "glass_break", "footsteps", "beeping_appliance")
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ALARM_0800 = SHARED / "data/alarms/ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"


def item(refs: list[Reference], duration: float = 60.0, source: str = "synth:x") -> Item:
    return Item("f.wav", Path("f.wav"), "eval", source, duration, "positive", tuple(refs))


def on(event: str, t: float, start: float | None = None) -> Detection:
    return Detection(event, True, t if start is None else start, None, t, 0.9, "T3")


def test_match_hit_duplicate_false_alarm_and_negative_time() -> None:
    it = item(
        [
            Reference("smoke_alarm", 2.0, 20.0, "T3"),
            Reference("beeping_appliance", 40, 41, "microwave"),
        ]
    )
    dets = [
        on("smoke_alarm", 9.0, 2.0),  # hit, latency 7
        Detection("smoke_alarm", False, 2.0, 20.0, 35.0, 0.9, "T3"),  # offs are ignored
        on("smoke_alarm", 30.0),  # again inside ref.end + hold (35 s): duplicate
        on("smoke_alarm", 40.5),  # during the microwave: false alarm
        on("co_alarm", 9.0),  # another event: not counted here
    ]
    t = match_file(it, dets, "smoke_alarm", hold_s=15.0)
    assert (t.refs, t.hits, t.dets, t.duplicates, t.false_alarms) == (1, 1, 3, 1, 1)
    assert t.latencies == [7.0]
    assert t.negative_s == pytest.approx(60.0 - (35.0 - 1.0))
    assert t.fa_causes == {"beeping_appliance:microwave (T3)": 1}
    m = t.metrics()
    assert m["recall"] == 1.0 and m["precision"] == 0.5
    assert m["f1"] == pytest.approx(2 * 0.5 / 1.5, abs=1e-4)
    assert m["fa_per_hour"] == pytest.approx(3600 / 26.0, rel=1e-3)
    # one hit of one reference: Wilson 95 % [0.21, 1]; one false alarm in 26 s of negatives:
    # exact Poisson 95 % [0.0253, 5.5716] false alarms per 26 s
    assert m["recall_ci95"] == pytest.approx([0.2065, 1.0], abs=1e-4)
    assert m["confuser_episodes"]["microwave"]["episodes"] == 1
    assert m["confuser_episodes"]["microwave"]["false_alarms"] == 1
    assert m["fa_per_hour_ci95"] == pytest.approx(
        [0.025318 * 3600 / 26.0, 5.571643 * 3600 / 26.0], rel=1e-3
    )
    assert m["latency_median_s"] == 7.0 and m["latency_worst_s"] == 7.0
    # too early (more than 1 s before the reference) is a false alarm, not a hit
    early = match_file(it, [on("smoke_alarm", 0.5)], "smoke_alarm", 15.0)
    assert (early.hits, early.false_alarms) == (0, 1)
    # a missed reference
    miss = match_file(it, [], "smoke_alarm", 15.0).metrics()
    assert miss["recall"] == 0.0 and miss["precision"] is None and miss["fa_per_hour"] == 0.0


def test_confuser_episodes_count_each_episode_once() -> None:
    it = item(
        [
            Reference("beeping_appliance", 10, 20, "alarm_clock"),
            Reference("beeping_appliance", 40, 50, "alarm_clock"),
            Reference("beeping_appliance", 70, 71, "microwave"),
        ],
        duration=120.0,
    )
    # two false alarms during the first alarm clock, none during the others
    t = match_file(it, [on("smoke_alarm", 12.0), on("smoke_alarm", 31.0)], "smoke_alarm", 15.0)
    other = match_file(it, [], "smoke_alarm", 15.0)
    t.add(other)
    episodes = t.metrics()["confuser_episodes"]
    assert t.false_alarms == 2
    assert episodes["alarm_clock"]["episodes"] == 4 and episodes["alarm_clock"]["false_alarms"] == 1
    assert episodes["alarm_clock"]["share"] == 0.25
    assert episodes["microwave"] == {
        "episodes": 2,
        "false_alarms": 0,
        "share": 0.0,
        "share_ci95": pytest.approx([0.0, 0.6576], abs=1e-4),
    }


def _t3_scores(seconds: float, start: float, cycles: int) -> list[tuple[np.ndarray, float]]:
    n = round(seconds * 50)
    s = np.full((n, len(HEADS)), 0.02, dtype=np.float32)
    t = (np.arange(n) + 1) / 50
    for c in range(cycles):
        for k in range(3):
            a = start + 4.0 * c + k
            s[(t > a) & (t <= a + 0.5), 0] = 0.9
    return [(s[i : i + 25], (i + 25) / 50) for i in range(0, n, 25)]


def test_evaluate_scored_on_a_tiny_labelled_set() -> None:
    pos = Scored(item([Reference("smoke_alarm", 3.0, 25.5, "T3")], 30.0, "shared:alarm.wav"),
                 _t3_scores(30.0, 3.0, 6), 30.0)  # fmt: skip
    neg = Scored(item([Reference("beeping_appliance", 2.0, 4.5, "microwave")], 30.0),
                 _t3_scores(30.0, 2.0, 1), 30.0)  # fmt: skip
    broken = Scored(item([], 10.0), [], 0.0, error="not a WAV")
    report = evaluate_scored([pos, neg, broken], {}, HEADS, ["low", "medium", "high"])
    rows = {(r["level"], r["event"], r["subset"]): r for r in report["rows"]}
    assert len([r for r in report["rows"] if r["subset"] == "all"]) == 3 * len(EVENTS)
    for level in ("low", "medium", "high"):
        smoke = rows[(level, "smoke_alarm", "all")]
        assert smoke["refs"] == 1 and smoke["recall"] == 1.0 and smoke["false_alarms"] == 0
        assert smoke["latency_median_s"] <= 10.0
        assert rows[(level, "smoke_alarm", "real")]["recall"] == 1.0
        assert rows[(level, "co_alarm", "all")]["detections"] == 0
    lat = [rows[(lv, "smoke_alarm", "all")]["latency_median_s"] for lv in ("high", "medium", "low")]
    assert lat == sorted(lat) and lat[0] < lat[2]
    md = format_markdown(report)
    assert "| medium | smoke_alarm | all | 1 | 100.0% [21-100] |" in md
    assert "95 % confidence intervals" in md
    assert "appliance episodes that set it off [95 %]: microwave 0/1 [0-79]" in md


def test_load_labels_errors(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="cannot read"):
        load_labels(tmp_path)
    (tmp_path / "labels.jsonl").write_text('{"file": "a.wav", "duration": 1.0}\n{"file": oops}\n')
    with pytest.raises(LabelError, match=r"labels.jsonl:2"):
        load_labels(tmp_path)
    (tmp_path / "labels.jsonl").write_text("\n")
    with pytest.raises(LabelError, match="no files"):
        load_labels(tmp_path)
    assert evaluate.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2


def _write_wav(path: Path, x: np.ndarray, rate: int = 16000) -> None:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def test_run_eval_end_to_end_writes_reports(tmp_path: Path) -> None:
    """Real files, the shipped model, the real Detector; a broken file is reported, not fatal."""
    data = tmp_path / "eval"
    data.mkdir()
    rate = 16000
    t = np.arange(rate * 12) / rate
    tone = 0.3 * np.sin(2 * np.pi * 3100 * t)
    gate = np.zeros_like(t)
    for c in range(3):
        for k in range(3):
            a = 1.0 + 4 * c + k
            gate[(t >= a) & (t < a + 0.5)] = 1.0
    _write_wav(data / "t3.wav", tone * gate)
    _write_wav(data / "quiet.wav", 0.001 * np.random.default_rng(0).standard_normal(rate * 8))
    (data / "bad.wav").write_bytes(b"not audio at all")
    smoke = {"event": "smoke_alarm", "start": 1.0, "end": 11.5, "pattern": "T3", "on": []}
    labels = [
        {"file": "t3.wav", "source": "synth:t3", "duration": 12.0, "events": [smoke]},
        {"file": "quiet.wav", "source": "noise:x", "duration": 8.0, "events": []},
        {"file": "bad.wav", "source": "x", "duration": 1.0, "events": []},
    ]
    for x in labels:
        x.update(split="eval", kind="positive" if x["events"] else "negative")
    (data / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    out = tmp_path / "report"
    report = run_eval(data, ["medium", "high"], "auto", out_dir=out)
    assert report["files"] == 3
    assert [f["file"] for f in report["failed_files"]] == ["bad.wav"]
    assert len(report["rows"]) == 2 * len(EVENTS)
    assert (out / "report.md").read_text().startswith("# Acoustic Guard evaluation")
    saved = json.loads((out / "report.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(report["rows"]))
    smoke = next(r for r in report["rows"] if r["event"] == "smoke_alarm")
    assert smoke["refs"] == 1 and smoke["negative_hours"] > 0


@pytest.mark.skipif(not ALARM_0800.exists(), reason="needs ../shared (the team's data)")
def test_replayed_scores_equal_a_real_detector_at_every_level() -> None:

    model = get_model()
    it = Item("0800", ALARM_0800, "eval", "shared:0800", 11.2, "positive", ())
    scored = evaluate.score_items([it], model)[0]
    assert scored.error is None and scored.chunks
    rec = read_audio(ALARM_0800)
    for level in ("low", "medium", "high", 0.8):
        det = Detector(model, sensitivity=level, hold_s=None)
        direct = det.feed(rec.pcm, rec.fmt) + det.flush()
        params = params_for(model.manifest.get("thresholds"), level)
        assert replay(scored, params, model.head_names) == direct, level
