"""One audio stream end to end: PCM -> 16 kHz -> log-mel -> model -> events.

A :class:`Detector` owns only small per-stream state (converter buffers, feature buffer,
model state, aggregation); the model itself is shared by every stream. Audio is cut into
chunks of ``manifest["chunk_frames"]`` frames at fixed stream positions, so the results never
depend on how the caller slices the bytes (1 byte at a time gives the same scores as the whole
file at once).

The first ``warmup_s`` (0.5 s) after a stream starts (and after each :meth:`Detector.flush`)
only prime the front end and the recurrent state: the log-mel history starts silent, so the
first frames look like a sound starting out of silence, which an impact head (glass,
footsteps) can mistake for an event. Their scores are zeroed before aggregation (and the
score sink sees exactly what the aggregation saw).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .aggregate import TONE_ONSET, Aggregation, params_for
from .audio import PCM_TYPES, AudioConverter, validate_format
from .cues import ToneOnsets
from .features import FRAME_RATE, HOP, SAMPLE_RATE, LogMelStream
from .runtime import Model, get_model
from .types import AudioError, AudioFormat, Detection

FloatArray = npt.NDArray[np.float32]
ScoreSink = Callable[[FloatArray, float], None]
"""Called with each chunk's frames ``[chunk_frames, len(Detector.columns)]`` (the head scores,
then the cue columns) and the stream time the chunk ends."""

WARMUP_S = 0.5  # after a stream (re)starts, frames that only prime the features and model
FLOAT_16K = AudioFormat(rate=SAMPLE_RATE, width=4, channels=1, is_float=True)
# PCM held before converting anyway (bounds the state of wide formats). 192 KiB is 1 s of
# 48 kHz int16 stereo: the usual satellite formats convert once per model chunk (fewer,
# larger conversions: ~5 % less CPU than 64 KiB at 48 kHz stereo), and the state stays small.
RAW_MAX_BYTES = 196_608
LEVEL_WINDOW_S = 1.0
LEVEL_FLOOR_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class DetectorStats:
    samples_in: int  # input sample frames (per channel) received
    bad_samples: int  # NaN / inf samples replaced by silence
    dropped_bytes: int  # partial sample frames discarded (format change, end of stream)
    chunks: int  # model chunks run
    seconds: float  # stream audio received


class Detector:
    """Streaming detector for one microphone (not thread-safe; one per stream)."""

    def __init__(
        self,
        model: Model | None = None,
        *,
        sensitivity: str | float | Mapping[str, str | float] = "medium",
        enabled: Iterable[str] | None = None,
        hold_s: float | None = None,
        score_sink: ScoreSink | None = None,
        warmup_s: float = WARMUP_S,
    ) -> None:
        self.model = model if model is not None else get_model()
        self.head_names = self.model.head_names
        # what the aggregation (and a score sink) gets per frame: the heads, then the cues
        self.columns: tuple[str, ...] = (*self.head_names, TONE_ONSET)
        self.chunk_frames = self.model.chunk_frames
        self._chunk_samples = self.chunk_frames * HOP
        params = params_for(self.model.manifest.get("thresholds"), sensitivity)
        self._aggregation = Aggregation(
            params, frame_rate=FRAME_RATE, hold_s=hold_s, enabled=enabled
        )
        self._score_sink = score_sink
        if not 0.0 <= warmup_s <= 10.0:
            raise ValueError(f"warmup_s must be within 0..10 s, not {warmup_s!r}")
        self._warmup_frames = round(warmup_s * FRAME_RATE)
        self._converter = AudioConverter()
        # PCM waits here until converting it completes a model chunk: fewer, larger
        # conversions, and exactly the same samples (the converter is chunking-invariant).
        self._raw = bytearray()
        self._raw_fmt: AudioFormat | None = None
        # Bytes of ``_raw`` at which converting completes a model chunk (or RAW_MAX_BYTES);
        # None: work it out again (the converter or the pending samples changed).
        self._convert_at: int | None = None
        self._fmt_bytes = 0  # bytes received in the current format
        self._seconds_before = 0.0  # stream time at the last format change
        self._frames_before = 0  # input sample frames before the last format change
        self._mel = LogMelStream()
        self._onsets = ToneOnsets()
        self._state = self.model.new_state()
        self._pending: FloatArray = np.zeros(0, dtype=np.float32)
        self._level: deque[tuple[float, int]] = deque(
            maxlen=max(1, math.ceil(LEVEL_WINDOW_S * SAMPLE_RATE / self._chunk_samples))
        )
        self._t0 = 0.0  # stream time at which the current segment (since flush) started
        self._frames = 0  # frames analysed in the current segment
        self._chunks = 0
        self._bad_before = 0
        self._dropped_before = 0

    # -- input -------------------------------------------------------------------------

    def feed(self, pcm: bytes | bytearray | memoryview, fmt: AudioFormat) -> list[Detection]:
        """Consume PCM bytes in ``fmt``; return the event changes they caused.

        Raises :class:`~.types.AudioError` for an unusable format (the stream stays usable).
        """
        if not isinstance(pcm, PCM_TYPES):
            raise AudioError(f"PCM must be bytes, got {type(pcm).__name__}")
        out: list[Detection] = []
        if fmt is not self._raw_fmt and fmt != self._raw_fmt:
            validate_format(fmt)
            out = self._convert_raw()
            self._new_format(fmt)
        self._raw += pcm
        self._fmt_bytes += len(pcm)
        at = self._convert_at
        if at is None:
            # The converter's output only grows with the bytes: convert once it would complete
            # the model chunk (the same moment as asking it after every piece, for less work).
            need = self._chunk_samples - self._pending.size
            at = self._convert_at = min(RAW_MAX_BYTES, self._converter.bytes_needed(need, fmt))
        if len(self._raw) >= at:
            out += self._convert_raw()
        return out

    def feed_float(self, samples: npt.ArrayLike) -> list[Detection]:
        """Consume 16 kHz mono float samples in [-1, 1]."""
        out = self._convert_raw()
        if self._raw_fmt != FLOAT_16K:
            self._new_format(FLOAT_16K)
        before = self._converter.stats.samples_in
        x = self._converter.convert_float(samples)
        self._fmt_bytes += 4 * (self._converter.stats.samples_in - before)
        return out + self._consume(x)

    def flush(self) -> list[Detection]:
        """End of stream: analyse what is buffered, close active events, start afresh.

        The stream clock keeps running: a later ``feed`` continues at :attr:`time`.
        """
        out = self._convert_raw()
        out += self._consume(self._converter.flush())
        if self._pending.size:
            pad = np.zeros(self._chunk_samples - self._pending.size, dtype=np.float32)
            out += self._consume(pad)
        end = max(self.time, self._frame_time)
        out += self._aggregation.flush(end)
        c = self._converter.stats
        self._bad_before += c.bad_samples
        self._dropped_before += c.dropped_bytes
        self._new_format(None)
        self._converter = AudioConverter()
        self._mel.reset()
        self._onsets.reset()
        self._state.reset()
        self._aggregation.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._t0 = self.time
        self._frames = 0
        return out

    # -- state -------------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Seconds of stream audio received so far."""
        fmt = self._raw_fmt
        if fmt is None:
            return self._seconds_before
        return self._seconds_before + self._fmt_bytes // (fmt.width * fmt.channels) / fmt.rate

    @property
    def level_dbfs(self) -> float | None:
        """RMS level of the last ~1 s of analysed audio (dBFS), None before any."""
        n = sum(c for _, c in self._level)
        if n == 0:
            return None
        ms = sum(s for s, _ in self._level) / n
        if ms <= 0.0:
            return LEVEL_FLOOR_DBFS
        return max(LEVEL_FLOOR_DBFS, 10.0 * math.log10(ms))

    @property
    def state_bytes(self) -> int:
        """Bytes of per-stream state (the shared model excluded)."""
        return int(
            self._converter.state_bytes
            + self._mel.state_bytes
            + self._onsets.state_bytes
            + self._state.nbytes
            + self._pending.nbytes
            + self._aggregation.state_bytes
            + len(self._raw)
            + 16 * (self._level.maxlen or 0)
        )

    @property
    def stats(self) -> DetectorStats:
        c = self._converter.stats
        fmt = self._raw_fmt
        frames = self._fmt_bytes // (fmt.width * fmt.channels) if fmt is not None else 0
        return DetectorStats(
            samples_in=self._frames_before + frames,
            bad_samples=self._bad_before + c.bad_samples,
            dropped_bytes=self._dropped_before + c.dropped_bytes,
            chunks=self._chunks,
            seconds=self.time,
        )

    @property
    def active(self) -> dict[str, bool]:
        """Which enabled events are on right now."""
        return self._aggregation.active()

    # -- internals ---------------------------------------------------------------------

    @property
    def _frame_time(self) -> float:
        return self._t0 + self._frames * HOP / SAMPLE_RATE

    def _new_format(self, fmt: AudioFormat | None) -> None:
        old = self._raw_fmt
        if old is not None:
            self._frames_before += self._fmt_bytes // (old.width * old.channels)
        self._seconds_before = self.time
        self._raw_fmt = fmt
        self._fmt_bytes = 0
        self._convert_at = None

    def _convert_raw(self) -> list[Detection]:
        if not self._raw or self._raw_fmt is None:
            return []
        # Hand the buffer over (no copy) and start a fresh one.
        raw, self._raw = self._raw, bytearray()
        return self._consume(self._converter.convert(raw, self._raw_fmt))

    def _consume(self, samples: FloatArray) -> list[Detection]:
        self._convert_at = None  # the converter moved on (and the pending samples may change)
        if samples.size == 0:
            return []
        buf = np.concatenate((self._pending, samples)) if self._pending.size else samples
        n_chunks = buf.size // self._chunk_samples
        out: list[Detection] = []
        for i in range(n_chunks):
            out += self._run_chunk(buf[i * self._chunk_samples : (i + 1) * self._chunk_samples])
        self._pending = buf[n_chunks * self._chunk_samples :].copy()
        return out

    def _run_chunk(self, chunk: FloatArray) -> list[Detection]:
        frames = self._mel.feed(chunk)
        scores: FloatArray = np.column_stack(
            (self.model.run(frames, self._state), self._onsets.feed(frames))
        )
        if self._frames < self._warmup_frames:
            # Stream start: the front end's silent history makes the first frames look like
            # an onset out of silence (an "impact"). They prime the state; no decisions.
            scores[: self._warmup_frames - self._frames] = 0.0
        self._frames += frames.shape[0]
        self._chunks += 1
        self._level.append((float(np.dot(chunk, chunk)), chunk.size))
        t_end = self._frame_time
        if self._score_sink is not None:
            self._score_sink(scores, t_end)
        return self._aggregation.update(scores, self.columns, t_end)
