"""Beep on/off intervals of a real alarm recording, and the pattern they form.

Method (documented in models/data/README.md):
1. Dominant tone: the peak of the mean power spectrum between 400 Hz and 7 kHz.
2. Band energy: power within +-8 % of that tone (plus the same band around its 2nd and 3rd
   harmonic when below 8 kHz) in 10 ms hops (1024-point STFT at 16 kHz).
3. Threshold: the higher of (a) halfway in dB between the 10th and 95th percentile of the
   band energy and (b) 15 dB below the 95th percentile (the beep plateau), so that the room's
   reverberant decay after each beep is not counted as the beep; a hop is "on" above it.
   Gaps shorter than 40 ms are closed, blips shorter than 40 ms removed.
4. Pattern: "T3" when the on/off sequence holds the 3 x (on ~0.5 s, off ~0.5 s) then a long
   (>= 1 s) pause rhythm; "T4" for 4 x ~0.1 s beeps then a long pause; otherwise "continuous".
"""

from __future__ import annotations

import numpy as np
from scipy.signal import stft

from .audio import SR

HOP_S = 0.01


def dominant_tone(x: np.ndarray, lo: float = 400.0, hi: float = 7000.0) -> float:
    freqs, _, z = stft(x, SR, nperseg=1024, noverlap=1024 - int(SR * HOP_S))
    spec = (np.abs(z) ** 2).mean(axis=1)
    band = (freqs >= lo) & (freqs <= hi)
    return float(freqs[band][np.argmax(spec[band])])


def band_energy_db(x: np.ndarray, tone: float) -> np.ndarray:
    freqs, _, z = stft(x, SR, nperseg=1024, noverlap=1024 - int(SR * HOP_S), boundary=None)
    power = np.abs(z) ** 2
    sel = np.zeros(freqs.shape, dtype=bool)
    for k in (1, 2, 3):
        f = tone * k
        if f < 7900:
            sel |= np.abs(freqs - f) <= 0.08 * f
    return 10.0 * np.log10(power[sel].sum(axis=0) + 1e-12)


def on_intervals(x: np.ndarray, tone: float | None = None) -> list[tuple[float, float]]:
    """[(start_s, end_s), ...] of each beep of the dominant tone in ``x`` (16 kHz mono)."""
    if tone is None:
        tone = dominant_tone(x)
    e = band_energy_db(x, tone)
    lo, hi = np.percentile(e, 10), np.percentile(e, 95)
    on = e > max((lo + hi) / 2, hi - 15.0)
    min_len = round(0.04 / HOP_S)
    # close short gaps, then drop short blips
    runs = _runs(on)
    for s, t, v in runs:
        if not v and t - s < min_len and s > 0 and t < on.size:
            on[s:t] = True
    runs = _runs(on)
    for s, t, v in runs:
        if v and t - s < min_len:
            on[s:t] = False
    # STFT frame k is centred at k * hop (nperseg/2 offset already removed by boundary=None
    # giving frames centred at nperseg/2 + k*hop)
    offset = 512 / SR
    return [
        (round(offset + s * HOP_S - HOP_S / 2, 3), round(offset + t * HOP_S - HOP_S / 2, 3))
        for s, t, v in _runs(on)
        if v
    ]


def energy_on(x: np.ndarray, below_peak_db: float = 20.0) -> list[tuple[float, float]]:
    """Broadband on-intervals of a clean sample (10 ms RMS within ``below_peak_db`` of its
    peak; gaps < 60 ms closed, blips < 20 ms dropped): for beepers / ringtones that are not
    a single tone."""
    hop = int(SR * HOP_S)
    n = x.size // hop
    if n == 0:
        return []
    rms_db = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    on = rms_db > rms_db.max() - below_peak_db
    for s, t, v in _runs(on):
        if not v and t - s < 6 and s > 0 and t < n:
            on[s:t] = True
    return [(round(s * HOP_S, 3), round(t * HOP_S, 3)) for s, t, v in _runs(on) if v and t - s >= 2]


def _runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    out: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, mask.size + 1):
        if i == mask.size or mask[i] != mask[start]:
            out.append((start, i, bool(mask[start])))
            start = i
    return out


def classify_pattern(on: list[tuple[float, float]]) -> str:
    """Pattern name ("T3", "T4" or "continuous") from the beep intervals."""
    if len(on) < 3:
        return "continuous"
    durs = np.array([e - s for s, e in on])
    gaps = np.array([on[i + 1][0] - on[i][1] for i in range(len(on) - 1)])
    long_gaps = gaps >= 1.0
    if long_gaps.sum() >= 1:
        # group beeps between long gaps
        groups: list[list[float]] = [[durs[0]]]
        for g, d in zip(gaps, durs[1:], strict=True):
            if g >= 1.0:
                groups.append([d])
            else:
                groups[-1].append(d)
        inner = groups[1:-1] or groups
        sizes = [len(g) for g in inner]
        med = float(np.median(durs))
        if sizes and all(s == 3 for s in sizes) and 0.35 <= med <= 0.65:
            return "T3"
        if sizes and all(s == 4 for s in sizes) and med <= 0.2:
            return "T4"
    return "continuous"
