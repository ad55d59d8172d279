"""Procedural sound generators (16 kHz mono float32, dry: no room, no noise).

Every generator takes a ``numpy.random.Generator`` and returns a :class:`Sound`: the samples,
the label it carries (``event`` None for unlabelled hard negatives) and ``on``, the exact
intervals (seconds from the start of ``audio``) when the sound is physically present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

from .audio import SR

Interval = tuple[float, float]
NYQ_SAFE = 7800.0


@dataclass
class Sound:
    audio: np.ndarray
    event: str | None
    pattern: str
    on: list[Interval]
    source: str
    extra: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- helpers


def _t(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / SR


@lru_cache(maxsize=4096)
def _sos(kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    if isinstance(freq, tuple):
        lo, hi = freq
        return butter(order, [max(lo, 20.0), min(hi, NYQ_SAFE)], btype=kind, fs=SR, output="sos")
    return butter(order, min(max(freq, 20.0), NYQ_SAFE), btype=kind, fs=SR, output="sos")


def _q(f: float) -> float:
    """Round a cut-off to ~1 % so that filter designs can be cached."""
    return float(f"{f:.2g}") if f < 100 else float(round(f, -int(np.log10(f)) + 2))


def filt(x: np.ndarray, kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    key = (_q(freq[0]), _q(freq[1])) if isinstance(freq, tuple) else _q(freq)
    return sosfilt(_sos(kind, key, order), x)


def envelope(n: int, on: list[Interval], attack: float, release: float) -> np.ndarray:
    """Gate 0/1 over ``on`` with linear attack / exponential-ish release ramps."""
    env = np.zeros(n)
    a = max(int(attack * SR), 1)
    r = max(int(release * SR), 1)
    for s, e in on:
        i0, i1 = int(s * SR), min(int(e * SR), n)
        if i1 <= i0:
            continue
        env[i0:i1] = 1.0
        k = min(a, i1 - i0)
        env[i0 : i0 + k] = np.linspace(0.0, 1.0, k, endpoint=False)
        k = min(r, i1 - i0)
        env[i1 - k : i1] *= np.linspace(1.0, 0.0, k) ** 2
    return env


def tone(
    n: int,
    f0: float,
    rng: np.random.Generator,
    harmonics: tuple[float, ...] = (),
    *,
    fm_depth: float = 0.0,
    fm_rate: float = 0.0,
) -> np.ndarray:
    """Sine at ``f0`` with optional harmonic amplitudes and sinusoidal FM (relative depth)."""
    t = _t(n)
    inst = f0 * (1.0 + fm_depth * np.sin(2 * np.pi * fm_rate * t + rng.uniform(0, 6.28)))
    phase = 2 * np.pi * np.cumsum(inst) / SR
    x = np.sin(phase)
    for k, amp in enumerate(harmonics, start=2):
        if f0 * k < NYQ_SAFE and amp > 0:
            x += amp * np.sin(k * phase + rng.uniform(0, 6.28))
    return x


def square(n: int, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Band-limited square wave (odd harmonics below Nyquist)."""
    t = _t(n)
    ph = rng.uniform(0, 6.28)
    x = np.zeros(n)
    k = 1
    while f0 * k < NYQ_SAFE:
        x += np.sin(2 * np.pi * f0 * k * t + k * ph) / k
        k += 2
    return x * (4 / np.pi) * 0.6


