"""Read recordings: our own tolerant WAV parser, ffmpeg for everything else.

WAV: PCM 8/16/24/32-bit, IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE. A truncated data
chunk or a header that lies about sizes is read as far as the bytes go (with a warning);
a file that is empty or not audio raises :class:`AudioError` saying why.
Other formats (OGG, FLAC, MP3, ...) are decoded by ``ffmpeg`` when it is installed.
"""

from __future__ import annotations

import logging
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from .audio import MAX_CHANNELS, to_16k_mono, validate_format
from .features import SAMPLE_RATE
from .types import AudioError, AudioFormat

_LOGGER = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

WAVE_FORMAT_PCM: Final = 0x0001
WAVE_FORMAT_IEEE_FLOAT: Final = 0x0003
WAVE_FORMAT_EXTENSIBLE: Final = 0xFFFE
FFMPEG_TIMEOUT_S: Final = 120.0


@dataclass(slots=True)
class Recording:
    """Raw PCM of a file plus how it is laid out, and anything odd found on the way."""

    pcm: bytes
    fmt: AudioFormat
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.pcm) / (self.fmt.width * self.fmt.channels * self.fmt.rate)


def parse_wav(data: bytes, name: str = "WAV") -> Recording:
    """Parse WAV bytes (tolerant: lying sizes and truncation are read as far as possible)."""
    if len(data) == 0:
        raise AudioError("empty file")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError("not a WAV file (no RIFF/WAVE header)")
    warnings: list[str] = []
    fmt: AudioFormat | None = None
    convert_f64 = False
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, convert_f64 = _parse_fmt(data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError("WAV data chunk comes before its fmt chunk")
            available = len(data) - body
            if size in (0, 0xFFFFFFFF) or size > available:
                if size != available:
                    warnings.append(
                        f"data chunk claims {size} bytes but {available} are there; reading those"
                    )
                size = available
            pcm = data[body : body + size]
            frame = fmt.channels * (8 if convert_f64 else fmt.width)
            whole = len(pcm) // frame * frame
            if whole != len(pcm):
                warnings.append(f"{len(pcm) - whole} trailing bytes of a partial frame ignored")
                pcm = pcm[:whole]
            if whole == 0:
                raise AudioError("WAV file holds no audio samples")
            if convert_f64:
                pcm = np.frombuffer(pcm, dtype="<f8").astype("<f4").tobytes()
            for w in warnings:
                _LOGGER.warning("%s: %s", name, w)
            return Recording(pcm, fmt, warnings)
        if size > len(data) - body:
            break
        pos = body + size + (size & 1)  # chunks are word aligned
    if fmt is None:
        raise AudioError("WAV file has no fmt chunk")
    raise AudioError("WAV file has no data chunk")


def _parse_fmt(body: bytes) -> tuple[AudioFormat, bool]:
    if len(body) < 16:
        raise AudioError(f"WAV fmt chunk too short ({len(body)} bytes)")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise AudioError("WAVE_FORMAT_EXTENSIBLE fmt chunk too short")
        (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of the sub-format GUID
    if channels < 1 or channels > MAX_CHANNELS:
        raise AudioError(f"WAV has {channels} channels (1-{MAX_CHANNELS} supported)")
    if tag == WAVE_FORMAT_PCM and bits in (8, 16, 24, 32):
        fmt = AudioFormat(rate=rate, width=bits // 8, channels=channels)
        convert_f64 = False
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits in (32, 64):
        fmt = AudioFormat(rate=rate, width=4, channels=channels, is_float=True)
        convert_f64 = bits == 64
    else:
        raise AudioError(f"unsupported WAV encoding (format tag {tag:#06x}, {bits} bits)")
    validate_format(fmt)
    return fmt, convert_f64


def read_wav(path: Path | str) -> Recording:
    """Read a WAV file (see :func:`parse_wav`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise AudioError(err.strerror or str(err)) from err
    return parse_wav(data, p.name)


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def decode_with_ffmpeg(path: Path | str, max_seconds: float | None = None) -> Recording:
    """Decode any format ffmpeg knows to 16 kHz mono int16 (the first ``max_seconds``)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioError("not a WAV file, and ffmpeg (needed for other formats) is not installed")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path)]
    if max_seconds is not None:
        cmd += ["-t", f"{max_seconds:.3f}"]
    cmd += ["-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise AudioError(f"ffmpeg failed: {err}") from err
    if proc.returncode != 0 or not proc.stdout:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {proc.returncode}, no audio"
        raise AudioError(f"not a WAV file, and ffmpeg cannot decode it: {reason}")
    pcm = proc.stdout[: len(proc.stdout) // 2 * 2]
    return Recording(pcm, AudioFormat(rate=SAMPLE_RATE, width=2, channels=1))


def read_audio(path: Path | str, max_seconds: float | None = None) -> Recording:
    """Any recording: WAV with our parser, other formats through ffmpeg.

    ``max_seconds`` keeps only the beginning of the recording.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(12)
    except OSError as err:
        raise AudioError(err.strerror or str(err)) from err
    if len(head) == 0:
        raise AudioError("empty file")
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        rec = read_wav(p)
        if max_seconds is not None:
            frame = rec.fmt.width * rec.fmt.channels
            rec.pcm = rec.pcm[: max(1, round(max_seconds * rec.fmt.rate)) * frame]
        return rec
    return decode_with_ffmpeg(p, max_seconds)


def load_16k(path: Path | str, max_seconds: float | None = None) -> FloatArray:
    """A recording (or its first ``max_seconds``) as 16 kHz mono float32."""
    rec = read_audio(path, max_seconds)
    return to_16k_mono(rec.pcm, rec.fmt)
