"""Log-mel front end shared by training and inference (numpy only).

The same code computes the training features (``models/``) and the streaming features
in the integration, so the model never sees a front end it was not trained on.

Working format: 16 kHz mono float32 in [-1, 1]. One frame every ``HOP`` samples (20 ms),
each frame the ``N_FFT`` samples that *end* at that point (causal: no look-ahead).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
N_FFT = 512
HOP = 320
N_MELS = 40
F_MIN = 50.0
F_MAX = 8_000.0
LOG_FLOOR = 1e-10
FRAME_RATE = SAMPLE_RATE / HOP  # 50 frames per second

FloatArray = npt.NDArray[np.float32]


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_edges_hz(
    n_mels: int = N_MELS, f_min: float = F_MIN, f_max: float = F_MAX
) -> npt.NDArray[np.float64]:
    """The ``n_mels + 2`` HTK-mel filter edges in Hz (filter ``m`` peaks at edge ``m + 1``)."""
    mel_edges = np.linspace(
        _hz_to_mel(np.array(f_min)), _hz_to_mel(np.array(f_max)), n_mels + 2, dtype=np.float64
    )
    return _mel_to_hz(mel_edges)


def mel_filterbank(
    n_mels: int = N_MELS,
    n_fft: int = N_FFT,
    sample_rate: int = SAMPLE_RATE,
    f_min: float = F_MIN,
    f_max: float = F_MAX,
) -> FloatArray:
    """Triangular HTK-mel filters, shape ``[n_fft // 2 + 1, n_mels]``."""
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_edges_hz(n_mels, f_min, f_max)
    fb = np.zeros((bins.size, n_mels))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (bins - lo) / max(mid - lo, 1e-9)
        down = (hi - bins) / max(hi - mid, 1e-9)
        fb[:, m] = np.maximum(0.0, np.minimum(up, down))
    return fb.astype(np.float32)


_WINDOW: FloatArray = np.hanning(N_FFT).astype(np.float32)
# The window once per frame for up to a model chunk of frames: multiplying equal shapes is
# faster than broadcasting one row (the same products).
_WINDOW_ROWS: FloatArray = np.tile(_WINDOW, (64, 1))
_FILTERS: FloatArray = mel_filterbank()
# Scale so that a full-scale sine lands near log(1) = 0 rather than in the hundreds.
_POWER_SCALE = np.float32(4.0 / float(np.sum(_WINDOW) ** 2))


def frames_to_logmel(frames: FloatArray) -> FloatArray:
    """``[n, N_FFT]`` windows of samples -> ``[n, N_MELS]`` log-mel energies (float32)."""
    n = frames.shape[0]
    window = _WINDOW_ROWS[:n] if n <= _WINDOW_ROWS.shape[0] else _WINDOW
    # complex64 with numpy 2 (complex128 with numpy 1.x) [n, N_FFT // 2 + 1]
    spec = np.fft.rfft(np.multiply(frames, window), axis=1)
    # |X|^2 = re*re + im*im on the interleaved real view, squared in place: the same
    # operations as ``spec.real**2 + spec.imag**2``, with fewer temporary arrays.
    parts = spec.view(spec.real.dtype).reshape(n, spec.shape[1], 2)
    np.multiply(parts, parts, out=parts)
    power: FloatArray = np.add(parts[:, :, 0], parts[:, :, 1]).astype(np.float32, copy=False)
    power *= _POWER_SCALE
    mel: FloatArray = np.matmul(power, _FILTERS, dtype=np.float32)
    np.maximum(mel, LOG_FLOOR, out=mel)
    out: FloatArray = np.log(mel, out=mel)
    return out


def logmel(samples: FloatArray) -> FloatArray:
    """Whole-signal log-mel (training, offline use): identical to streaming a fresh stream.

    The signal is treated as if preceded by ``N_FFT - HOP`` zeros, exactly like a new
    :class:`LogMelStream`, so frame ``k`` covers samples ending at ``(k + 1) * HOP``.
    """
    stream = LogMelStream()
    return stream.feed(samples)


@dataclass(slots=True)
class LogMelStream:
    """Streaming log-mel: any chunking of the input gives the same frames."""

    _buf: FloatArray = field(default_factory=lambda: np.zeros(N_FFT - HOP, dtype=np.float32))

    def feed(self, samples: FloatArray) -> FloatArray:
        """Append samples; return the log-mel frames completed by them (``[n, N_MELS]``)."""
        buf = np.concatenate((self._buf, np.asarray(samples, dtype=np.float32)))
        n = (buf.size - (N_FFT - HOP)) // HOP
        if n <= 0:
            self._buf = buf
            return np.zeros((0, N_MELS), dtype=np.float32)
        # A read-only strided view: frame k is buf[k * HOP : k * HOP + N_FFT] (no copy).
        windows: FloatArray = np.ndarray(
            (n, N_FFT), np.float32, buf, 0, (HOP * buf.itemsize, buf.itemsize)
        )
        out = frames_to_logmel(windows)
        self._buf = buf[n * HOP :].copy()
        return out

    def reset(self) -> None:
        self._buf = np.zeros(N_FFT - HOP, dtype=np.float32)

    @property
    def state_bytes(self) -> int:
        return int(self._buf.nbytes)
