"""Temporal aggregation: per-frame head scores -> event on/off decisions (numpy only).

The model says, 50 times a second, "an alarm beep / a non-alarm beep / glass / a footstep
impact is sounding now". This module turns those frame scores into events:

* **Beeps** (smoke + CO heads): frames where ``max(smoke, co)`` passes a fixed hysteresis
  (:data:`BEEP_ON` / :data:`BEEP_OFF`) are cut into beeps (onset, end, peak, mean score of
  every head). The last ~2 minutes of beeps are kept in a ring buffer.
* **Smoke** (``T3``): three ~0.5 s beeps 0.5 s apart, then ~1.5 s of silence, repeated. On
  after ``evidence`` cycles (complete groups; a started next group counts a third per beep;
  a cycle heard from its middle counts its beeps; at least one complete group is needed).
  Blips (reverb tails, noise) are dropped and beeps split by a short dip re-joined first;
  the group's gaps must be alike and its beeps not appliance-like. Other rhythms
  (``continuous``: European alarms) only on *sustained* evidence: beeps with a high smoke
  score and a low appliance score repeating without a pause for ``sustained_s``. A short
  beep in which the alarm-band tone starts three times (an alarm clock's burst, one beep to
  the model; the Detector's ``tone_onset`` column) does not count; with ``long_beep_s`` fast
  beeping that the model hears as one long beep does.
* **CO** (``T4``): four ~0.1 s beeps 0.1 s apart, then 4-60 s of silence. Each closed group
  counts 1 once the silence after it reached :data:`T4_SILENCE`, 0.5 before that; a group
  blurred into one or two beeps by reverb counts only when the CO head backs it (on average
  or with four onset pulses; with one to three pulses it counts half). A T4 rhythm is CO
  whatever the smoke head says; a T3 rhythm is smoke.
* **Glass**: at least ``evidence`` frames above ``threshold`` within 1 s (impact + shatter);
  a short clink has too few frames.
* **Footsteps**: impacts (peaks of the footstep head, >= 0.25 s apart) at 0.3-1.0 s intervals,
  reasonably regular; on after ``evidence`` impacts. One thump or a knock burst is not a walk.

Every event stays on while its evidence continues and turns off ``hold_s`` after the last
evidence (never stuck on). Sensitivity moves both the score thresholds and the evidence
needed: :func:`params_for` reads them from the model manifest (``models/tune.py`` writes them)
with built-in defaults, and interpolates between levels for a number 0..1.

All state is per stream, small and bounded (ring buffers); no Home Assistant imports.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from .types import EVENTS, SENSITIVITIES, Detection

FloatArray = npt.NDArray[np.float32]

FRAME_RATE: Final = 50.0
ALARM_EVENTS: Final = ("smoke_alarm", "co_alarm")
APPLIANCE_HEAD: Final = "beeping_appliance"
# A cue column the Detector adds next to the heads (``engine/cues.py``): alarm-band tone onsets.
TONE_ONSET: Final = "tone_onset"

# Beep segmentation on max(smoke, co): fixed, so every sensitivity sees the same beeps
# (sensitivity then decides which beeps are strong enough to count).
BEEP_ON: Final = 0.3
BEEP_OFF: Final = 0.15
BEEP_MEMORY_S: Final = 130.0  # two T4 groups 60 s apart and a bit
BEEP_CAPACITY: Final = 96

# T3 (smoke): beeps 0.5 s +-10 %, gaps 0.5 s, group gap 1.5 s; +-0.15-0.2 s measurement slack.
T3_SPLIT: Final = 0.95  # gaps above this separate groups
T3_BEEP: Final = (0.2, 0.9)  # the first beep is often heard late
T3_GAP: Final = (0.15, 0.85)
T3_GAP_RATIO: Final = 2.5  # the two gaps of a group are alike (a melody's are not)
T3_APPLIANCE_MAX: Final = 0.5  # mean appliance score of a T3 group
T3_GROUP_GAP: Final = (0.95, 2.4)
T3_CLOSE: Final = 0.95  # silence after a group's third beep that closes it
T3_MERGE: Final = 0.1  # shorter dips inside a T3 beep are not gaps
T3_BLIP: Final = 0.05  # one- or two-frame blips (reverb tails) are dropped first
T3_IGNORE_SHORTER: Final = 0.12  # blips (noise, a chirp) neither count nor break the rhythm

# T4 (CO): four beeps 0.1 s, gaps 0.1 s, then 4-60 s of silence.
T4_SPLIT: Final = 0.45
T4_BEEP_MAX: Final = 0.4  # (for the tail of a group heard from its middle)
T4_BEEPS: Final = (3, 5)  # one beep lost or split by the model is tolerated
T4_SPAN: Final = (0.35, 1.2)
# In a reverberant room the four beeps can blur into one or two: such a group counts only
# when the CO head backs it (mean CO score over the group).
T4_MERGED_SPAN: Final = (0.5, 1.3)
T4_MERGED_CO: Final = 0.5
# ... or, in a reverberant room where the smoke head stays up through the whole group and the
# CO head fires only at each beep's onset, as many CO-head pulses as a T4 group has beeps.
T4_MERGED_PULSES: Final = 4
# ... and a blur in which the CO head pulsed at least once counts this much of a group.
T4_WEAK: Final = 0.5
CO_PULSE: Final = 0.5  # a CO-head pulse starts where its score rises through this
T4_SILENCE: Final = 3.5
T4_MAX_SILENCE: Final = 65.0

# Continuous (non-T3) smoke alarms.
CONT_MAX_GAP: Final = 2.4
CONT_MIN_BEEPS: Final = 4
CONT_BAD_BEEPS: Final = 1  # non-alarm-like beeps in a row that a run survives
CONT_GOOD_SHARE: Final = 0.75  # ... as long as most of its beeps are alarm-like
# An alarm clock's burst of short beeps is one beep to the model, but its tone starts several
# times: a beep this short with this many tone onsets is clock-like, never alarm-like.
CLOCK_MAX_DUR: Final = 0.8
CLOCK_ONSETS: Final = 3
# Fast beeping (0.28 s on, 0.06 s off) can be heard as ONE long beep: the smoke head stays up
# through the short gaps. With ``EventParams.long_beep_s`` > 0 a beep counts once per
# CONT_UNIT of its length, and a beep still sounding after ``long_beep_s`` is judged by its
# running means. The tuner decides whether it is on (model 0.3.0: on, 2 s; safe only with a
# smoke head that does not score a whistling kettle like an alarm, see models/MODEL_CARD.md).
CONT_UNIT: Final = 0.5

GLASS_WINDOW_S: Final = 1.0  # impact + shatter: evidence frames counted over the last second
GLASS_MAX_S: Final = 5.0  # a break is over in 2-3 s: evidence later than this extends nothing

STEP_REFRACTORY: Final = 0.25
STEP_INTERVAL: Final = (0.3, 1.0)
STEP_REGULARITY: Final = 2.2  # longest / shortest interval among the counted steps
STEP_WINDOW_S: Final = 6.0
STEP_CAPACITY: Final = 16


@dataclass(frozen=True, slots=True)
class EventParams:
    """Decision parameters of one event at one sensitivity (all numbers, so they interpolate).

    ``threshold``: score a beep peak / glass frame / footstep peak must reach.
    ``evidence``: smoke: T3 cycles; CO: T4 groups (0.5 per group still in its silence);
    glass: frames above threshold within 1 s; footsteps: impacts.
    ``hold_s``: stays on this long after the last evidence.
    ``sustained_s`` / ``sustained_threshold`` / ``appliance_max``: smoke only, the
    non-T3 ("continuous") rule: beeps whose mean smoke score >= ``sustained_threshold`` and mean
    appliance score <= ``appliance_max`` repeating without a pause for ``sustained_s``.
    ``long_beep_s``: smoke only, 0 = off (the built-in default): fast beeping heard as one long
    beep: beeps count once per :data:`CONT_UNIT` of their length, and a beep still sounding
    after ``long_beep_s`` is judged by its running means (see :func:`sustained_evidence`).
    """

    threshold: float = 0.5
    evidence: float = 2.0
    hold_s: float = 15.0
    sustained_s: float = 10.0
    sustained_threshold: float = 0.65
    appliance_max: float = 0.4
    long_beep_s: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: EventParams | None = None) -> EventParams:
        """Parameters from a manifest entry; unknown keys ignored, missing ones from ``base``."""
        out = base or cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for key, value in data.items():
            if key in known:
                number = float(value)
                if not math.isfinite(number) or number < 0:
                    raise ValueError(f"threshold parameter {key}={value!r} must be finite and >= 0")
                values[key] = number
        return replace(out, **values)

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def _p(**kw: float) -> EventParams:
    return EventParams(**kw)


DEFAULTS: Final[dict[str, dict[str, EventParams]]] = {
    "smoke_alarm": {
        "low": _p(
            threshold=0.6,
            evidence=2.3,
            hold_s=15.0,
            sustained_s=12.0,
            sustained_threshold=0.75,
            appliance_max=0.3,
        ),
        "medium": _p(
            threshold=0.5,
            evidence=2.0,
            hold_s=15.0,
            sustained_s=10.0,
            sustained_threshold=0.65,
            appliance_max=0.4,
        ),
        "high": _p(
            threshold=0.35,
            evidence=1.3,
            hold_s=15.0,
            sustained_s=8.0,
            sustained_threshold=0.5,
            appliance_max=0.5,
        ),
    },
    "co_alarm": {
        "low": _p(threshold=0.6, evidence=2.0, hold_s=15.0),
        "medium": _p(threshold=0.5, evidence=1.5, hold_s=15.0),
        "high": _p(threshold=0.35, evidence=1.5, hold_s=15.0),
    },
    "glass_break": {
        "low": _p(threshold=0.6, evidence=12.0, hold_s=5.0),
        "medium": _p(threshold=0.5, evidence=8.0, hold_s=5.0),
        "high": _p(threshold=0.35, evidence=5.0, hold_s=5.0),
    },
    "footsteps": {
        "low": _p(threshold=0.6, evidence=5.0, hold_s=10.0),
        "medium": _p(threshold=0.5, evidence=4.0, hold_s=10.0),
        "high": _p(threshold=0.35, evidence=3.0, hold_s=10.0),
    },
}


def _level_position(value: str | float) -> float:
    """``low``/``medium``/``high`` or a number 0..1 -> position 0 (low) .. 1 (high)."""
    if isinstance(value, str):
        if value not in SENSITIVITIES:
            raise ValueError(f"sensitivity must be one of {SENSITIVITIES} or 0..1, not {value!r}")
        return SENSITIVITIES.index(value) / 2.0
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"sensitivity number must be within 0..1, not {value!r}")
    return number


def _interpolate(a: EventParams, b: EventParams, w: float) -> EventParams:
    values = {
        f.name: (1.0 - w) * getattr(a, f.name) + w * getattr(b, f.name) for f in fields(EventParams)
    }
    return EventParams(**values)


def params_for(
    manifest_thresholds: Mapping[str, Any] | None,
    sensitivity: str | float | Mapping[str, str | float] = "medium",
) -> dict[str, EventParams]:
    """Per-event parameters for a sensitivity (a level, a number 0..1, or one per event).

    ``manifest_thresholds`` is ``manifest["thresholds"]``: ``{event: {level: {param: value}}}``;
    anything missing falls back to the built-in defaults.
    """
    table = manifest_thresholds or {}
    out: dict[str, EventParams] = {}
    for event in EVENTS:
        wanted: str | float
        if isinstance(sensitivity, Mapping):
            wanted = sensitivity.get(event, "medium")
        else:
            wanted = sensitivity
        pos = _level_position(wanted)
        levels: dict[str, EventParams] = {}
        entry = table.get(event) or {}
        for level in SENSITIVITIES:
            data = entry.get(level) if isinstance(entry, Mapping) else None
            base = DEFAULTS[event][level]
            levels[level] = (
                EventParams.from_mapping(data, base) if isinstance(data, Mapping) else base
            )
        scaled = pos * 2.0
        lo = min(int(scaled), 1)
        w = scaled - lo
        out[event] = _interpolate(levels[SENSITIVITIES[lo]], levels[SENSITIVITIES[lo + 1]], w)
    return out


# ----------------------------------------------------------------------------- segmentation


def _frame_time(t_end: float, n: int, i: int, hop: float) -> float:
    """End time of frame ``i`` of the ``n`` frames of a chunk ending at ``t_end``."""
    return t_end - (n - 1 - i) * hop


class Segment(NamedTuple):
    """A run of frames above a hysteresis threshold (times in stream seconds)."""

    on: float  # onset (start of the first frame's hop)
    off: float  # end of the last frame above the low threshold
    peak: float
    peak_t: float
    means: tuple[float, ...]  # mean of each stats column over the segment


class _Segmenter:
    """Streaming hysteresis segmentation of one score track; chunking does not matter."""

    __slots__ = ("_active", "_n", "_on", "_peak", "_peak_t", "_start", "_sums", "high", "low")

    def __init__(self, high: float, low: float, n_stats: int) -> None:
        self.high = high
        self.low = low
        self._active = False
        self._start = 0.0
        self._n = 0
        self._peak = 0.0
        self._peak_t = 0.0
        self._sums: npt.NDArray[np.float64] = np.zeros(n_stats)
        self._on = 0.0

    def reset(self) -> None:
        self._active = False
        self._n = 0
        self._sums[:] = 0.0

    @property
    def open_peak(self) -> float | None:
        """Peak of the segment still open at the end of the last chunk, else None."""
        return self._peak if self._active else None

    @property
    def open_onset(self) -> float | None:
        """Onset of the segment still open at the end of the last chunk, else None."""
        return self._on if self._active else None

    @property
    def open_means(self) -> tuple[float, ...] | None:
        """Running mean of each stats column over the open segment so far, else None."""
        if not self._active or not self._n:
            return None
        return tuple(float(v) for v in self._sums / self._n)

    def quiet(self, peak: float) -> bool:
        """True when frames peaking at ``peak`` cannot open or close a segment (common case)."""
        return not self._active and peak < self.high

    def feed(
        self,
        x: npt.NDArray[np.float64],
        stats: npt.NDArray[np.float64] | None,
        t_end: float,
        hop: float,
    ) -> list[Segment]:
        """Frames ``x`` (``stats`` rows) ending at ``t_end`` -> the segments closed by them.

        ``stats`` None: no statistics (every mean is 0).
        """
        xs = cast("list[float]", x.tolist())
        runs = self._runs(xs)
        if not runs:
            return []
        n = len(xs)
        # A run's sums are differences of the chunk's cumulative sums (row 0: before frame 0).
        csum: npt.NDArray[np.float64] | None = None
        if stats is not None and any(b > a for a, b, _ in runs):
            csum = np.zeros((n + 1, stats.shape[1]))
            np.cumsum(stats, axis=0, out=csum[1:])
        closed: list[Segment] = []
        for a, b, cont in runs:
            if b > a:
                seg = xs[a:b]
                peak = max(seg)
                peak_t = _frame_time(t_end, n, a + seg.index(peak), hop)  # its first frame
                sums = csum[b] - csum[a] if csum is not None else np.zeros(self._sums.size)
                if cont:
                    self._sums += sums
                    self._n += b - a
                    if peak > self._peak:
                        self._peak, self._peak_t = peak, peak_t
                else:
                    self._on = _frame_time(t_end, n, a, hop) - hop
                    self._sums = sums
                    self._n = b - a
                    self._peak, self._peak_t = peak, peak_t
            if b < n:
                means = tuple(float(v) for v in self._sums / max(self._n, 1))
                off = _frame_time(t_end, n, b, hop) - hop  # end of the last frame above `low`
                closed.append(Segment(self._on, off, self._peak, self._peak_t, means))
        self._active = runs[-1][1] >= n
        return closed

    def _runs(self, xs: list[float]) -> list[tuple[int, int, bool]]:
        """Runs ``[a, b)`` of frames inside a segment, and whether a run continues the open one.

        Hysteresis: a frame >= ``high`` opens a segment, one < ``low`` closes it, others keep
        the state. A run that closes at frame 0 is empty (the open segment ends there).
        """
        runs: list[tuple[int, int, bool]] = []
        active = self._active
        a = 0
        for i, v in enumerate(xs):
            if v < self.low:
                if active:
                    runs.append((a, i, a == 0 and self._active))
                    active = False
            elif v >= self.high and not active:
                a = i
                active = True
        if active:
            runs.append((a, len(xs), a == 0 and self._active))
        return runs

    @property
    def state_bytes(self) -> int:
        return int(self._sums.nbytes) + 8 * 8


# ----------------------------------------------------------------------------- beep patterns


class Beep(NamedTuple):
    """One closed beep: times, peak of max(smoke, co), mean score per head, CO pulses and
    alarm-band tone onsets inside it."""

    on: float
    off: float
    peak: float
    smoke: float
    co: float
    appliance: float
    co_pulses: int = 0  # times the CO head rose through CO_PULSE inside the beep
    onsets: int = 0  # times the alarm-band tone started inside the beep (engine/cues.py)

    @property
    def dur(self) -> float:
        return self.off - self.on


class PatternEvidence(NamedTuple):
    evidence: float
    start: float
    confidence: float


NO_EVIDENCE: Final = PatternEvidence(0.0, 0.0, 0.0)


def _mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))`` (numpy's sum, so the same number) without its overhead."""
    if not values:
        return math.nan
    return float(np.add.reduce(np.asarray(values, dtype=np.float64))) / len(values)


