"""Stream one Wyoming microphone satellite into a detector (plain asyncio, no Home Assistant).

:class:`SatelliteStream` connects as a client to a Wyoming microphone service (for example
``wyoming-mic-external``), reads ``audio-start`` / ``audio-chunk`` / ``audio-stop`` events with
:mod:`.wyoming_protocol`'s size limits, and feeds the audio to a detector in an executor through
a bounded queue: when inference cannot keep up, audio is dropped and counted, never buffered
without bound. It reconnects with exponential backoff (capped), treats a satellite that sends no
audio for ``Timing.no_audio`` seconds as down, and reports through plain callbacks, so the same
loop runs inside Home Assistant and in the satellites benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from .engine.types import AudioError, AudioFormat, Detection
from .wyoming_protocol import (
    AUDIO_CHUNK,
    AUDIO_START,
    AUDIO_STOP,
    Event,
    Limits,
    ProtocolError,
    audio_format,
    read_event,
    seconds_of,
)

_LOGGER = logging.getLogger(__name__)


class DetectorLike(Protocol):
    """What the stream needs from ``engine.detector.Detector``."""

    def feed(self, pcm: bytes, fmt: AudioFormat) -> list[Detection]:
        """Consume audio, return the state changes it caused."""

    def flush(self) -> list[Detection]:
        """End of stream: close active events."""

    @property
    def level_dbfs(self) -> float | None:
        """Recent sound level."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Time constants (seconds); tests shorten them."""

    connect: float = 10.0
    no_audio: float = 20.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # Audio waiting for inference, in seconds of stream audio, before new audio is dropped.
    max_queued_audio: float = 5.0
    # Chunks are handed to inference in batches of this many seconds (the model itself works
    # on chunks of the manifest's chunk_frames, 1 s for model 0.2.0; smaller batches only cost
    # executor round trips, larger ones delay a chunk that is already complete).
    batch: float = 0.25
    # A connection that delivered this much audio resets the backoff.
    stable: float = 10.0


class SatelliteDown(Exception):
    """Why a connection ended; the message is the clear reason that gets logged."""


@dataclass(slots=True)
class StreamStats:
    """Counters of one satellite stream (all since the stream object was created)."""

    connected: bool = False
    connects: int = 0
    failures: int = 0
    last_error: str | None = None
    down_since: float | None = None  # time.monotonic() when it went (or started) down
    last_audio: float | None = None  # time.monotonic() of the last audio chunk
    audio_format: AudioFormat | None = None
    received_s: float = 0.0
    processed_s: float = 0.0
    dropped_s: float = 0.0
    dropped_chunks: int = 0
    bad_events: int = 0
    inference_errors: int = 0
    queued_s: float = 0.0
    level_dbfs: float | None = None
    detections: int = 0
    backoff_s: float = 0.0
    format_changes: int = 0


@dataclass(slots=True)
class _Chunk:
    pcm: bytes
    fmt: AudioFormat
    seconds: float


_FLUSH = object()  # queue marker: audio-stop, flush the detector


