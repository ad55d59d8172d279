"""``acoustic-guard bench``: speed and memory of the whole pipeline on real audio.

The audio is the team's real recordings (``../shared/data/alarms`` and, when ffmpeg can
decode them, ``../shared/data/music_speech``), looped to the requested length and turned into
what a satellite would send at worst: 48 kHz int16 stereo, in 100 ms chunks. Each runtime
processes it ``repeats`` times with a fresh :class:`~.detector.Detector` (conversion,
resampling, features, model, aggregation); the median is reported. The YAMNet teacher runs on
the same audio (16 kHz float) for comparison. Everything on one thread.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .audio import AudioConverter
from .features import HOP, SAMPLE_RATE, LogMelStream
from .progress import Progress
from .resample import Resampler
from .types import AudioError, AudioFormat

FloatArray = npt.NDArray[np.float32]

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
SHARED: Final = Path(os.environ.get("ACOUSTIC_GUARD_SHARED", REPO_ROOT.parent / "shared"))
YAMNET: Final = SHARED / "models" / "yamnet" / "yamnet.onnx"
BENCH_RATE: Final = 48_000
BENCH_FMT: Final = AudioFormat(rate=BENCH_RATE, width=2, channels=2)
CHUNK_S: Final = 0.1
TARGETS: Final = {"onnxruntime": 1000.0, "numpy": 250.0}
STATE_TARGET_BYTES: Final = 1_000_000


def load_sources(seconds: float = 60.0) -> tuple[FloatArray, list[str], list[str]]:
    """Real recordings from shared/ at 16 kHz, their names, and the ones that were skipped.

    Each recording contributes an equal share of ``seconds`` (at least 5 s, from its start),
    so the mix covers every kind of sound and stays small in memory.
    """
    from .wavfile import load_16k  # noqa: PLC0415

    paths = [
        (folder, path)
        for folder, pattern in (("alarms", "*.wav"), ("music_speech", "*.ogg"))
        for path in sorted((SHARED / "data" / folder).glob(pattern))
    ]
    share = round(max(seconds / max(len(paths), 1), 5.0) * SAMPLE_RATE)
    names: list[str] = []
    skipped: list[str] = []
    pieces: list[FloatArray] = []
    for folder, path in paths:
        try:
            pieces.append(load_16k(path, max_seconds=share / SAMPLE_RATE)[:share])
            names.append(f"{folder}/{path.name}")
        except AudioError as err:
            skipped.append(f"{folder}/{path.name}: {err}")
    if not pieces:
        raise AudioError(f"no readable recordings under {SHARED / 'data'}")
    return np.concatenate(pieces), names, skipped


def to_satellite_pcm(x16: FloatArray, seconds: float) -> bytes:
    """16 kHz mono -> ``seconds`` of 48 kHz int16 stereo (looped; right = delayed, quieter)."""
    up = Resampler(SAMPLE_RATE, BENCH_RATE)
    x48 = np.concatenate((up.process(x16), up.flush()))
    n = round(seconds * BENCH_RATE)
    looped = np.resize(x48, n)
    right = 0.8 * np.roll(looped, 7)
    stereo = np.stack((looped, right), axis=1)
    pcm: bytes = (np.clip(stereo, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    return pcm


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per run: wall clock, and CPU time of this thread (less hurt by other jobs)."""

    wall: float
    cpu: float
    best_wall: float


def _time(fn: Callable[[], object], repeats: int, bar: Progress | None = None) -> Timing:
    walls, cpus = [], []
    for i in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
        if bar is not None:
            bar.update(i + 1)
    return Timing(statistics.median(walls), statistics.median(cpus), min(walls))


