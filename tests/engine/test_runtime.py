"""Model runtimes: onnxruntime and the numpy twin agree on real audio; streaming == one pass."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.features import (
    _FILTERS,
    _POWER_SCALE,
    _WINDOW,
    HOP,
    LOG_FLOOR,
    N_FFT,
    frames_to_logmel,
    logmel,
)
from custom_components.acoustic_guard.engine.runtime import (
    MODEL_DIR,
    Model,
    ModelError,
    get_model,
    load_model,
)
from custom_components.acoustic_guard.engine.wavfile import load_16k


@pytest.fixture(scope="module")
def alarm_features(alarm_wav: Path) -> np.ndarray:
    return logmel(load_16k(alarm_wav))


def test_manifest_matches_the_network(ort_model: Model) -> None:
    m = ort_model.manifest
    assert list(ort_model.head_names) == m["heads"]
    assert ort_model.head_names[:4] == ("smoke_alarm", "co_alarm", "glass_break", "footsteps")
    assert m["sample_rate"] == 16_000
    assert m["features"]["hop"] == 320 and m["features"]["n_mels"] == 40
    assert ort_model.chunk_frames == m["chunk_frames"] > 0


def test_onnxruntime_and_numpy_agree_on_real_audio(
    ort_model: Model, numpy_model: Model, alarm_features: np.ndarray
) -> None:
    a_state, b_state = ort_model.new_state(), numpy_model.new_state()
    a, b = [], []
    for i in range(0, alarm_features.shape[0], ort_model.chunk_frames):
        block = alarm_features[i : i + ort_model.chunk_frames]
        a.append(ort_model.run(block, a_state))
        b.append(numpy_model.run(block, b_state))
    sa, sb = np.concatenate(a), np.concatenate(b)
    assert sa.shape == (alarm_features.shape[0], len(ort_model.head_names))
    assert np.all((sa >= 0) & (sa <= 1))
    assert float(np.abs(sa - sb).max()) <= 1e-4
    assert float(np.abs(a_state.h - b_state.h).max()) <= 1e-4
    assert float(sa.std()) > 0  # the scores move with the audio


@pytest.mark.parametrize("runtime", ["onnxruntime", "numpy"])
def test_streaming_equals_one_pass(runtime: str, alarm_features: np.ndarray) -> None:
    model = get_model(runtime)
    whole = model.run(alarm_features, model.new_state())
    state = model.new_state()
    rng = np.random.default_rng(3)
    parts, i = [], 0
    while i < alarm_features.shape[0]:
        n = int(rng.integers(1, 40))
        parts.append(model.run(alarm_features[i : i + n], state))
        i += n
    assert float(np.abs(np.concatenate(parts) - whole).max()) <= 1e-5


def test_state_is_small(ort_model: Model) -> None:
    assert ort_model.new_state().nbytes <= 1024


def test_empty_and_bad_feature_shapes(ort_model: Model) -> None:
    out = ort_model.run(np.zeros((0, 40), dtype=np.float32), ort_model.new_state())
    assert out.shape == (0, len(ort_model.head_names))
    with pytest.raises(ValueError, match="features must be"):
        ort_model.run(np.zeros((5, 39), dtype=np.float32), ort_model.new_state())


def test_get_model_is_shared_and_thread_safe() -> None:
    seen: list[Model] = []
    threads = [threading.Thread(target=lambda: seen.append(get_model("numpy"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1
    assert get_model("auto").runtime == "onnxruntime"  # importable here, so auto picks it


def test_missing_or_broken_model_files_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path)
    for name in ("acoustic_guard.onnx", "acoustic_guard.npz", "manifest.json"):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    (tmp_path / "acoustic_guard.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"acoustic_guard\.onnx"):
        load_model(tmp_path, "onnxruntime")
    assert load_model(tmp_path, "numpy").runtime == "numpy"  # the twin needs only the .npz
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    manifest["heads"] = ["smoke_alarm"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="heads differ"):
        load_model(tmp_path, "numpy")
    with pytest.raises(ModelError, match="unknown runtime"):
        load_model(MODEL_DIR, "tensorflow")
    assert issubclass(ModelError, ValueError)


def test_logmel_is_exactly_the_reference_formula(alarm_wav: Path) -> None:
    """The streamlined front end computes bit for bit what training's formula computes."""
    x = load_16k(alarm_wav)[: 3 * 16_000]
    buf = np.concatenate((np.zeros(N_FFT - HOP, dtype=np.float32), x))
    n = (buf.size - (N_FFT - HOP)) // HOP
    frames = np.stack([buf[k * HOP : k * HOP + N_FFT] for k in range(n)])
    spec = np.fft.rfft(frames * _WINDOW, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32) * _POWER_SCALE
    mel = np.matmul(power, _FILTERS, dtype=np.float32)
    expected = np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)
    assert np.array_equal(frames_to_logmel(frames), expected)
    assert np.array_equal(logmel(x), expected)
    assert frames_to_logmel(frames[:0]).shape == (0, 40)