class SatelliteStream:
    """One satellite: connect, read, infer, reconnect. Run :meth:`run` as a task."""

    def __init__(
        self,
        host: str,
        port: int,
        detector_factory: Callable[[], DetectorLike],
        *,
        name: str | None = None,
        on_detections: Callable[[list[Detection]], None] | None = None,
        on_state: Callable[[bool, str | None], None] | None = None,
        on_processed: Callable[[], None] | None = None,
        on_audio: Callable[[bytes, AudioFormat], None] | None = None,
        timing: Timing | None = None,
        limits: Limits | None = None,
        executor: Executor | None = None,
    ) -> None:
        """Callbacks run on the event loop.

        ``on_detections(list)``: engine state changes; ``on_state(connected, reason)``: every
        up/down transition; ``on_processed()``: after each inference batch; ``on_audio(pcm,
        fmt)``: every received chunk, before inference (a tap for a clip ring buffer).
        """
        self.host = host
        self.port = port
        self.name = name or f"{host}:{port}"
        self._detector_factory = detector_factory
        self._on_detections = on_detections
        self._on_state = on_state
        self._on_processed = on_processed
        self.timing = timing or Timing()
        self.limits = limits or Limits()
        self._executor = executor
        self.stats = StreamStats(down_since=time.monotonic())
        self._consumer_error: str | None = None
        self._socket_open = False
        self._session_start = 0.0
        self._audio_tap = on_audio
        self._pending: list[bytes] = []
        self._pending_s = 0.0

    # -- public --------------------------------------------------------------------------
    async def run(self) -> None:
        """Stream forever (until cancelled), reconnecting with capped exponential backoff."""
        backoff = self.timing.backoff_initial
        while True:
            received_before = self.stats.received_s
            self._socket_open = False
            try:
                await self._session()
                reason = "the satellite closed the connection"
            except SatelliteDown as err:
                reason = str(err)
            except ProtocolError as err:
                self.stats.bad_events += 1
                reason = f"bad data from the satellite: {err}"
            except (OSError, TimeoutError) as err:
                if self._socket_open:
                    reason = f"connection lost: {_describe(err)}"
                else:
                    reason = f"cannot connect to {self.host}:{self.port}: {_describe(err)}"
            except Exception as err:  # a bug must not end the stream for good
                _LOGGER.exception("%s: unexpected error", self.name)
                reason = f"internal error: {err!r}"
            if self.stats.received_s - received_before >= self.timing.stable:
                # It streamed for a while: a fresh failure, not a flapping satellite.
                backoff = self.timing.backoff_initial
            self.stats.failures += 1
            self.stats.last_error = reason
            self._set_down(reason)
            self.stats.backoff_s = backoff
            _LOGGER.debug("%s: %s; retrying in %.1f s", self.name, reason, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.timing.backoff_max)

    @property
    def connected(self) -> bool:
        """True while connected and receiving audio."""
        return self.stats.connected

    # -- internals -----------------------------------------------------------------------
    def _set_up(self) -> None:
        if not self.stats.connected:
            self.stats.connected = True
            self.stats.down_since = None
            self.stats.connects += 1
            if self._on_state:
                self._on_state(True, None)

    def _set_down(self, reason: str) -> None:
        if self.stats.connected:
            self.stats.connected = False
            self.stats.down_since = time.monotonic()
            if self._on_state:
                self._on_state(False, reason)
        elif self.stats.connects == 0 and self.stats.failures == 1 and self._on_state:
            # The very first attempt failed: report it once so it gets logged.
            self._on_state(False, reason)

    async def _session(self) -> None:
        """One connection, until it ends (returns at end of stream, else raises why)."""
        async with asyncio.timeout(self.timing.connect):
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=self.limits.header
            )
        self._socket_open = True
        self._session_start = time.monotonic()
        queue: asyncio.Queue[_Chunk | object] = asyncio.Queue()
        self.stats.queued_s = 0.0
        self._consumer_error = None
        consumer = asyncio.create_task(self._consume(queue), name=f"{self.name} inference")
        try:
            while True:
                event = await self._read(reader)
                if event is None:
                    return
                if event.type == AUDIO_CHUNK:
                    fmt = audio_format(event.data)
                    if not event.payload:
                        continue
                    self._enqueue(queue, event.payload, fmt)
                    self.stats.last_audio = time.monotonic()
                    self._set_up()
                elif event.type == AUDIO_START:
                    audio_format(event.data)  # validate early: a zero rate is an error here
                elif event.type == AUDIO_STOP:
                    self._flush_pending(queue)
                    queue.put_nowait(_FLUSH)
        finally:
            consumer.cancel()
            # asyncio.wait, not ``await consumer``: our own cancellation must propagate.
            await asyncio.wait({consumer})
            # Audio still queued when the connection ends is lost: count it.
            self.stats.dropped_s += self.stats.queued_s + self._pending_s
            self.stats.queued_s = self._pending_s = 0.0
            self._pending.clear()
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1):
                    await writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> Event | None:
        """The next event, or SatelliteDown when no audio came for ``Timing.no_audio``."""
        if self._consumer_error is not None:
            raise SatelliteDown(f"inference failed: {self._consumer_error}")
        since = self.stats.last_audio if self.stats.connected else None
        deadline = (since or self._session_start) + self.timing.no_audio
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                return await read_event(reader, self.limits)
        except TimeoutError:
            raise SatelliteDown(f"no audio for {self.timing.no_audio:g} s") from None

    def _enqueue(self, queue: asyncio.Queue[_Chunk | object], pcm: bytes, fmt: AudioFormat) -> None:
        """Collect chunks into batches of ``Timing.batch`` seconds (fewer executor hops)."""
        seconds = seconds_of(len(pcm), fmt)
        self.stats.received_s += seconds
        if self.stats.audio_format is not None and fmt != self.stats.audio_format:
            self.stats.format_changes += 1
            _LOGGER.debug("%s: audio format changed to %s", self.name, fmt)
            self._flush_pending(queue)
        self.stats.audio_format = fmt
        if self._audio_tap is not None:
            self._audio_tap(pcm, fmt)
        self._pending.append(pcm)
        self._pending_s += seconds
        if self._pending_s >= self.timing.batch:
            self._flush_pending(queue)

    def _flush_pending(self, queue: asyncio.Queue[_Chunk | object]) -> None:
        if not self._pending or self.stats.audio_format is None:
            return
        chunk = _Chunk(b"".join(self._pending), self.stats.audio_format, self._pending_s)
        self._pending.clear()
        self._pending_s = 0.0
        if self.stats.queued_s + chunk.seconds > self.timing.max_queued_audio:
            self.stats.dropped_s += chunk.seconds
            self.stats.dropped_chunks += 1
            return
        self.stats.queued_s += chunk.seconds
        queue.put_nowait(chunk)

    async def _consume(self, queue: asyncio.Queue[_Chunk | object]) -> None:
        """Run inference; an unexpected failure is recorded and ends the connection."""
        try:
            await self._consume_forever(queue)
        except Exception as err:
            _LOGGER.exception("%s: inference failed", self.name)
            self._consumer_error = repr(err)

    async def _consume_forever(self, queue: asyncio.Queue[_Chunk | object]) -> None:
        """Feed queued audio to a fresh detector in the executor, one batch at a time."""
        loop = asyncio.get_running_loop()
        detector = await loop.run_in_executor(self._executor, self._detector_factory)
        while True:
            item = await queue.get()
            batch: list[_Chunk] = []
            flush = False
            while True:
                if item is _FLUSH:
                    flush = True
                    break
                assert isinstance(item, _Chunk)
                if batch and item.fmt != batch[0].fmt:
                    # Process what we have; the new format starts the next batch.
                    await self._infer(loop, detector, batch)
                    batch = []
                batch.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                await self._infer(loop, detector, batch)
            if flush:
                detections = await loop.run_in_executor(self._executor, detector.flush)
                self._emit(detections)

    async def _infer(
        self, loop: asyncio.AbstractEventLoop, detector: DetectorLike, batch: list[_Chunk]
    ) -> None:
        pcm = b"".join(chunk.pcm for chunk in batch)
        seconds = sum(chunk.seconds for chunk in batch)
        try:
            detections = await loop.run_in_executor(
                self._executor, detector.feed, pcm, batch[0].fmt
            )
        except AudioError as err:
            # Unusable audio (the engine says why): drop it, keep the connection.
            self.stats.inference_errors += 1
            self.stats.dropped_s += seconds
            _LOGGER.debug("%s: audio dropped: %s", self.name, err)
            return
        except BaseException:
            self.stats.dropped_s += seconds  # cancelled mid-batch: that audio is lost
            raise
        finally:
            self.stats.queued_s = max(self.stats.queued_s - seconds, 0.0)
        self.stats.processed_s += seconds
        self.stats.level_dbfs = detector.level_dbfs
        self._emit(detections)
        if self._on_processed:
            self._on_processed()

    def _emit(self, detections: list[Detection]) -> None:
        if detections:
            self.stats.detections += len(detections)
            if self._on_detections:
                self._on_detections(detections)


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