def _groups(beeps: Sequence[Beep], split: float) -> list[list[Beep]]:
    groups: list[list[Beep]] = []
    group: list[Beep] = []
    for b in beeps:
        if group and b.on - group[-1].off <= split:
            group.append(b)
        else:
            group = [b]
            groups.append(group)
    return groups


def merge_close(beeps: Sequence[Beep], max_gap: float, min_piece: float = 0.2) -> list[Beep]:
    """Join beeps split by a short dip of the score (one T3 beep seen as two).

    Only when one piece is long (``min_piece``): T4's 0.1 s beeps stay apart. A beep joins
    the one before it (itself maybe joined already) when the dip between them is at most
    ``max_gap`` and either is at least ``min_piece`` long.
    """
    out: list[Beep] = []
    pieces: list[Beep] = []  # of the beep being joined
    for b in beeps:
        if pieces:
            on, off = pieces[0].on, pieces[-1].off
            if b.on - off <= max_gap and max(b.dur, off - on) >= min_piece:
                pieces.append(b)
                continue
            out.append(_joined(pieces))
        pieces = [b]
    if pieces:
        out.append(_joined(pieces))
    return out


def _joined(pieces: Sequence[Beep]) -> Beep:
    """Pieces as one beep: the highest peak; means weighted by duration, joined in order."""
    if len(pieces) == 1:
        return pieces[0]
    on, off, peak, smoke, co, appliance, pulses, onsets = pieces[0]
    for b in pieces[1:]:
        wa, wb = max(off - on, 1e-3), max(b.dur, 1e-3)
        w = wa + wb
        smoke = (smoke * wa + b.smoke * wb) / w
        co = (co * wa + b.co * wb) / w
        appliance = (appliance * wa + b.appliance * wb) / w
        off = b.off
        peak = max(peak, b.peak)
        pulses += b.co_pulses
        onsets += b.onsets
    return Beep(on, off, peak, smoke, co, appliance, pulses, onsets)


