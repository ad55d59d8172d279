"""The streaming detector end to end on real audio: chunk invariance, bad input, state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.detector import WARMUP_S, Detector
from custom_components.acoustic_guard.engine.features import FRAME_RATE
from custom_components.acoustic_guard.engine.runtime import Model
from custom_components.acoustic_guard.engine.types import AudioError, AudioFormat, Detection
from custom_components.acoustic_guard.engine.wavfile import Recording, read_audio

from .wavtools import encode, tone


@pytest.fixture(scope="module")
def alarm(alarm_wav: Path) -> Recording:
    return read_audio(alarm_wav)


def run(
    model: Model, pieces: list[bytes], fmt: AudioFormat, **kw: object
) -> tuple[np.ndarray, list[Detection], Detector]:
    scores: list[np.ndarray] = []
    det = Detector(model, score_sink=lambda s, t: scores.append(s.copy()), **kw)  # type: ignore[arg-type]
    out: list[Detection] = []
    for p in pieces:
        out += det.feed(p, fmt)
    out += det.flush()
    return np.concatenate(scores), out, det


def test_chunking_never_changes_scores_or_detections(ort_model: Model, alarm: Recording) -> None:
    pcm = alarm.pcm[: 6 * 96_000]  # 6 s of the real alarm
    whole_scores, whole_dets, _ = run(ort_model, [pcm], alarm.fmt, sensitivity="high")
    rng = np.random.default_rng(7)
    pieces, pos = [], 0
    while pos < len(pcm):
        # single bytes for the first 2000 bytes (mid-sample splits), then odd random sizes
        n = 1 if pos < 2000 else int(rng.integers(1, 6000)) | 1
        pieces.append(pcm[pos : pos + n])
        pos += n
    scores, dets, det = run(ort_model, pieces, alarm.fmt, sensitivity="high")
    assert scores.shape == whole_scores.shape == (300, len(det.columns))
    assert det.columns == (*ort_model.head_names, "tone_onset")
    assert np.array_equal(scores, whole_scores)
    assert dets == whole_dets
    assert det.stats.samples_in == len(pcm) // 2


def test_runtimes_agree_through_the_detector(
    ort_model: Model, numpy_model: Model, alarm: Recording
) -> None:
    a, _, _ = run(ort_model, [alarm.pcm], alarm.fmt)
    b, _, _ = run(numpy_model, [alarm.pcm], alarm.fmt)
    assert float(np.abs(a - b).max()) <= 1e-4


def test_feed_float_matches_feed(ort_model: Model) -> None:
    x = tone(3100.0, 16_000, 2.0).astype(np.float32)
    fmt = AudioFormat(rate=16_000, width=4, channels=1, is_float=True)
    a, _, _ = run(ort_model, [x.tobytes()], fmt)
    scores: list[np.ndarray] = []
    det = Detector(ort_model, score_sink=lambda s, t: scores.append(s))
    det.feed_float(x[:12_345])
    det.feed_float(x[12_345:])
    det.flush()
    assert np.array_equal(np.concatenate(scores), a)


def test_times_levels_and_stats(ort_model: Model) -> None:
    det = Detector(ort_model)
    assert det.level_dbfs is None and det.time == 0.0
    fmt = AudioFormat(rate=48_000, width=2, channels=2)
    det.feed(encode(tone(1000.0, 48_000, 2.0, amp=0.5), fmt), fmt)
    assert det.time == pytest.approx(2.0)
    level = det.level_dbfs
    assert level is not None
    assert level == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.3)  # -9.0 dBFS
    stats = det.stats
    assert stats.samples_in == 96_000 and stats.bad_samples == 0
    # The resampler's groups end on model-chunk boundaries (and its filter is causal): the
    # 2 s of 48 kHz input already complete both chunks, no converter delay.
    assert stats.chunks == int(det.time * 50) // ort_model.chunk_frames
    det.flush()
    assert det.time == pytest.approx(2.0)  # the clock keeps running after a flush


def trained(model: Model) -> bool:
    return "untrained" not in model.version


def test_silence_gives_a_floor_level_and_no_events(ort_model: Model) -> None:
    det = Detector(ort_model)
    fmt = AudioFormat(rate=16_000, width=2, channels=1)
    out = det.feed(b"\x00" * 16_000 * 2 * 5, fmt) + det.flush()
    assert det.level_dbfs == -120.0
    if not trained(ort_model):
        pytest.skip("the shipped model is the untrained placeholder: its events mean nothing")
    assert out == []


def test_bad_samples_do_not_crash(ort_model: Model) -> None:
    det = Detector(ort_model)
    fmt = AudioFormat(rate=22_050, width=4, channels=1, is_float=True)
    x = tone(3100.0, 22_050, 3.0, amp=3.0).astype(np.float32)  # clipping
    x[::97] = np.nan
    x[::101] = np.inf
    x += 0.5  # DC offset
    det.feed(x.tobytes(), fmt)
    det.flush()
    assert det.stats.bad_samples == np.count_nonzero(~np.isfinite(x))
    assert det.level_dbfs is not None and np.isfinite(det.level_dbfs)


def test_sample_rate_change_mid_stream(ort_model: Model, alarm: Recording) -> None:
    det = Detector(ort_model)
    det.feed(alarm.pcm[:96_000], alarm.fmt)  # 1 s at 48 kHz
    fmt = AudioFormat(rate=16_000, width=2, channels=1)
    det.feed(encode(tone(3100.0, 16_000, 1.0), fmt), fmt)
    det.feed(b"\x01\x02\x03", AudioFormat(rate=8_000, width=3, channels=1))
    det.flush()
    assert det.time == pytest.approx(2.0 + 1 / 8_000)
    assert det.stats.chunks >= 2.0 * FRAME_RATE // ort_model.chunk_frames


def test_unusable_format_raises_and_stream_survives(ort_model: Model) -> None:
    det = Detector(ort_model)
    with pytest.raises(AudioError, match="sample rate"):
        det.feed(b"\x00" * 100, AudioFormat(rate=1_000))
    fmt = AudioFormat(rate=16_000)
    assert isinstance(det.feed(b"\x00" * 32_000, fmt), list)
    assert det.stats.chunks == FRAME_RATE // ort_model.chunk_frames
    assert det.time == pytest.approx(1.0)


def test_unknown_sensitivity_or_event_is_refused(ort_model: Model) -> None:
    with pytest.raises(ValueError, match="sensitivity"):
        Detector(ort_model, sensitivity="extreme")
    with pytest.raises(ValueError, match="unknown events"):
        Detector(ort_model, enabled=["smoke_alarm", "earthquake"])


def test_state_per_stream_is_small(ort_model: Model, alarm: Recording) -> None:
    det = Detector(ort_model)
    det.feed(alarm.pcm[:200_000], alarm.fmt)
    assert 0 < det.state_bytes <= 1_000_000
    wide = AudioFormat(rate=48_000, width=4, channels=32, is_float=True)  # widest accepted
    det = Detector(ort_model)
    peak = 0
    block = np.zeros((4_800, 32), dtype="<f4").tobytes()  # 100 ms chunks, 614 kB each
    for _ in range(10):
        det.feed(block, wide)
        peak = max(peak, det.state_bytes)
    assert peak <= 1_000_000


def test_stream_start_only_primes_the_model(ort_model: Model) -> None:
    rng = np.random.default_rng(5)
    x = (0.05 * rng.standard_normal(16_000 * 2)).astype(np.float32)
    scores: list[np.ndarray] = []
    det = Detector(ort_model, score_sink=lambda s, t: scores.append(s))
    det.feed_float(x)
    det.flush()
    det.feed_float(x)  # a new stream segment warms up again
    det.flush()
    per_segment = len(scores) // 2
    warm = round(WARMUP_S * FRAME_RATE)
    for seg in (0, per_segment):
        frames = np.concatenate(scores[seg : seg + per_segment])
        assert np.all(frames[:warm] == 0.0)  # the first 0.5 s of each segment
        assert np.any(frames[warm:] > 0.0)
    raw: list[np.ndarray] = []
    Detector(ort_model, warmup_s=0.0, score_sink=lambda s, t: raw.append(s)).feed_float(x)
    raw_frames = np.concatenate(raw)
    primed = np.concatenate(scores[:per_segment])
    assert np.any(raw_frames[:warm] > 0.0)
    # the state was primed all the same: after the warm-up the scores are the raw ones
    assert np.array_equal(raw_frames[warm : len(primed)], primed[warm:])
    with pytest.raises(ValueError, match="warmup_s"):
        Detector(ort_model, warmup_s=-1.0)


def test_48k_stereo_chunking_never_changes_scores(ort_model: Model) -> None:
    """The satellite format (48 kHz int16 stereo) in 100 ms chunks, odd pieces or at once."""
    fmt = AudioFormat(rate=48_000, width=2, channels=2)
    rng = np.random.default_rng(21)
    left = tone(3100.0, 48_000, 3.0, amp=0.3) + 0.05 * rng.standard_normal(144_000)
    pcm = encode(np.stack((left, 0.5 * left), axis=1), fmt)
    whole, whole_dets, _ = run(ort_model, [pcm], fmt)
    step = 19_200  # 100 ms
    tenths, tenth_dets, det = run(
        ort_model, [pcm[i : i + step] for i in range(0, len(pcm), step)], fmt
    )
    sizes = rng.integers(1, 50_000, 40) | 1
    cuts = [int(c) for c in np.cumsum(sizes) if c < len(pcm)]
    odd = [pcm[a:b] for a, b in zip((0, *cuts), (*cuts, len(pcm)), strict=True)]
    odd_scores, odd_dets, _ = run(ort_model, odd, fmt)
    assert whole.shape == (150, len(det.columns))
    assert np.array_equal(tenths, whole) and np.array_equal(odd_scores, whole)
    assert tenth_dets == whole_dets == odd_dets
    assert det.stats.samples_in == 144_000