def _normalise(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 0 else x.astype(np.float32)


def _clip_intervals(on: list[Interval], duration: float) -> list[Interval]:
    out = []
    for s, e in on:
        s2, e2 = max(s, 0.0), min(e, duration)
        if e2 - s2 > 0.01:
            out.append((round(float(s2), 4), round(float(e2), 4)))
    return out


def _repeat_cycle(cycle: list[Interval], period: float, duration: float, phase: float) -> list:
    """Tile a cycle (intervals within [0, period)) over [0, duration), starting ``phase`` in."""
    out: list[Interval] = []
    t0 = -phase
    while t0 < duration:
        out.extend((t0 + s, t0 + e) for s, e in cycle)
        t0 += period
    return _clip_intervals(out, duration)


def _jitter_cycles(
    make_cycle: callable,  # type: ignore[valid-type]
    duration: float,
    phase: float,
) -> list[Interval]:
    """Cycles generated one by one (each with its own small jitter)."""
    out: list[Interval] = []
    t0 = -phase
    while t0 < duration:
        cycle, period = make_cycle()
        out.extend((t0 + s, t0 + e) for s, e in cycle)
        t0 += period
    return _clip_intervals(out, duration)


# ---------------------------------------------------------------- alarms


def _piezo(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    f0 = rng.uniform(lo, hi)
    harm = (rng.uniform(0.05, 0.5), rng.uniform(0.0, 0.3))
    fm_depth = rng.choice([0.0, rng.uniform(0.001, 0.01)])
    x = tone(n, f0, rng, harm, fm_depth=fm_depth, fm_rate=rng.uniform(3, 40))
    if rng.random() < 0.2:  # some piezos have a buzzy sub-modulation
        x *= 1.0 - rng.uniform(0.1, 0.4) * (np.sin(2 * np.pi * rng.uniform(50, 400) * _t(n)) > 0)
    return x


def t3_intervals(rng: np.random.Generator, duration: float, phase: float) -> list[Interval]:
    on = 0.5 * rng.uniform(0.9, 1.1)
    off = 0.5 * rng.uniform(0.9, 1.1)
    pause = 1.5 * rng.uniform(0.9, 1.1)

    def cycle() -> tuple[list[Interval], float]:
        j = rng.uniform(0.98, 1.02, size=3)
        c, t = [], 0.0
        for k in range(3):
            c.append((t, t + on * j[k]))
            t += on * j[k] + (off if k < 2 else pause) * rng.uniform(0.98, 1.02)
        return c, t

    return _jitter_cycles(cycle, duration, phase * (3 * on + 2 * off + pause))


def t4_intervals(rng: np.random.Generator, duration: float, phase: float) -> list[Interval]:
    on = 0.1 * rng.uniform(0.85, 1.15)
    off = 0.1 * rng.uniform(0.85, 1.15)
    pause = rng.uniform(4.5, 6.0)

    def cycle() -> tuple[list[Interval], float]:
        c, t = [], 0.0
        for k in range(4):
            d = on * rng.uniform(0.97, 1.03)
            c.append((t, t + d))
            t += d + (off if k < 3 else pause) * rng.uniform(0.98, 1.02)
        return c, t

    return _jitter_cycles(cycle, duration, phase * (4 * on + 3 * off + pause))


def continuous_intervals(rng: np.random.Generator, duration: float, phase: float) -> list:
    """Non-T3 smoke alarms: regular beeps that keep going.

    40 % fast European (EN 14604) beeping like the real recordings (about 0.25 s on, 0.07 s
    off), the rest any regular rhythm from 0.1-1 s on and 0.1-1.5 s off (older units).
    """
    if rng.random() < 0.4:
        on, off = rng.uniform(0.15, 0.35), rng.uniform(0.05, 0.2)
    else:
        on, off = rng.uniform(0.1, 1.0), rng.uniform(0.1, 1.5)
    return _repeat_cycle([(0.0, on)], on + off, duration, phase * (on + off))


def smoke_alarm(rng: np.random.Generator, duration: float, kind: str = "T3") -> Sound:
    """A smoke alarm sounding for ``duration`` s (entering mid-cycle)."""
    n = int(duration * SR)
    phase = rng.random()
    if kind == "lowfreq_T3":
        on = t3_intervals(rng, duration, phase)
        carrier = square(n, rng.uniform(500, 540), rng)
        att, rel = rng.uniform(0.002, 0.01), rng.uniform(0.005, 0.03)
    elif kind == "continuous":  # EN 14604 piezos reach down to ~2.3 kHz (BigSoundBank 1153: 2.5)
        on = continuous_intervals(rng, duration, phase)
        carrier = _piezo(n, rng, 2300, 4000)
        att, rel = rng.uniform(0.001, 0.01), rng.uniform(0.005, 0.04)
    else:
        on = t3_intervals(rng, duration, phase)
        carrier = _piezo(n, rng, 2700, 3600)
        att, rel = rng.uniform(0.001, 0.01), rng.uniform(0.005, 0.04)
    x = carrier * envelope(n, on, att, rel)
    return Sound(_normalise(x), "smoke_alarm", kind, on, f"synth:{kind.lower()}")


def co_alarm(rng: np.random.Generator, duration: float) -> Sound:
    n = int(duration * SR)
    on = t4_intervals(rng, duration, rng.random())
    x = _piezo(n, rng, 2500, 3500) * envelope(n, on, rng.uniform(0.001, 0.006), 0.01)
    return Sound(_normalise(x), "co_alarm", "T4", on, "synth:t4")


# ---------------------------------------------------------------- beeping confusers


def _beeps(
    rng: np.random.Generator, n: int, on: list[Interval], lo: float, hi: float
) -> np.ndarray:
    f0 = rng.uniform(lo, hi)
    if rng.random() < 0.5:
        carrier = tone(n, f0, rng, (rng.uniform(0, 0.4), rng.uniform(0, 0.2)))
    else:
        carrier = square(n, f0, rng)
    return carrier * envelope(n, on, rng.uniform(0.002, 0.01), rng.uniform(0.005, 0.05))


def microwave(rng: np.random.Generator) -> Sound:
    """An oven/microwave/dishwasher finishing: 1-5 beeps at 1-2.5 kHz."""
    k = int(rng.integers(1, 6))
    on_d, off_d = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.4)
    on = [(round(i * (on_d + off_d), 4), round(i * (on_d + off_d) + on_d, 4)) for i in range(k)]
    dur = on[-1][1] + 0.05
    n = int(dur * SR)
    x = _beeps(rng, n, on, 1000, 2500)
    return Sound(_normalise(x), "beeping_appliance", "microwave", on, "synth:microwave")


def chirp(rng: np.random.Generator) -> Sound:
    """One low-battery chirp (the alarm's own piezo, 20-100 ms)."""
    d = rng.uniform(0.02, 0.1)
    n = int((d + 0.02) * SR)
    x = _piezo(n, rng, 2700, 3800) * envelope(n, [(0.0, d)], 0.002, 0.01)
    return Sound(_normalise(x), "beeping_appliance", "chirp", [(0.0, round(d, 4))], "synth:chirp")


def alarm_clock(rng: np.random.Generator, duration: float) -> Sound:
    """Bursts of 2-4 quick beeps every 0.5-1 s, repeating (no long T4 gap)."""
    k = int(rng.integers(2, 5))
    b_on, b_off = rng.uniform(0.05, 0.1), rng.uniform(0.04, 0.1)
    period = max(rng.uniform(0.5, 1.0), k * (b_on + b_off) + 0.12)
    cycle = [(i * (b_on + b_off), i * (b_on + b_off) + b_on) for i in range(k)]
    on = _repeat_cycle(cycle, period, duration, rng.random() * period)
    n = int(duration * SR)
    x = _beeps(rng, n, on, 2000, 4000)
    return Sound(_normalise(x), "beeping_appliance", "alarm_clock", on, "synth:alarm_clock")


_PENTA = np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21])


