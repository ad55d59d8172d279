"""Model runtime: the shipped network behind one small interface, two back ends.

* ``onnxruntime``: one ``InferenceSession`` (one intra-op thread) shared by every stream;
  ``InferenceSession.run`` is thread-safe, so streams only own their small state.
* ``numpy``: a pure-numpy twin of ``models/net.py`` reading the ``.npz`` state dict
  (PyTorch Conv1d / GRU semantics), for hosts without onnxruntime.

``runtime="auto"`` picks onnxruntime when it can be imported, else numpy. Both take log-mel
frames ``[T, 40]`` plus a :class:`StreamState` and return sigmoid scores ``[T, n_heads]``,
updating the state in place, so streaming in chunks equals one pass over the whole signal.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from .features import N_MELS

FloatArray = npt.NDArray[np.float32]
RuntimeName = Literal["auto", "onnxruntime", "numpy"]
RUNTIMES: Final = ("auto", "onnxruntime", "numpy")

MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model"
ONNX_FILE: Final = "acoustic_guard.onnx"
NPZ_FILE: Final = "acoustic_guard.npz"
MANIFEST_FILE: Final = "manifest.json"

CONTEXT: Final = 2  # conv kernel 3 -> two frames of left context


class ModelError(ValueError):
    """The model files are missing, unreadable or inconsistent; the message says which.

    A ``ValueError`` so callers that guard model loading with ``except (OSError, ValueError)``
    catch it.
    """


@dataclass(slots=True)
class StreamState:
    """Recurrent state of one stream (a few hundred bytes)."""

    ctx1: FloatArray
    ctx2: FloatArray
    h: FloatArray

    @classmethod
    def zeros(cls, conv_channels: int, hidden: int) -> StreamState:
        return cls(
            ctx1=np.zeros((1, CONTEXT, N_MELS), dtype=np.float32),
            ctx2=np.zeros((1, CONTEXT, conv_channels), dtype=np.float32),
            h=np.zeros((1, 1, hidden), dtype=np.float32),
        )

    def reset(self) -> None:
        self.ctx1.fill(0.0)
        self.ctx2.fill(0.0)
        self.h.fill(0.0)

    @property
    def nbytes(self) -> int:
        return int(self.ctx1.nbytes + self.ctx2.nbytes + self.h.nbytes)


class _Backend(Protocol):
    def run(self, features: FloatArray, state: StreamState) -> FloatArray: ...


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = (1.0 / (1.0 + np.exp(-x))).astype(np.float32, copy=False)
    return out


class NumpyNet:
    """Pure-numpy twin of ``AcousticGuardNet.forward`` (streaming, batch of one)."""

    def __init__(self, weights: dict[str, FloatArray], head_names: tuple[str, ...]) -> None:
        try:
            w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
            self.mean = w["encoder.mean"]
            self.inv_std = (1.0 / w["encoder.std"]).astype(np.float32)
            # Conv1d weight [out, in, k] -> im2col matrix [k * in, out] over the frames t..t+2.
            c1 = w["encoder.conv1.weight"]
            c2 = w["encoder.conv2.weight"]
            self.w1 = np.ascontiguousarray(c1.transpose(2, 1, 0).reshape(-1, c1.shape[0]))
            self.b1 = w["encoder.conv1.bias"]
            self.w2 = np.ascontiguousarray(c2.transpose(2, 1, 0).reshape(-1, c2.shape[0]))
            self.b2 = w["encoder.conv2.bias"]
            # GRU, gates (r, z, n). sigmoid(x) = 0.5 + 0.5 tanh(x / 2): the r/z columns are
            # pre-scaled by 0.5 and their hidden biases folded into the input bias.
            w_ih = w["encoder.gru.weight_ih_l0"].T.copy()
            w_hh = w["encoder.gru.weight_hh_l0"].T.copy()
            b_ih = w["encoder.gru.bias_ih_l0"].copy()
            b_hh = w["encoder.gru.bias_hh_l0"]
            hid = w_hh.shape[0]
            b_ih[: 2 * hid] += b_hh[: 2 * hid]
            for arr in (w_ih, w_hh):
                arr[:, : 2 * hid] *= 0.5
            b_ih[: 2 * hid] *= 0.5
            self.w_ih = np.ascontiguousarray(w_ih)
            self.w_hh = np.ascontiguousarray(w_hh)
            self.b_ih = b_ih
            self.b_hn = np.ascontiguousarray(b_hh[2 * hid :])
            # All heads at once: first layers side by side, second layers block-diagonal.
            first = [w[f"heads.{n}.0.weight"] for n in head_names]
            self.hw1 = np.ascontiguousarray(np.concatenate(first, axis=0).T)
            self.hb1 = np.concatenate([w[f"heads.{n}.0.bias"] for n in head_names])
            hidden = first[0].shape[0]
            hw2 = np.zeros((hidden * len(head_names), len(head_names)), dtype=np.float32)
            for i, n in enumerate(head_names):
                hw2[i * hidden : (i + 1) * hidden, i] = w[f"heads.{n}.2.weight"][0]
            self.hw2 = hw2
            self.hb2 = np.concatenate([w[f"heads.{n}.2.bias"] for n in head_names])
        except KeyError as err:
            raise ModelError(f"model weights lack {err.args[0]!r}") from err
        self.conv_channels = int(self.b1.shape[0])
        self.hidden = int(self.w_hh.shape[0])

    def run(self, features: FloatArray, state: StreamState) -> FloatArray:
        x = (features - self.mean) * self.inv_std
        t = x.shape[0]
        a = np.concatenate((state.ctx1[0], x))
        y = np.maximum(np.concatenate((a[:t], a[1 : t + 1], a[2:]), axis=1) @ self.w1 + self.b1, 0)
        b = np.concatenate((state.ctx2[0], y))
        z = np.maximum(np.concatenate((b[:t], b[1 : t + 1], b[2:]), axis=1) @ self.w2 + self.b2, 0)
        state.ctx1[0] = a[-CONTEXT:]
        state.ctx2[0] = b[-CONTEXT:]
        # GRU (PyTorch gate order r, z, n): input projections for the whole chunk in one matmul.
        gi = z @ self.w_ih + self.b_ih
        hid = self.hidden
        h2 = 2 * hid
        g_rz, g_n = gi[:, :h2], gi[:, h2:]
        h = state.h[0, 0].copy()
        out = np.empty((t, hid), dtype=np.float32)
        w_hh, b_hn = self.w_hh, self.b_hn
        tanh = np.tanh
        for i in range(t):
            gh = h @ w_hh
            rz = tanh(g_rz[i] + gh[:h2])
            rz *= 0.5
            rz += 0.5
            n = tanh(g_n[i] + rz[:hid] * (gh[h2:] + b_hn))
            h = n + rz[hid:] * (h - n)
            out[i] = h
        state.h[0, 0] = h
        hid = np.maximum(out @ self.hw1 + self.hb1, 0)
        return _sigmoid((hid @ self.hw2 + self.hb2).astype(np.float32, copy=False))


class OnnxNet:
    """The exported graph in one onnxruntime session (thread-safe ``run``)."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort  # noqa: PLC0415 - optional dependency

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load {path.name}: {err}") from err
        names = {i.name for i in self._session.get_inputs()}
        if names != {"features", "ctx1", "ctx2", "h"}:
            raise ModelError(
                f"{path.name} has inputs {sorted(names)}, expected the net.py contract"
            )
        self._outputs = ["scores", "ctx1_out", "ctx2_out", "h_out"]

    def run(self, features: FloatArray, state: StreamState) -> FloatArray:
        scores, c1, c2, h = self._session.run(
            self._outputs,
            {"features": features[None], "ctx1": state.ctx1, "ctx2": state.ctx2, "h": state.h},
        )
        state.ctx1 = np.asarray(c1, dtype=np.float32)
        state.ctx2 = np.asarray(c2, dtype=np.float32)
        state.h = np.asarray(h, dtype=np.float32)
        out: FloatArray = np.asarray(scores[0], dtype=np.float32)
        return out


