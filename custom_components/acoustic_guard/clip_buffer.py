"""Ring buffer of a satellite's recent audio for detection clips (no Home Assistant).

The buffer keeps the last ``seconds`` of audio exactly as it arrived (native rate, width and
channels; a format change mid-stream is fine), so the event loop only appends references to
the received bytes; conversion to 16 kHz mono int16 happens in :func:`render`, which runs in an
executor when a clip is written.

Time axis: the buffer has its own clock (seconds of buffered stream audio). Each connection is
a *session* whose detector clock starts at 0 (the engine's ``Detection.start`` / ``time`` are
seconds of the connection's audio), so :meth:`ClipBuffer.new_session` remembers where in the
buffer clock the session began; :meth:`ClipBuffer.session_time` maps a detection time to it.
Audio the detector never saw (dropped because inference could not keep up) is removed with
:meth:`ClipBuffer.drop_tail`, which keeps both clocks in step.
"""

from __future__ import annotations

import io
import wave
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .engine.audio import to_16k_mono
from .engine.types import AudioFormat

CLIP_RATE = 16000
"""Clips are written as 16 kHz mono int16 WAV (what the engine and the verifier expect)."""


@dataclass(frozen=True, slots=True)
class Piece:
    """One received chunk: where it starts on the buffer clock, its audio and format."""

    session: int
    start: float
    seconds: float
    pcm: bytes
    fmt: AudioFormat

    @property
    def end(self) -> float:
        """Buffer-clock time at the end of the chunk."""
        return self.start + self.seconds


class ClipBuffer:
    """The last ``seconds`` of one satellite's audio (at most ``max_bytes`` of it)."""

    def __init__(self, seconds: float = 20.0, max_bytes: int = 8 * 1024 * 1024) -> None:
        """Bounded by duration and by bytes (a 48 kHz stereo float stream is 384 kB/s)."""
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._pieces: deque[Piece] = deque()
        self._bytes = 0
        self._end = 0.0  # buffer clock at the end of the newest audio
        self.session = 0
        self._session_origin = 0.0

    # -- writing (event loop; cheap) ------------------------------------------------------
    def new_session(self) -> None:
        """A new connection starts: its detector clock 0 is the current end of the buffer."""
        self.session += 1
        self._session_origin = self._end

    def append(self, pcm: bytes, fmt: AudioFormat) -> None:
        """Add one received chunk (whole frames of ``fmt``; a partial frame is ignored)."""
        frame = fmt.width * fmt.channels
        if frame <= 0 or fmt.rate <= 0:
            return
        seconds = (len(pcm) // frame) / fmt.rate
        if seconds <= 0:
            return
        self._pieces.append(Piece(self.session, self._end, seconds, pcm, fmt))
        self._bytes += len(pcm)
        self._end += seconds
        while self._pieces and (
            self._end - self._pieces[0].end >= self.seconds or self._bytes > self.max_bytes
        ):
            self._bytes -= len(self._pieces.popleft().pcm)

    def drop_tail(self, seconds: float) -> None:
        """The newest ``seconds`` of audio never reached the detector: forget them."""
        while self._pieces and seconds > 1e-6:
            piece = self._pieces[-1]
            if piece.seconds > seconds + 1e-6:
                break  # only whole chunks are ever dropped
            self._pieces.pop()
            self._bytes -= len(piece.pcm)
            self._end = piece.start
            seconds -= piece.seconds

    # -- reading --------------------------------------------------------------------------
    @property
    def end(self) -> float:
        """Buffer clock at the end of the newest audio."""
        return self._end

    @property
    def start(self) -> float:
        """Buffer clock at the start of the oldest audio still held."""
        return self._pieces[0].start if self._pieces else self._end

    @property
    def nbytes(self) -> int:
        """Bytes of audio held."""
        return self._bytes

    def session_time(self, detector_time: float) -> float:
        """Buffer-clock time of ``detector_time`` seconds into the current session."""
        return self._session_origin + detector_time

    def snapshot(self, start: float, end: float, session: int | None = None) -> list[Piece]:
        """The chunks overlapping ``[start, end)`` (of ``session`` only, when given)."""
        return [
            piece
            for piece in self._pieces
            if piece.end > start
            and piece.start < end
            and (session is None or piece.session == session)
        ]


def render(pieces: list[Piece], start: float, end: float) -> npt.NDArray[np.int16]:
    """16 kHz mono int16 samples of ``[start, end)`` (clipped to the audio in ``pieces``).

    Runs in an executor: consecutive chunks of one format are converted together with the
    engine's converter (no high-pass: the clip is for people to hear).
    """
    if not pieces or end <= start:
        return np.zeros(0, dtype=np.int16)
    runs: list[list[Piece]] = []
    for piece in pieces:
        if runs and runs[-1][-1].fmt == piece.fmt and abs(runs[-1][-1].end - piece.start) < 1e-6:
            runs[-1].append(piece)
        else:
            runs.append([piece])
    out: list[npt.NDArray[np.int16]] = []
    for run in runs:
        samples = to_16k_mono(b"".join(p.pcm for p in run), run[0].fmt, high_pass=False)
        t0 = run[0].start
        first = max(round((start - t0) * CLIP_RATE), 0)
        last = min(round((end - t0) * CLIP_RATE), samples.size)
        if last > first:
            clipped = np.clip(samples[first:last], -1.0, 1.0)
            out.append(np.round(clipped * 32767.0).astype(np.int16))
    if not out:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(out)


def wav_bytes(samples: npt.NDArray[np.int16], rate: int = CLIP_RATE) -> bytes:
    """A mono 16-bit WAV file of ``samples``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()
