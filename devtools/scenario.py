"""Procedurally generated demo audio that the repository may redistribute (numpy only).

Every sound here is synthesised from a seed, so the demo satellite needs no audio files and
replays the same bytes on every run:

- a quiet room: pink noise near -58 dBFS, a faint mains/fridge hum, and voice-like speech
  (espeak-ng when it is installed, otherwise a formant synthesiser);
- a smoke alarm: temporal-three (T3) piezo beeps near 3.1 kHz with room reverb;
- a CO alarm: temporal-four (T4) beeps;
- glass break: a low impact followed by a broadband shatter and tinkling fragments;
- footsteps: heel thumps at about 1.7 steps per second.

``build(name, rate, seed)`` returns a :class:`Scenario` (float32 samples in [-1, 1] plus the
time span of every event in it, so a test or a benchmark knows what it should detect).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Float = npt.NDArray[np.float64]

SCENARIOS = ("smoke", "co", "glass", "footsteps", "quiet", "tour")
"""Scenario names accepted by :func:`build`."""

_SPEECH_LINES = (
    "Did you remember to buy milk on the way home?",
    "The weather is supposed to be nice this weekend.",
    "I think the kids left their shoes in the hallway again.",
    "Could you turn the radio down a little, please?",
)


@dataclass(frozen=True, slots=True)
class EventSpan:
    """One sound event in a scenario: what it is and when (seconds from the start)."""

    event: str
    start: float
    end: float


@dataclass(slots=True)
class Scenario:
    """Generated audio (mono float32 at ``rate``) and the events it contains."""

    name: str
    rate: int
    samples: npt.NDArray[np.float32]
    events: list[EventSpan] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Length of the scenario in seconds."""
        return len(self.samples) / self.rate

    def pcm16(self, channels: int = 1) -> bytes:
        """The samples as little-endian int16 PCM, ``channels`` identical channels interleaved."""
        ints = np.round(np.clip(self.samples, -1.0, 1.0) * 32767.0).astype("<i2")
        if channels > 1:
            ints = np.repeat(ints, channels)
        return bytes(ints.tobytes())


# --------------------------------------------------------------------------- helpers


def _db(level_db: float) -> float:
    return float(10.0 ** (level_db / 20.0))


def _rms(x: Float) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _fft_convolve(x: Float, ir: Float) -> Float:
    n = len(x) + len(ir) - 1
    nfft = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(ir, nfft), nfft)
    return np.asarray(y[: len(x)], dtype=np.float64)