def _t3_prefix_ok(group: Sequence[Beep]) -> bool:
    """Every beep of ``group`` (up to 3) has T3 duration and gaps."""
    if len(group) > 3:
        return False
    if any(not T3_BEEP[0] <= b.dur <= T3_BEEP[1] for b in group):
        return False
    gaps = [c.on - p.off for p, c in itertools.pairwise(group)]
    if any(not T3_GAP[0] <= g <= T3_GAP[1] for g in gaps):
        return False
    if len(gaps) == 2 and max(gaps) > T3_GAP_RATIO * min(gaps):
        return False
    weight = sum(b.dur for b in group)
    return sum(b.appliance * b.dur for b in group) <= T3_APPLIANCE_MAX * weight


def t3_evidence(beeps: Sequence[Beep], now: float) -> PatternEvidence:
    """T3 cycles of the chain that ends with the latest beeps (0 when that chain is broken).

    A complete cycle = three T3 beeps followed by the ~1.5 s pause (a next group starting
    0.95-2.4 s later, or silence for :data:`T3_CLOSE`); a group in progress that fits adds a
    third per beep (0.9 for three beeps whose pause is not over yet).
    """
    solid = [b for b in beeps if b.dur >= T3_BLIP]
    merged = [b for b in merge_close(solid, T3_MERGE) if b.dur >= T3_IGNORE_SHORTER]
    groups = _groups(merged, T3_SPLIT)
    count = 0.0
    partial = 0.0
    complete = 0  # complete 3-beep groups in the chain: partial groups only add to those
    start = 0.0
    peaks: list[float] = []
    prev_end: float | None = None
    for i, g in enumerate(groups):
        nxt = groups[i + 1][0].on if i + 1 < len(groups) else None
        closed = nxt is not None or now - g[-1].off >= T3_CLOSE
        linked = (
            count > 0
            and prev_end is not None
            and T3_GROUP_GAP[0] <= g[0].on - prev_end <= T3_GROUP_GAP[1]
        )
        ok = _t3_prefix_ok(g)
        if ok and len(g) == 3 and closed:
            if not linked:
                count, complete, start, peaks = 0.0, 0, g[0].on, []
            count += 1.0
            complete += 1
            peaks.extend(b.peak for b in g)
            prev_end = g[-1].off
            partial = 0.0
        elif ok and not closed and nxt is None:
            partial = 0.9 if len(g) == 3 else len(g) / 3.0
            if not linked:  # a lone start: evidence of its own
                count, complete, start, peaks = 0.0, 0, g[0].on, []
            peaks.extend(b.peak for b in g)
        elif ok and closed:
            # a short group that starts a chain: the end of a cycle heard from its middle
            count, partial, start, peaks = len(g) / 3.0, 0.0, g[0].on, [b.peak for b in g]
            complete = 0
            prev_end = g[-1].off
        else:
            count, partial, complete, peaks, prev_end = 0.0, 0.0, 0, [], None
    if count + partial <= 0.0:
        return NO_EVIDENCE
    if complete == 0:  # pieces of cycles only: never more than most of one cycle
        return PatternEvidence(min(count + partial, 0.9), start, _mean(peaks))
    return PatternEvidence(count + partial, start, _mean(peaks) if peaks else 0.0)


