"""The clip folder on disk: write, list, annotate, delete, retention (blocking; no Home Assistant).

Layout: ``<root>/<satellite_id>/<YYYY-MM-DD>/<HHMMSS>_<event>.wav`` plus a JSON sidecar of
the same name (``.json``). A clip's id is its path below the root without the suffix, e.g.
``01JD…/2026-11-25/143005_smoke_alarm``; ids are checked against a strict pattern before any
path is built from them, so an id can never leave the folder. Every write is a temporary
file in the same folder followed by :func:`os.replace` (a reader sees the old file or the
new one, never half a file). All methods block: call them in an executor.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WAV = ".wav"
SIDECAR = ".json"
_SATELLITE = r"[A-Za-z0-9_-]{1,64}"
_DATE = r"\d{4}-\d{2}-\d{2}"
_STEM = r"\d{6}(?:-\d{1,3})?_[a-z0-9_]{1,40}"
CLIP_ID = re.compile(rf"^({_SATELLITE})/({_DATE})/({_STEM})$")
SATELLITE_ID = re.compile(rf"^{_SATELLITE}$")
DATE = re.compile(rf"^{_DATE}$")
STEM = re.compile(rf"^{_STEM}$")

# Writers, deleters and retention run in executor threads at the same time (a clip being
# written while retention empties its day folder): every change to the folder holds this.
_LOCK = threading.RLock()


def _locked[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


class ClipNotFound(KeyError):
    """No clip with that id (or the id is not a clip id at all)."""


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """One stored clip: id, files, size (WAV + sidecar), mtime (seconds since the epoch)."""

    clip_id: str
    satellite_id: str
    date: str
    stem: str
    path: Path
    size: int
    mtime: float

    def sidecar(self) -> Path:
        """The JSON sidecar's path."""
        return self.path.with_suffix(SIDECAR)


def clip_id_of(satellite_id: str, date: str, stem: str) -> str:
    """The id of a clip from its parts."""
    return f"{satellite_id}/{date}/{stem}"


