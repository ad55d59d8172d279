"""PCM conversion: every format, resampling quality, chunk invariance, bad samples."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.audio import (
    AudioConverter,
    HighPass,
    to_16k_mono,
)
from custom_components.acoustic_guard.engine.resample import Resampler
from custom_components.acoustic_guard.engine.types import AudioError, AudioFormat

from .wavtools import encode, tone

RATES = (8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000)
LAYOUTS = (
    pytest.param(1, False, id="u8"),
    pytest.param(2, False, id="s16"),
    pytest.param(3, False, id="s24"),
    pytest.param(4, False, id="s32"),
    pytest.param(4, True, id="f32"),
)


def peak_hz(x: np.ndarray, rate: int = 16_000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spec))
    # parabolic interpolation around the peak bin
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + delta) * rate / x.size)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("channels", (1, 2, 6))
@pytest.mark.parametrize(("width", "is_float"), LAYOUTS)
def test_tone_survives_every_format(rate: int, channels: int, width: int, is_float: bool) -> None:
    """A 3.1 kHz tone comes out at 3.1 kHz, at the right level, in 16 kHz mono."""
    fmt = AudioFormat(rate=rate, width=width, channels=channels, is_float=is_float)
    pcm = encode(tone(3100.0, rate, 0.6, amp=0.5), fmt)
    out = to_16k_mono(pcm, fmt)
    assert out.dtype == np.float32
    assert abs(out.size - 0.6 * 16_000) <= 1
    steady = out[1600:8000]
    assert abs(peak_hz(steady) - 3100.0) < 5.0
    # 0.5 amplitude sine: RMS 0.3536. Looser for 8 kHz input (3.1 kHz is 78 % of its Nyquist
    # frequency, in the filter's transition band) and for u8 (the encoder scales by 127/128).
    rel = 0.05 if rate == 8000 else 0.02 if width == 1 else 0.005
    assert rms(steady) == pytest.approx(0.5 / np.sqrt(2), rel=rel)


def test_channels_are_averaged() -> None:
    fmt = AudioFormat(rate=16_000, width=2, channels=2)
    left = tone(1000.0, 16_000, 0.5, amp=0.6)
    x = np.stack((left, np.zeros_like(left)), axis=1)
    out = to_16k_mono(encode(x, fmt), fmt, high_pass=False)
    assert rms(out[800:]) == pytest.approx(0.3 / np.sqrt(2), rel=1e-3)


@pytest.mark.parametrize("rate", (22_050, 44_100, 48_000))
def test_resampler_is_anti_aliased(rate: int) -> None:
    """Content above 8 kHz must not fold back into the band the model hears."""
    fmt = AudioFormat(rate=rate, width=4, channels=1, is_float=True)
    for freq in (9_500.0, 12_000.0):
        if freq >= rate / 2:
            continue
        out = to_16k_mono(encode(tone(freq, rate, 0.5), fmt), fmt)
        assert 20 * np.log10(rms(out[1000:]) / (0.5 / np.sqrt(2))) < -60.0


@pytest.mark.parametrize("rate", RATES)
def test_converter_chunking_never_changes_a_bit(rate: int) -> None:
    rng = np.random.default_rng(rate)
    fmt = AudioFormat(rate=rate, width=3, channels=2)
    x = rng.uniform(-0.5, 0.5, (rate // 2, 2)) + tone(440.0, rate, 0.5)[:, None] * 0.3
    pcm = encode(x, fmt)
    whole = to_16k_mono(pcm, fmt)
    conv = AudioConverter()
    pieces = []
    pos = 0
    sizes = [1, 1, 2, 5, 7]  # single bytes and splits inside a sample frame
    while pos < len(pcm):
        n = sizes.pop(0) if sizes else int(rng.integers(1, 4000))
        pieces.append(conv.convert(pcm[pos : pos + n], fmt))
        pos += n
    pieces.append(conv.flush())
    streamed = np.concatenate(pieces)
    assert streamed.size == whole.size
    assert np.array_equal(streamed, whole)


def test_nan_and_inf_become_silence_and_are_counted() -> None:
    fmt = AudioFormat(rate=16_000, width=4, channels=1, is_float=True)
    x = tone(500.0, 16_000, 0.2).astype(np.float32)
    x[100:110] = np.nan
    x[200] = np.inf
    x[300] = -np.inf
    conv = AudioConverter()
    out = np.concatenate((conv.convert(x.tobytes(), fmt), conv.flush()))
    assert np.all(np.isfinite(out))
    assert conv.stats.bad_samples == 12
    assert np.abs(out).max() <= 1.1


def test_float_input_is_clipped() -> None:
    fmt = AudioFormat(rate=16_000, width=4, channels=1, is_float=True)
    x = (5.0 * np.sign(tone(200.0, 16_000, 0.5))).astype(np.float32)
    out = to_16k_mono(x.tobytes(), fmt, high_pass=False)
    assert np.abs(out).max() == pytest.approx(1.0)


def test_dc_offset_is_removed() -> None:
    fmt = AudioFormat(rate=48_000, width=2, channels=1)
    x = 0.4 + tone(1000.0, 48_000, 2.0, amp=0.3)
    out = to_16k_mono(encode(x, fmt), fmt)
    tail = out[16_000:]
    assert abs(float(np.mean(tail))) < 1e-3  # the 0.4 offset is gone
    assert rms(tail) == pytest.approx(0.3 / np.sqrt(2), rel=0.01)  # the tone is not


def test_high_pass_keeps_the_audio_band() -> None:
    for freq in (100.0, 520.0, 3100.0):
        x = tone(freq, 16_000, 1.0).astype(np.float32)
        hp = HighPass()
        y = np.concatenate((hp.process(x), hp.flush()))
        assert y.size == x.size
        assert rms(y[4000:]) == pytest.approx(rms(x[4000:]), rel=0.01)


def test_format_change_mid_stream_resets_cleanly() -> None:
    conv = AudioConverter()
    a_fmt = AudioFormat(rate=48_000, width=2, channels=2)
    b_fmt = AudioFormat(rate=22_050, width=4, channels=1, is_float=True)
    a = conv.convert(encode(tone(3100.0, 48_000, 0.5), a_fmt) + b"\x01", a_fmt)  # + partial frame
    b = conv.convert(encode(tone(3100.0, 22_050, 0.5), b_fmt), b_fmt)
    rest = conv.flush()
    out = np.concatenate((a, b, rest))
    assert conv.stats.format_changes == 1
    assert conv.stats.dropped_bytes == 1  # the partial frame of the old format
    assert abs(out.size - 16_000) <= 2  # 0.5 s + 0.5 s, nothing lost or duplicated
    assert abs(peak_hz(out[10_000:15_000]) - 3100.0) < 5.0
    assert np.all(np.isfinite(out))


def test_format_change_counts_and_drops_partial_frame() -> None:
    conv = AudioConverter()
    conv.convert(b"\x00\x01\x02", AudioFormat(rate=16_000, width=2, channels=1))
    conv.convert(b"\x00" * 64, AudioFormat(rate=8_000, width=2, channels=1))
    assert conv.stats.format_changes == 1
    assert conv.stats.dropped_bytes == 1


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        (AudioFormat(rate=4_000), "sample rate"),
        (AudioFormat(rate=384_000), "sample rate"),
        (AudioFormat(rate=16_000, width=5), "width"),
        (AudioFormat(rate=16_000, width=2, is_float=True), "float"),
        (AudioFormat(rate=16_000, channels=0), "channels"),
    ],
)
def test_impossible_formats_raise_clear_errors(fmt: AudioFormat, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        AudioConverter().convert(b"\x00" * 64, fmt)


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(AudioError, match="bytes"):
        AudioConverter().convert("hello", AudioFormat(rate=16_000))  # type: ignore[arg-type]


def test_resampler_output_length_matches_duration() -> None:
    for rate in RATES:
        r = Resampler(rate)
        n = 12_345
        out = np.concatenate((r.process(np.zeros(n, dtype=np.float32)), r.flush()))
        assert out.size == int(n * 16_000 / rate + 0.5)


@pytest.mark.parametrize("rate", (88_200, 96_000, 192_000))
def test_high_rate_files_are_resampled(rate: int) -> None:
    """Studio-rate recordings (files, not satellites) work too."""
    fmt = AudioFormat(rate=rate, width=3, channels=2)
    out = to_16k_mono(encode(tone(3100.0, rate, 0.5), fmt), fmt)
    assert abs(out.size - 8_000) <= 1
    assert abs(peak_hz(out[1600:]) - 3100.0) < 5.0
    assert rms(out[1600:]) == pytest.approx(0.5 / np.sqrt(2), rel=0.005)


@pytest.mark.parametrize("rate", (22_050, 32_000, 44_100, 48_000))
def test_resampler_passband_is_flat_to_6_khz(rate: int) -> None:
    """Glass and alarm energy up to 6 kHz reaches the model unattenuated (within 0.5 dB)."""
    fmt = AudioFormat(rate=rate, width=4, channels=1, is_float=True)
    for freq in (100.0, 1000.0, 3100.0, 6000.0):
        out = to_16k_mono(encode(tone(freq, rate, 0.5), fmt), fmt)
        gain_db = 20 * np.log10(rms(out[1600:]) / (0.5 / np.sqrt(2)))
        assert abs(gain_db) < 0.5, (freq, gain_db)


def test_converter_takes_any_bytes_like_without_copies_changing_a_bit() -> None:
    """bytes, bytearray and memoryviews (also strided or typed ones) give the same samples."""
    fmt = AudioFormat(rate=48_000, width=2, channels=2)
    x = tone(3100.0, 48_000, 0.3)
    pcm = encode(np.stack((x, 0.5 * x), axis=1), fmt)
    whole = to_16k_mono(pcm, fmt)
    doubled = bytes(b for pair in zip(pcm, bytes(len(pcm)), strict=True) for b in pair)
    typed = memoryview(np.frombuffer(pcm, dtype="<i2").copy())  # format "h", not bytes
    for buf in (bytearray(pcm), memoryview(pcm), memoryview(doubled)[::2], typed):
        conv = AudioConverter()
        head = conv.convert(buf, fmt)
        assert np.array_equal(np.concatenate((head, conv.flush())), whole)
    # The converter never keeps a view of the caller's buffer: reusing it changes nothing.
    conv = AudioConverter()
    scratch = bytearray(pcm[:4001])
    first = conv.convert(scratch, fmt).copy()
    scratch[:] = bytes(len(scratch))
    rest = conv.convert(pcm[4001:], fmt)
    streamed = np.concatenate((first, rest, conv.flush()))
    assert np.array_equal(streamed, whole)


def _high_pass_reference(x: np.ndarray) -> np.ndarray:
    """The documented DC blocker written out plainly (one pass over whole blocks)."""
    hp = HighPass()
    n = x.size // 320 * 320
    blocks = x[:n].reshape(-1, 320)
    m, ends = 0.0, [0.0]
    for s in (blocks * hp._weights).sum(axis=1).tolist():
        m = hp._a_block * m + s
        ends.append(m)
    dc = np.array(ends, dtype=np.float32)
    est = (dc[1:, None] - dc[:-1, None]) * hp._ramp + dc[:-1, None]
    return (blocks - est).reshape(-1)


def test_high_pass_is_chunk_invariant_and_matches_its_formula() -> None:
    rng = np.random.default_rng(11)
    x = (0.2 + rng.uniform(-0.5, 0.5, 16_000)).astype(np.float32)
    hp = HighPass()
    pieces, pos = [], 0
    while pos < x.size:
        n = int(rng.integers(1, 900))
        pieces.append(hp.process(x[pos : pos + n]))
        pos += n
    streamed = np.concatenate(pieces)
    assert streamed.size == x.size // 320 * 320
    assert np.array_equal(streamed, _high_pass_reference(x))
