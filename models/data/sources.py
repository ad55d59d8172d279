"""Real recordings: shared/ alarms and music/speech, Debian package sounds, espeak-ng speech.

Everything is loaded as 16 kHz mono float32 and tagged with a ``source`` string for labels:
``shared:<file>``, ``debian:<package>/<path>``, ``espeak:<voice>``.
A missing tool or a failed download never stops the build: that material is skipped and
the reason is printed (and recorded in SUMMARY.json by the builder).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import SR, read_audio, read_audio_bytes
from .onsets import classify_pattern, on_intervals
from .splits import (
    ALARM_FILES,
    DEBIAN_FILES,
    DEBIAN_PACKAGES,
    ESPEAK_SENTENCES,
    ESPEAK_VOICES,
    MUSIC_SPEECH,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``../shared`` beside the repository root (CI has it there too)."""
    return REPO_ROOT.parent / "shared"


@dataclass
class Clip:
    """A real recording (or a segment of one) with its beep intervals when it is an alarm."""

    name: str  # label source string
    audio: np.ndarray
    on: list[tuple[float, float]] = field(default_factory=list)
    pattern: str = ""
    role: str = ""
    cycle: tuple[float, float] | None = None  # one whole alarm cycle (start, period), seconds


@dataclass
class Pools:
    """All real material one split may use."""

    alarms: list[Clip] = field(default_factory=list)
    beds: list[Clip] = field(default_factory=list)  # shared music / speech
    speech: list[Clip] = field(default_factory=list)  # espeak-ng + spoken Debian sounds
    debian: dict[str, list[Clip]] = field(default_factory=dict)  # role -> clips
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ shared/


def load_alarms(split: str) -> list[Clip]:
    out = []
    base = shared_dir() / "data" / "alarms"
    for name, sp, start, end in ALARM_FILES:
        if sp != split:
            continue
        x = read_audio(base / name)
        on = on_intervals(x)  # on the whole file, then cut
        i0 = int(start * SR)
        i1 = x.size if end is None else int(end * SR)
        seg = x[i0:i1]
        seg_on = [
            (round(max(s - start, 0.0), 3), round(min(e - start, seg.size / SR), 3))
            for s, e in on
            if e > start and s < i1 / SR
        ]
        seg_on = [(s, e) for s, e in seg_on if e - s > 0.02]
        clip = Clip(f"shared:{name}", seg, seg_on, classify_pattern(on), "smoke_alarm")
        clip.cycle = _cycle(on, start, i1 / SR)
        out.append(clip)
    return out


def _cycle(on: list[tuple[float, float]], start: float, end: float) -> tuple[float, float] | None:
    """A loopable whole cycle inside the segment [start, end): (cycle start - start, period).

    Cycle = from one beep-group start to the next (groups are split by gaps longer than
    1.5x the median gap; a regular non-T3 alarm's "group" is one beep). The cycle may run
    past the segment end by less than its final pause (that part is padded with silence).
    """
    if len(on) < 2:
        return None
    gaps = np.array([on[i + 1][0] - on[i][1] for i in range(len(on) - 1)])
    long_gap = gaps > 1.5 * np.median(gaps)
    starts = [on[0][0]] + [on[i + 1][0] for i in range(len(gaps)) if long_gap[i]]
    if len(starts) < 2:
        starts = [s for s, _ in on]
    period = float(np.median(np.diff(starts)))
    for s in starts:
        if s >= start and s + period - float(np.min(gaps)) * 0.5 <= end + float(np.max(gaps)):
            return (round(s - start, 4), round(period, 4))
    return None


def load_music_speech(split: str) -> list[Clip]:
    base = shared_dir() / "data" / "music_speech"
    out = []
    for name in MUSIC_SPEECH[split]:
        x = read_audio(base / name)
        out.append(Clip(f"shared:{name}", x, role="speech" if name[0].isdigit() else "music"))
    return out


# ------------------------------------------------------------------ Debian packages


def _run(cmd: list[str], cwd: Path | None = None) -> bool:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as err:
        print(f"  [sources] {' '.join(cmd[:3])}... failed: {err}")
        return False
    return True


