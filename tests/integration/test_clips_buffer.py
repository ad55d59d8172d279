"""The clip ring buffer on its own (no Home Assistant): bounds, clocks, drops, formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from custom_components.acoustic_guard.clip_buffer import ClipBuffer, render
from custom_components.acoustic_guard.clip_store import ClipNotFound, ClipStore
from custom_components.acoustic_guard.engine.types import AudioFormat

MONO16 = AudioFormat(16000)
STEREO48 = AudioFormat(48000, 2, 2)


def _tone(seconds: float, fmt: AudioFormat, freq: float = 440.0, amp: float = 0.5) -> bytes:
    t = np.arange(int(seconds * fmt.rate)) / fmt.rate
    x = np.round(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return np.repeat(x, fmt.channels).tobytes()


def test_bounded_by_seconds_and_bytes() -> None:
    buffer = ClipBuffer(seconds=2.0)
    chunk = _tone(0.1, MONO16)
    for _ in range(100):  # 10 s
        buffer.append(chunk, MONO16)
    assert abs(buffer.end - 10.0) < 1e-9
    assert 1.9 <= buffer.end - buffer.start <= 2.1
    small = ClipBuffer(seconds=60.0, max_bytes=32000)  # 1 s of 16 kHz int16
    for _ in range(100):
        small.append(chunk, MONO16)
    assert small.nbytes <= 32000
    assert 0.9 <= small.end - small.start <= 1.0


def test_sessions_drops_and_format_change() -> None:
    buffer = ClipBuffer(seconds=30.0)
    buffer.new_session()
    for _ in range(20):
        buffer.append(_tone(0.1, MONO16), MONO16)  # 2 s
    buffer.new_session()  # reconnect: the detector clock restarts at 0 here
    assert abs(buffer.session_time(0.0) - 2.0) < 1e-9
    for _ in range(10):
        buffer.append(_tone(0.1, STEREO48, freq=1000), STEREO48)
    buffer.drop_tail(0.3)  # the last batch never reached the detector
    assert abs(buffer.end - 2.7) < 1e-9
    buffer.append(bytes(4), STEREO48)  # one frame
    assert abs(buffer.session_time(0.7) - (buffer.end - 1 / 48000)) < 1e-9

    # Only the current session's audio goes into its clips; formats are converted.
    pieces = buffer.snapshot(0.0, 10.0, session=buffer.session)
    assert abs(pieces[0].start - 2.0) < 1e-9
    samples = render(pieces, 0.0, 10.0)
    assert abs(samples.size - 0.7 * 16000) <= 2
    spectrum = np.abs(np.fft.rfft(samples[:8000]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 1000) < 5  # the 1 kHz tone, at 16 kHz
    both = render(buffer.snapshot(1.0, 2.5), 1.0, 2.5)
    assert abs(both.size - 1.5 * 16000) <= 2
    assert render([], 0.0, 1.0).size == 0


def test_store_refuses_paths_outside_the_folder(tmp_path: Path) -> None:
    store = ClipStore(tmp_path / "clips")
    for bad in ("../x", "a/b/c/d", "a/2026-01-01/../../etc", "/etc/passwd", "", "a/2026-1-1/x_y"):
        try:
            store.path_of(bad)
        except ClipNotFound:
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert store.clips() == []
    assert store.stats() == {}
    assert store.enforce(1.0, 1) == []