def ringtone(rng: np.random.Generator, duration: float) -> Sound:
    """A melodic phone ringtone (phrase of notes, repeated with a pause) or a dual-tone ring."""
    n = int(duration * SR)
    if rng.random() < 0.3:  # classic ring: 400+450 Hz, 0.4 on 0.2 off 0.4 on 2 off
        cycle = [(0.0, 0.4), (0.6, 1.0)]
        on = _repeat_cycle(cycle, 3.0, duration, rng.random() * 3.0)
        f = rng.uniform(380, 480)
        carrier = tone(n, f, rng) + tone(n, f * rng.uniform(1.08, 1.2), rng)
        carrier *= 1 + 0.5 * np.sign(np.sin(2 * np.pi * 20 * _t(n)))
        x = carrier * envelope(n, on, 0.005, 0.02)
        return Sound(_normalise(x), "beeping_appliance", "ringtone", on, "synth:phone_ring")
    base = rng.uniform(400, 1000)
    n_notes = int(rng.integers(4, 10))
    notes = base * 2 ** (rng.choice(_PENTA, size=n_notes) / 12)
    lens = rng.choice([0.1, 0.15, 0.2, 0.3], size=n_notes)
    gap = rng.uniform(0.0, 0.05)
    phrase_len = float(np.sum(lens + gap))
    period = phrase_len + rng.uniform(0.8, 2.0)
    harm = (rng.uniform(0, 0.5), rng.uniform(0, 0.3), rng.uniform(0, 0.2))
    x = np.zeros(n)
    on: list[Interval] = []
    t0 = -rng.random() * period
    while t0 < duration:
        t = t0
        for f, ln in zip(notes, lens, strict=True):
            i0, i1 = int(t * SR), int((t + ln) * SR)
            if i1 > 0 and i0 < n:
                m = i1 - i0
                seg = tone(m, f, rng, harm) * np.exp(-_t(m) * rng.uniform(2, 12))
                seg *= envelope(m, [(0.0, m / SR)], 0.005, 0.02)
                a, b = max(i0, 0), min(i1, n)
                x[a:b] += seg[a - i0 : b - i0]
            t += ln + gap
        on.append((t0, t0 + phrase_len))
        t0 += period
    return Sound(
        _normalise(x),
        "beeping_appliance",
        "ringtone",
        _clip_intervals(on, duration),
        "synth:ringtone",
    )