def _t4_weight(group: Sequence[Beep]) -> float:
    """How much of a T4 group ``group`` is: 1, :data:`T4_WEAK` (a weakly backed blur) or 0."""
    span = group[-1].off - group[0].on
    if T4_BEEPS[0] <= len(group) <= T4_BEEPS[1]:
        return 1.0 if T4_SPAN[0] <= span <= T4_SPAN[1] else 0.0
    if len(group) >= T4_BEEPS[0]:
        return 0.0
    if _t4_merged_ok(group):
        return 1.0
    return T4_WEAK if _t4_weak_ok(group) else 0.0


def _t4_weak_ok(group: Sequence[Beep]) -> bool:
    """A blur the length of a T4 group in which the CO head pulsed at least once (reverb
    keeps the smoke head up through the group; the CO head hears only some beep onsets)."""
    span = group[-1].off - group[0].on
    if len(group) > 2 or not T4_MERGED_SPAN[0] <= span <= T4_MERGED_SPAN[1]:
        return False
    weight = sum(max(b.dur, 1e-3) for b in group)
    appliance = sum(b.appliance * max(b.dur, 1e-3) for b in group) / weight
    return sum(b.co_pulses for b in group) >= 1 and appliance <= T3_APPLIANCE_MAX


def _t4_merged_ok(group: Sequence[Beep]) -> bool:
    """One or two blurred beeps the length of a T4 group, which the CO head calls CO.

    Either on average, or by pulsing once per T4 beep (reverberation keeps the smoke head up
    between the beeps, so the CO head's average over the blur is diluted).
    """
    span = group[-1].off - group[0].on
    if not T4_MERGED_SPAN[0] <= span <= T4_MERGED_SPAN[1]:
        return False
    weight = 0.0
    co = 0.0
    pulses = 0
    for b in group:
        w = max(b.dur, 1e-3)
        weight += w
        co += b.co * w
        pulses += b.co_pulses
    return co / weight >= T4_MERGED_CO or pulses >= T4_MERGED_PULSES


