"""Clip recipes: what happens in one clip, rendered to audio + its label record.

A recipe name picks the foreground (an alarm, a confuser, a walker, nothing...); every clip
gets a noise bed, often a music/speech bed, a room, an SNR, a level and sometimes a second,
unrelated foreground sound. ``make_clip`` is deterministic given its ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import synth
from .audio import SR
from .mixing import Placed, make_room, mix
from .onsets import energy_on
from .sources import Clip, Pools
from .synth import Sound

TARGETS = ("smoke_alarm", "co_alarm", "glass_break", "footsteps")

# Recipe weights for the 10-s train / val clips.
CLIP_MIX: dict[str, float] = {
    # positives (~50 %)
    "smoke_t3": 0.09,
    "smoke_lowfreq": 0.035,
    "smoke_continuous": 0.04,
    "smoke_real": 0.035,
    "co_t4": 0.10,
    "glass_synth": 0.075,
    "glass_real": 0.025,
    "steps_synth": 0.065,
    "steps_real": 0.035,
    # beeping_appliance confusers (~22 %)
    "microwave": 0.045,
    "chirp": 0.03,
    "alarm_clock": 0.045,
    "ringtone": 0.035,
    "reversing": 0.035,
    "deb_beeper": 0.03,
    # unlabelled hard negatives (~19 %)
    "metal_drop": 0.025,
    "dish_clink": 0.02,
    "door_slam": 0.02,
    "claps": 0.02,
    "thump": 0.02,
    "knocks": 0.02,
    "ticking": 0.02,
    "drum_beat": 0.03,
    "dripping": 0.01,
    "deb_impact": 0.025,
    "deb_tone": 0.015,
    # plain negatives (~10 %)
    "noise_only": 0.03,
    "music": 0.035,
    "speech": 0.035,
}
SECOND_SOUNDS = (
    "microwave",
    "chirp",
    "alarm_clock",
    "ringtone",
    "metal_drop",
    "dish_clink",
    "door_slam",
    "claps",
    "thump",
    "knocks",
    "deb_impact",
    "deb_tone",
    "speech",
)


def pick(rng: np.random.Generator, items: list[Clip]) -> Clip:
    return items[int(rng.integers(len(items)))]


def _clip_sound(c: Clip, event: str | None, pattern: str, on: list) -> Sound:
    return Sound(c.audio.astype(np.float32), event, pattern, on, c.name)


def _active_span(x: np.ndarray, rel: float = 0.02) -> list[tuple[float, float]]:
    e = np.abs(x)
    idx = np.nonzero(e > rel * e.max())[0]
    return [(round(idx[0] / SR, 4), round((idx[-1] + 1) / SR, 4))] if idx.size else []


def real_alarm(rng: np.random.Generator, c: Clip, duration: float) -> Sound:
    """Crop (or loop whole cycles, keeping the recording's rhythm) a real alarm."""
    x, on = c.audio, list(c.on)
    if x.size / SR < duration and c.cycle is not None:
        cs, period = c.cycle
        n = int(period * SR)
        seg = x[int(cs * SR) : int(cs * SR) + n]
        seg = np.pad(seg, (0, n - seg.size))
        reps = int(np.ceil(duration / period)) + 1
        x = np.tile(seg, reps)
        one = [(s - cs, min(e - cs, period)) for s, e in c.on if s >= cs - 1e-3 and s < cs + period]
        on = [
            (round(s + k * period, 4), round(e + k * period, 4))
            for k in range(reps)
            for s, e in one
        ]
    max_start = max(x.size / SR - duration, 0.0)
    t0 = float(rng.uniform(0, max_start))
    seg = x[int(t0 * SR) : int((t0 + duration) * SR)]
    seg_on = [
        (max(s - t0, 0.0), min(e - t0, duration)) for s, e in on if e > t0 and s < t0 + duration
    ]
    seg_on = [(round(s, 4), round(e, 4)) for s, e in seg_on if e - s > 0.02]
    rate = float(rng.uniform(0.97, 1.03))  # slight speed/pitch change (different unit)
    if abs(rate - 1) > 0.005:
        idx = np.arange(0, seg.size - 1, rate)
        seg = np.interp(idx, np.arange(seg.size), seg)
        seg_on = [(round(s / rate, 4), round(e / rate, 4)) for s, e in seg_on]
    return Sound(seg.astype(np.float32), "smoke_alarm", c.pattern, seg_on, c.name)


def real_walker(rng: np.random.Generator, pools: Pools) -> Sound | None:
    groups = {k: v for k, v in pools.debian.items() if k.startswith("step:")}
    if not groups:
        return None
    names = sorted(groups)
    key = names[int(rng.integers(len(names)))]
    impacts = [c.audio for c in groups[key]]
    snd = synth.footsteps(rng, impacts=impacts, source=groups[key][0].name)
    return snd


def foreground(
    rng: np.random.Generator, recipe: str, duration: float, pools: Pools, alarm_mode: str = "train"
) -> list[tuple[Sound, float]]:
    """The recipe's sound(s) with their offsets in the clip.

    ``alarm_mode`` "eval": alarms start within the first 5 s and sound to the end (so a
    25-30 s clip holds several cycles); "train": on throughout, starting, or silenced.
    """
    if alarm_mode == "eval":
        alarm_off = float(rng.uniform(0.0, min(5.0, duration * 0.3)))
        alarm_len = duration - alarm_off
    else:
        alarm_len, alarm_off = _alarm_span(rng, duration)
    if recipe == "smoke_t3":
        return [(synth.smoke_alarm(rng, alarm_len, "T3"), alarm_off)]
    if recipe == "smoke_lowfreq":
        return [(synth.smoke_alarm(rng, alarm_len, "lowfreq_T3"), alarm_off)]
    if recipe == "smoke_continuous":
        return [(synth.smoke_alarm(rng, alarm_len, "continuous"), alarm_off)]
    if recipe == "co_t4":
        return [(synth.co_alarm(rng, alarm_len), alarm_off)]
    if recipe.startswith("smoke_real"):
        cands = pools.alarms
        if recipe != "smoke_real":  # smoke_real:<substring>
            cands = [c for c in cands if recipe.split(":", 1)[1] in c.name]
        if not cands:
            return foreground(rng, "smoke_t3", duration, pools, alarm_mode)
        return [(real_alarm(rng, pick(rng, cands), alarm_len), alarm_off)]
    if recipe in ("glass_synth", "glass_real"):
        glass = pools.debian.get("glass", [])
        if recipe == "glass_real" and glass:
            c = pick(rng, glass)
            snd = _clip_sound(c, "glass_break", "shatter", _active_span(c.audio))
        else:
            snd = synth.glass_break(rng)
        return [(snd, _place(rng, snd, duration))]
    if recipe in ("steps_synth", "steps_real"):
        snd = real_walker(rng, pools) if recipe == "steps_real" else None
        snd = snd or synth.footsteps(rng)
        return [(snd, _place(rng, snd, duration))]
    snd = confuser(rng, recipe, duration, pools)
    if snd is None:
        return []
    if recipe == "chirp":  # a chirp every 30-60 s: usually one per clip
        out = []
        t = float(rng.uniform(0, min(duration, 45.0)))
        while t < duration - 0.2:
            out.append((synth.chirp(rng), t))
            t += float(rng.uniform(30, 60))
        return out
    return [(snd, _place(rng, snd, duration))]


def confuser(rng: np.random.Generator, recipe: str, duration: float, pools: Pools) -> Sound | None:
    span = float(rng.uniform(min(4.0, duration), duration))
    gens: dict[str, Callable[[], Sound]] = {
        "microwave": lambda: synth.microwave(rng),
        "chirp": lambda: synth.chirp(rng),
        "alarm_clock": lambda: synth.alarm_clock(rng, span),
        "ringtone": lambda: synth.ringtone(rng, span),
        "reversing": lambda: synth.reversing(rng, span),
        "metal_drop": lambda: synth.metal_drop(rng),
        "dish_clink": lambda: synth.dish_clink(rng),
        "door_slam": lambda: synth.door_slam(rng),
        "claps": lambda: synth.claps(rng),
        "thump": lambda: synth.single_thump(rng),
        "knocks": lambda: synth.knocks(rng),
        "ticking": lambda: synth.clock_ticking(rng, span),
        "drum_beat": lambda: synth.drum_beat(rng, span),
        "dripping": lambda: synth.dripping(rng, span),
        "kettle": lambda: synth.kettle(rng, span),
    }
    if recipe in gens:
        return gens[recipe]()
    if recipe == "deb_beeper":
        cands = [
            (c, role)
            for role in ("alarm_clock", "ringtone", "phone_tone")
            for c in pools.debian.get(role, [])
        ]
        if not cands:
            return confuser(rng, str(rng.choice(["alarm_clock", "ringtone"])), duration, pools)
        c, role = cands[int(rng.integers(len(cands)))]
        x = _repeat_to(rng, c.audio, span)
        pattern = {"phone_tone": "ringtone"}.get(role, role)
        return Sound(x, "beeping_appliance", pattern, energy_on(x), c.name)
    if recipe in ("deb_impact", "deb_tone"):
        role = "neg_impact" if recipe == "deb_impact" else "neg_tone"
        cands = pools.debian.get(role, [])
        if not cands:
            return confuser(
                rng, "door_slam" if role == "neg_impact" else "dish_clink", duration, pools
            )
        c = pick(rng, cands)
        return _clip_sound(c, None, role, [])
    if recipe == "speech":
        if not pools.speech:
            return None
        c = pick(rng, pools.speech)
        return _clip_sound(c, None, "speech", [])
    return None


def _repeat_to(rng: np.random.Generator, x: np.ndarray, span: float) -> np.ndarray:
    """A ringing phone / alarm clock keeps going: repeat the sample to ~``span`` s."""
    reps = max(1, int(span * SR / max(x.size, 1)))
    gap = np.zeros(int(rng.uniform(0.0, 0.5) * SR), dtype=np.float32)
    return np.concatenate([np.concatenate([x, gap]) for _ in range(reps)]).astype(np.float32)


def _alarm_span(rng: np.random.Generator, duration: float) -> tuple[float, float]:
    """(length, offset) of an alarm episode in the clip: usually on throughout or starting."""
    r = rng.random()
    if r < 0.6:
        return duration, 0.0
    if r < 0.9:
        off = float(rng.uniform(0.0, duration * 0.6))
        return duration - off, off
    off = float(rng.uniform(0.0, duration * 0.3))  # alarm silenced before the clip ends
    return float(rng.uniform(duration * 0.4, duration - off)), off


def _place(rng: np.random.Generator, snd: Sound, duration: float) -> float:
    length = snd.audio.size / SR
    if length >= duration:
        return float(-rng.uniform(0, length - duration * 0.8))
    return float(rng.uniform(0.1, max(duration - length - 0.1, 0.2)))


def bed(
    rng: np.random.Generator, n: int, pools: Pools, music_prob: float
) -> tuple[np.ndarray, list[str]]:
    """Noise bed (unit RMS) plus, sometimes, a music/speech bed at -10..+10 dB to it."""
    x, kind = synth.noise_bed(rng, n)
    names = [f"noise:{kind}"]
    if pools.beds and rng.random() < music_prob:
        c = pick(rng, pools.beds)
        y = _loop_segment(rng, c.audio, n)
        y = y / (np.sqrt(np.mean(y**2)) + 1e-9)
        x = x + y * 10 ** (rng.uniform(-10, 10) / 20)
        names.append(c.name)
    return x.astype(np.float32), names


def _loop_segment(rng: np.random.Generator, x: np.ndarray, n: int) -> np.ndarray:
    if x.size >= n:
        i = int(rng.integers(0, x.size - n + 1))
        return x[i : i + n].astype(np.float64)
    reps = int(np.ceil(n / x.size)) + 1
    y = np.tile(x, reps)
    i = int(rng.integers(0, x.size))
    return y[i : i + n].astype(np.float64)


def snr_for(rng: np.random.Generator, snd: Sound) -> float:
    if snd.event in ("glass_break", "footsteps"):
        return float(rng.uniform(0, 22))
    return float(rng.uniform(-5, 20))


def make_clip(
    rng: np.random.Generator,
    recipe: str,
    duration: float,
    pools: Pools,
    *,
    second_prob: float = 0.2,
    music_prob: float = 0.45,
    alarm_mode: str = "train",
) -> tuple[np.ndarray, dict[str, object]]:
    """Render one clip; returns (float32 audio, label record without file/split)."""
    n = round(duration * SR)
    fg = foreground(rng, recipe, duration, pools, alarm_mode)
    if recipe == "music" and pools.beds:
        music_prob = 1.0
    elif recipe == "noise_only":
        music_prob = 0.0
    bed_audio, bed_names = bed(rng, n, pools, music_prob)
    placed = [Placed(s, off, snr_for(rng, s)) for s, off in fg]
    if rng.random() < second_prob and recipe not in ("noise_only",):
        r2 = str(rng.choice(SECOND_SOUNDS))
        for s, off in foreground(rng, r2, duration, pools):
            placed.append(Placed(s, off, float(rng.uniform(-5, 15))))
    room = make_room(rng)
    level = float(rng.uniform(-50, -14))
    audio, events = mix(rng, duration, bed_audio, placed, room, level_dbfs=level)
    kind = _kind(events, placed)
    record: dict[str, object] = {
        "source": _primary_source(placed, bed_names),
        "duration": round(duration, 3),
        "events": events,
        "kind": kind,
        "recipe": recipe,
        "mix": list(dict.fromkeys([p.sound.source for p in placed[1:]] + bed_names)),
        "rt60": round(room.rt60, 3),
    }
    return audio, record


def _primary_source(placed: list[Placed], bed_names: list[str]) -> str:
    """The labelled / foreground sound's source, else the music/speech bed, else the noise."""
    if placed:
        return placed[0].sound.source
    return bed_names[-1]


def _kind(events: list[dict[str, object]], placed: list[Placed]) -> str:
    if any(e["event"] in TARGETS for e in events):
        return "positive"
    if events or any(p.sound.pattern not in ("speech",) for p in placed):
        return "confuser"
    return "negative"


# ------------------------------------------------------------------ long negative files


CONFUSER_RECIPES = [
    "microwave",
    "chirp",
    "alarm_clock",
    "ringtone",
    "reversing",
    "deb_beeper",
    "metal_drop",
    "dish_clink",
    "door_slam",
    "claps",
    "thump",
    "knocks",
    "ticking",
    "drum_beat",
    "dripping",
    "deb_impact",
    "deb_tone",
]
NEG_RECIPES = [*CONFUSER_RECIPES, "speech", "speech", "speech"]
# Confusers added after the sets were first built: appended to the tune / eval sets (so their
# earlier files keep their index and seed); not (yet) in training, val or the scenes.
EXTRA_CONFUSERS = ["kettle"]


def make_long_negative(
    rng: np.random.Generator, duration: float, pools: Pools
) -> tuple[np.ndarray, dict[str, object]]:
    """Minutes of household audio with no target event: beds, speech, music, confusers."""
    n = round(duration * SR)
    x, kind = synth.noise_bed(rng, n)
    names = [f"noise:{kind}"]
    # music / speech programme for a part of the time (radio, TV, talking)
    if pools.beds:
        t = float(rng.uniform(0, 30))
        while t < duration:
            seg_len = float(rng.uniform(10, 90))
            c = pick(rng, pools.beds)
            m = min(int(seg_len * SR), n - int(t * SR))
            if m <= 0:
                break
            y = _loop_segment(rng, c.audio, m)
            y = y / (np.sqrt(np.mean(y**2)) + 1e-9) * 10 ** (rng.uniform(-8, 12) / 20)
            fade = np.minimum(1.0, np.minimum(np.arange(m), np.arange(m)[::-1]) / (0.5 * SR))
            x[int(t * SR) : int(t * SR) + m] += (y * fade).astype(np.float32)
            names.append(c.name)
            t += seg_len + float(rng.uniform(10, 60))
    placed: list[Placed] = []
    t = float(rng.uniform(1, 8))
    chirper = rng.random() < 0.25  # a smoke alarm with a low battery, somewhere
    while t < duration - 2:
        recipe = str(rng.choice(NEG_RECIPES))
        span = min(float(rng.uniform(4, 30)), duration - t)
        fg = (
            [(synth.chirp(rng), 0.0)] if recipe == "chirp" else foreground(rng, recipe, span, pools)
        )
        for s, off in fg:
            placed.append(Placed(s, t + max(off, 0.0), float(rng.uniform(-5, 20))))
        t += span + float(rng.uniform(2, 20))
    if chirper:
        t = float(rng.uniform(0, 30))
        while t < duration - 0.2:
            placed.append(Placed(synth.chirp(rng), t, float(rng.uniform(0, 20))))
            t += float(rng.uniform(30, 60))
    room = make_room(rng)
    level = float(rng.uniform(-50, -20))
    audio, events = mix(rng, duration, x, placed, room, level_dbfs=level, clip_prob=0.0)
    record: dict[str, object] = {
        "source": names[1] if len(names) > 1 else names[0],
        "duration": round(duration, 3),
        "events": events,
        "kind": "confuser"
        if events or any(p.sound.pattern != "speech" for p in placed)
        else "negative",
        "recipe": "long_negative",
        "mix": sorted({p.sound.source for p in placed} | set(names)),
        "rt60": round(room.rt60, 3),
    }
    return audio, record