def _shape_noise(
    n: int, rate: int, rng: np.random.Generator, gain: Callable[[Float], Float]
) -> Float:
    """White noise of ``n`` samples with its spectrum multiplied by ``gain(freqs)``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate).astype(np.float64)
    y = np.fft.irfft(spec * gain(freqs), n)
    return np.asarray(y, dtype=np.float64)


def _ramp(n: int, rate: int, attack_s: float, release_s: float) -> Float:
    env = np.ones(n)
    a = min(n, max(1, int(attack_s * rate)))
    r = min(n, max(1, int(release_s * rate)))
    env[:a] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    env[n - r :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return env


def _reverb(x: Float, rate: int, rng: np.random.Generator, rt60: float, wet: float) -> Float:
    """Add a diffuse room tail (exponentially decaying noise impulse response)."""
    n = int(rt60 * rate)
    t = np.arange(n) / rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[: int(0.004 * rate)] = 0.0  # pre-delay: the direct sound arrives first
    ir /= np.sqrt(np.sum(np.square(ir)))
    return x + wet * _fft_convolve(x, ir)


def _peak(x: Float, level_db: float) -> Float:
    """``x`` scaled so that its peak sits at ``level_db`` dBFS."""
    return np.asarray(x * (_db(level_db) / max(float(np.max(np.abs(x))), 1e-12)), dtype=np.float64)


def _add(buf: Float, at_s: float, sig: Float, rate: int) -> None:
    i = round(at_s * rate)
    if i >= len(buf):
        return
    sig = sig[: len(buf) - i]
    buf[i : i + len(sig)] += sig


# --------------------------------------------------------------------------- sources


def room_noise(seconds: float, rate: int, rng: np.random.Generator) -> Float:
    """Quiet room: pink noise (about -58 dBFS RMS) with a faint 100 Hz hum."""
    n = int(seconds * rate)

    def pink(f: Float) -> Float:
        g: Float = 1.0 / np.sqrt(np.maximum(f, 20.0))
        g[f < 25.0] = 0.0
        return g

    noise = _shape_noise(n, rate, rng, pink)
    noise *= _db(-58.0) / max(_rms(noise), 1e-12)
    t = np.arange(n) / rate
    hum = _db(-66.0) * (np.sin(2 * np.pi * 100.0 * t) + 0.4 * np.sin(2 * np.pi * 200.0 * t))
    return np.asarray(noise + hum, dtype=np.float64)


def _espeak(text: str, rate: int) -> Float | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        wav = subprocess.run(
            [exe, "--stdout", "-v", "en", "-s", "150", text],
            check=True,
            capture_output=True,
            timeout=20,
        ).stdout
        with wave.open(io.BytesIO(wav)) as w:
            src_rate = w.getframerate()
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
        return None
    x = raw.astype(np.float64) / 32768.0
    if src_rate != rate:  # band-limited resampling in the frequency domain
        n_out = round(len(x) * rate / src_rate)
        spec = np.fft.rfft(x)
        keep = min(len(spec), n_out // 2 + 1)
        out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
        out_spec[:keep] = spec[:keep]
        x = np.fft.irfft(out_spec, n_out) * (n_out / len(x))
    return np.asarray(x, dtype=np.float64)


_VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (660, 1720, 2410),
    (570, 840, 2410),
    (440, 1020, 2240),
    (490, 1350, 1690),
)


def _formant_voice(seconds: float, rate: int, rng: np.random.Generator) -> Float:
    """Voice-like babble: glottal harmonics through vowel formants, syllables and pauses."""
    out: Float = np.zeros(int(seconds * rate))
    t0 = 0.0
    while t0 < seconds - 0.5:
        f0_base = rng.uniform(100.0, 210.0)
        for k_syl in range(int(rng.integers(3, 9))):
            dur = rng.uniform(0.12, 0.3)
            n = int(dur * rate)
            t = np.arange(n) / rate
            f0 = f0_base * (1.0 + 0.08 * np.sin(np.pi * t / dur)) * (1.0 - 0.02 * k_syl)
            phase = 2 * np.pi * np.cumsum(f0) / rate
            formants = _VOWELS[int(rng.integers(len(_VOWELS)))]
            sig = np.zeros(n)
            for k in range(1, min(40, int(0.45 * rate / (f0_base * 1.2))) + 1):
                fk = k * f0_base
                gain = sum(
                    (0.6**i) / (1.0 + ((fk - fi) / (60.0 + 40.0 * i)) ** 2)
                    for i, fi in enumerate(formants)
                )
                sig += gain / np.sqrt(k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
            sig *= np.sin(np.pi * t / dur) ** 0.7
            if rng.random() < 0.5:  # a consonant: a short noise burst
                m = min(n, int(0.03 * rate))
                sig[:m] += 0.3 * rng.standard_normal(m) * np.hanning(m)
            _add(out, t0, sig, rate)
            t0 += dur
            if t0 >= seconds - 0.5:
                break
        t0 += rng.uniform(0.4, 1.2)
    return out


def speech(seconds: float, rate: int, rng: np.random.Generator, line: int = 0) -> Float:
    """Conversation-level speech (about -30 dBFS RMS while talking), ``seconds`` long."""
    text = " ".join(_SPEECH_LINES[(line + k) % len(_SPEECH_LINES)] for k in range(2))
    voice = _espeak(text, rate)
    if voice is None:
        voice = _formant_voice(seconds, rate, rng)
    out: Float = np.zeros(int(seconds * rate))
    voice = voice[: len(out)]
    active = voice[np.abs(voice) > 1e-4]
    out[: len(voice)] = voice * (_db(-30.0) / max(_rms(active), 1e-12))
    return out


def beep(seconds: float, freq: float, rate: int, rng: np.random.Generator) -> Float:
    """One piezo beep: a slightly wobbling tone with its harmonics below Nyquist."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    inst = freq * (1.0 + 0.002 * np.sin(2 * np.pi * 7.0 * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(inst) / rate
    sig = np.sin(phase)
    for k, amp in ((2, 0.15), (3, 0.08), (4, 0.03)):
        if k * freq < 0.45 * rate:
            sig += amp * np.sin(k * phase)
    return np.asarray(sig * _ramp(n, rate, 0.003, 0.006), dtype=np.float64)