class ProbeError(Exception):
    """Probing failed: ``reason`` is ``cannot_connect`` or ``no_audio``."""

    def __init__(self, reason: str, detail: str) -> None:
        """Reason key + human detail."""
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


async def probe(
    host: str,
    port: int,
    *,
    connect_timeout: float = 10.0,
    audio_timeout: float = 10.0,
    limits: Limits | None = None,
) -> AudioFormat:
    """Connect, wait for the first audio chunk, disconnect; return its format.

    Raises :class:`ProbeError` with reason ``cannot_connect`` or ``no_audio``.
    """
    limits = limits or Limits()
    try:
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(host, port, limit=limits.header)
    except (OSError, TimeoutError) as err:
        raise ProbeError("cannot_connect", _describe(err)) from err
    try:
        async with asyncio.timeout(audio_timeout):
            while True:
                event = await read_event(reader, limits)
                if event is None:
                    raise ProbeError("no_audio", "the satellite closed the connection")
                if event.type == AUDIO_CHUNK and event.payload:
                    return audio_format(event.data)
    except TimeoutError as err:
        raise ProbeError("no_audio", f"no audio within {audio_timeout:g} s") from err
    except ProtocolError as err:
        raise ProbeError("no_audio", str(err)) from err
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1):
                await writer.wait_closed()
