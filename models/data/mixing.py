"""Realistic mixing: room reverb, distance/level, background beds at an SNR, mic colour, gain.

A clip is a background bed plus foreground sounds placed at offsets. Each foreground sound
goes through the clip's room (a synthetic exponential-decay impulse response, RT60
0.15-0.9 s, direct-to-reverberant ratio set by distance), then is scaled so that its level
*while on* (RMS over its ``on`` intervals, or over the whole sound for unlabelled ones)
is ``snr_db`` above the bed's RMS. Then a cheap-microphone EQ, an overall gain and,
occasionally, clipping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from .audio import SR
from .synth import Interval, Sound, filt


@dataclass
class Room:
    ir: np.ndarray
    rt60: float


def make_room(rng: np.random.Generator, rt60: float | None = None) -> Room:
    """Exponential-decay noise IR with a direct path and a few early reflections."""
    rt60 = float(rng.uniform(0.15, 0.9)) if rt60 is None else rt60
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    # air/wall absorption: highs decay faster -> blend a low-passed copy in over time
    lp = filt(tail, "lowpass", rng.uniform(1500, 4000))
    w = np.clip(t / rt60, 0, 1)
    tail = (1 - w) * tail + w * lp
    pre = int(rng.uniform(0.002, 0.012) * SR)  # first reflection delay
    tail[:pre] = 0.0
    drr_db = rng.uniform(-4.0, 12.0)  # near (high) ... far (low)
    tail *= 10 ** (-drr_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    ir = tail
    ir[0] = 1.0
    for _ in range(int(rng.integers(2, 6))):
        ir[int(rng.uniform(0.002, 0.03) * SR)] += rng.uniform(-0.5, 0.5)
    return Room(ir.astype(np.float32), rt60)


def reverberate(x: np.ndarray, room: Room, keep_tail: bool = True) -> np.ndarray:
    y = fftconvolve(x, room.ir)
    return y if keep_tail else y[: x.size]


def on_rms(x: np.ndarray, on: list[Interval]) -> float:
    if not on:
        return float(np.sqrt(np.mean(x**2)) + 1e-12)
    parts = [x[int(s * SR) : max(int(e * SR), int(s * SR) + 1)] for s, e in on]
    cat = np.concatenate(parts) if parts else x
    return float(np.sqrt(np.mean(cat**2)) + 1e-12)


def mic_colour(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Random cheap-microphone response: high-pass 60-250 Hz, sometimes a low-pass 4-7.8 kHz."""
    y = filt(x, "highpass", rng.uniform(60, 250), order=1)
    if rng.random() < 0.4:
        y = filt(y, "lowpass", rng.uniform(4000, 7800), order=2)
    return y


@dataclass
class Placed:
    sound: Sound
    offset: float  # seconds into the clip
    snr_db: float


def mix(
    rng: np.random.Generator,
    duration: float,
    bed: np.ndarray,
    placed: list[Placed],
    room: Room,
    *,
    level_dbfs: float,
    clip_prob: float = 0.04,
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Render a clip. Returns (float32 samples, label events with absolute times)."""
    n = round(duration * SR)
    bed = bed[:n] if bed.size >= n else np.pad(bed, (0, n - bed.size))
    bed_rms = float(np.sqrt(np.mean(bed**2)) + 1e-9)
    out = bed.astype(np.float64).copy()
    events: list[dict[str, object]] = []
    for p in placed:
        snd = p.sound
        wet = reverberate(snd.audio.astype(np.float64), room)
        # level is measured on the reverberant sound where it is physically on
        gain = bed_rms * 10 ** (p.snr_db / 20) / on_rms(wet, snd.on)
        j = round(p.offset * SR)
        a, b = max(j, 0), min(j + wet.size, n)
        if b <= a:
            continue
        out[a:b] += gain * wet[a - j : b - j]
        if snd.event is None:
            continue
        on = [
            (round(max(s + p.offset, 0.0), 3), round(min(e + p.offset, duration), 3))
            for s, e in snd.on
        ]
        on = [(s, e) for s, e in on if e - s >= 0.01]
        if not on:
            continue
        events.append(
            {
                "event": snd.event,
                "start": on[0][0],
                "end": on[-1][1],
                "pattern": snd.pattern,
                "on": [list(iv) for iv in on],
            }
        )
    out = mic_colour(rng, out)
    rms = float(np.sqrt(np.mean(out**2)) + 1e-12)
    out *= 10 ** (level_dbfs / 20) / rms
    peak = float(np.max(np.abs(out)))
    if rng.random() < clip_prob:
        out *= rng.uniform(1.3, 3.0) / max(peak, 1e-9)  # drive into clipping
        out = np.clip(out, -1.0, 1.0) if rng.random() < 0.7 else np.tanh(out)
    elif peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32), events