@dataclass(slots=True)
class Model:
    """The loaded model: manifest, head names, and one back end shared by all streams."""

    manifest: dict[str, Any]
    head_names: tuple[str, ...]
    chunk_frames: int
    runtime: str
    conv_channels: int
    hidden: int
    _backend: _Backend = field(repr=False)

    def new_state(self) -> StreamState:
        return StreamState.zeros(self.conv_channels, self.hidden)

    def run(self, features: FloatArray, state: StreamState) -> FloatArray:
        """Log-mel frames ``[T, 40]`` -> scores ``[T, n_heads]``; ``state`` moves forward."""
        feats = np.ascontiguousarray(features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != N_MELS:
            raise ValueError(f"features must be [T, {N_MELS}], got {list(feats.shape)}")
        if feats.shape[0] == 0:
            return np.zeros((0, len(self.head_names)), dtype=np.float32)
        return self._backend.run(feats, state)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def load_model(model_dir: Path | str | None = None, runtime: str = "auto") -> Model:
    """Load the manifest, the weights and the chosen back end (raises :class:`ModelError`)."""
    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    folder = Path(model_dir) if model_dir is not None else MODEL_DIR
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        with np.load(folder / NPZ_FILE, allow_pickle=False) as npz:
            weights = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read the model in {folder}: {err}") from err
    heads = tuple(str(h) for h in manifest.get("heads", ()))
    if not heads:
        raise ModelError(f"{MANIFEST_FILE} lists no heads")
    if "head_names" in weights and tuple(str(h) for h in weights.pop("head_names")) != heads:
        raise ModelError(f"{NPZ_FILE} heads differ from {MANIFEST_FILE}")
    twin = NumpyNet(weights, heads)
    chunk_frames = int(manifest.get("chunk_frames", 25))
    if chunk_frames <= 0:
        raise ModelError(f"bad chunk_frames {chunk_frames}")
    if runtime == "auto":
        runtime = "onnxruntime" if onnxruntime_available() else "numpy"
    backend: _Backend
    if runtime == "onnxruntime":
        if not onnxruntime_available():
            raise ModelError("runtime 'onnxruntime' requested but onnxruntime is not installed")
        backend = OnnxNet(folder / ONNX_FILE)
    else:
        backend = twin
    return Model(
        manifest=manifest,
        head_names=heads,
        chunk_frames=chunk_frames,
        runtime=runtime,
        conv_channels=twin.conv_channels,
        hidden=twin.hidden,
        _backend=backend,
    )


_CACHE: dict[tuple[str, str], Model] = {}
_LOCK = threading.Lock()


def get_model(runtime: str = "auto", model_dir: Path | str | None = None) -> Model:
    """The process-wide shared model for ``runtime`` (loaded once, thread-safe)."""
    folder = str(Path(model_dir).resolve() if model_dir is not None else MODEL_DIR)
    if runtime == "auto":
        runtime = "onnxruntime" if onnxruntime_available() else "numpy"
    key = (runtime, folder)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = load_model(folder, runtime)
            _CACHE[key] = model
        return model
