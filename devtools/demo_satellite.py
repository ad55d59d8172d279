"""A demo Wyoming microphone satellite that replays a generated scenario in real time.

It behaves like ``wyoming-mic-external``: every client that connects gets ``audio-start`` and
then an endless (``--loop``) stream of ``audio-chunk`` events (16 kHz, 16-bit, mono, 1024
samples per chunk by default), paced to the wall clock. The audio is generated at start-up by
:mod:`devtools.scenario` (a quiet room, then a smoke alarm, ...), so nothing is read from disk.

    python -m devtools.demo_satellite --port 10700 --scenario smoke --loop

Each connection starts the scenario from its beginning. Without ``--loop`` the stream ends
with ``audio-stop`` and the connection is closed after one pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
import wave
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.audio import AudioFormat as WyomingAudioFormat
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, MicProgram
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from .scenario import SCENARIOS, build

_LOGGER = logging.getLogger("demo_satellite")
_WIDTH = 2


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """What every connection streams and how fast."""

    pcm: bytes
    rate: int
    channels: int = 1
    samples_per_chunk: int = 1024
    speed: float = 1.0
    """1.0 = real time, 10.0 = ten times faster, 0 or less = as fast as the client reads."""
    loop: bool = True
    name: str = "demo"

    @property
    def bytes_per_chunk(self) -> int:
        return self.samples_per_chunk * _WIDTH * self.channels

    @property
    def chunk_seconds(self) -> float:
        return self.samples_per_chunk / self.rate


class DemoMicHandler(AsyncEventHandler):
    """One client connection: stream the scenario, answer ``describe``."""

    def __init__(
        self,
        config: StreamConfig,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(reader, writer)
        self.config = config
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.chunks_sent = 0
        self._connected_at = time.monotonic()
        _LOGGER.info("client %s connected; streaming %r", self.peer, config.name)
        self._task = asyncio.create_task(self._stream(), name=f"demo mic {self.peer}")

    async def run(self) -> None:
        """Read the client's events until it goes away (a reset is a normal goodbye)."""
        try:
            await super().run()
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("client %s: %s", self.peer, err)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(_info(self.config).event())
        return True  # a microphone ignores everything else

    async def disconnect(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        _LOGGER.info(
            "client %s disconnected after %.1f s (%d chunks, %.1f s of audio)",
            self.peer,
            time.monotonic() - self._connected_at,
            self.chunks_sent,
            self.chunks_sent * self.config.chunk_seconds,
        )

    async def _stream(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        step = cfg.chunk_seconds / cfg.speed if cfg.speed > 0 else 0.0
        pcm = cfg.pcm
        try:
            await self.write_event(
                AudioStart(rate=cfg.rate, width=_WIDTH, channels=cfg.channels, timestamp=0).event()
            )
            started = loop.time()
            offset = 0
            while True:
                if offset >= len(pcm):
                    if not cfg.loop:
                        break
                    offset = 0
                audio = pcm[offset : offset + cfg.bytes_per_chunk]
                offset += cfg.bytes_per_chunk
                chunk = AudioChunk(
                    rate=cfg.rate,
                    width=_WIDTH,
                    channels=cfg.channels,
                    audio=audio,
                    timestamp=int(self.chunks_sent * cfg.chunk_seconds * 1000),
                )
                await self.write_event(chunk.event())
                self.chunks_sent += 1
                if step > 0:  # pace against the clock so delays never accumulate
                    delay = started + self.chunks_sent * step - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif self.chunks_sent % 64 == 0:
                    await asyncio.sleep(0)
            await self.write_event(
                AudioStop(timestamp=int(self.chunks_sent * cfg.chunk_seconds * 1000)).event()
            )
            _LOGGER.info("client %s: scenario finished, closing", self.peer)
        except (ConnectionError, OSError) as err:
            _LOGGER.info("client %s: connection lost (%s)", self.peer, err)
        finally:
            await self.stop()


def _info(cfg: StreamConfig) -> Info:
    return Info(
        mic=[
            MicProgram(
                name="acoustic-guard-demo",
                description=f"Acoustic Guard demo microphone ({cfg.name} scenario)",
                attribution=Attribution(name="Acoustic Guard", url=""),
                installed=True,
                version="1",
                mic_format=WyomingAudioFormat(rate=cfg.rate, width=_WIDTH, channels=cfg.channels),
            )
        ]
    )


async def start_server(host: str, port: int, config: StreamConfig) -> AsyncTcpServer:
    """Start serving ``config`` on ``host:port`` without blocking; ``await server.stop()``."""
    server = AsyncTcpServer(host, port)
    await server.start(partial(DemoMicHandler, config))
    return server


def make_config(
    scenario: str = "smoke",
    *,
    rate: int = 16_000,
    channels: int = 1,
    samples_per_chunk: int = 1024,
    speed: float = 1.0,
    loop: bool = True,
    seed: int = 0,
) -> StreamConfig:
    """Generate ``scenario`` and wrap it in a :class:`StreamConfig`."""
    audio = build(scenario, rate=rate, seed=seed)
    return StreamConfig(
        pcm=audio.pcm16(channels),
        rate=rate,
        channels=channels,
        samples_per_chunk=samples_per_chunk,
        speed=speed,
        loop=loop,
        name=scenario,
    )


def _write_wav(path: Path, cfg: StreamConfig) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(cfg.channels)
        w.setsampwidth(_WIDTH)
        w.setframerate(cfg.rate)
        w.writeframes(cfg.pcm)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo_satellite",
        description="Demo Wyoming microphone that replays a generated scenario in real time.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=10700, help="TCP port (default 10700)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="smoke")
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time; 0 = unpaced")
    parser.add_argument("--loop", action="store_true", help="repeat the scenario forever")
    parser.add_argument("--rate", type=int, default=16_000, help="sample rate to announce")
    parser.add_argument("--channels", type=int, default=1, help="channels (copies of mono)")
    parser.add_argument("--samples-per-chunk", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-wav", type=Path, help="write the scenario to a WAV and exit")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.channels <= 8:
        parser.error("--channels must be 1-8")
    if args.samples_per_chunk < 1:
        parser.error("--samples-per-chunk must be positive")
    return args


async def _serve(args: argparse.Namespace, cfg: StreamConfig) -> None:
    server = await start_server(args.host, args.port, cfg)
    _LOGGER.info(
        "demo satellite on tcp://%s:%d: %r scenario, %.0f s, %d Hz x%d, speed %g, loop %s",
        args.host,
        args.port,
        cfg.name,
        len(cfg.pcm) / (_WIDTH * cfg.channels * cfg.rate),
        cfg.rate,
        cfg.channels,
        cfg.speed,
        cfg.loop,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        cfg = make_config(
            args.scenario,
            rate=args.rate,
            channels=args.channels,
            samples_per_chunk=args.samples_per_chunk,
            speed=args.speed,
            loop=args.loop,
            seed=args.seed,
        )
    except ValueError as err:
        print(f"demo_satellite: {err}", file=sys.stderr)
        return 2
    if args.write_wav is not None:
        _write_wav(args.write_wav, cfg)
        print(f"wrote {args.write_wav}")
        return 0
    try:
        asyncio.run(_serve(args, cfg))
    except OSError as err:
        print(f"demo_satellite: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
