"""YAMNet audio tagger (onnxruntime): 16 kHz mono float32 -> per-frame class scores."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

MODEL_DIR: Final = Path(__file__).parent / "model"
MODEL_FILE: Final = MODEL_DIR / "yamnet.onnx"
CLASS_MAP_FILE: Final = MODEL_DIR / "yamnet_class_map.csv"
SAMPLE_RATE: Final = 16_000
N_CLASSES: Final = 521
FRAME_HOP_S: Final = 0.48
"""One score frame per 0.48 s hop over 0.96 s windows."""
MIN_SAMPLES: Final = 15_600
"""YAMNet's shortest useful input (0.975 s: one 0.96 s window plus the STFT edge)."""
INPUT_NAME: Final = "waveform:0"

FloatArray = npt.NDArray[np.float32]


class ModelError(RuntimeError):
    """The tagger's model files are missing or unusable."""


def read_class_map(path: Path = CLASS_MAP_FILE) -> tuple[str, ...]:
    """AudioSet display names in index order from ``index,mid,display_name`` rows."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise ModelError(f"cannot read class map {path}: {err.strerror}") from err
    names = [""] * len(rows)
    for row in rows:
        names[int(row["index"])] = row["display_name"]
    if len(names) != N_CLASSES or not all(names):
        raise ModelError(f"class map {path} does not list {N_CLASSES} classes")
    return tuple(names)


class YamnetTagger:
    """One onnxruntime session, loaded once; ``tag`` is thread-safe (ORT ``run`` is)."""

    name: Final = "yamnet"

    def __init__(
        self,
        model_path: Path = MODEL_FILE,
        class_map_path: Path = CLASS_MAP_FILE,
        *,
        threads: int = 1,
    ) -> None:
        try:
            import onnxruntime as ort  # noqa: PLC0415 - optional heavy dependency
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ModelError("onnxruntime is not installed (pip install onnxruntime)") from err
        if not model_path.is_file():
            raise ModelError(f"model file {model_path} not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                os.fspath(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load {model_path}: {err}") from err
        inputs = [i.name for i in self._session.get_inputs()]
        if inputs != [INPUT_NAME]:
            raise ModelError(f"{model_path} has inputs {inputs}, expected [{INPUT_NAME!r}]")
        self._score_output = self._session.get_outputs()[0].name
        self.names = read_class_map(class_map_path)

    def tag(self, samples: FloatArray) -> FloatArray:
        """Scores ``[frames, 521]`` (sigmoid) for a 16 kHz mono clip; short clips are padded."""
        wave: FloatArray = np.asarray(samples, dtype=np.float32).reshape(-1)
        if wave.size < MIN_SAMPLES:
            wave = np.pad(wave, (0, MIN_SAMPLES - wave.size))
        (scores,) = self._session.run([self._score_output], {INPUT_NAME: wave})
        return np.asarray(scores, dtype=np.float32)