def fetch_debian(root: Path) -> list[str]:
    """``apt-get download`` + ``dpkg-deb -x`` each package into ``root/x/<pkg>``.

    Returns notes about what could not be fetched (the build continues without it).
    """
    notes: list[str] = []
    debs = root / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return ["apt-get/dpkg-deb not available: Debian sounds skipped"]
    updated = False
    for pkg in DEBIAN_PACKAGES:
        dest = root / "x" / pkg
        if (dest / ".extracted").exists():
            continue
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            ok = _run(["apt-get", "download", pkg], cwd=debs)
            if not ok and not updated:
                updated = True
                _run(["apt-get", "update"])
                ok = _run(["apt-get", "download", pkg], cwd=debs)
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not ok or not found:
                notes.append(f"debian package {pkg}: download failed, skipped")
                continue
        dest.mkdir(parents=True, exist_ok=True)
        if not _run(["dpkg-deb", "-x", str(found[-1]), str(dest)]):
            notes.append(f"debian package {pkg}: unpack failed, skipped")
            continue
        (dest / ".extracted").write_text(found[-1].name)
    return notes


def debian_versions(root: Path) -> list[str]:
    """The .deb files the Debian sounds came from (for SUMMARY.json)."""
    x = root / "x"
    return sorted(m.read_text() for m in x.glob("*/.extracted")) if x.is_dir() else []


def _read_debian(root: Path, pkg: str, path: str) -> np.ndarray:
    full = root / "x" / pkg
    if "!" in path:  # a file inside a zip (.pk3)
        archive, inner = path.split("!", 1)
        with zipfile.ZipFile(full / archive) as z:
            return read_audio_bytes(z.read(inner))
    return read_audio(full / path)


def load_debian(root: Path, split: str) -> tuple[dict[str, list[Clip]], list[str]]:
    out: dict[str, list[Clip]] = {}
    notes: list[str] = []
    for pkg, path, role, sp in DEBIAN_FILES:
        if sp != split:
            continue
        if not (root / "x" / pkg / ".extracted").exists():
            continue
        try:
            x = _read_debian(root, pkg, path)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            notes.append(f"debian:{pkg}/{path}: unreadable ({err}), skipped")
            continue
        if x.size == 0 or not np.isfinite(x).all() or np.max(np.abs(x)) == 0:
            continue
        x = x / np.max(np.abs(x)) * 0.5
        short = path.replace("!", "/")
        out.setdefault(role, []).append(
            Clip(f"debian:{pkg}/{short}", x.astype(np.float32), role=role)
        )
    return out, notes


# ------------------------------------------------------------------ espeak-ng


def espeak_pool(cache: Path, split: str) -> tuple[list[Clip], list[str]]:
    """Utterances of this split's voices x sentences (cached WAVs under ``cache``)."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return [], ["espeak-ng not installed: synthetic speech skipped"]
    cache.mkdir(parents=True, exist_ok=True)
    out: list[Clip] = []
    sentences = ESPEAK_SENTENCES[split]
    voices = ESPEAK_VOICES[split]
    rng = np.random.default_rng(len(split) * 7919)  # fixed per split
    for vi, voice in enumerate(voices):
        for si, text in enumerate(sentences):
            if (si + vi) % 2 and len(sentences) > 6:
                continue  # half of the pairs is plenty
            speed = int(rng.integers(130, 200))
            pitch = int(rng.integers(25, 75))
            key = hashlib.sha1(f"{voice}|{text}|{speed}|{pitch}".encode()).hexdigest()[:16]
            wav = cache / f"{key}.wav"
            if not wav.exists():
                cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
                if not _run(cmd):
                    continue
            try:
                x = read_audio(wav)
            except (OSError, ValueError, RuntimeError):
                continue
            if x.size and np.max(np.abs(x)) > 0:
                out.append(Clip(f"espeak:{voice}", x / np.max(np.abs(x)) * 0.5, role="speech"))
    return out, [] if out else [f"espeak-ng produced nothing for {split}"]


def load_pools(split: str, build_root: Path, with_real: bool = True) -> Pools:
    pools = Pools()
    if not with_real:
        pools.notes.append("--synthetic-only: no real recordings used")
        return pools
    if shared_dir().is_dir():
        pools.alarms = load_alarms(split)
        pools.beds = load_music_speech(split)
    else:
        pools.notes.append(f"{shared_dir()} missing: shared recordings skipped")
    deb, notes = load_debian(build_root / "debian", split)
    pools.debian = deb
    pools.notes += notes
    speech, notes = espeak_pool(build_root / "speech", split)
    pools.speech = speech + deb.get("speech", [])
    pools.notes += notes
    pools.speech += [c for c in pools.beds if c.role == "speech"]
    return pools
