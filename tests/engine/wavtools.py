"""Build WAV files byte by byte (including broken ones) and test signals."""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from custom_components.acoustic_guard.engine.types import AudioFormat

KSDATAFORMAT_PCM = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
KSDATAFORMAT_FLOAT = b"\x03\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> npt.NDArray[np.float64]:
    t = np.arange(round(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def encode(x: npt.NDArray[np.float64], fmt: AudioFormat) -> bytes:
    """Float samples ``[n]`` or ``[n, channels]`` in [-1, 1] -> interleaved PCM in ``fmt``."""
    if x.ndim == 1:
        x = np.repeat(x[:, None], fmt.channels, axis=1)
    x = np.clip(x, -1.0, 1.0)
    if fmt.is_float:
        return x.astype("<f4").tobytes()
    if fmt.width == 1:
        return np.round(x * 127 + 128).astype(np.uint8).tobytes()
    if fmt.width == 2:
        return np.round(x * 32767).astype("<i2").tobytes()
    if fmt.width == 3:
        v = np.round(x * 8388607).astype("<i4").reshape(-1)
        b = v.view(np.uint8).reshape(-1, 4)[:, :3]
        return b.tobytes()
    return np.round(x * 2147483647.0).astype("<i4").tobytes()


def wav_bytes(
    pcm: bytes,
    rate: int,
    channels: int,
    bits: int,
    *,
    tag: int = 1,
    extensible: bool = False,
    data_size: int | None = None,
    riff_size: int | None = None,
    extra_chunk: bool = True,
) -> bytes:
    """A WAV file; ``data_size`` / ``riff_size`` may lie; an odd LIST chunk before data."""
    align = channels * bits // 8
    if extensible:
        guid = KSDATAFORMAT_FLOAT if tag == 3 else KSDATAFORMAT_PCM
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * align, align, bits)
        fmt += struct.pack("<HHI", 22, bits, (1 << channels) - 1) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if extra_chunk:
        info = b"INFOtest"  # odd-sized payload below exercises the word alignment
        body += b"LIST" + struct.pack("<I", len(info) + 1) + info + b"x" + b"\x00"
    size = len(pcm) if data_size is None else data_size
    body += b"data" + struct.pack("<I", size) + pcm
    total = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", total) + body