def _peak_rss_mb() -> float:
    """Peak resident memory (MB) since the last :func:`_reset_peak_rss` (Linux), else ever."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return _peak_rss_mb()


def _reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def bench_runtime(
    runtime: str, pcm: bytes, seconds: float, repeats: int, fmt: AudioFormat = BENCH_FMT
) -> dict[str, Any]:
    from .detector import Detector  # noqa: PLC0415
    from .runtime import get_model  # noqa: PLC0415

    model = get_model(runtime)
    step = round(CHUNK_S * fmt.rate) * fmt.width * fmt.channels
    chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    state = {"bytes": 0, "detections": 0}

    def run() -> None:
        det = Detector(model)
        n = 0
        for c in chunks:
            n += len(det.feed(c, fmt))
        state["bytes"] = max(state["bytes"], det.state_bytes)
        n += len(det.flush())
        state["detections"] = n

    Detector(model).feed(chunks[0], fmt)  # warm-up (filter design, first session run)
    _reset_peak_rss()  # from here: the process as it is plus what the runs add
    bar = Progress(f"bench {runtime} {fmt.rate} Hz", repeats)
    timing = _time(run, repeats, bar)
    bar.close()
    median = timing.wall
    ms = median / seconds * 1000.0
    return {
        "runtime": runtime,
        "realtime_factor": round(seconds / median, 1),
        "ms_per_audio_second": round(ms, 4),
        "median_s": round(median, 4),
        "best_ms_per_audio_second": round(timing.best_wall / seconds * 1000.0, 4),
        "cpu_ms_per_audio_second": round(timing.cpu / seconds * 1000.0, 4),
        "realtime_factor_cpu": round(seconds / max(timing.cpu, 1e-9), 1),
        "repeats": repeats,
        "state_bytes_per_stream": state["bytes"],
        "detections": state["detections"],
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "target_realtime_factor": TARGETS.get(runtime),
        "meets_target": seconds / median >= TARGETS.get(runtime, 0.0),
    }


def bench_stages(pcm: bytes, x16: FloatArray, seconds: float, repeats: int) -> dict[str, float]:
    """Where the time goes (onnxruntime): CPU ms per audio second of each stage alone.

    Every stage sees the real stream (the features of every block, the model's scores for
    them), so the stages add up to about what :func:`bench_runtime` measures.
    """
    from .aggregate import Aggregation, params_for  # noqa: PLC0415
    from .runtime import get_model  # noqa: PLC0415

    model = get_model("onnxruntime")
    chunk = model.chunk_frames * HOP
    # The Detector converts wide PCM once per model chunk (not per 0.1 s piece): do the same.
    step = chunk * (BENCH_RATE // SAMPLE_RATE) * 4
    chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    n = x16.size // chunk * chunk
    blocks = [x16[i : i + chunk] for i in range(0, n, chunk)]
    # The real frames and scores of the audio, in stream order: the aggregation's cost
    # depends on what the heads say (repeating one quiet chunk would hide most of it).
    mel = LogMelStream()
    frames = [mel.feed(b) for b in blocks]
    st0 = model.new_state()
    scores = [model.run(f, st0) for f in frames]
    per = n / SAMPLE_RATE

    def convert() -> None:
        conv = AudioConverter()
        for c in chunks:
            conv.convert(c, BENCH_FMT)

    def feats() -> None:
        mel = LogMelStream()
        for b in blocks:
            mel.feed(b)

    def net() -> None:
        st = model.new_state()
        for f in frames:
            model.run(f, st)

    def agg() -> None:
        a = Aggregation(params_for(model.manifest.get("thresholds")))
        for i, s in enumerate(scores):
            a.update(s, model.head_names, (i + 1) * chunk / SAMPLE_RATE)

    return {
        "convert_48k_stereo": round(_time(convert, repeats).cpu / seconds * 1000, 4),
        "features": round(_time(feats, repeats).cpu / per * 1000, 4),
        "model": round(_time(net, repeats).cpu / per * 1000, 4),
        "aggregation": round(_time(agg, repeats).cpu / per * 1000, 4),
    }


def bench_teacher(x16: FloatArray, repeats: int) -> dict[str, Any] | None:
    """YAMNet (the large teacher) on the same 16 kHz audio, one thread."""
    if not YAMNET.is_file():
        return None
    import onnxruntime as ort  # noqa: PLC0415

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(YAMNET), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    wave = np.ascontiguousarray(x16, dtype=np.float32)
    session.run(None, {name: wave[:SAMPLE_RATE]})  # warm-up
    _reset_peak_rss()
    bar = Progress("bench yamnet", repeats)
    timing = _time(lambda: session.run(None, {name: wave}), repeats, bar)
    bar.close()
    median = timing.wall
    seconds = wave.size / SAMPLE_RATE
    return {
        "model": "yamnet",
        "path": str(YAMNET),
        "ms_per_audio_second": round(median / seconds * 1000.0, 4),
        "cpu_ms_per_audio_second": round(timing.cpu / seconds * 1000.0, 4),
        "realtime_factor": round(seconds / median, 1),
        "audio_seconds": round(seconds, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_bench(seconds: float = 60.0, repeats: int = 5, teacher: bool = True) -> dict[str, Any]:
    from .runtime import get_model, onnxruntime_available  # noqa: PLC0415

    if seconds <= 0 or repeats < 1:
        raise ValueError("seconds must be > 0 and repeats >= 1")
    rss_start = _current_rss_mb()  # interpreter + imports (the CLI imports Home Assistant)
    sources, names, skipped = load_sources(seconds)
    pcm = to_satellite_pcm(sources, seconds)
    x16 = np.resize(sources, round(seconds * SAMPLE_RATE)).astype(np.float32)
    runtimes = ["onnxruntime", "numpy"] if onnxruntime_available() else ["numpy"]
    results = [bench_runtime(rt, pcm, seconds, repeats) for rt in runtimes]
    # The usual Wyoming satellite format: 16 kHz mono int16 (no resampling needed).
    fmt16 = AudioFormat(rate=SAMPLE_RATE, width=2, channels=1)
    pcm16: bytes = (np.clip(x16, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    typical = {
        rt: {
            k: v
            for k, v in bench_runtime(rt, pcm16, seconds, repeats, fmt16).items()
            if k in ("realtime_factor", "ms_per_audio_second", "cpu_ms_per_audio_second")
        }
        for rt in runtimes
    }
    report: dict[str, Any] = {
        "audio": {
            "seconds": seconds,
            "input": "48 kHz int16 stereo, 100 ms chunks",
            "sources": names,
            "skipped": skipped,
        },
        "model_version": get_model(runtimes[0]).version,
        "runtimes": results,
        "satellite_16k_mono": typical,
        "stages_ms_per_audio_second": (
            bench_stages(pcm, x16, seconds, repeats) if "onnxruntime" in runtimes else None
        ),
        "state_target_bytes": STATE_TARGET_BYTES,
        "rss_at_start_mb": round(rss_start, 1),
        "machine": {
            "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
        },
    }
    tea = bench_teacher(x16, repeats) if teacher else None
    report["teacher"] = tea
    if tea is not None:
        for r in results:
            ratio = tea["ms_per_audio_second"] / r["ms_per_audio_second"]
            r["speedup_vs_teacher"] = round(ratio, 1)
            cpu_ratio = tea["cpu_ms_per_audio_second"] / r["cpu_ms_per_audio_second"]
            r["speedup_vs_teacher_cpu"] = round(cpu_ratio, 1)
            r["cost_ratio_local_over_teacher"] = round(
                r["ms_per_audio_second"] / tea["ms_per_audio_second"], 4
            )
    return report


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"audio: {report['audio']['seconds']:.0f} s of {report['audio']['input']}, "
        f"{len(report['audio']['sources'])} real recordings looped"
        + (f" ({len(report['audio']['skipped'])} skipped)" if report["audio"]["skipped"] else ""),
        f"machine: {report['machine']['cpu']} ({report['machine']['cpu_count']} CPUs, "
        f"load {report['machine']['load_average_1m']}), one thread",
        "",
        "median of the repeats; 'cpu' = CPU time of the benchmark thread (other jobs excluded)",
        "",
        f"{'runtime':17s} {'x realtime':>10s} {'ms/audio s':>10s} {'cpu ms/s':>9s} "
        f"{'x rt (cpu)':>10s} {'target':>10s} {'state B':>8s} {'RSS MB':>7s} {'vs YAMNet':>10s}",
    ]
    for r in report["runtimes"]:
        target = r["target_realtime_factor"]
        ok = "ok" if r["meets_target"] else "MISS"
        speed = r.get("speedup_vs_teacher")
        lines.append(
            f"{r['runtime']:17s} {r['realtime_factor']:10.1f} {r['ms_per_audio_second']:10.3f} "
            f"{r['cpu_ms_per_audio_second']:9.3f} {r['realtime_factor_cpu']:10.1f} "
            f"{f'{target:.0f} {ok}':>10s} {r['state_bytes_per_stream']:8d} "
            f"{r['peak_rss_mb']:7.1f} {f'{speed}x' if speed else '-':>10s}"
        )
    tea = report.get("teacher")
    if tea:
        lines.append(
            f"{'yamnet (teacher)':17s} {tea['realtime_factor']:10.1f} "
            f"{tea['ms_per_audio_second']:10.3f} "
            f"{tea['cpu_ms_per_audio_second']:9.3f} {'':>10s} {'':>10s} {'':>8s} "
            f"{tea['peak_rss_mb']:7.1f}"
        )
    typical = report.get("satellite_16k_mono") or {}
    for rt, r in typical.items():
        lines.append(
            f"{rt + ' (16k)':17s} {r['realtime_factor']:10.1f} "
            f"{r['ms_per_audio_second']:10.3f} "
            f"{r['cpu_ms_per_audio_second']:9.3f}   (the usual satellite input: 16 kHz mono int16)"
        )
    if "rss_at_start_mb" in report:
        lines.append(
            f"(RSS {report['rss_at_start_mb']:.0f} MB before any model or audio was loaded: "
            "interpreter and imports)"
        )
    stages = report.get("stages_ms_per_audio_second")
    if stages:
        lines.append("")
        lines.append(
            "stages alone (onnxruntime, CPU ms per audio second): "
            + ", ".join(f"{k} {v:.3f}" for k, v in stages.items())
        )
    return "\n".join(lines)
