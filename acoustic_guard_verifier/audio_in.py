"""Decode an uploaded WAV clip to 16 kHz mono float32 (the rate both models expect)."""

from __future__ import annotations

import io
import wave
from typing import Final

import numpy as np
import numpy.typing as npt

from .engine_bridge import engine_audio, engine_wavfile
from .protocol import ProtocolError

SAMPLE_RATE: Final = 16_000
MAX_CLIP_S: Final = 120.0
MIN_CLIP_S: Final = 0.1

FloatArray = npt.NDArray[np.float32]


def looks_like_wav(data: bytes) -> bool:
    """A RIFF/RIFX/RF64 container holding WAVE data."""
    return len(data) >= 12 and data[:4] in (b"RIFF", b"RIFX", b"RF64") and data[8:12] == b"WAVE"


def decode_clip(data: bytes) -> FloatArray:
    """WAV bytes -> 16 kHz mono float32; ``ProtocolError`` 415 (not a WAV) or 400 (unusable)."""
    if not looks_like_wav(data):
        raise ProtocolError(415, "unsupported_media_type", "the clip is not a WAV file")
    samples = _decode(data)
    seconds = samples.size / SAMPLE_RATE
    if seconds < MIN_CLIP_S:
        raise ProtocolError(400, "bad_audio", f"the clip holds {seconds:.3f} s of audio")
    if seconds > MAX_CLIP_S:
        raise ProtocolError(
            400, "bad_audio", f"the clip is {seconds:.0f} s long (at most {MAX_CLIP_S:.0f} s)"
        )
    return samples


def _decode(data: bytes) -> FloatArray:
    if engine_wavfile is None or engine_audio is None:
        return _decode_stdlib(data)
    return _decode_engine(data)


def _decode_engine(data: bytes) -> FloatArray:
    """The engine's tolerant WAV parser and anti-aliased resampler (as the integration hears)."""
    assert engine_wavfile is not None
    assert engine_audio is not None
    try:
        recording = engine_wavfile.parse_wav(data, name="clip")
        samples = engine_audio.to_16k_mono(recording.pcm, recording.fmt)
    except ValueError as err:  # the engine's AudioError is a ValueError
        raise ProtocolError(400, "bad_audio", f"unusable WAV: {err}") from err
    return np.asarray(samples, dtype=np.float32)


def _decode_stdlib(data: bytes) -> FloatArray:
    """Fallback: PCM WAV through the standard library, FFT resampling to 16 kHz."""
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate = reader.getframerate()
            width = reader.getsampwidth()
            channels = reader.getnchannels()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as err:
        raise ProtocolError(400, "bad_audio", f"unreadable WAV: {err}") from err
    if not 8_000 <= rate <= 192_000:
        raise ProtocolError(400, "bad_audio", f"unsupported sample rate {rate} Hz")
    usable = len(frames) - len(frames) % (width * channels)
    raw = np.frombuffer(frames[:usable], dtype=np.uint8).reshape(-1, width)
    if width == 1:
        pcm = (raw[:, 0].astype(np.float32) - 128.0) / 128.0
    else:
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 4 - width :] = raw
        pcm = padded.view("<i4").reshape(-1).astype(np.float32) / 2_147_483_648.0
    mono = pcm.reshape(-1, channels).mean(axis=1)
    return _resample(mono, rate)


def _resample(samples: FloatArray, rate: int) -> FloatArray:
    if rate == SAMPLE_RATE or samples.size == 0:
        return np.clip(samples, -1.0, 1.0).astype(np.float32)
    n_out = max(1, round(samples.size * SAMPLE_RATE / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    out = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    keep = min(out.size, spectrum.size)
    out[:keep] = spectrum[:keep]
    resampled = np.fft.irfft(out, n_out) * (n_out / samples.size)
    return np.clip(resampled, -1.0, 1.0).astype(np.float32)


def encode_wav(samples: FloatArray, rate: int = SAMPLE_RATE) -> bytes:
    """Mono float32 in [-1, 1] -> 16-bit PCM WAV bytes (what the integration sends)."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()