def reversing(rng: np.random.Generator, duration: float) -> Sound:
    """A truck reversing beeper: ~1-1.2 kHz, 0.5 s on / 0.5 s off, regular."""
    on_d = 0.5 * rng.uniform(0.85, 1.15)
    off_d = 0.5 * rng.uniform(0.85, 1.15)
    on = _repeat_cycle([(0.0, on_d)], on_d + off_d, duration, rng.random())
    n = int(duration * SR)
    x = _beeps(rng, n, on, 950, 1250)
    x = filt(x, "lowpass", rng.uniform(2500, 6000))  # outdoors, through a window
    return Sound(_normalise(x), "beeping_appliance", "reversing", on, "synth:reversing")


def kettle(rng: np.random.Generator, duration: float) -> Sound:
    """A whistling kettle: a breathy 1.5-3.5 kHz tone that swells, wavers and keeps going.

    No beeps at all: a sustained tone in the smoke-alarm band (model 0.2.1's smoke head calls
    it an alarm), the worst case for a rule that would accept long alarm tones.
    """
    n = int(duration * SR)
    f0 = rng.uniform(1500, 3500)
    x = tone(
        n,
        f0,
        rng,
        (rng.uniform(0.0, 0.2),),
        fm_depth=rng.uniform(0.005, 0.03),
        fm_rate=rng.uniform(0.2, 3.0),
    )
    if rng.random() < 0.4:  # two chambers: a second, beating whistle
        x += rng.uniform(0.3, 0.8) * tone(
            n, f0 * rng.uniform(1.05, 1.3), rng, fm_depth=0.01, fm_rate=rng.uniform(0.2, 2.0)
        )
    breath = filt(rng.standard_normal(n), "bandpass", (f0 * 0.8, min(f0 * 1.25, 7500.0)))
    x += rng.uniform(0.1, 0.4) * breath / (np.std(breath) + 1e-9)
    t = _t(n)
    swell = np.clip(t / rng.uniform(1.0, 5.0), 0.0, 1.0)
    flutter = 1.0 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.5, 4.0) * t)
    return Sound(_normalise(x * swell * flutter), None, "kettle", [], "synth:kettle")


# ---------------------------------------------------------------- impacts


def _decay_noise(rng: np.random.Generator, n: int, tau: float) -> np.ndarray:
    return rng.standard_normal(n) * np.exp(-_t(n) / tau)


def _resonance(n: int, f: float, tau: float, rng: np.random.Generator) -> np.ndarray:
    t = _t(n)
    return np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * np.exp(-t / tau)


def thud(rng: np.random.Generator, f_lo: float = 50, f_hi: float = 200) -> np.ndarray:
    """A low impact: decaying sine 50-200 Hz + low-passed noise burst."""
    n = int(rng.uniform(0.08, 0.25) * SR)
    body = _resonance(n, rng.uniform(f_lo, f_hi), rng.uniform(0.01, 0.06), rng)
    noise = filt(_decay_noise(rng, n, rng.uniform(0.005, 0.02)), "lowpass", rng.uniform(300, 1200))
    return body + rng.uniform(0.3, 1.5) * noise / (np.max(np.abs(noise)) + 1e-9)


