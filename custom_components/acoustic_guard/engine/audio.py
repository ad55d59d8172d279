"""PCM bytes in any supported layout -> 16 kHz mono float32, streaming (numpy only).

:class:`AudioConverter` keeps per-stream state so that *how* a caller cuts the byte stream
never changes a single output bit:

* a partial sample frame at the end of a chunk is carried over to the next chunk;
* the resampler (:mod:`.resample`) and the DC-blocking high-pass both work on fixed
  blocks aligned to the stream position, so every output sample is computed by the same
  operations whatever the chunking.

Bad samples (NaN, inf) become 0 and are counted; float input is clipped to [-1, 1].
A format change mid-stream flushes the old resampler and starts a fresh one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .features import SAMPLE_RATE
from .resample import Resampler
from .types import AudioError, AudioFormat

FloatArray = npt.NDArray[np.float32]

__all__ = [
    "AudioConverter",
    "ConverterStats",
    "HighPass",
    "Resampler",
    "decode_mono",
    "decode_pcm",
    "mix_to_mono",
    "sanitize",
    "to_16k_mono",
    "unscaled_gain",
    "validate_format",
]

MIN_RATE: Final = 8_000
MAX_RATE: Final = 192_000
MAX_CHANNELS: Final = 32

PCM_TYPES: Final = (bytes, bytearray, memoryview)  # (a tuple: ``isinstance`` checks it fastest)

# DC blocker: one-pole low-pass (corner HP_CORNER_HZ) subtracted, in blocks of HP_BLOCK (20 ms).
HP_CORNER_HZ: Final = 5.0
HP_BLOCK: Final = 320


def validate_format(fmt: AudioFormat) -> None:
    """Raise :class:`AudioError` unless ``fmt`` is a layout the converter handles."""
    if not isinstance(fmt, AudioFormat):
        raise AudioError(f"expected an AudioFormat, got {type(fmt).__name__}")
    if not MIN_RATE <= fmt.rate <= MAX_RATE:
        raise AudioError(f"sample rate {fmt.rate} Hz unsupported ({MIN_RATE}-{MAX_RATE} Hz)")
    if fmt.width not in (1, 2, 3, 4):
        raise AudioError(f"sample width {fmt.width} bytes unsupported (1, 2, 3 or 4)")
    if fmt.is_float and fmt.width != 4:
        raise AudioError(f"float samples must be 4 bytes wide, not {fmt.width}")
    if not 1 <= fmt.channels <= MAX_CHANNELS:
        raise AudioError(f"{fmt.channels} channels unsupported (1-{MAX_CHANNELS})")


def decode_pcm(data: bytes | memoryview, fmt: AudioFormat) -> FloatArray:
    """Whole sample frames of little-endian PCM -> float32 ``[n_frames, channels]``.

    Integer formats are scaled to [-1, 1); float32 is returned as is (may hold NaN/inf).
    """
    x: FloatArray
    if fmt.width == 1:
        x = np.frombuffer(data, dtype=np.uint8).astype(np.float32)
        x -= np.float32(128.0)
        x *= np.float32(1 / 128)
    elif fmt.width == 2:
        x = np.frombuffer(data, dtype="<i2").astype(np.float32) * np.float32(1 / 32768)
    elif fmt.width == 3:
        b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = (v ^ 0x800000) - 0x800000
        x = v.astype(np.float32) * np.float32(1 / 8388608)
    elif fmt.is_float:
        x = np.frombuffer(data, dtype="<f4").astype(np.float32)
    else:
        wide = np.frombuffer(data, dtype="<i4").astype(np.float64) * (1 / 2147483648)
        x = wide.astype(np.float32)
    out: FloatArray = x.reshape(-1, fmt.channels)
    return out


_INT_DTYPES: Final[dict[int, np.dtype[np.integer]]] = {
    1: np.dtype(np.uint8),
    2: np.dtype("<i2"),
    4: np.dtype("<i4"),
}
_FULL_SCALE: Final = {1: 128.0, 2: 32768.0, 3: 8388608.0, 4: 2147483648.0}


def unscaled_gain(fmt: AudioFormat) -> float | None:
    """The factor :func:`decode_mono` with ``scaled=False`` leaves out (None: it cannot)."""
    if fmt.is_float or fmt.width not in _INT_DTYPES or fmt.width == 4:
        return None
    return 1.0 / (_FULL_SCALE[fmt.width] * fmt.channels)


def decode_mono(
    data: bytes | memoryview,
    fmt: AudioFormat,
    out: FloatArray | None = None,
    *,
    scaled: bool = True,
) -> FloatArray:
    """Whole sample frames -> mono float32 (fused decode + channel average, fewer passes).

    ``out``: where to write the samples (one per frame; returned); a new array if None.
    ``scaled=False`` (8- and 16-bit integers only, see :func:`unscaled_gain`): the sum of the
    channels' integer values, exact in float32, for a consumer that applies
    ``unscaled_gain(fmt)`` itself (the resampler folds it into its weights).
    """
    if not scaled and unscaled_gain(fmt) is None:
        raise ValueError(f"{fmt} cannot be decoded unscaled")
    if fmt.is_float or fmt.width in (3, 4):  # (int32 does not fit float32 exactly)
        mono = mix_to_mono(decode_pcm(data, fmt))
        if out is None:
            return mono
        out[...] = mono
        return out
    ch = fmt.channels
    ints = np.frombuffer(data, dtype=_INT_DTYPES[fmt.width])
    scale = np.float32(1.0 / (_FULL_SCALE[fmt.width] * ch))
    if ch == 1 and out is not None and fmt.width == 2 and not scaled:
        out[...] = ints  # one pass: int16 -> float32 straight into ``out`` (exact)
        return out
    if ch == 2 and fmt.width == 2:
        # Each frame as one little-endian int32 (left in the low half, right in the high
        # half): both channels come out of contiguous integer shifts, faster than adding the
        # interleaved (strided) samples; the sum is the same exact integer.
        frames32 = np.frombuffer(data, dtype="<i4")
        both = np.left_shift(frames32, 16)
        np.right_shift(both, 16, out=both)  # left, sign-extended
        both += np.right_shift(frames32, 16)  # + right
        if out is None:
            out = both.astype(np.float32)
        else:
            out[...] = both
        if scaled:
            out *= scale
        return out
    x: FloatArray = ints.astype(np.float32)
    if fmt.width == 1:
        x -= np.float32(128.0)
    if ch == 1:
        if out is None:
            if scaled:
                x *= scale
            return x
        if not scaled:
            out[...] = x
            return out
        return np.multiply(x, scale, out=out)
    frames = x.reshape(-1, ch)
    # Sums of <= 32 small integers are exact in float32.
    acc: FloatArray = np.add(frames[:, 0], frames[:, 1], out=out)
    for c in range(2, ch):
        acc += frames[:, c]
    if scaled:
        acc *= scale
    return acc


def mix_to_mono(frames: FloatArray) -> FloatArray:
    """Average the channels (same operations for every sample, whatever the chunking)."""
    n_ch = frames.shape[1]
    if n_ch == 1:
        return np.ascontiguousarray(frames[:, 0])
    acc = frames[:, 0].copy()
    for c in range(1, n_ch):
        acc += frames[:, c]
    acc *= np.float32(1.0 / n_ch)
    return acc


def sanitize(x: FloatArray) -> tuple[FloatArray, int]:
    """NaN/inf -> 0 (returns how many), then clip to [-1, 1]."""
    bad = ~np.isfinite(x)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        x = x.copy()
        x[bad] = 0.0
    return np.clip(x, -1.0, 1.0).astype(np.float32, copy=False), n_bad


class HighPass:
    """Stateful DC blocker: subtract a one-pole low-pass (the DC estimate) of the signal.

    The one-pole low-pass ``m[n] = a m[n-1] + (1 - a) x[n]`` is evaluated exactly at the
    end of every fixed block of :data:`HP_BLOCK` samples (a weighted block sum, no sequential
    per-sample loop) and interpolated linearly inside the block; ``y = x - m``. Below the
    corner frequency this is the one-pole high-pass ``1 - (1 - a) / (1 - a z^-1)``; a DC
    offset is gone within a few time constants (~32 ms). Elementwise numpy only, on blocks
    aligned to the stream position, so the chunking never changes a bit.
    """

    def __init__(self, rate: int = SAMPLE_RATE, corner_hz: float = HP_CORNER_HZ) -> None:
        a = math.exp(-2.0 * math.pi * corner_hz / rate)
        self.a = a
        j = np.arange(HP_BLOCK, dtype=np.float64)
        self._weights = ((1.0 - a) * a ** (HP_BLOCK - 1 - j)).astype(np.float32)
        self._a_block = float(a**HP_BLOCK)
        self._ramp = ((j + 1) / HP_BLOCK).astype(np.float32)
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)
        self._dc = 0.0

    def ready_after(self, n_more: int) -> int:
        """How many samples :meth:`process` would return given ``n_more`` more inputs."""
        return (self._pending.size + n_more) // HP_BLOCK * HP_BLOCK

    def inputs_needed(self, n_out: int) -> int:
        """Fewest more inputs after which :meth:`ready_after` reaches ``n_out`` (0: already)."""
        if n_out <= 0:
            return 0
        return max(0, -(-n_out // HP_BLOCK) * HP_BLOCK - self._pending.size)

    def process(self, x: FloatArray) -> FloatArray:
        buf = np.concatenate((self._pending, x)) if self._pending.size else x
        n_blocks = buf.size // HP_BLOCK
        if n_blocks == 0:
            self._pending = buf.copy()
            return np.zeros(0, dtype=np.float32)
        cut = n_blocks * HP_BLOCK
        blocks = buf[:cut].reshape(n_blocks, HP_BLOCK)
        work: FloatArray = blocks * self._weights
        m = self._dc
        ends = [m]
        ab = self._a_block
        for s in np.add.reduce(work, axis=1).tolist():  # (what ``work.sum(axis=1)`` runs)
            m = ab * m + s
            ends.append(m)
        dc = np.array(ends, dtype=np.float32)
        start = dc[:-1, None]
        # est = (end - start) * ramp + start, then y = x - est, in the one work buffer.
        np.multiply(dc[1:, None] - start, self._ramp, out=work)
        work += start
        np.subtract(blocks, work, out=work)
        self._dc = m
        self._pending = buf[cut:].copy()
        y: FloatArray = work.reshape(-1).astype(np.float32, copy=False)
        return y

    def flush(self) -> FloatArray:
        n = self._pending.size
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        return self.process(np.zeros(HP_BLOCK - n, dtype=np.float32))[:n]

    @property
    def state_bytes(self) -> int:
        return int(self._pending.nbytes) + 8


@dataclass(frozen=True, slots=True)
class ConverterStats:
    samples_in: int
    bad_samples: int
    dropped_bytes: int
    format_changes: int


class AudioConverter:
    """Streaming PCM (any :class:`AudioFormat`) -> 16 kHz mono float32 in [-1, 1]."""

    def __init__(self, high_pass: bool = True) -> None:
        self._high_pass_enabled = high_pass
        self._fmt: AudioFormat | None = None
        self._carry = b""
        self._resampler: Resampler | None = None
        self._hp = HighPass()
        self._samples_in = 0
        self._bad = 0
        self._dropped = 0
        self._format_changes = 0

    @property
    def format(self) -> AudioFormat | None:
        return self._fmt

    def ready_after(self, n_bytes: int, fmt: AudioFormat) -> int:
        """How many 16 kHz samples :meth:`convert` would return for ``n_bytes`` more in ``fmt``.

        Lets a caller collect PCM until a conversion yields what it needs (fewer, larger
        calls; identical results). A format change counts as "ready" (it flushes).
        """
        if fmt != self._fmt or self._resampler is None:
            return 1 << 62
        frames = (len(self._carry) + n_bytes) // (fmt.width * fmt.channels)
        out = self._resampler.ready_after(frames)
        return self._hp.ready_after(out) if self._high_pass_enabled else out

    def bytes_needed(self, n_samples: int, fmt: AudioFormat) -> int:
        """Fewest more bytes in ``fmt`` after which :meth:`ready_after` reaches ``n_samples``.

        ``ready_after`` only grows with the bytes, so a caller can compare its byte count with
        this once instead of asking ``ready_after`` after every piece. 0: ready already (a
        format change counts as ready).
        """
        if fmt != self._fmt or self._resampler is None or n_samples <= 0:
            return 0
        n = self._hp.inputs_needed(n_samples) if self._high_pass_enabled else n_samples
        frames = self._resampler.inputs_needed(n)
        return max(0, frames * fmt.width * fmt.channels - len(self._carry))

    def convert(self, pcm: bytes | bytearray | memoryview, fmt: AudioFormat) -> FloatArray:
        """Append PCM bytes in ``fmt``; return the 16 kHz samples completed by them."""
        if not isinstance(pcm, PCM_TYPES):
            raise AudioError(f"PCM must be bytes, got {type(pcm).__name__}")
        pieces: list[FloatArray] = []
        if fmt is not self._fmt and fmt != self._fmt:
            validate_format(fmt)
            pieces.append(self._change_format(fmt))
        frame = fmt.width * fmt.channels
        # No copies on the usual path (no partial frame carried over): decode reads the
        # caller's buffer through a memoryview; only a trailing partial frame is kept.
        if self._carry or (isinstance(pcm, memoryview) and not pcm.c_contiguous):
            data = memoryview(self._carry + bytes(pcm))
        else:
            data = memoryview(pcm).cast("B")
        n_whole = len(data) // frame * frame
        self._carry = bytes(data[n_whole:])
        if n_whole:
            n_frames = n_whole // frame
            self._samples_in += n_frames
            assert self._resampler is not None
            if fmt.is_float:
                mono, n_bad = sanitize(decode_mono(data[:n_whole], fmt))
                self._bad += n_bad
                out = self._resampler.process(mono)
            elif fmt.rate == SAMPLE_RATE:
                out = self._resampler.process(decode_mono(data[:n_whole], fmt))
            else:  # decoded straight into the resampler's input (no copy)
                buf = self._resampler.input_buffer(n_frames)
                # 8/16-bit: unscaled sums, the scale is in the resampler's weights (its gain,
                # set by _change_format: 1.0 for the other formats, which decode scaled).
                decode_mono(data[:n_whole], fmt, buf, scaled=self._resampler.gain == 1.0)
                out = self._resampler.process_buffer()
            pieces.append(self._post(out))
        return _join(pieces)

    def convert_float(self, samples: npt.ArrayLike) -> FloatArray:
        """16 kHz mono float samples (already converted) through the same clean-up path."""
        fmt = AudioFormat(rate=SAMPLE_RATE, width=4, channels=1, is_float=True)
        pieces: list[FloatArray] = []
        if fmt != self._fmt:
            pieces.append(self._change_format(fmt))
        try:
            x: FloatArray = np.asarray(samples, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as err:
            raise AudioError(f"samples are not numbers: {err}") from err
        self._samples_in += x.size
        x, n_bad = sanitize(x)
        self._bad += n_bad
        pieces.append(self._post(x))
        return _join(pieces)

    def flush(self) -> FloatArray:
        """End of stream: everything still buffered, then a fresh state."""
        pieces = []
        if self._resampler is not None:
            pieces.append(self._post(self._resampler.flush()))
        if self._high_pass_enabled:
            pieces.append(self._hp.flush())
        if self._carry:
            self._dropped += len(self._carry)
        out = _join(pieces)
        self._fmt = None
        self._resampler = None
        self._carry = b""
        self._hp = HighPass()
        return out

    def reset(self) -> None:
        self.flush()
        self._samples_in = self._bad = self._dropped = self._format_changes = 0

    @property
    def stats(self) -> ConverterStats:
        return ConverterStats(self._samples_in, self._bad, self._dropped, self._format_changes)

    @property
    def state_bytes(self) -> int:
        r = self._resampler.state_bytes if self._resampler else 0
        return r + self._hp.state_bytes + len(self._carry)

    def _change_format(self, fmt: AudioFormat) -> FloatArray:
        out: FloatArray = np.zeros(0, dtype=np.float32)
        if self._fmt is not None:
            self._format_changes += 1
            self._dropped += len(self._carry)
            if self._resampler is not None:
                out = self._post(self._resampler.flush())
        self._carry = b""
        self._fmt = fmt
        # Resampled 8/16-bit PCM with 1, 2, 4, ... channels: the scale to [-1, 1) rides in the
        # filter weights. A power of two, it leaves every output bit as it was, one pass less
        # (other channel counts keep the scaled decode: their outputs would differ in rounding).
        gain = unscaled_gain(fmt) if fmt.rate != SAMPLE_RATE else None
        exact = gain is not None and math.frexp(gain)[0] == 0.5
        self._resampler = Resampler(fmt.rate, gain=gain if gain is not None and exact else 1.0)
        return out

    def _post(self, x: FloatArray) -> FloatArray:
        return self._hp.process(x) if self._high_pass_enabled else x


def _join(pieces: list[FloatArray]) -> FloatArray:
    pieces = [p for p in pieces if p.size]
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate(pieces)


def to_16k_mono(pcm: bytes, fmt: AudioFormat, high_pass: bool = True) -> FloatArray:
    """Convert a whole recording at once (same result as streaming it through a converter)."""
    conv = AudioConverter(high_pass=high_pass)
    head = conv.convert(pcm, fmt)
    return _join([head, conv.flush()])
