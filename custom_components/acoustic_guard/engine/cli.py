"""``acoustic-guard``: detect events in recordings, benchmark the engine, evaluate it.

    acoustic-guard detect [--sensitivity low|medium|high] [--runtime auto|onnxruntime|numpy]
                          [--json] FILE...
    acoustic-guard bench [--json] [--seconds N] [--repeats N]
    acoustic-guard eval [...]            (see ``acoustic-guard eval --help``)

``detect`` prints one JSON object per detected event with ``--json``
(``{"file", "event", "start", "end", "confidence", "pattern"}``), a table otherwise.
An unreadable file gets one line ``acoustic-guard: <file>: <reason>`` on stderr, the other
files are still processed, and the exit status is 2 if any file failed, else 0.
"""

from __future__ import annotations

import os

# One thread everywhere (set before numpy / onnxruntime load their thread pools).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from .progress import Progress  # noqa: E402
from .types import SENSITIVITIES, AudioError, Detection  # noqa: E402

PROG = "acoustic-guard"
EXIT_OK = 0
EXIT_FAILED = 2
FEED_SECONDS = 1.0  # detect feeds files in pieces of this length (progress, bounded memory)


@dataclass(frozen=True, slots=True)
class Event:
    """One detected event in a file (an on decision and its matching off)."""

    file: str
    event: str
    start: float
    end: float | None
    confidence: float
    pattern: str
    time: float

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "event": self.event,
            "start": round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "confidence": round(self.confidence, 4),
            "pattern": self.pattern,
        }


def pair_events(file: str, detections: Sequence[Detection]) -> list[Event]:
    """On/off detections -> one :class:`Event` per on (end from its off, if any)."""
    open_: dict[str, Detection] = {}
    events: list[Event] = []
    index: dict[str, int] = {}
    for d in detections:
        if d.active:
            open_[d.event] = d
            index[d.event] = len(events)
            events.append(Event(file, d.event, d.start, None, d.confidence, d.pattern, d.time))
        elif d.event in open_:
            on = open_.pop(d.event)
            i = index.pop(d.event)
            end = d.end if d.end is not None else d.time
            conf = max(on.confidence, d.confidence)
            events[i] = Event(file, on.event, on.start, end, conf, on.pattern, on.time)
    return events


def detect_file(
    path: str, sensitivity: str = "medium", runtime: str = "auto", progress: bool = False
) -> list[Event]:
    """Run a fresh detector over one file (raises AudioError when it cannot be read)."""
    from .detector import Detector  # noqa: PLC0415 - keep `--help` fast
    from .runtime import get_model  # noqa: PLC0415
    from .wavfile import read_audio  # noqa: PLC0415

    rec = read_audio(path)
    detector = Detector(get_model(runtime), sensitivity=sensitivity)
    frame = rec.fmt.width * rec.fmt.channels
    step = max(frame, int(FEED_SECONDS * rec.fmt.rate) * frame)
    bar = Progress(os.path.basename(path)[:30], len(rec.pcm)) if progress else None
    detections: list[Detection] = []
    for i in range(0, len(rec.pcm), step):
        detections += detector.feed(rec.pcm[i : i + step], rec.fmt)
        if bar is not None:
            bar.update(i + step)
    detections += detector.flush()
    if bar is not None:
        bar.close()
    return pair_events(path, detections)


def _print_table(events: Sequence[Event], n_files: int) -> None:
    if not events:
        if n_files:
            print(f"no events detected in {n_files} file{'s' if n_files != 1 else ''}")
        return
    print(f"{'file':40s} {'event':12s} {'start':>8s} {'end':>8s} {'conf':>5s}  pattern")
    for e in events:
        end = f"{e.end:8.2f}" if e.end is not None else "       -"
        name = e.file if len(e.file) <= 40 else "..." + e.file[-37:]
        print(f"{name:40s} {e.event:12s} {e.start:8.2f} {end} {e.confidence:5.2f}  {e.pattern}")


def cmd_detect(args: argparse.Namespace) -> int:
    from .runtime import ModelError, get_model  # noqa: PLC0415

    try:
        get_model(args.runtime)
    except ModelError as err:
        print(f"{PROG}: model: {err}", file=sys.stderr)
        return EXIT_FAILED
    failed = False
    done = 0
    all_events: list[Event] = []
    for path in args.files:
        try:
            events = detect_file(path, args.sensitivity, args.runtime, progress=True)
        except AudioError as err:
            print(f"{PROG}: {path}: {err}", file=sys.stderr)
            failed = True
            continue
        done += 1
        if args.json:
            for e in events:
                print(json.dumps(e.to_json()), flush=True)
        else:
            all_events += events
    if not args.json:
        _print_table(all_events, done)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_report, run_bench  # noqa: PLC0415

    try:
        report = run_bench(seconds=args.seconds, repeats=args.repeats, teacher=not args.no_teacher)
    except (AudioError, ValueError) as err:
        print(f"{PROG}: bench: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return EXIT_OK


def cmd_eval(rest: Sequence[str]) -> int:
    """Hand everything after ``eval`` to ``engine.evaluate.main`` (the evaluation's own CLI)."""
    evaluate = importlib.import_module(f"{__package__}.evaluate")
    return int(evaluate.main(list(rest)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Local acoustic detection: smoke/CO alarms, glass, footsteps."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    det = sub.add_parser("detect", help="detect events in audio files")
    det.add_argument("--sensitivity", choices=SENSITIVITIES, default="medium")
    det.add_argument("--runtime", choices=("auto", "onnxruntime", "numpy"), default="auto")
    det.add_argument("--json", action="store_true", help="one JSON object per event")
    det.add_argument("files", nargs="+", metavar="FILE")
    det.set_defaults(func=cmd_detect)

    ben = sub.add_parser("bench", help="measure speed and memory of the whole pipeline")
    ben.add_argument("--json", action="store_true", help="print the report as JSON")
    ben.add_argument("--seconds", type=float, default=60.0, help="audio per repeat (default 60)")
    ben.add_argument("--repeats", type=int, default=5, help="repeats per runtime (median)")
    ben.add_argument("--no-teacher", action="store_true", help="skip the YAMNet comparison")
    ben.set_defaults(func=cmd_bench)

    sub.add_parser(
        "eval", help="evaluate on labelled data (engine/evaluate.py; eval --help for options)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["eval"]:
            return cmd_eval(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