def glass_break(rng: np.random.Generator) -> Sound:
    """Low impact thud, then within 0-0.3 s a broadband high shatter; 0.5-2.5 s total."""
    total = rng.uniform(0.5, 2.5)
    n = int((total + 0.3) * SR)
    x = np.zeros(n)
    has_impact = rng.random() < 0.85
    if has_impact:
        th = thud(rng, 60, 250) * rng.uniform(0.3, 1.0)
        x[: th.size] += th[:n]
    t_shatter = rng.uniform(0.0, 0.3) if has_impact else 0.0
    shatter_len = max(total - t_shatter, 0.3)
    # initial crack: broadband noise burst, high-passed
    i0 = int(t_shatter * SR)
    m = int(rng.uniform(0.03, 0.12) * SR)
    crack = filt(_decay_noise(rng, m, rng.uniform(0.01, 0.04)), "highpass", rng.uniform(1500, 3000))
    x[i0 : i0 + m] += crack * rng.uniform(1.0, 2.0) / (np.max(np.abs(crack)) + 1e-9)
    # many decaying resonances (fragments), density decaying over the shatter
    n_frag = int(rng.integers(40, 220))
    onsets = t_shatter + rng.exponential(shatter_len / 4, size=n_frag)
    onsets = onsets[onsets < t_shatter + shatter_len]
    amps = np.exp(-(onsets - t_shatter) / (shatter_len / 2.5)) * rng.uniform(0.1, 1.0, onsets.size)
    for t0, a in zip(onsets, amps, strict=True):
        tau = rng.uniform(0.004, 0.05)
        k = int(min(tau * 5, 0.25) * SR)
        j = int(t0 * SR)
        k = min(k, n - j)
        if k <= 0:
            continue
        f = rng.uniform(2000, 7600)
        seg = _resonance(k, f, tau, rng)
        if rng.random() < 0.4:
            seg += 0.5 * _resonance(k, min(f * rng.uniform(1.3, 2.7), 7700), tau * 0.7, rng)
        x[j : j + k] += a * seg * 0.6
    # filtered noise bursts (debris)
    for _ in range(int(rng.integers(2, 10))):
        t0 = t_shatter + rng.exponential(shatter_len / 3)
        j = int(t0 * SR)
        k = min(int(rng.uniform(0.02, 0.15) * SR), n - j)
        if k <= 0:
            continue
        nb = filt(
            _decay_noise(rng, k, rng.uniform(0.01, 0.05)), "highpass", rng.uniform(2000, 5000)
        )
        x[j : j + k] += nb * rng.uniform(0.2, 0.8) / (np.max(np.abs(nb)) + 1e-9)
    # trim to the audible span
    e = np.abs(x)
    idx = np.nonzero(e > 0.01 * e.max())[0]
    end = min(int(idx[-1]) + 1, n)
    x = x[: end + int(0.02 * SR)]
    on = [(0.0, round(end / SR, 4))]
    return Sound(_normalise(x), "glass_break", "shatter", on, "synth:glass")


def metal_drop(rng: np.random.Generator) -> Sound:
    """Dropped spoon / keys / cutlery: a few bounces of inharmonic metallic ringing."""
    bounces = int(rng.integers(1, 5))
    f0 = rng.uniform(1200, 5000)
    ratios = np.array([1.0, 2.76, 5.40, 8.93]) * rng.uniform(0.95, 1.05, 4)
    if rng.random() < 0.5:  # keys: a jangly cluster of small plates
        ratios = np.sort(rng.uniform(1.0, 3.0, 6))
    dur = 0.0
    t, gap, amp = 0.0, rng.uniform(0.08, 0.3), 1.0
    events = []
    for _ in range(bounces):
        events.append((t, amp))
        t += gap
        gap *= rng.uniform(0.4, 0.8)
        amp *= rng.uniform(0.3, 0.8)
    ring = rng.uniform(0.05, 0.6)
    dur = t + ring * 4
    n = int(dur * SR)
    x = np.zeros(n)
    for t0, a in events:
        j = int(t0 * SR)
        k = n - j
        seg = np.zeros(k)
        for r in ratios:
            if f0 * r < 7700:
                seg += rng.uniform(0.2, 1.0) * _resonance(k, f0 * r, ring / r**0.5, rng)
        click = filt(_decay_noise(rng, min(k, 200), 0.002), "highpass", 2000)
        seg[: click.size] += click
        x[j:] += a * seg
    return Sound(_normalise(x), None, "metal_drop", [], "synth:metal_drop")


def dish_clink(rng: np.random.Generator) -> Sound:
    n_hits = int(rng.integers(1, 4))
    ring = rng.uniform(0.05, 0.4)
    n = int((n_hits * 0.4 + ring * 4) * SR)
    x = np.zeros(n)
    f0 = rng.uniform(1500, 5000)
    t = 0.0
    for _ in range(n_hits):
        j = int(t * SR)
        k = n - j
        seg = _resonance(k, f0, ring, rng) + 0.5 * _resonance(k, min(f0 * 2.3, 7700), ring / 2, rng)
        x[j:] += seg * rng.uniform(0.4, 1.0)
        t += rng.uniform(0.1, 0.4)
    return Sound(_normalise(x), None, "dish_clink", [], "synth:dish_clink")


