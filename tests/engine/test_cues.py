"""Tone onsets (engine/cues.py): what the aggregation uses to tell an alarm clock's burst of
short beeps, which the model hears as one beep, from one alarm beep."""

from __future__ import annotations

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.cues import BAND, ToneOnsets
from custom_components.acoustic_guard.engine.features import logmel

SR = 16_000


def beeps(spans: list[tuple[float, float]], seconds: float, freq: float = 3100.0) -> np.ndarray:
    """A ``freq`` tone during each ``(on, off)`` span, faint noise elsewhere (16 kHz)."""
    t = np.arange(round(seconds * SR)) / SR
    gate = np.zeros_like(t)
    for on, off in spans:
        gate[(t >= on) & (t < off)] = 1.0
    noise = 1e-3 * np.random.default_rng(3).standard_normal(t.size)
    return (0.3 * gate * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def onsets_between(x: np.ndarray, a: float, b: float) -> int:
    flags = ToneOnsets().feed(logmel(x))
    return int(flags[round(a * 50) : round(b * 50)].sum())


def test_band_covers_the_smoke_alarm_tones() -> None:
    assert BAND.start < BAND.stop
    low = logmel(beeps([(0.0, 1.0)], 1.0, 1000.0))[20:, BAND].max()
    high = logmel(beeps([(0.0, 1.0)], 1.0, 3100.0))[20:, BAND].max()
    assert high > low + 3.0  # 3.1 kHz is in the band, 1 kHz is not


def test_one_beep_starts_once_a_clock_burst_three_times() -> None:
    alarm = beeps([(0.5, 1.0)], 2.0)  # one 0.5 s beep
    clock = beeps([(0.5, 0.57), (0.64, 0.71), (0.78, 0.85)], 2.0)  # three 70 ms beeps
    assert onsets_between(alarm, 0.4, 1.1) == 1
    assert onsets_between(clock, 0.4, 0.95) == 3
    assert onsets_between(beeps([], 2.0), 0.0, 2.0) == 0


@pytest.mark.parametrize("chunk", [1, 7, 50, 333])
def test_chunking_never_changes_onsets(chunk: int) -> None:
    x = beeps([(0.2 + 0.52 * k, 0.27 + 0.52 * k) for k in range(8)], 5.0)
    frames = logmel(x)
    whole = ToneOnsets().feed(frames)
    stream = ToneOnsets()
    parts = [stream.feed(frames[i : i + chunk]) for i in range(0, frames.shape[0], chunk)]
    assert np.array_equal(np.concatenate(parts), whole)
    assert whole.dtype == np.float32 and set(np.unique(whole)) <= {0.0, 1.0}
    stream.reset()
    assert np.array_equal(stream.feed(frames), whole)
    assert stream.state_bytes <= 64
