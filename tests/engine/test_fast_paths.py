"""The speed-ups compute what the plain formulas compute.

The resampler's batched layout against the filter written out sample by sample, the decoder
writing straight into the resampler's input against decoding into a new array, the
converter's "bytes until ready" against asking after every byte count, the detector's
conversion moments against the rule they replace, and the log-mel front end on every frame
count it handles differently.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from custom_components.acoustic_guard.engine import resample
from custom_components.acoustic_guard.engine.audio import (
    AudioConverter,
    decode_mono,
    decode_pcm,
    mix_to_mono,
    unscaled_gain,
)
from custom_components.acoustic_guard.engine.detector import RAW_MAX_BYTES, Detector
from custom_components.acoustic_guard.engine.features import (
    _FILTERS,
    _POWER_SCALE,
    _WINDOW,
    _WINDOW_ROWS,
    LOG_FLOOR,
    N_FFT,
    frames_to_logmel,
)
from custom_components.acoustic_guard.engine.runtime import Model
from custom_components.acoustic_guard.engine.types import AudioFormat, Detection

from .wavtools import encode

RATES = (8_000, 11_025, 12_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000, 192_000)


def _direct_filter(
    x: npt.NDArray[np.float32], rate: int, outputs: range
) -> npt.NDArray[np.float64]:
    """The resampler's filter written out one output at a time (float64, no layout)."""
    f = resample._design(rate, 16_000)
    up, down = f.up, f.down
    y = np.zeros(len(outputs))
    for i, r in enumerate(outputs):
        block, local = divmod(r, up)
        last = local * down // up  # latest input of this output (block coordinates)
        j = np.arange(last - f.tail, last + 1)
        w = resample._kernel(up, down, j.astype(np.float64), np.array([float(local)]))[:, 0]
        idx = block * down + j
        keep = idx >= 0  # silence before the stream
        y[i] = float(np.dot(w[keep].astype(np.float64), x[idx[keep]].astype(np.float64)))
    return y


