"""Audio file I/O for the data builder: anything in, 16 kHz mono float32 out, int16 WAV out."""

from __future__ import annotations

import io
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SR = 16_000


def to_mono_16k(data: np.ndarray, rate: int) -> np.ndarray:
    """``[n]`` or ``[n, ch]`` samples at ``rate`` -> mono float32 at 16 kHz."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SR:
        frac = Fraction(SR, rate).limit_denominator(1000)
        x = resample_poly(x, frac.numerator, frac.denominator)
    return x.astype(np.float32)


def read_audio(path: Path | str) -> np.ndarray:
    """Read a WAV/OGG/FLAC file (soundfile; ffmpeg as a fallback) as 16 kHz mono float32."""
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as err:
        if shutil.which("ffmpeg") is None:
            raise ValueError(f"cannot decode {path}: {err}") from err
        out = subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-ac",
                "1",
                "-ar",
                str(SR),
                "-f",
                "f32le",
                "-",
            ],
            check=True,
            capture_output=True,
        ).stdout
        return np.frombuffer(out, dtype=np.float32).copy()
    return to_mono_16k(data, rate)


def read_audio_bytes(blob: bytes) -> np.ndarray:
    """Decode an in-memory audio file (e.g. a WAV inside a .pk3 zip)."""
    data, rate = sf.read(io.BytesIO(blob), dtype="float32", always_2d=False)
    return to_mono_16k(data, rate)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write float samples in [-1, 1] as 16 kHz mono 16-bit PCM (clipped)."""
    pcm = np.clip(np.round(np.asarray(samples) * 32767.0), -32768, 32767).astype(np.int16)
    sf.write(str(path), pcm, SR, subtype="PCM_16")
