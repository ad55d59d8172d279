"""A real Wyoming microphone server for the tests (the ``wyoming`` library's TCP server).

Like ``wyoming-mic-external``, every client that connects gets ``audio-start`` and then a
continuous stream of ``audio-chunk`` events; what is streamed is a *behaviour* coroutine, so
tests can also send garbage, a huge header, zero-rate audio, or nothing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event
from wyoming.server import AsyncEventHandler, AsyncTcpServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SMOKE_WAV = SHARED / "data" / "alarms" / "ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"


@dataclass(frozen=True)
class Clip:
    """PCM audio and its format."""

    pcm: bytes
    rate: int
    width: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (self.rate * self.frame_bytes)


def read_wav(path: Path) -> Clip:
    """A WAV file's PCM as stored (its own rate / width / channels)."""
    with wave.open(str(path), "rb") as wav:
        return Clip(
            wav.readframes(wav.getnframes()),
            wav.getframerate(),
            wav.getsampwidth(),
            wav.getnchannels(),
        )


def quiet_room(seconds: float, rate: int = 16000, seed: int = 0) -> Clip:
    """Low pink-ish noise at about -60 dBFS (int16 mono)."""
    rng = np.random.default_rng(seed)
    noise = np.cumsum(rng.normal(0, 1, int(seconds * rate)))
    noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    noise *= 0.001 / (np.std(noise) + 1e-9)
    return Clip((noise * 32767).astype("<i2").tobytes(), rate, 2, 1)


def silence_like(clip: Clip, seconds: float) -> Clip:
    frames = int(seconds * clip.rate)
    return Clip(bytes(frames * clip.frame_bytes), clip.rate, clip.width, clip.channels)


Behaviour = Callable[["MicHandler"], Awaitable[None]]


class MicHandler(AsyncEventHandler):
    """One client connection: run the server's behaviour until the client goes away."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: MicServer
    ) -> None:
        super().__init__(reader, writer)
        self.server = server
        server.connections += 1
        self._task = asyncio.create_task(self._behave())
        server.tasks.add(self._task)
        self._task.add_done_callback(server.tasks.discard)

    async def _behave(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.server.behaviour(self)

    async def run(self) -> None:
        # A client that hangs up mid-write is normal for a microphone service.
        with contextlib.suppress(ConnectionError):
            await super().run()

    async def handle_event(self, event: Event) -> bool:
        return True

    async def disconnect(self) -> None:
        self._task.cancel()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


def stream(
    *clips: Clip, speed: float = 1.0, chunk_frames: int = 1024, then_silence: bool = True
) -> Behaviour:
    """audio-start, then the clips as audio-chunks at ``speed`` x real time, then silence."""

    async def behave(handler: MicHandler) -> None:
        first = clips[0]
        await handler.write_event(
            AudioStart(rate=first.rate, width=first.width, channels=first.channels).event()
        )
        playlist = list(clips)
        while True:
            for clip in playlist:
                step = chunk_frames * clip.frame_bytes
                for offset in range(0, len(clip.pcm), step):
                    pcm = clip.pcm[offset : offset + step]
                    await handler.write_event(
                        AudioChunk(
                            rate=clip.rate, width=clip.width, channels=clip.channels, audio=pcm
                        ).event()
                    )
                    await asyncio.sleep(len(pcm) / clip.frame_bytes / clip.rate / speed)
            if not then_silence:
                return
            playlist = [silence_like(clips[-1], 1.0)]

    return behave


class MicServer:
    """A Wyoming microphone service on 127.0.0.1 (a fixed port survives a restart)."""

    def __init__(self, behaviour: Behaviour, port: int = 0) -> None:
        self.behaviour = behaviour
        self.port = port
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: AsyncTcpServer | None = None

    async def start(self) -> MicServer:
        server = AsyncTcpServer("127.0.0.1", self.port)
        await server.start(lambda reader, writer: MicHandler(reader, writer, self))
        assert server._server is not None
        self.port = server._server.sockets[0].getsockname()[1]
        self._server = server
        return self

    async def stop(self) -> None:
        """Kill the satellite: close the listener and every connection."""
        if self._server is None:
            return
        server, self._server = self._server, None
        handlers = list(server._handlers)
        await server.stop()
        assert server._server is not None
        await server._server.wait_closed()
        for task in list(self.tasks):
            task.cancel()
        pending = [*handlers, *self.tasks]
        if pending:
            await asyncio.wait(pending, timeout=5)


def header(event_type: str, *, data: dict[str, object] | None = None, **lengths: int) -> bytes:
    """A raw Wyoming header line (for malformed-input tests)."""
    return json.dumps({"type": event_type, "data": data or {}, **lengths}).encode() + b"\n"
