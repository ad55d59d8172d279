"""Latency of the reference verifier for a 10 s clip (target: an answer within 1 s).

``python -m acoustic_guard_verifier.bench [--requests 20] [--json]``

Starts the real server on a loopback port in this process, then sends a real 10 s smoke
alarm clip (``../shared/data/alarms``; a generated T3 alarm when that is missing) through the
integration's own client (``custom_components/acoustic_guard/verification.py``) one request
at a time, and reports the client-side round trip (median, p95, worst) and the server's
split: WAV decode, YAMNet, the engine's pattern analysis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .audio_in import SAMPLE_RATE, decode_clip, encode_wav
from .protocol import ClipMetadata

CLIP_S: Final = 10.0
TOKEN: Final = "bench-token"
SMOKE_WAV: Final = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "alarms"
    / "ALRMElec_Smoke detector alarm (ID 0800)_BSB.wav"
)


def bench_clip() -> tuple[bytes, str]:
    """10 s of a real smoke alarm as 16 kHz 16-bit WAV (or a generated T3 alarm)."""
    if SMOKE_WAV.is_file():
        samples = decode_clip(SMOKE_WAV.read_bytes())[: int(CLIP_S * SAMPLE_RATE)]
        return encode_wav(samples), SMOKE_WAV.name
    t = np.arange(int(CLIP_S * SAMPLE_RATE)) / SAMPLE_RATE
    phase = t % 4.0
    on = (phase < 3.0) & ((phase % 1.0) < 0.5)
    tone: npt.NDArray[np.float32] = (0.5 * np.sin(2 * np.pi * 3100 * t) * on).astype(np.float32)
    return encode_wav(tone), "generated T3 3.1 kHz"


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


async def run(requests: int, threads: int) -> dict[str, Any]:
    import aiohttp  # noqa: PLC0415

    from custom_components.acoustic_guard.verification import verify  # noqa: PLC0415

    from .server import ServerConfig, start_server  # noqa: PLC0415
    from .service import VerifierService  # noqa: PLC0415

    clip, source = bench_clip()
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    service = await loop.run_in_executor(None, VerifierService.load, threads)
    load_s = time.perf_counter() - t0

    # Server-side split, in this thread (no HTTP).
    split: dict[str, list[float]] = {"decode": [], "yamnet": [], "patterns": []}
    for _ in range(max(3, requests // 2)):
        t = time.perf_counter()
        samples = decode_clip(clip)
        split["decode"].append((time.perf_counter() - t) * 1000.0)
        t = time.perf_counter()
        service.tagger.tag(samples)
        split["yamnet"].append((time.perf_counter() - t) * 1000.0)
        t = time.perf_counter()
        service.patterns(samples)
        split["patterns"].append((time.perf_counter() - t) * 1000.0)
    service.verify(clip, ClipMetadata(event="smoke_alarm"))  # warm the whole path

    runner, url = await start_server(ServerConfig(token=TOKEN, threads=threads), service)
    round_trips: list[float] = []
    server_ms: list[float] = []
    verified = 0
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(requests):
                t = time.perf_counter()
                result = await verify(
                    session, url, TOKEN, clip, {"event": "smoke_alarm"}, timeout=10.0
                )
                round_trips.append((time.perf_counter() - t) * 1000.0)
                server_ms.append(float(result.raw["elapsed_ms"]))
                verified += int(result.verified)
    finally:
        await runner.cleanup()
    return {
        "clip": source,
        "clip_seconds": CLIP_S,
        "clip_bytes": len(clip),
        "requests": requests,
        "verified": verified,
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "model": service.model_name,
        "model_load_s": round(load_s, 2),
        "round_trip_ms_median": round(statistics.median(round_trips), 1),
        "round_trip_ms_p95": round(_percentile(round_trips, 95), 1),
        "round_trip_ms_worst": round(max(round_trips), 1),
        "server_ms_median": round(statistics.median(server_ms), 1),
        "split_ms_median": {k: round(statistics.median(v), 1) for k, v in split.items()},
        "target_ms": 1000.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m acoustic_guard_verifier.bench")
    parser.add_argument("--requests", type=int, default=20, help="requests to time")
    parser.add_argument("--threads", type=int, default=1, help="YAMNet threads (default 1)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    report = asyncio.run(run(max(1, args.requests), args.threads))
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {value}")
    return 0 if report["round_trip_ms_p95"] <= report["target_ms"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