def smoke_alarm_t3(
    seconds: float, rate: int, rng: np.random.Generator, freq: float = 3100.0
) -> Float:
    """Temporal-three smoke alarm: (0.5 s on, 0.5 s off) x3, 1.5 s off; 4 s cycle."""
    out: Float = np.zeros(int(seconds * rate))
    cycle = 0.0
    while cycle < seconds:
        for k in range(3):
            _add(out, cycle + k * 1.0, beep(0.5, freq, rate, rng), rate)
        cycle += 4.0
    return _peak(_reverb(out, rate, rng, rt60=0.4, wet=0.25), -8.0)


def co_alarm_t4(seconds: float, rate: int, rng: np.random.Generator, freq: float = 3300.0) -> Float:
    """Temporal-four CO alarm: four 0.1 s beeps 0.1 s apart, then 5 s of silence."""
    out: Float = np.zeros(int(seconds * rate))
    cycle = 0.0
    while cycle < seconds:
        for k in range(4):
            _add(out, cycle + k * 0.2, beep(0.1, freq, rate, rng), rate)
        cycle += 5.7
    return _peak(_reverb(out, rate, rng, rt60=0.4, wet=0.25), -8.0)


def _decaying_tone(
    seconds: float, freq: float, decay_s: float, rate: int, rng: np.random.Generator
) -> Float:
    t = np.arange(int(seconds * rate)) / rate
    return np.asarray(
        np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / decay_s),
        dtype=np.float64,
    )


def glass_break(rate: int, rng: np.random.Generator) -> Float:
    """A pane breaking: low impact, broadband shatter, tinkling fragments; about 2.5 s."""
    out: Float = np.zeros(int(2.5 * rate))
    # the impact: a low thump and a click
    thump = _decaying_tone(0.15, rng.uniform(70.0, 110.0), 0.04, rate, rng)
    _add(out, 0.0, 0.6 * thump, rate)
    _add(out, 0.0, 0.4 * rng.standard_normal(int(0.004 * rate)), rate)
    # the shatter: high-passed noise with a fast decay
    n = int(0.8 * rate)

    def bright(f: Float) -> Float:
        return np.clip((f - 1500.0) / 2500.0, 0.0, 1.0) + 0.05

    shatter = _shape_noise(n, rate, rng, bright)
    shatter /= max(np.max(np.abs(shatter)), 1e-12)
    shatter *= np.exp(-np.arange(n) / rate / 0.18) * _ramp(n, rate, 0.002, 0.05)
    _add(out, 0.03, shatter, rate)
    # falling fragments: short ringing tones, denser at first
    for _ in range(60):
        at = 0.05 + rng.exponential(0.45)
        if at > 2.3:
            continue
        frag = _decaying_tone(0.12, rng.uniform(2500.0, 0.45 * rate), 0.02, rate, rng)
        _add(out, at, rng.uniform(0.05, 0.35) * np.exp(-at / 0.8) * frag, rate)
    return _peak(_reverb(out, rate, rng, rt60=0.3, wet=0.2), -6.0)