class ClipStore:
    """Clips under ``root``; nothing outside it is ever touched."""

    def __init__(self, root: Path) -> None:
        """``root``: ``<config>/acoustic_guard/clips``."""
        self.root = root

    # -- ids ------------------------------------------------------------------------------
    def path_of(self, clip_id: str) -> Path:
        """The WAV path of ``clip_id`` (ClipNotFound for anything that is not a clip id)."""
        if not isinstance(clip_id, str) or not CLIP_ID.match(clip_id):
            raise ClipNotFound(clip_id)
        satellite_id, date, stem = clip_id.split("/")
        return self.root / satellite_id / date / f"{stem}{WAV}"

    def exists(self, clip_id: str) -> bool:
        """True if the clip's WAV is there."""
        try:
            return self.path_of(clip_id).is_file()
        except ClipNotFound:
            return False

    # -- writing --------------------------------------------------------------------------
    @_locked
    def write(
        self, satellite_id: str, date: str, stem: str, wav: bytes, meta: Mapping[str, Any]
    ) -> ClipInfo:
        """Store a new clip atomically; a name already taken gets a ``-2``, ``-3`` … suffix.

        Raises OSError when the folder cannot be created or written (full disk, read-only).
        """
        if not (SATELLITE_ID.match(satellite_id) and DATE.match(date) and STEM.match(stem)):
            raise ValueError(f"not a valid clip name: {satellite_id}/{date}/{stem}")
        folder = self.root / satellite_id / date
        folder.mkdir(parents=True, exist_ok=True)
        hhmmss, event = stem.split("_", 1)
        final = stem
        for n in range(2, 1000):
            if not (folder / f"{final}{WAV}").exists():
                break
            final = f"{hhmmss}-{n}_{event}"
        clip_id = clip_id_of(satellite_id, date, final)
        wav_path = folder / f"{final}{WAV}"
        _atomic_write(wav_path.with_suffix(SIDECAR), _json({**meta, "clip_id": clip_id}))
        try:
            _atomic_write(wav_path, wav)
        except OSError:
            with contextlib.suppress(OSError):
                wav_path.with_suffix(SIDECAR).unlink()
            raise
        stat = wav_path.stat()
        return ClipInfo(
            clip_id,
            satellite_id,
            date,
            final,
            wav_path,
            stat.st_size + wav_path.with_suffix(SIDECAR).stat().st_size,
            stat.st_mtime,
        )

    def read_meta(self, clip_id: str) -> dict[str, Any]:
        """The clip's sidecar ({} if it is missing or unreadable); ClipNotFound if no clip."""
        path = self.path_of(clip_id)
        if not path.is_file():
            raise ClipNotFound(clip_id)
        try:
            data = json.loads(path.with_suffix(SIDECAR).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @_locked
    def annotate(self, clip_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``meta`` into the clip's sidecar (atomically); returns the new metadata."""
        data = {**self.read_meta(clip_id), **meta}
        _atomic_write(self.path_of(clip_id).with_suffix(SIDECAR), _json(data))
        return data

    # -- deleting -------------------------------------------------------------------------
    @_locked
    def delete(self, clip_id: str) -> None:
        """Delete one clip (WAV and sidecar) now; ClipNotFound if there is none."""
        path = self.path_of(clip_id)
        if not path.is_file():
            raise ClipNotFound(clip_id)
        path.unlink()
        with contextlib.suppress(FileNotFoundError):
            path.with_suffix(SIDECAR).unlink()
        _remove_empty(path.parent, self.root)

    @_locked
    def delete_satellite(self, satellite_id: str) -> int:
        """Delete every clip of one satellite; returns how many there were."""
        if not SATELLITE_ID.match(satellite_id):
            return 0
        folder = self.root / satellite_id
        count = sum(1 for _ in folder.glob(f"*/*{WAV}")) if folder.is_dir() else 0
        if folder.is_dir():
            shutil.rmtree(folder)
        return count

    @_locked
    def delete_all(self) -> None:
        """Delete the whole clip folder (the integration is being removed)."""
        if self.root.is_dir():
            shutil.rmtree(self.root)
        with contextlib.suppress(OSError):
            self.root.parent.rmdir()  # <config>/acoustic_guard, if nothing else is in it

    # -- listing --------------------------------------------------------------------------
    def satellites(self) -> list[str]:
        """Satellite ids that have a clip folder."""
        return sorted(p.name for p in _dirs(self.root) if SATELLITE_ID.match(p.name))

    def dates(self, satellite_id: str) -> list[str]:
        """Dates (newest first) with clips of one satellite."""
        if not SATELLITE_ID.match(satellite_id):
            return []
        found = [p.name for p in _dirs(self.root / satellite_id) if DATE.match(p.name)]
        return sorted(found, reverse=True)

    def clips(self, satellite_id: str | None = None, date: str | None = None) -> list[ClipInfo]:
        """Clips (newest first), all or of one satellite / one date."""
        result: list[ClipInfo] = []
        satellites = self.satellites() if satellite_id is None else [satellite_id]
        for sat in satellites:
            if not SATELLITE_ID.match(sat):
                continue
            for day in self.dates(sat) if date is None else [date]:
                if not DATE.match(day):
                    continue
                folder = self.root / sat / day
                for path in folder.glob(f"*{WAV}") if folder.is_dir() else ():
                    if not STEM.match(path.stem):
                        continue
                    try:
                        stat = path.stat()
                    except OSError:
                        continue  # deleted meanwhile
                    size = stat.st_size
                    with contextlib.suppress(OSError):
                        size += path.with_suffix(SIDECAR).stat().st_size
                    result.append(
                        ClipInfo(
                            clip_id_of(sat, day, path.stem),
                            sat,
                            day,
                            path.stem,
                            path,
                            size,
                            stat.st_mtime,
                        )
                    )
        result.sort(key=lambda c: (c.mtime, c.clip_id), reverse=True)
        return result

    def stats(self) -> dict[str, dict[str, int]]:
        """Per satellite: number of clips and bytes on disk (never any audio)."""
        out: dict[str, dict[str, int]] = {}
        for clip in self.clips():
            entry = out.setdefault(clip.satellite_id, {"clips": 0, "bytes": 0})
            entry["clips"] += 1
            entry["bytes"] += clip.size
        return out

    # -- retention ------------------------------------------------------------------------
    @_locked
    def enforce(self, max_age_s: float, max_bytes: int, now: float | None = None) -> list[ClipInfo]:
        """Delete clips older than ``max_age_s``, then the oldest until ``max_bytes`` fit."""
        now = time.time() if now is None else now
        clips = self.clips()  # newest first
        deleted: list[ClipInfo] = []
        total = 0
        full = False
        for clip in clips:
            full = full or total + clip.size > max_bytes  # then every older one goes too
            if full or now - clip.mtime > max_age_s:
                with contextlib.suppress(ClipNotFound, FileNotFoundError):
                    self.delete(clip.clip_id)
                    deleted.append(clip)
                continue
            total += clip.size
        return deleted


def _dirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``root`` while empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, default=str).encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
