"""The data builder's label contract and split rules (pure Python, no audio libraries)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from models.data import splits
from models.data.contract import validate_record


def _record(**over: object) -> dict[str, object]:
    rec: dict[str, object] = {
        "file": "00000.wav",
        "split": "train",
        "source": "synth:t3",
        "duration": 10.0,
        "events": [
            {
                "event": "smoke_alarm",
                "start": 1.0,
                "end": 3.5,
                "pattern": "T3",
                "on": [[1.0, 1.5], [2.0, 2.5], [3.0, 3.5]],
            }
        ],
        "kind": "positive",
    }
    rec.update(over)
    return rec


def test_valid_record_passes() -> None:
    assert validate_record(_record()) == []
    assert validate_record(_record(events=[], kind="negative")) == []
    # every data set the builder writes, the false-alarm soak included
    for split in splits.DATA_SETS:
        assert validate_record(_record(split=split, events=[], kind="negative")) == []


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"kind": "negative"}, "positive"),
        ({"split": "test"}, "split"),
        ({"duration": 2.0}, "outside"),
        (
            {
                "events": [
                    {"event": "smoke", "start": 1.0, "end": 1.5, "pattern": "T3", "on": [[1, 1.5]]}
                ]
            },
            "unknown",
        ),
        (
            {
                "events": [
                    {
                        "event": "co_alarm",
                        "start": 0.5,
                        "end": 1.5,
                        "pattern": "T4",
                        "on": [[1.0, 1.5]],
                    }
                ]
            },
            "first/last",
        ),
        (
            {
                "events": [
                    {
                        "event": "beeping_appliance",
                        "start": 1.0,
                        "end": 1.2,
                        "pattern": "microwave",
                        "on": [[1.0, 1.2]],
                    }
                ]
            },
            "positive",
        ),
    ],
)
def test_invalid_records_are_reported(over: dict[str, object], problem: str) -> None:
    errors = validate_record(_record(**over))
    assert any(problem in e for e in errors), errors


def test_held_out_alarms_only_in_eval() -> None:
    where = defaultdict(set)
    for name, split, _, _ in splits.ALARM_FILES:
        where[name].add(split)
    assert where["ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"] == {"eval"}
    assert where["ALRMElec_Smoke detector alarm 3 (ID 1153)_BSB.wav"] == {"eval"}
    training = {n for n, s, _, _ in splits.ALARM_FILES if s in ("train", "val")}
    assert not training & {n for n, s, _, _ in splits.ALARM_FILES if s == "eval"}


def test_music_speech_split_by_file() -> None:
    sets = [set(splits.MUSIC_SPEECH[s]) for s in splits.SPLITS]
    assert all(sets)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])


def test_no_noncommercial_music_in_training() -> None:
    """The shipped weights must not derive from CC BY-NC material: NC pieces are val/eval only."""
    folder = Path(__file__).resolve().parents[3] / "shared" / "data" / "music_speech"
    if not folder.is_dir():
        pytest.skip("../shared/data/music_speech is not beside the repository")
    licences = {
        name: (folder / name).with_suffix(".txt").read_text(errors="replace")
        for split in splits.SPLITS
        for name in splits.MUSIC_SPEECH[split]
    }
    noncommercial = {n for n, text in licences.items() if "-NC" in text.upper()}
    assert noncommercial, "expected the NC pieces to be recognisable from their credit files"
    assert not noncommercial & set(splits.MUSIC_SPEECH["train"])


def test_debian_files_in_one_split_each() -> None:
    seen: dict[str, str] = {}
    for pkg, path, _role, split in splits.DEBIAN_FILES:
        key = f"{pkg}/{path}"
        assert key not in seen, f"{key} in {seen.get(key)} and {split}"
        seen[key] = split
        assert split in splits.SPLITS
    roles_eval = {r for _, _, r, s in splits.DEBIAN_FILES if s == "eval"}
    assert {"glass", "neg_impact", "ringtone"} <= roles_eval


def test_espeak_voices_and_sentences_differ_between_train_and_eval() -> None:
    for table in (splits.ESPEAK_VOICES, splits.ESPEAK_SENTENCES):
        assert not set(table["train"]) & set(table["eval"])
        assert not set(table["val"]) & set(table["eval"])


def test_split_seeds_differ() -> None:
    assert set(splits.SEED_BASE) == set(splits.DATA_SETS)
    assert len(set(splits.SEED_BASE.values())) == len(splits.DATA_SETS)


def test_tune_set_is_rendered_from_val_sources() -> None:
    """Threshold tuning may see val's sources, never an evaluation source."""
    assert set(splits.SOURCES_OF) == set(splits.DATA_SETS)
    assert {s: splits.SOURCES_OF[s] for s in splits.SPLITS} == {s: s for s in splits.SPLITS}
    assert splits.SOURCES_OF["tune"] == "val"
    assert splits.SOURCES_OF["refit"] == "train"  # refit clips are training data
    assert splits.SOURCES_OF["soak"] == "eval"  # the false-alarm soak is held out too
    assert splits.SOURCES_OF["tune_soak"] == "val"  # the tuning soak is not: val sources
    assert splits.SOURCES_OF["train_soak"] == "train"  # mined for hard negatives
    assert set(splits.HELD_OUT) == {"eval", "soak"}


def _summary(root: Path, split: str, sources: list[str]) -> None:
    (root / split).mkdir(parents=True)
    (root / split / "SUMMARY.json").write_text(json.dumps({"sources": {s: 1 for s in sources}}))


def test_held_out_leaks_checks_every_data_set(tmp_path: Path) -> None:
    _summary(tmp_path, "eval", ["shared:held_out.wav", "synth:t3"])
    _summary(tmp_path, "train", ["shared:other.wav", "synth:t3"])
    _summary(tmp_path, "val", ["shared:other.wav"])
    assert splits.held_out_leaks(tmp_path) == set()  # synthetic recipes are not sources
    _summary(tmp_path, "tune", ["shared:held_out.wav"])
    assert splits.held_out_leaks(tmp_path) == {"shared:held_out.wav"}


def test_held_out_leaks_covers_the_soak_set(tmp_path: Path) -> None:
    _summary(tmp_path, "soak", ["shared:held_out.wav", "debian:held_out.ogg"])
    _summary(tmp_path, "train", ["debian:held_out.ogg"])
    assert splits.held_out_leaks(tmp_path) == {"debian:held_out.ogg"}
    _summary(tmp_path, "eval", ["shared:held_out.wav"])  # eval and soak may share sources
    assert splits.held_out_leaks(tmp_path) == {"debian:held_out.ogg"}