def door_slam(rng: np.random.Generator) -> Sound:
    """Impact + short mid-band rattle, no high shatter."""
    th = thud(rng, 40, 150)
    n = th.size + int(0.4 * SR)
    x = np.zeros(n)
    x[: th.size] += th
    rat = filt(_decay_noise(rng, int(0.3 * SR), rng.uniform(0.02, 0.08)), "bandpass", (200, 2000))
    j = int(rng.uniform(0.0, 0.03) * SR)
    x[j : j + rat.size] += rat * rng.uniform(0.1, 0.5) / (np.max(np.abs(rat)) + 1e-9)
    return Sound(_normalise(x), None, "door_slam", [], "synth:door_slam")


def claps(rng: np.random.Generator) -> Sound:
    k = int(rng.integers(1, 12))
    rate = rng.uniform(2.0, 6.0)
    n = int((k / rate + 0.2) * SR)
    x = np.zeros(n)
    lo = rng.uniform(600, 1200)
    for i in range(k):
        j = int((i / rate + rng.normal(0, 0.01)) * SR)
        j = max(j, 0)
        m = min(int(0.05 * SR), n - j)
        c = filt(_decay_noise(rng, m, rng.uniform(0.005, 0.015)), "bandpass", (lo, lo * 3.5))
        x[j : j + m] += c * rng.uniform(0.6, 1.0)
    return Sound(_normalise(x), None, "claps", [], "synth:claps")


def knocks(rng: np.random.Generator) -> Sound:
    """Door knocks: 2-4 woody knocks 0.15-0.3 s apart (possibly repeated once)."""
    groups = 1 if rng.random() < 0.6 else 2
    f = rng.uniform(150, 400)
    times: list[float] = []
    t = 0.0
    for _ in range(groups):
        for _ in range(int(rng.integers(2, 5))):
            times.append(t)
            t += rng.uniform(0.15, 0.3)
        t += rng.uniform(1.0, 2.5)
    n = int((times[-1] + 0.3) * SR)
    x = np.zeros(n)
    for t0 in times:
        j = int(t0 * SR)
        m = min(int(0.2 * SR), n - j)
        seg = _resonance(m, f * rng.uniform(0.95, 1.05), rng.uniform(0.01, 0.03), rng)
        seg += 0.3 * _resonance(m, f * 2.7, 0.008, rng)
        seg[:80] += filt(_decay_noise(rng, 80, 0.002), "highpass", 1500)[: min(80, m)]
        x[j : j + m] += seg * rng.uniform(0.7, 1.0)
    return Sound(_normalise(x), None, "knocks", [], "synth:knocks")


def clock_ticking(rng: np.random.Generator, duration: float) -> Sound:
    rate = rng.choice([1.0, 2.0, rng.uniform(1.0, 2.5)])
    n = int(duration * SR)
    x = np.zeros(n)
    f = rng.uniform(2000, 6000)
    t = rng.random() / rate
    tock = rng.random() < 0.5
    i = 0
    while t < duration - 0.02:
        j = int(t * SR)
        m = min(int(0.02 * SR), n - j)
        ff = f * (0.8 if (tock and i % 2) else 1.0)
        x[j : j + m] += _resonance(m, ff, rng.uniform(0.001, 0.004), rng)
        t += 1.0 / rate
        i += 1
    return Sound(_normalise(x), None, "ticking", [], "synth:ticking")


def drum_beat(rng: np.random.Generator, duration: float) -> Sound:
    """A drum-machine groove at 70-140 BPM (beats at walking cadence), sometimes heard
    through a wall (low-passed): a hard negative for footsteps and glass."""
    bpm = rng.uniform(70, 140)
    beat = 60.0 / bpm
    n = int(duration * SR)
    x = np.zeros(n)
    kick_f, kick_tau = rng.uniform(45, 90), rng.uniform(0.04, 0.12)
    snare_f = rng.uniform(150, 260)
    hat_every = int(rng.choice([1, 2, 4]))  # hi-hats per beat
    t, k = rng.random() * beat, 0
    while t < duration - 0.05:
        j = int(t * SR)
        if k % 2 == 0 or rng.random() < 0.15:  # kick on 1 and 3 (and ghost kicks)
            m = min(int(0.3 * SR), n - j)
            sweep = np.sin(2 * np.pi * np.cumsum(kick_f * (1 + 2 * np.exp(-_t(m) / 0.02))) / SR)
            x[j : j + m] += sweep * np.exp(-_t(m) / kick_tau)
        else:  # snare on 2 and 4
            m = min(int(0.2 * SR), n - j)
            body = _resonance(m, snare_f, 0.03, rng)
            rattle = filt(_decay_noise(rng, m, rng.uniform(0.03, 0.08)), "bandpass", (1500, 7000))
            x[j : j + m] += 0.6 * body + rng.uniform(0.4, 1.0) * rattle
        for h in range(hat_every):
            jh = int((t + h * beat / hat_every) * SR)
            mh = min(int(0.05 * SR), n - jh)
            if mh > 0:
                hat = filt(_decay_noise(rng, mh, rng.uniform(0.005, 0.02)), "highpass", 7000)
                x[jh : jh + mh] += rng.uniform(0.1, 0.35) * hat
        t += beat
        k += 1
    if rng.random() < 0.4:  # the neighbours' music, through the wall
        x = filt(x, "lowpass", rng.uniform(200, 600), order=4)
    return Sound(_normalise(x), None, "drum_beat", [], "synth:drum_beat")


