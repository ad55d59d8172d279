"""Our tolerant WAV reader and the ffmpeg path for other formats."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from custom_components.acoustic_guard.engine.types import AudioError, AudioFormat
from custom_components.acoustic_guard.engine.wavfile import (
    ffmpeg_available,
    load_16k,
    parse_wav,
    read_audio,
    read_wav,
)

from .wavtools import encode, tone, wav_bytes

SHARED_OGG = Path(__file__).resolve().parents[3] / "shared" / "data" / "music_speech"


@pytest.mark.parametrize(
    ("bits", "tag", "is_float", "extensible"),
    [
        (8, 1, False, False),
        (16, 1, False, False),
        (24, 1, False, False),
        (32, 1, False, False),
        (32, 3, True, False),
        (16, 1, False, True),
        (24, 1, False, True),
        (32, 3, True, True),
    ],
)
def test_reads_every_encoding(bits: int, tag: int, is_float: bool, extensible: bool) -> None:
    fmt = AudioFormat(rate=44_100, width=bits // 8, channels=2, is_float=is_float)
    x = tone(1000.0, 44_100, 0.25)
    pcm = encode(x, fmt)
    rec = parse_wav(wav_bytes(pcm, 44_100, 2, bits, tag=tag, extensible=extensible))
    assert rec.fmt == fmt
    assert rec.pcm == pcm
    assert rec.warnings == []
    assert rec.duration == pytest.approx(0.25)


def test_float64_wav_is_converted() -> None:
    x = tone(1000.0, 16_000, 0.1)
    rec = parse_wav(wav_bytes(x.astype("<f8").tobytes(), 16_000, 1, 64, tag=3))
    assert rec.fmt == AudioFormat(rate=16_000, width=4, channels=1, is_float=True)
    assert np.allclose(np.frombuffer(rec.pcm, dtype="<f4"), x, atol=1e-7)


def test_truncated_data_chunk_reads_what_is_there() -> None:
    pcm = encode(tone(500.0, 16_000, 1.0), AudioFormat(rate=16_000))
    data = wav_bytes(pcm, 16_000, 1, 16)
    rec = parse_wav(data[: len(data) - 10_001])  # cut mid-sample
    assert len(rec.pcm) == len(pcm) - 10_002
    assert any("claims" in w for w in rec.warnings)
    assert any("partial frame" in w for w in rec.warnings)


@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF, 10**9])
def test_lying_sizes_are_tolerated(data_size: int) -> None:
    pcm = encode(tone(500.0, 8_000, 0.5), AudioFormat(rate=8_000))
    rec = parse_wav(wav_bytes(pcm, 8_000, 1, 16, data_size=data_size, riff_size=12345))
    assert rec.pcm == pcm


def test_streaming_wav_header_without_sizes(tmp_path: Path) -> None:
    """A WAV written by a recorder that never went back to fill in the sizes."""
    pcm = encode(tone(800.0, 16_000, 0.5), AudioFormat(rate=16_000))
    path = tmp_path / "live.wav"
    path.write_bytes(wav_bytes(pcm, 16_000, 1, 16, data_size=0, riff_size=0, extra_chunk=False))
    out = load_16k(path)
    assert out.size == 8_000


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"hello, this is not audio at all", "not a WAV|ffmpeg"),
        (b"RIFF\x00\x00\x00\x00WAVE", "no fmt chunk"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd", "before its fmt"),
    ],
)
def test_unusable_files_raise_clear_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=reason):
        read_audio(path)


def test_header_only_wav_has_no_samples() -> None:
    with pytest.raises(AudioError, match="no audio samples"):
        parse_wav(wav_bytes(b"", 16_000, 1, 16))


def test_unsupported_encodings_are_named() -> None:
    with pytest.raises(AudioError, match="format tag 0x0002"):  # MS ADPCM
        parse_wav(wav_bytes(b"\x00" * 64, 16_000, 1, 4, tag=2))
    with pytest.raises(AudioError, match="sample rate"):
        parse_wav(wav_bytes(b"\x00" * 64, 4_000, 1, 16))
    fmt_chunk = b"fmt " + struct.pack("<I", 4) + b"\x01\x00\x01\x00"
    with pytest.raises(AudioError, match="too short"):
        parse_wav(b"RIFF\x00\x00\x00\x00WAVE" + fmt_chunk)


def test_missing_file_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="No such file"):
        read_wav(tmp_path / "nope.wav")


def test_other_formats_need_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ogg = next(iter(sorted(SHARED_OGG.glob("*.ogg"))), None)
    if ogg is None:
        pytest.fail(f"team data missing: no OGG under {SHARED_OGG}")
    if ffmpeg_available():
        out = load_16k(ogg)
        assert out.size > 16_000 and np.abs(out).max() > 0.01
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without ffmpeg
    with pytest.raises(AudioError, match="ffmpeg"):
        read_audio(ogg)


def test_flac_through_ffmpeg(tmp_path: Path) -> None:
    if not ffmpeg_available():
        pytest.skip("ffmpeg is not installed (the no-ffmpeg error is tested above)")
    wav = tmp_path / "tone.wav"
    fmt = AudioFormat(rate=44_100, width=2, channels=2)
    wav.write_bytes(wav_bytes(encode(tone(3100.0, 44_100, 1.0), fmt), 44_100, 2, 16))
    flac = tmp_path / "tone.flac"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(flac)], check=True, timeout=60
    )
    out = load_16k(flac)
    assert abs(out.size - 16_000) <= 2
    spec = np.abs(np.fft.rfft(out[2000:14000] * np.hanning(12000)))
    assert abs(np.argmax(spec) * 16_000 / 12_000 - 3100.0) < 3.0
