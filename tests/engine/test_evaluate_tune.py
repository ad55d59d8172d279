"""``models/tune.py``: selection rules, the eval-split guard, and a real run on a tiny set."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import wave
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np

from custom_components.acoustic_guard.engine.aggregate import DEFAULTS, EventParams
from custom_components.acoustic_guard.engine.runtime import MODEL_DIR

ROOT = Path(__file__).resolve().parents[2]


def _load_tune() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agtune", ROOT / "models" / "tune.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["agtune"] = mod
    spec.loader.exec_module(mod)
    return mod


tune = _load_tune()


def _m(recall: float, fa: float, f1: float, lat: float = 1.0) -> dict[str, float]:
    return {"recall": recall, "fa_per_hour": fa, "f1": f1, "latency_median_s": lat}


def test_select_is_monotone_and_follows_the_objectives() -> None:
    base = DEFAULTS["glass_break"]["medium"]

    def p(thr: float, ev: float) -> EventParams:
        return replace(base, threshold=thr, evidence=ev)

    results = [
        (p(0.3, 3), _m(1.00, 6.0, 0.70)),  # loosest: too many false alarms for any level
        (p(0.4, 5), _m(0.95, 2.0, 0.80)),  # high's pick (best recall within 3 FA/h)
        (p(0.5, 8), _m(0.90, 0.5, 0.90)),  # medium's pick (best F1 within 1 FA/h)
        (p(0.6, 8), _m(0.80, 0.0, 0.85)),  # low's pick: no false alarms, recall >= 85 % of medium
        (p(0.8, 16), _m(0.40, 0.0, 0.55)),  # too deaf for low
        (p(0.3, 16), _m(0.50, 0.0, 0.60)),  # neither looser nor stricter than medium
        (p(0.5, 5), _m(0.95, 0.9, 0.95, lat=3.0)),  # best F1 but latency beyond 2 s
    ]
    chosen = tune.select("glass_break", results)
    assert chosen["medium"][0] == p(0.5, 8)
    assert chosen["high"][0] == p(0.4, 5)
    assert chosen["low"][0] == p(0.6, 8)
    assert tune.stricter_or_equal(chosen["low"][0], chosen["medium"][0])
    assert tune.stricter_or_equal(chosen["medium"][0], chosen["high"][0])


def _tone_wav(path: Path, seconds: float, beeps: list[tuple[float, float]]) -> None:
    rate = 16000
    t = np.arange(round(seconds * rate)) / rate
    x = 0.001 * np.random.default_rng(1).standard_normal(t.size)
    for a, b in beeps:
        x[(t >= a) & (t < b)] += 0.3 * np.sin(2 * np.pi * 3100 * t[(t >= a) & (t < b)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def _tiny_set(folder: Path, split: str) -> None:
    folder.mkdir(parents=True)
    t3 = [(1.0 + 4 * c + k, 1.5 + 4 * c + k) for c in range(3) for k in range(3)]
    _tone_wav(folder / "a.wav", 13.0, t3)
    _tone_wav(folder / "b.wav", 6.0, [])
    rows = [
        {"file": "a.wav", "duration": 13.0, "kind": "positive",
         "events": [{"event": "smoke_alarm", "start": 1.0, "end": 11.5, "pattern": "T3"}]},
        {"file": "b.wav", "duration": 6.0, "kind": "negative", "events": []},
    ]  # fmt: skip
    text = "".join(json.dumps({**r, "split": split, "source": "synth:x"}) + "\n" for r in rows)
    (folder / "labels.jsonl").write_text(text)


def test_refuses_the_evaluation_split(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "somewhere", "eval")
    assert tune.main(["--data", str(tmp_path / "somewhere"), "--dry-run"]) == 2
    # hidden among other folders too
    _tiny_set(tmp_path / "val", "val")
    folders = [str(tmp_path / "val"), str(tmp_path / "somewhere")]
    assert tune.main(["--data", *folders, "--dry-run"]) == 2


def test_refuses_the_false_alarm_soak(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "elsewhere", "soak")  # held out like eval, by its labels
    assert tune.main(["--data", str(tmp_path / "elsewhere"), "--dry-run"]) == 2
    _tiny_set(tmp_path / "soak", "val")  # or by its folder's name
    assert tune.main(["--data", str(tmp_path / "soak"), "--dry-run"]) == 2


def test_real_run_writes_three_monotone_levels(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "val", "val")
    _tiny_set(tmp_path / "tune", "tune")
    model = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model)
    out = tmp_path / "tune.json"
    folders = [str(tmp_path / "val"), str(tmp_path / "tune")]
    args = ["--data", *folders, "--manifest", str(model / "manifest.json")]
    assert tune.main([*args, "--out", str(out), "--events", "smoke_alarm,glass_break"]) == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["tuning"]["files"] == 4  # both folders
    assert len(manifest["tuning"]["data"]) == 2
    for event in ("smoke_alarm", "glass_break"):
        levels = {
            lv: EventParams.from_mapping(v) for lv, v in manifest["thresholds"][event].items()
        }
        assert set(levels) == {"low", "medium", "high"}
        assert tune.stricter_or_equal(levels["low"], levels["medium"])
        assert tune.stricter_or_equal(levels["medium"], levels["high"])
    assert json.loads(out.read_text())["grid"]["glass_break"]