def footsteps(
    seconds: float, rate: int, rng: np.random.Generator, steps_per_s: float = 1.7
) -> Float:
    """A person walking: heel thumps with a little scuff, about 1.7 steps per second."""
    out: Float = np.zeros(int(seconds * rate))
    at = 0.1
    k = 0
    while at < seconds - 0.2:
        thump = _decaying_tone(0.2, rng.uniform(50.0, 90.0), 0.035, rate, rng)
        thump += 0.3 * _decaying_tone(0.2, rng.uniform(150.0, 250.0), 0.02, rate, rng)
        m = int(0.015 * rate)
        scuff = np.zeros_like(thump)
        scuff[:m] = 0.08 * rng.standard_normal(m) * np.hanning(m)
        level = 1.0 if k % 2 == 0 else 0.75
        _add(out, at, level * (thump + scuff), rate)
        at += (1.0 / steps_per_s) * rng.uniform(0.95, 1.05)
        k += 1
    return _peak(_reverb(out, rate, rng, rt60=0.25, wet=0.15), -14.0)


# --------------------------------------------------------------------------- scenarios

_Part = tuple[str, float]  # (kind, seconds)

_PLANS: dict[str, tuple[_Part, ...]] = {
    "smoke": (("quiet", 15.0), ("smoke_alarm", 30.0), ("quiet", 30.0)),
    "co": (("quiet", 10.0), ("co_alarm", 35.0), ("quiet", 30.0)),
    "glass": (("quiet", 10.0), ("glass_break", 15.0), ("glass_break", 20.0)),
    "footsteps": (("quiet", 10.0), ("footsteps", 12.0), ("quiet", 25.0)),
    "quiet": (("quiet", 60.0),),
    "tour": (
        ("quiet", 15.0),
        ("smoke_alarm", 30.0),
        ("quiet", 30.0),
        ("co_alarm", 35.0),
        ("quiet", 30.0),
        ("glass_break", 20.0),
        ("footsteps", 12.0),
        ("quiet", 25.0),
    ),
}


def build(name: str = "smoke", rate: int = 16_000, seed: int = 0) -> Scenario:
    """Generate scenario ``name`` (one of :data:`SCENARIOS`) at ``rate`` Hz, deterministically."""
    if name not in _PLANS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    if not 8_000 <= rate <= 192_000:
        raise ValueError(f"sample rate {rate} Hz is outside 8000-192000")
    rng = np.random.default_rng(seed)
    plan = _PLANS[name]
    total = sum(seconds for _, seconds in plan)
    audio = room_noise(total, rate, rng)
    events: list[EventSpan] = []
    at = 0.0
    n_quiet = 0
    for kind, seconds in plan:
        if kind == "quiet":
            if seconds >= 8.0:  # someone talks in the middle of a quiet stretch
                talk = min(8.0, seconds - 4.0)
                _add(audio, at + 2.0, speech(talk, rate, rng, n_quiet), rate)
            n_quiet += 1
        elif kind == "smoke_alarm":
            _add(audio, at, smoke_alarm_t3(seconds, rate, rng), rate)
            events.append(EventSpan(kind, at, at + seconds))
        elif kind == "co_alarm":
            _add(audio, at, co_alarm_t4(seconds, rate, rng), rate)
            events.append(EventSpan(kind, at, at + seconds))
        elif kind == "glass_break":
            _add(audio, at + 2.0, glass_break(rate, rng), rate)
            events.append(EventSpan(kind, at + 2.0, at + 4.5))
        elif kind == "footsteps":
            _add(audio, at, footsteps(seconds, rate, rng), rate)
            events.append(EventSpan(kind, at, at + seconds))
        at += seconds
    samples = np.clip(audio, -1.0, 1.0).astype(np.float32)
    return Scenario(name=name, rate=rate, samples=samples, events=events)
