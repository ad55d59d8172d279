"""The ``acoustic-guard`` command, run as a real subprocess of the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from custom_components.acoustic_guard.engine.cli import pair_events
from custom_components.acoustic_guard.engine.types import Detection

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "acoustic-guard"
KEYS = {"file", "event", "start", "end", "confidence", "pattern"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} missing: run scripts/bootstrap (installs the console script)")
    return subprocess.run(
        [str(SCRIPT), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def test_detect_json_with_a_bad_file_among_good_ones(alarm_wav: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    proc = cli("detect", "--json", "--sensitivity", "high", str(alarm_wav), str(bad), str(empty))
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 2  # exactly one line per bad file
    assert err[0].startswith(f"acoustic-guard: {bad}: not a WAV file")  # "... and ffmpeg ..."
    assert err[1] == f"acoustic-guard: {empty}: empty file"
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    for e in events:
        assert set(e) == KEYS
        assert e["file"] == str(alarm_wav)
        assert e["event"] in {"smoke_alarm", "co_alarm", "glass_break", "footsteps"}
        assert 0.0 <= e["start"] <= 12.0 and 0.0 <= e["confidence"] <= 1.0
        assert e["end"] is None or e["end"] >= e["start"]


def test_detect_all_good_exits_zero_and_runtimes_agree(alarm_wav: Path) -> None:
    a = cli("detect", "--json", "--runtime", "onnxruntime", str(alarm_wav))
    b = cli("detect", "--json", "--runtime", "numpy", str(alarm_wav))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stderr == ""
    ea = [json.loads(x) for x in a.stdout.splitlines()]
    eb = [json.loads(x) for x in b.stdout.splitlines()]
    assert [e["event"] for e in ea] == [e["event"] for e in eb]


def test_usage_errors() -> None:
    proc = cli("detect", "--sensitivity", "extreme", "x.wav")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = cli("detect")
    assert proc.returncode == 2 and "FILE" in proc.stderr


def test_pair_events_joins_on_and_off() -> None:
    dets = [
        Detection("smoke_alarm", True, 1.0, None, 8.0, 0.7, "T3"),
        Detection("glass_break", True, 3.0, None, 3.5, 0.9, "shatter"),
        Detection("smoke_alarm", False, 1.0, 30.0, 30.0, 0.8, "T3"),
    ]
    events = pair_events("f.wav", dets)
    assert [(e.event, e.start, e.end) for e in events] == [
        ("smoke_alarm", 1.0, 30.0),
        ("glass_break", 3.0, None),
    ]
    assert events[0].confidence == 0.8