def _t4_partial_ok(group: Sequence[Beep]) -> bool:
    return all(b.dur <= T4_BEEP_MAX for b in group) and group[-1].off - group[0].on <= 0.6


def t4_evidence(beeps: Sequence[Beep], now: float) -> PatternEvidence:
    """T4 groups of the chain ending with the latest beeps.

    A closed T4 group counts 1 when followed by 3.5-65 s of silence (or the next group after
    such a silence), 0.5 while its silence is still shorter than that.
    """
    # a lone blip (noise, a chirp) in the silence neither counts nor breaks the rhythm
    groups = [g for g in _groups(beeps, T4_SPLIT) if len(g) > 1 or _t4_weight(g) > 0.0]
    count = 0.0
    start = 0.0
    peaks: list[float] = []
    for i, g in enumerate(groups):
        nxt = groups[i + 1][0].on if i + 1 < len(groups) else None
        silence = (nxt if nxt is not None else now) - g[-1].off
        if silence < T4_SPLIT:  # still open
            break
        weight = _t4_weight(g)
        if weight == 0.0:
            count, peaks = 0.0, []
            # the tail of a group heard from its middle, then the T4 silence
            partial = len(g) == 2 and _t4_partial_ok(g) and nxt is not None
            if partial and T4_SILENCE <= silence <= T4_MAX_SILENCE:
                count, start, peaks = 0.5, g[0].on, [b.peak for b in g]
            continue
        if count == 0.0:
            start = g[0].on
        if nxt is None:
            count += weight if silence >= T4_SILENCE else 0.5 * weight
            peaks.extend(b.peak for b in g)
        elif T4_SILENCE <= silence <= T4_MAX_SILENCE:
            count += weight
            peaks.extend(b.peak for b in g)
        else:  # the next group came too soon (alarm clock) or far too late
            count, peaks = 0.0, []
    if count <= 0.0:
        return NO_EVIDENCE
    return PatternEvidence(count, start, _mean(peaks) if peaks else 0.0)


def _units(b: Beep) -> int:
    """How many beeps a long beep counts as: one per :data:`CONT_UNIT`, at least 1."""
    return max(1, int(b.dur / CONT_UNIT + 1e-9))


def sustained_evidence(
    beeps: Sequence[Beep],
    now: float,
    params: EventParams,
    open_since: float | None = None,
    open_means: Sequence[float] | None = None,
) -> PatternEvidence:
    """Seconds of uninterrupted alarm-like beeping (high smoke, low appliance score).

    ``open_since``: onset of a beep still sounding (extends the run to ``now``).
    With ``params.long_beep_s`` > 0 a beep counts :func:`_units` times, and the open beep,
    once it has sounded that long, counts as a beep ending now, judged by ``open_means``
    (its running smoke, co and appliance means): fast beeping heard as one beep.
    """
    long_beeps = params.long_beep_s > 0
    if (
        long_beeps
        and open_since is not None
        and open_means is not None
        and now - open_since >= params.long_beep_s - 1e-9
    ):
        smoke, co, appliance = open_means[0], open_means[1], open_means[2]
        beeps = [*beeps, Beep(open_since, now, smoke, smoke, co, appliance)]
        open_since = None
    run_start: float | None = None
    last_end = -math.inf  # end of the last good beep
    any_end = -math.inf  # end of the last beep of any kind
    n = 0
    total = 0
    bad = 0  # bad beeps in a row: one is tolerated (a beep the model was unsure of)
    scores: list[float] = []
    for b in beeps:
        good = (
            b.smoke >= params.sustained_threshold
            and b.appliance <= params.appliance_max
            and not (b.dur <= CLOCK_MAX_DUR and b.onsets >= CLOCK_ONSETS)
        )
        bad = 0 if good else bad + 1
        if bad > CONT_BAD_BEEPS or b.on - any_end > CONT_MAX_GAP:
            run_start, n, total, scores = None, 0, 0, []
        any_end = b.off
        units = _units(b) if long_beeps else 1
        total += units
        if good:
            if run_start is None:
                run_start = b.on
            n += units
            scores.append(b.smoke)
            last_end = b.off
    end = last_end
    if open_since is not None and (run_start is None or open_since - last_end > CONT_MAX_GAP):
        return NO_EVIDENCE
    if open_since is not None:
        end = now
    elif now - last_end > CONT_MAX_GAP:
        return NO_EVIDENCE
    if run_start is None or n < CONT_MIN_BEEPS or n < CONT_GOOD_SHARE * total:
        return NO_EVIDENCE
    return PatternEvidence(end - run_start, run_start, _mean(scores))