def dripping(rng: np.random.Generator, duration: float) -> Sound:
    n = int(duration * SR)
    x = np.zeros(n)
    t = rng.uniform(0, 0.5)
    mean_gap = rng.uniform(0.3, 2.0)
    while t < duration - 0.1:
        j = int(t * SR)
        m = min(int(0.06 * SR), n - j)
        f0 = rng.uniform(500, 1800)
        tt = _t(m)
        inst = f0 * (1 + tt * rng.uniform(5, 20))
        seg = np.sin(2 * np.pi * np.cumsum(inst) / SR) * np.exp(-tt / rng.uniform(0.005, 0.02))
        x[j : j + m] += seg * rng.uniform(0.5, 1.0)
        t += mean_gap * rng.uniform(0.7, 1.3)
    return Sound(_normalise(x), None, "dripping", [], "synth:dripping")


# ---------------------------------------------------------------- footsteps


def step_impact(rng: np.random.Generator, floor: str, shoe: dict[str, float]) -> np.ndarray:
    """One footstep: heel thump (+ optional toe), colour by floor type."""
    n = int(0.16 * SR)
    x = np.zeros(n)
    heel_n = int(shoe["heel_len"] * SR)
    heel = _decay_noise(rng, heel_n, shoe["heel_tau"])
    heel = filt(heel, "lowpass", shoe["cutoff"])
    heel /= np.max(np.abs(heel)) + 1e-9
    heel += 0.7 * _resonance(heel_n, shoe["body_f"], shoe["heel_tau"] * 1.5, rng)
    x[:heel_n] += heel
    if floor in ("hard", "wood", "tile"):
        m = int(0.006 * SR)
        click = filt(_decay_noise(rng, m, 0.0015), "bandpass", (1000, 5000))
        x[:m] += click * shoe["click"] / (np.max(np.abs(click)) + 1e-9)
    if floor == "wood" and rng.random() < 0.3:  # creak
        m = int(0.1 * SR)
        cr = tone(m, rng.uniform(300, 900), rng, (0.3,), fm_depth=0.05, fm_rate=30)
        x[int(0.03 * SR) : int(0.03 * SR) + m] += 0.15 * cr * np.hanning(m)
    if shoe["toe"] > 0:
        j = int(shoe["toe_delay"] * SR)
        m = min(int(0.05 * SR), n - j)
        toe = filt(_decay_noise(rng, m, shoe["heel_tau"] * 0.7), "lowpass", shoe["cutoff"] * 1.5)
        x[j : j + m] += shoe["toe"] * toe / (np.max(np.abs(toe)) + 1e-9)
    return x * rng.uniform(0.8, 1.2)


