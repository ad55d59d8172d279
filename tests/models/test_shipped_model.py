"""The shipped model files are a complete, trained release (models/build output).

Checks the files HACS installs (custom_components/acoustic_guard/model/) against the
contract of models/net.py and models/export.py, and runs the real ONNX graph on real audio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from custom_components.acoustic_guard.engine.features import logmel
from custom_components.acoustic_guard.engine.types import EVENTS, SENSITIVITIES
from custom_components.acoustic_guard.engine.wavfile import load_16k

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "custom_components" / "acoustic_guard" / "model"
SHARED = REPO.parent / "shared"
HEADS = ["smoke_alarm", "co_alarm", "glass_break", "footsteps", "beeping_appliance"]
ENCODER_KEYS = {
    "encoder.mean": (40,),
    "encoder.std": (40,),
    "encoder.conv1.weight": (32, 40, 3),
    "encoder.conv1.bias": (32,),
    "encoder.conv2.weight": (32, 32, 3),
    "encoder.conv2.bias": (32,),
    "encoder.gru.weight_ih_l0": (144, 32),
    "encoder.gru.weight_hh_l0": (144, 48),
    "encoder.gru.bias_ih_l0": (144,),
    "encoder.gru.bias_hh_l0": (144,),
}
HEAD_KEYS = {"0.weight": (16, 48), "0.bias": (16,), "2.weight": (1, 16), "2.bias": (1,)}


@pytest.fixture(scope="module")
def manifest() -> dict[str, object]:
    return dict(json.loads((MODEL_DIR / "manifest.json").read_text()))


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(
        str(MODEL_DIR / "acoustic_guard.onnx"), providers=["CPUExecutionProvider"]
    )


def _scores(session: ort.InferenceSession, feats: np.ndarray) -> np.ndarray:
    out = session.run(
        ["scores"],
        {
            "features": feats[None].astype(np.float32),
            "ctx1": np.zeros((1, 2, 40), np.float32),
            "ctx2": np.zeros((1, 2, 32), np.float32),
            "h": np.zeros((1, 1, 48), np.float32),
        },
    )
    return np.asarray(out[0])[0]


def test_manifest_is_a_trained_release(manifest: dict[str, object]) -> None:
    assert manifest["heads"] == HEADS
    version = str(manifest["version"])
    assert "untrained" not in version and "quick" not in version
    training = manifest["training"]
    assert isinstance(training, dict)
    assert training["clips"] > 0 and training["hours"] > 0 and training["data"]
    thresholds = manifest["thresholds"]
    assert isinstance(thresholds, dict)
    for event in EVENTS:
        assert set(SENSITIVITIES) <= set(thresholds[event])
    evaluation = manifest["evaluation"]
    assert isinstance(evaluation, dict)
    assert evaluation["model_version"] == version
    assert evaluation["results"]["medium"]["smoke_alarm"]["all"]["refs"] > 0


def test_onnx_contract(session: ort.InferenceSession) -> None:
    assert (MODEL_DIR / "acoustic_guard.onnx").stat().st_size <= 1_000_000
    ins = {i.name: i.shape for i in session.get_inputs()}
    outs = [o.name for o in session.get_outputs()]
    assert list(ins) == ["features", "ctx1", "ctx2", "h"]
    assert outs == ["scores", "ctx1_out", "ctx2_out", "h_out"]
    assert ins["features"][2] == 40 and ins["ctx1"][1:] == [2, 40]
    assert ins["ctx2"][1:] == [2, 32] and ins["h"][2] == 48
    assert isinstance(ins["features"][0], str) and isinstance(ins["features"][1], str)


def test_npz_has_the_state_dict_keys() -> None:
    with np.load(MODEL_DIR / "acoustic_guard.npz", allow_pickle=False) as z:
        assert list(z["head_names"]) == HEADS
        expected = dict(ENCODER_KEYS)
        for head in HEADS:
            expected.update({f"heads.{head}.{k}": v for k, v in HEAD_KEYS.items()})
        assert set(z.files) - {"head_names"} == set(expected)
        for key, shape in expected.items():
            assert z[key].shape == shape and z[key].dtype == np.float32
        assert np.all(z["encoder.std"] > 0)


def test_real_t3_alarm_lights_the_alarm_heads(session: ort.InferenceSession) -> None:
    """The train-split real T3 recording: the alarm heads are on while it beeps."""
    wav = SHARED / "data" / "alarms" / "325367__moonlightshadow__fire-house-alarm.wav"
    if not wav.exists():
        pytest.skip(f"{wav} not available")
    scores = _scores(session, logmel(load_16k(wav)))
    alarm = np.maximum(scores[:, 0], scores[:, 1])
    assert int((alarm > 0.5).sum()) >= 50  # >= 1 s of beeping frames


@pytest.mark.parametrize("level", [1e-4, 1e-3, 1e-2, 1e-1])
def test_steady_noise_from_a_fresh_stream_is_no_event(
    session: ort.InferenceSession, level: float
) -> None:
    """A stream that starts on steady white noise (any level): no head lights up for more
    than a few frames (an earlier model read the noise onset as glass for ~1 s)."""
    noise = np.random.default_rng(0).standard_normal(16_000 * 5).astype(np.float32) * level
    scores = _scores(session, logmel(noise))[:, :4]
    assert int((scores > 0.5).sum(axis=0).max()) <= 10