# ----------------------------------------------------------------------------- events


def _intervals(steps: Sequence[tuple[float, float]]) -> list[float]:
    """Time between consecutive ``(time, peak)`` steps."""
    return [b[0] - a[0] for a, b in itertools.pairwise(steps)]


class _Columns(NamedTuple):
    """Column of each head in the score array (None: the model lacks that head)."""

    smoke: int | None
    co: int | None
    glass: int | None
    steps: int | None
    appliance: int | None
    onset: int | None = None


@dataclass(slots=True)
class _Episode:
    active: bool = False
    start: float = 0.0
    last: float = 0.0  # time of the last evidence
    confidence: float = 0.0
    pattern: str = ""
    consumed: float = -math.inf  # evidence up to here already produced an episode
    scanned: int = -1  # beeps added when this active alarm last looked for newer beeps


class Aggregation:
    """Per-stream temporal aggregation of frame scores into :class:`Detection` changes."""

    def __init__(
        self,
        params: Mapping[str, EventParams],
        frame_rate: float = FRAME_RATE,
        hold_s: float | None = None,
        enabled: Iterable[str] | None = None,
    ) -> None:
        if frame_rate <= 0:
            raise ValueError("frame_rate must be > 0")
        self.frame_rate = float(frame_rate)
        self.hop = 1.0 / self.frame_rate
        wanted = tuple(EVENTS if enabled is None else enabled)
        unknown = set(wanted) - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown events {sorted(unknown)}; known: {EVENTS}")
        self.enabled = tuple(e for e in EVENTS if e in wanted)
        self._alarms_enabled = any(e in self.enabled for e in ALARM_EVENTS)
        self._heads: tuple[str, ...] | None = None  # head names of the last chunk ...
        self._cols = _Columns(None, None, None, None, None)  # ... and their columns
        self.params: dict[str, EventParams] = {}
        for event in EVENTS:
            p = params.get(event, DEFAULTS[event]["medium"])
            self.params[event] = replace(p, hold_s=hold_s) if hold_s is not None else p
        self._window = max(1, round(GLASS_WINDOW_S * self.frame_rate))
        # stats per beep: smoke, co, appliance, co rises, tone onsets
        self._beep_seg = _Segmenter(BEEP_ON, BEEP_OFF, 5)
        self._co_prev = 0.0  # the CO score of the last frame seen (a rise spans chunks)
        fp = self.params["footsteps"].threshold
        self._step_seg = _Segmenter(fp, 0.6 * fp, 1)
        self._beeps: deque[Beep] = deque(maxlen=BEEP_CAPACITY)
        self._steps: deque[tuple[float, float]] = deque(maxlen=STEP_CAPACITY)
        self._glass_tail: npt.NDArray[np.float64] = np.zeros(0)
        self._glass_quiet = 0  # latest glass frames below the threshold (at most a window)
        self._glass_capped = False
        self._episodes = {e: _Episode() for e in EVENTS}
        self._time = 0.0
        self._beeps_changed = False
        self._beeps_added = 0  # beeps ever added (a new one changes the pattern evidence)
        self._last_beep_off = -math.inf

    # -- public ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (a new stream); active events are dropped without an off."""
        self._beep_seg.reset()
        self._step_seg.reset()
        self._beeps.clear()
        self._steps.clear()
        self._glass_tail = np.zeros(0)
        self._glass_quiet = 0
        self._glass_capped = False
        self._episodes = {e: _Episode() for e in EVENTS}
        self._time = 0.0
        self._last_beep_off = -math.inf
        self._co_prev = 0.0

    def active(self) -> dict[str, bool]:
        return {e: self._episodes[e].active for e in self.enabled}

    def update(
        self, scores: npt.ArrayLike, head_names: Sequence[str], t_end: float
    ) -> list[Detection]:
        """Scores ``[n_frames, n_heads]`` of the frames ending at ``t_end`` -> state changes."""
        arr = np.asarray(scores, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(head_names):
            raise ValueError(f"scores must be [n_frames, {len(head_names)}], got {arr.shape}")
        if not math.isfinite(t_end):
            raise ValueError("t_end must be finite")
        n = arr.shape[0]
        peaks = arr.max(axis=0).tolist() if n else [0.0] * arr.shape[1]
        if not all(map(math.isfinite, peaks)):
            arr = np.clip(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
            peaks = arr.max(axis=0).tolist() if n else peaks
        t_end = max(float(t_end), self._time)
        self._time = t_end
        cols = self._columns(head_names)

        def head(i: int | None) -> npt.NDArray[np.float64]:
            return arr[:, i] if i is not None else np.zeros(n)

        def peak(i: int | None) -> float:
            return float(peaks[i]) if i is not None else 0.0

        out: list[Detection] = []
        if self._alarms_enabled:
            if not self._beep_seg.quiet(max(peak(cols.smoke), peak(cols.co))):
                smoke, co = head(cols.smoke), head(cols.co)
                above = co >= CO_PULSE
                rises = above.astype(np.float64)
                if n:
                    rises[1:] *= ~above[:-1]
                    rises[0] *= self._co_prev < CO_PULSE
                stats = np.array((smoke, co, head(cols.appliance), rises, head(cols.onset))).T
                segs = self._beep_seg.feed(np.maximum(smoke, co), stats, t_end, self.hop)
                self._add_beeps(segs, t_end)
            if n and cols.co is not None:
                self._co_prev = float(arr[-1, cols.co])
            out += self._alarms(t_end)
        if "glass_break" in self.enabled:
            out += self._glass(head(cols.glass), peak(cols.glass), t_end)
        if "footsteps" in self.enabled:
            steps: list[Segment] = []
            if not self._step_seg.quiet(peak(cols.steps)):
                steps = self._step_seg.feed(head(cols.steps), None, t_end, self.hop)
            out += self._footsteps(steps, t_end)
        return out

    def flush(self, t: float) -> list[Detection]:
        """End of stream: every active event turns off at ``t``."""
        out = []
        t = max(float(t), self._time)
        for event in self.enabled:
            ep = self._episodes[event]
            if ep.active:
                out.append(self._off(event, t))
        self._beep_seg.reset()
        self._step_seg.reset()
        return out

    @property
    def state_bytes(self) -> int:
        """Bytes of per-stream state (upper bound at full ring buffers)."""
        beep = sys.getsizeof(Beep(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)) + 6 * 24 + 2 * 28
        step = sys.getsizeof((0.0, 0.0)) + 2 * 24
        fixed = 2048  # episodes, params, scalars
        return (
            sys.getsizeof(self._beeps)
            + BEEP_CAPACITY * beep
            + sys.getsizeof(self._steps)
            + STEP_CAPACITY * step
            + self._window * 8
            + self._beep_seg.state_bytes
            + self._step_seg.state_bytes
            + fixed
        )

    # -- internals ---------------------------------------------------------------------

    def _columns(self, head_names: Sequence[str]) -> _Columns:
        """Column of each head the aggregation reads (None: missing), cached per head list."""
        key = tuple(head_names)
        if key != self._heads:
            col = {name: i for i, name in enumerate(key)}
            self._heads = key
            self._cols = _Columns(
                col.get("smoke_alarm"),
                col.get("co_alarm"),
                col.get("glass_break"),
                col.get("footsteps"),
                col.get(APPLIANCE_HEAD),
                col.get(TONE_ONSET),
            )
        return self._cols

    def _on(
        self, event: str, t: float, ev: PatternEvidence, pattern: str, last: float
    ) -> Detection:
        ep = self._episodes[event]
        conf = float(min(1.0, max(0.0, ev.confidence)))
        ep.active, ep.start, ep.last, ep.confidence, ep.pattern = (
            True,
            ev.start,
            last,
            conf,
            pattern,
        )
        ep.scanned = -1
        return Detection(
            event, True, round(ev.start, 3), None, round(t, 3), round(conf, 3), pattern
        )

    def _off(self, event: str, t: float) -> Detection:
        ep = self._episodes[event]
        ep.active = False
        ep.consumed = ep.last
        return Detection(
            event,
            False,
            round(ep.start, 3),
            round(ep.last, 3),
            round(t, 3),
            round(ep.confidence, 3),
            ep.pattern,
        )

    def _add_beeps(self, segs: list[Segment], now: float) -> None:
        for s in segs:
            smoke, co, appliance, rise, onset = s.means
            frames = (s.off - s.on) * self.frame_rate
            pulses = round(rise * frames)  # mean x frames
            onsets = round(onset * frames)
            self._beeps.append(Beep(s.on, s.off, s.peak, smoke, co, appliance, pulses, onsets))
            self._last_beep_off = s.off
            self._beeps_changed = True
            self._beeps_added += 1
        while self._beeps and self._beeps[0].off < now - BEEP_MEMORY_S:
            self._beeps.popleft()

    def _alarms(self, now: float) -> list[Detection]:
        out: list[Detection] = []
        open_peak = self._beep_seg.open_peak
        # Pending decisions depend on time passing after the last beep (pauses, silences).
        fresh = self._beeps_changed or now - self._last_beep_off <= T4_SILENCE + 1.0
        self._beeps_changed = False
        for event in ALARM_EVENTS:
            if event not in self.enabled:
                continue
            ep = self._episodes[event]
            p = self.params[event]
            if ep.active:
                # After a look no strong beep in memory ends after ep.last (which only grows),
                # so only a beep added since then can move it.
                if ep.scanned != self._beeps_added:
                    ep.scanned = self._beeps_added
                    recent = [
                        b.off for b in self._beeps if b.peak >= p.threshold and b.off > ep.last
                    ]
                    if recent:
                        ep.last = max(recent)
                if open_peak is not None and open_peak >= p.threshold:
                    ep.last = now
                if now - ep.last > p.hold_s:
                    out.append(self._off(event, now))
                continue
            if not fresh and open_peak is None:
                continue
            beeps = [b for b in self._beeps if b.peak >= p.threshold and b.on > ep.consumed]
            last = beeps[-1].off if beeps else now
            if open_peak is not None and open_peak >= p.threshold:
                last = now
            if event == "co_alarm":
                ev = t4_evidence(beeps, now)
                if ev.evidence >= p.evidence - 1e-9:
                    out.append(self._on(event, now, ev, "T4", last))
                continue
            ev = t3_evidence(beeps, now)
            if ev.evidence >= p.evidence - 1e-9:
                out.append(self._on(event, now, ev, "T3", last))
                continue
            open_since = self._beep_seg.open_onset
            cont = sustained_evidence(
                [b for b in self._beeps if b.on > ep.consumed],
                now,
                p,
                open_since,
                self._beep_seg.open_means,
            )
            if cont.evidence >= p.sustained_s:
                # Sustained beeping that already shows a whole T3 group is a T3 alarm heard
                # before its second cycle: name the pattern for what it is.
                pattern = "T3" if ev.evidence >= 1.0 else "continuous"
                out.append(self._on(event, now, cont, pattern, last))
        return out

    def _glass(
        self,
        g: npt.NDArray[np.float64],
        g_peak: float,
        now: float,
    ) -> list[Detection]:
        ep = self._episodes["glass_break"]
        p = self.params["glass_break"]
        w = self._window
        if not ep.active and g_peak < p.threshold:
            self._glass_capped = False  # the head went quiet: glass can be heard again
            full_and_quiet = self._glass_tail.size == w - 1 and self._glass_quiet >= w - 1
            self._glass_quiet = min(self._glass_quiet + g.size, w)
            if full_and_quiet:
                # Only frames >= threshold count in a window: a full tail of quiet frames
                # stays a full tail of quiet frames, whichever ones (nothing to shift in).
                return []
            if g.size >= w - 1:
                self._glass_tail = g[g.size - (w - 1) :]
            else:
                self._glass_tail = np.concatenate((self._glass_tail, g))[-(w - 1) :]
            return []
        self._glass_quiet = 0
        n = g.size
        ext = np.concatenate((self._glass_tail, g))
        self._glass_tail = ext[-(w - 1) :] if w > 1 else np.zeros(0)
        above = ext >= p.threshold
        out: list[Detection] = []
        n_old = ext.size - g.size
        if ep.active:
            hits = np.flatnonzero(above[n_old:])
            if hits.size:
                t_hit = _frame_time(now, n, int(hits[-1]), self.hop)
                if t_hit - ep.start <= GLASS_MAX_S:
                    ep.last = t_hit
                else:  # glass is over in seconds: a score that stays up is not one more window
                    self._glass_capped = True
            if now - ep.last > p.hold_s:
                out.append(self._off("glass_break", now))
                self._glass_tail = np.zeros(0)
            return out
        if self._glass_capped:
            # After a capped episode, re-arm only once the head has gone quiet for a while.
            hits = np.flatnonzero(above[n_old:])
            if hits.size:
                ep.consumed = _frame_time(now, n, int(hits[-1]), self.hop)
                return out
            self._glass_capped = False
        if not above[n_old:].any():
            return out
        csum = np.concatenate(([0], np.cumsum(above)))
        idx = np.arange(n_old, ext.size)
        counts = csum[idx + 1] - csum[np.maximum(idx + 1 - w, 0)]
        need = max(1, math.ceil(p.evidence - 1e-9))
        ok = np.flatnonzero(counts >= need)
        if ok.size == 0:
            return out
        j = int(idx[ok[0]])  # frame index in ext where the window completes
        lo = max(0, j + 1 - w)
        first = lo + int(np.flatnonzero(above[lo : j + 1])[0])
        t_first = _frame_time(now, n, 0, self.hop) + (first - n_old) * self.hop - self.hop
        if t_first <= ep.consumed:
            return out
        window = ext[lo : j + 1]
        conf = float(window[window >= p.threshold].mean())
        hits = np.flatnonzero(above[n_old:])
        ev = PatternEvidence(need, t_first, conf)
        t_last = _frame_time(now, n, int(hits[-1]), self.hop)
        out.append(self._on("glass_break", now, ev, "shatter", t_last))
        return out

    def _footsteps(self, segs: list[Segment], now: float) -> list[Detection]:
        ep = self._episodes["footsteps"]
        p = self.params["footsteps"]
        out: list[Detection] = []
        for s in segs:
            if s.peak < p.threshold:
                continue
            if self._steps and s.peak_t - self._steps[-1][0] < STEP_REFRACTORY:
                if s.peak > self._steps[-1][1]:
                    self._steps[-1] = (s.peak_t, s.peak)
            else:
                self._steps.append((s.peak_t, s.peak))
            if ep.active:
                ep.last = max(ep.last, s.peak_t)
                continue
            ev = self._walk()
            if ev.evidence >= p.evidence - 1e-9:
                out.append(self._on("footsteps", now, ev, "steps", self._steps[-1][0]))
        if ep.active and now - ep.last > p.hold_s:
            out.append(self._off("footsteps", now))
            self._steps.clear()
        return out

    def _walk(self) -> PatternEvidence:
        """Impacts in the current walking run (intervals 0.3-1.0 s, regular, within 6 s)."""
        steps = list(self._steps)
        run = [steps[-1]]
        for prev in reversed(steps[:-1]):
            gap = run[0][0] - prev[0]
            if not STEP_INTERVAL[0] <= gap <= STEP_INTERVAL[1]:
                break
            if run[-1][0] - prev[0] > STEP_WINDOW_S:
                break
            run.insert(0, prev)
        if len(run) < 2:
            return PatternEvidence(float(len(run)), run[0][0], run[0][1])
        intervals = _intervals(run)
        if max(intervals) > STEP_REGULARITY * min(intervals):
            # irregular: keep the longest regular tail
            while len(run) > 2:
                run.pop(0)
                intervals = _intervals(run)
                if max(intervals) <= STEP_REGULARITY * min(intervals):
                    break
        start = run[0][0] - 0.05
        return PatternEvidence(float(len(run)), start, _mean([s for _, s in run]))