@pytest.mark.parametrize("rate", RATES)
def test_resampler_layout_computes_the_filter(rate: int) -> None:
    """Every output of the batched sub-block layout is the windowed sinc of its inputs."""
    rng = np.random.default_rng(rate)
    x = rng.uniform(-0.5, 0.5, rate).astype(np.float32)  # 1 s
    r = resample.Resampler(rate)
    y = np.concatenate((r.process(x), r.flush()))
    f = resample._design(rate, 16_000)
    # Outputs from every sub-block and phase of two groups, and the first ones (history).
    span = f.group * f.block_out
    picks = range(0, min(y.size, 2 * span + 7), max(1, min(y.size, 2 * span) // 700))
    ref = _direct_filter(x, rate, picks)
    assert np.max(np.abs(y[list(picks)] - ref)) < 2e-6


@pytest.mark.parametrize("rate", RATES)
def test_resampler_layout_covers_each_sub_block_and_aligns_groups(rate: int) -> None:
    f = resample._design(rate, 16_000)
    for i in range(f.n_sub):
        a, b = i * f.n_out, (i + 1) * f.n_out
        first = a * f.down // f.up - f.tail
        last = (b - 1) * f.down // f.up
        start = f.offset + i * f.stride
        assert start <= first and last < start + f.width  # the window holds every input
    assert f.width <= f.block_in  # a strided view: rows do not overlap
    assert (f.n_sub - 1) * f.stride + f.offset + f.width <= f.block_in  # inside the block
    assert f.group * f.width * f.n_out <= resample.GEMM_MAX_MACS  # BLAS stays on one thread
    # Groups end on 0.5 s boundaries (where blocks can: not 640 outputs per 441 inputs at
    # 11.025 kHz): a detector never waits for the rest of a group.
    if resample.GROUP_OUT % f.up == 0:
        assert resample.GROUP_OUT % (f.group * f.block_out) == 0


@pytest.mark.parametrize("rate", RATES)
def test_resampler_chunking_never_changes_a_bit(rate: int) -> None:
    rng = np.random.default_rng(rate + 1)
    x = rng.uniform(-0.5, 0.5, 2 * rate).astype(np.float32)
    whole = resample.Resampler(rate)
    expected = np.concatenate((whole.process(x), whole.flush()))
    r = resample.Resampler(rate)
    pieces, pos = [], 0
    while pos < x.size:
        n = int(rng.choice([1, 3, 97, 4_000, 20_000]))
        pieces.append(r.process(x[pos : pos + n]))
        pos += n
    pieces.append(r.flush())
    assert np.array_equal(np.concatenate(pieces), expected)


@pytest.mark.parametrize("rate", (16_000, 11_025, 44_100, 48_000))
def test_input_buffer_is_process_without_the_copy(rate: int) -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.5, 0.5, 3 * rate).astype(np.float32)
    a, b = resample.Resampler(rate), resample.Resampler(rate)
    outs_a, outs_b = [], []
    pos = 0
    while pos < x.size:
        n = int(rng.integers(0, rate // 2))
        piece = x[pos : pos + n]
        outs_a.append(a.process(piece))
        buf = b.input_buffer(piece.size)
        buf[:] = piece
        outs_b.append(b.process_buffer())
        assert b.ready_after(0) == a.ready_after(0)
        pos += n
    outs_a.append(a.flush())
    outs_b.append(b.flush())
    assert np.array_equal(np.concatenate(outs_a), np.concatenate(outs_b))
    with pytest.raises(RuntimeError):
        b.process_buffer()


@pytest.mark.parametrize("channels", (1, 2, 6))
@pytest.mark.parametrize(
    ("width", "is_float"), ((1, False), (2, False), (3, False), (4, False), (4, True))
)
def test_decoding_into_a_buffer_is_bit_identical(channels: int, width: int, is_float: bool) -> None:
    fmt = AudioFormat(rate=48_000, width=width, channels=channels, is_float=is_float)
    rng = np.random.default_rng(width * 10 + channels)
    pcm = encode(rng.uniform(-1.0, 1.0, (4_801, channels)), fmt)
    plain = mix_to_mono(decode_pcm(pcm, fmt))
    fresh = decode_mono(memoryview(pcm), fmt)
    out = np.full(4_801, np.nan, dtype=np.float32)
    into = decode_mono(memoryview(pcm), fmt, out)
    assert into is out
    assert np.array_equal(fresh, into)
    assert np.allclose(fresh, plain, rtol=0, atol=1e-6)  # the fused decode is the plain one


def test_stereo_int16_decode_is_the_exact_channel_sum() -> None:
    """The int32 shift trick for 16-bit stereo adds the very same integers, extremes too."""
    fmt = AudioFormat(rate=48_000, width=2, channels=2)
    edge = [-32768, -32768, 32767, 32767, -32768, 32767, 32767, -32768, 0, -1, -1, -1, 1, -1]
    rng = np.random.default_rng(16)
    ints = np.concatenate((np.array(edge), rng.integers(-32768, 32768, 2 * 4_801)))
    pcm = ints.astype("<i2").tobytes()
    sums = ints.reshape(-1, 2).sum(axis=1)  # exact, in int64
    raw = decode_mono(memoryview(pcm), fmt, scaled=False)
    assert raw.dtype == np.float32
    assert np.array_equal(raw, sums.astype(np.float32))
    scaled = decode_mono(memoryview(pcm), fmt)
    assert np.array_equal(scaled, (sums / 65536.0).astype(np.float32))
    out = np.full(sums.size, np.nan, dtype=np.float32)
    assert decode_mono(memoryview(pcm), fmt, out, scaled=False) is out
    assert np.array_equal(out, raw)


@pytest.mark.parametrize("rate", (8_000, 22_050, 44_100, 48_000, 96_000))
@pytest.mark.parametrize("channels", (1, 2, 3))
@pytest.mark.parametrize("width", (1, 2))
def test_scale_folded_into_the_resampler_is_rounding_only(
    rate: int, channels: int, width: int
) -> None:
    """Unscaled 8/16-bit sums through a resampler carrying the scale in its weights: the same
    outputs as scaling first (bit for bit when the scale is a power of two: 1 or 2 channels).
    """
    fmt = AudioFormat(rate=rate, width=width, channels=channels)
    gain = unscaled_gain(fmt)
    assert gain is not None
    rng = np.random.default_rng(rate + channels)
    pcm = encode(rng.uniform(-1.0, 1.0, (rate // 2 + 7, channels)), fmt)
    plain = resample.Resampler(rate)
    ref = np.concatenate((plain.process(decode_mono(pcm, fmt)), plain.flush()))
    folded = resample.Resampler(rate, gain=gain)
    got = np.concatenate((folded.process(decode_mono(pcm, fmt, scaled=False)), folded.flush()))
    assert got.shape == ref.shape
    if channels in (1, 2):
        assert np.array_equal(got, ref)
    else:
        assert float(np.abs(got - ref).max()) <= 1e-6


@pytest.mark.parametrize("channels", (1, 2, 3, 6))
@pytest.mark.parametrize("width", (1, 2))
def test_converter_output_is_the_plain_decode_and_resample(channels: int, width: int) -> None:
    """Whether or not the converter folds the scale into the resampler, not a bit changes."""
    fmt = AudioFormat(rate=44_100, width=width, channels=channels)
    rng = np.random.default_rng(channels * 3 + width)
    pcm = encode(rng.uniform(-1.0, 1.0, (30_007, channels)), fmt)
    conv = AudioConverter(high_pass=False)
    got = np.concatenate((conv.convert(pcm, fmt), conv.flush()))
    plain = resample.Resampler(44_100)
    ref = np.concatenate((plain.process(decode_mono(pcm, fmt)), plain.flush()))
    assert np.array_equal(got, ref)


def test_unscaled_decode_only_where_it_is_exact() -> None:
    for fmt in (
        AudioFormat(rate=48_000, width=4, channels=2),
        AudioFormat(rate=48_000, width=3, channels=1),
        AudioFormat(rate=48_000, width=4, channels=1, is_float=True),
    ):
        assert unscaled_gain(fmt) is None
        with pytest.raises(ValueError, match="unscaled"):
            decode_mono(b"\0" * fmt.width * fmt.channels, fmt, scaled=False)


@pytest.mark.parametrize("rate", (16_000, 44_100, 48_000))
def test_bytes_needed_is_the_first_byte_count_that_is_ready(rate: int) -> None:
    rng = np.random.default_rng(rate)
    fmt = AudioFormat(rate=rate, width=2, channels=2)
    conv = AudioConverter()
    assert conv.bytes_needed(1, fmt) == 0  # a format change is always "ready"
    conv.convert(b"\0\0", fmt)  # half a frame: carried over
    for _ in range(40):
        for need in (1, 319, 320, 4_000, 16_000, 16_001, 48_000):
            n = conv.bytes_needed(need, fmt)
            assert conv.ready_after(n, fmt) >= need
            assert n == 0 or conv.ready_after(n - 1, fmt) < need
        conv.convert(rng.bytes(int(rng.integers(1, 60_000))), fmt)
    assert conv.bytes_needed(0, fmt) == 0


def test_detector_converts_exactly_when_the_plain_rule_says(ort_model: Model) -> None:
    """Convert once the buffered bytes complete a model chunk (or reach RAW_MAX_BYTES)."""
    decisions: list[tuple[bool, bool]] = []

    class Checked(Detector):
        def feed(self, pcm: bytes | bytearray | memoryview, fmt: AudioFormat) -> list[Detection]:
            same = fmt == self._raw_fmt
            size = len(self._raw) + len(pcm)
            need = self._chunk_samples - self._pending.size
            rule = size >= RAW_MAX_BYTES or self._converter.ready_after(size, fmt) >= need
            out = super().feed(pcm, fmt)
            if same:
                decisions.append((rule, not self._raw))
            return out

    rng = np.random.default_rng(5)
    for fmt in (AudioFormat(48_000, 2, 2), AudioFormat(44_100, 2, 1), AudioFormat(16_000, 2, 1)):
        det = Checked(ort_model)
        for _ in range(120):
            det.feed(rng.bytes(int(rng.integers(1, 30_000))), fmt)
    assert len(decisions) > 300
    assert any(rule for rule, _ in decisions) and not all(rule for rule, _ in decisions)
    assert all(rule == converted for rule, converted in decisions)


@pytest.mark.parametrize("n", (0, 1, 13, 50, _WINDOW_ROWS.shape[0], _WINDOW_ROWS.shape[0] + 1))
def test_logmel_of_every_frame_count_is_the_reference_formula(n: int) -> None:
    rng = np.random.default_rng(n)
    frames = rng.uniform(-0.5, 0.5, (n, N_FFT)).astype(np.float32)
    spec = np.fft.rfft(frames * _WINDOW, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32) * _POWER_SCALE
    mel = np.matmul(power, _FILTERS, dtype=np.float32)
    expected = np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)
    assert np.array_equal(frames_to_logmel(frames), expected)
    assert math.isfinite(float(expected.sum()))