def footsteps(
    rng: np.random.Generator,
    impacts: list[np.ndarray] | None = None,
    source: str = "synth:footsteps",
) -> Sound:
    """A walker: >= 4 steps at 1.4-2.2 steps/s, jitter, L/R asymmetry, approaching/leaving.

    ``impacts``: real single-step recordings to draw from (otherwise synthesised).
    """
    k = int(rng.integers(4, 15))
    rate = rng.uniform(1.4, 2.2)
    floor = str(rng.choice(["hard", "wood", "tile", "carpet"]))
    shoe = {
        "heel_len": rng.uniform(0.04, 0.09),
        "heel_tau": rng.uniform(0.006, 0.02),
        "cutoff": rng.uniform(150, 800) if floor != "tile" else rng.uniform(500, 2000),
        "body_f": rng.uniform(50, 130),
        "click": rng.uniform(0.0, 0.8) if floor != "carpet" else 0.0,
        "toe": rng.uniform(0.0, 0.5),
        "toe_delay": rng.uniform(0.04, 0.1),
    }
    times = np.cumsum(np.r_[0.0, rng.normal(1.0 / rate, 0.06 / rate, k - 1)])
    times = np.maximum.accumulate(times)
    shape = rng.choice(["approach", "leave", "pass", "steady"])
    lv = np.linspace(0, 1, k)
    rng_db = rng.uniform(6, 20)
    gains_db = {
        "approach": -rng_db * (1 - lv),
        "leave": -rng_db * lv,
        "pass": -rng_db * (2 * np.abs(lv - 0.5)),
        "steady": np.zeros(k),
    }[str(shape)]
    lr = rng.uniform(0, 3)  # dB asymmetry between feet
    n = int((times[-1] + 0.3) * SR)
    x = np.zeros(n)
    on: list[Interval] = []
    for i, t0 in enumerate(times):
        imp = impacts[int(rng.integers(len(impacts)))] if impacts else step_impact(rng, floor, shoe)
        g = 10 ** ((gains_db[i] - (lr if i % 2 else 0)) / 20)
        j = int(t0 * SR)
        m = min(imp.size, n - j)
        x[j : j + m] += g * imp[:m]
        d = _impact_len(imp)
        on.append((round(float(t0), 4), round(float(t0) + d, 4)))
    return Sound(_normalise(x), "footsteps", "steps", on, source, {"rate": float(rate)})


def _impact_len(imp: np.ndarray) -> float:
    """Duration of an impact's main energy, clamped to the 0.06-0.1 s footstep convention."""
    e = np.abs(imp)
    idx = np.nonzero(e > 0.1 * e.max())[0] if e.size and e.max() > 0 else np.array([0])
    return float(np.clip((idx[-1] - idx[0]) / SR, 0.06, 0.1))


def single_thump(rng: np.random.Generator) -> Sound:
    """One thump (or two far apart): not footsteps."""
    x = thud(rng, 40, 150)
    if rng.random() < 0.3:
        gap = int(rng.uniform(1.5, 3.0) * SR)
        x2 = thud(rng, 40, 150) * rng.uniform(0.3, 1.0)
        y = np.zeros(gap + x2.size)
        y[: x.size] += x
        y[gap:] += x2
        x = y
    return Sound(_normalise(x), None, "thump", [], "synth:thump")


# ---------------------------------------------------------------- background noise


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """1/f^exponent noise (0 white, 1 pink, 2 brown), unit RMS."""
    spec = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    spec *= f ** (-exponent / 2)
    x = np.fft.irfft(spec, n)
    return x / (np.std(x) + 1e-12)


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fan / fridge / HVAC: mains hum harmonics + filtered broadband, slow level wobble."""
    t = _t(n)
    base = rng.choice([50.0, 60.0]) * rng.choice([1, 2])
    period = _t(1600)  # 1600 samples hold whole cycles of 50, 60, 100 and 120 Hz
    cyc = np.zeros(1600)
    for k in range(1, int(rng.integers(2, 8))):
        cyc += rng.uniform(0, 1) / k * np.sin(2 * np.pi * base * k * period + rng.uniform(0, 6.28))
    x = np.tile(cyc, n // 1600 + 1)[:n]
    x /= np.std(x) + 1e-12
    bb = filt(
        colored_noise(rng, n, 1.0), "bandpass", (rng.uniform(60, 200), rng.uniform(800, 4000))
    )
    bb /= np.std(bb) + 1e-12
    y = rng.uniform(0.1, 1.0) * x + bb
    if rng.random() < 0.5:  # fan blade whoosh
        y *= 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 5) * t)
    return y / (np.std(y) + 1e-12)


def noise_bed(rng: np.random.Generator, n: int) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(["pink", "brown", "white", "hum", "hvac", "pink+hum"]))
    if kind == "pink":
        x = colored_noise(rng, n, 1.0)
    elif kind == "brown":
        x = colored_noise(rng, n, 2.0)
    elif kind == "white":
        x = colored_noise(rng, n, 0.0) * 0.3 + colored_noise(rng, n, 1.0)
    elif kind == "hum":
        x = hum(rng, n)
    elif kind == "hvac":
        x = filt(colored_noise(rng, n, 1.5), "lowpass", rng.uniform(300, 2000)) + 0.3 * hum(rng, n)
    else:
        x = colored_noise(rng, n, 1.0) + rng.uniform(0.3, 1.0) * hum(rng, n)
    return (x / (np.std(x) + 1e-12)).astype(np.float32), kind
