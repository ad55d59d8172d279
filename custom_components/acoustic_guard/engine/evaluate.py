"""Honest, event-based evaluation of the whole engine on labelled recordings.

``acoustic-guard eval`` (and ``models/tune.py`` on the validation split) run the real
:class:`~.detector.Detector` over every file listed in ``<data>/labels.jsonl`` (the DATA
contract: ``{"file", "split", "source", "duration", "kind", "events": [{"event", "start",
"end", "pattern", "on"}]}``). The model runs once per file; its chunk scores are then replayed
through :class:`~.aggregate.Aggregation` for every sensitivity level, exactly what a
``Detector`` at that level computes (the detector is a pure function of those scores).

Matching, per event: a detection (an "on" change) matches a reference episode of the same
event when it turns on between ``ref.start - 1 s`` and ``ref.end + hold``; each reference
takes the earliest such detection, a further one in the same window is a duplicate (neither
hit nor false alarm), any other detection is a false alarm. ``beeping_appliance`` episodes are
not targets: their files are negatives. Reported per event and level: recall, precision,
F1, false alarms per hour of audio without that event, latency (decision time - reference
start) median and worst, plus the same rows for the held-out real recordings
(positive clips whose ``source`` is a ``shared:`` or ``debian:`` recording) and recall per
pattern; 95 % intervals for recall and the false-alarm rate (:mod:`.stats`), and per
beeping-appliance pattern how many of its episodes set the event off.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np
import numpy.typing as npt

from .aggregate import Aggregation, EventParams, params_for
from .features import FRAME_RATE
from .stats import poisson_rate, wilson
from .types import EVENTS, SENSITIVITIES, AudioError, Detection

FloatArray = npt.NDArray[np.float32]

DEFAULT_DATA: Final = Path("build/data/eval")
DEFAULT_OUT: Final = Path("build/eval")
EARLY_S: Final = 1.0  # a detection may turn on this long before the reference starts
CONFUSER_EVENT: Final = "beeping_appliance"  # labelled episodes that are never targets
# recordings (the team's shared/ files, Debian sound packages), not synthesis
REAL_PREFIXES: Final = ("shared:", "debian:")
LATENCY_TARGET_S: Final = {
    "smoke_alarm": 10.0,
    "co_alarm": 12.0,
    "glass_break": 2.0,
    "footsteps": 6.0,
}


class LabelError(ValueError):
    """``labels.jsonl`` is missing or malformed; the message names the line."""


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Reference:
    event: str
    start: float
    end: float
    pattern: str


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled file."""

    file: str
    path: Path
    split: str
    source: str
    duration: float
    kind: str
    refs: tuple[Reference, ...]  # every labelled episode (targets and beeping_appliance)

    @property
    def real(self) -> bool:
        """A positive clip whose target sound is a real recording (not a real music bed)."""
        return self.kind == "positive" and self.source.startswith(REAL_PREFIXES)


def load_labels(data_dir: Path | str) -> list[Item]:
    """Parse ``<data_dir>/labels.jsonl`` (raises :class:`LabelError` with the line number)."""
    folder = Path(data_dir)
    path = folder / "labels.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise LabelError(f"cannot read {path}: {err.strerror or err}") from err
    items: list[Item] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            refs = tuple(
                Reference(
                    str(e["event"]), float(e["start"]), float(e["end"]), str(e.get("pattern", ""))
                )
                for e in obj.get("events", [])
            )
            items.append(
                Item(
                    file=str(obj["file"]),
                    path=folder / str(obj["file"]),
                    split=str(obj.get("split", "")),
                    source=str(obj.get("source", "")),
                    duration=float(obj["duration"]),
                    kind=str(obj.get("kind", "")),
                    refs=refs,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise LabelError(f"{path}:{no}: bad label line ({err})") from err
    if not items:
        raise LabelError(f"{path} lists no files")
    return items


@dataclass(slots=True)
class Scored:
    """A file's model output: chunk scores and the stream time each chunk ends at."""

    item: Item
    chunks: list[tuple[FloatArray, float]]
    end: float
    error: str | None = None
    columns: tuple[str, ...] = ()  # names of the chunk columns (empty: the model's heads)


def score_items(
    items: Sequence[Item],
    model: Any,
    progress: Callable[[int, float], None] | None = None,
) -> list[Scored]:
    """Run the real :class:`~.detector.Detector` over each file, keeping its chunk scores."""
    from .detector import Detector  # noqa: PLC0415 - heavy, only for real runs
    from .wavfile import read_audio  # noqa: PLC0415

    out: list[Scored] = []
    seconds = 0.0
    for i, item in enumerate(items):
        chunks: list[tuple[FloatArray, float]] = []

        def sink(scores: FloatArray, t_end: float, chunks: list[Any] = chunks) -> None:
            chunks.append((np.array(scores, dtype=np.float32), float(t_end)))

        try:
            rec = read_audio(item.path)
            det = Detector(model, score_sink=sink)
            det.feed(rec.pcm, rec.fmt)
            end = det.time
            det.flush()
            end = max(end, chunks[-1][1] if chunks else 0.0)
            out.append(Scored(item, chunks, end, columns=det.columns))
        except (AudioError, OSError, ValueError) as err:
            out.append(Scored(item, [], 0.0, error=str(err)))
        seconds += item.duration
        if progress is not None:
            progress(i + 1, seconds)
    return out


def replay(
    scored: Scored,
    params: Mapping[str, EventParams],
    head_names: Sequence[str],
    enabled: Iterable[str] | None = None,
) -> list[Detection]:
    """The detections a Detector with ``params`` makes on this file (from its scores)."""
    agg = Aggregation(params, frame_rate=FRAME_RATE, enabled=enabled)
    columns = scored.columns or tuple(head_names)
    out: list[Detection] = []
    for scores, t_end in scored.chunks:
        out += agg.update(scores, columns, t_end)
    out += agg.flush(scored.end)
    return out


# ----------------------------------------------------------------------------- matching


@dataclass(slots=True)
class Tally:
    """Counts of one event at one level over a set of files."""

    refs: int = 0
    hits: int = 0
    dets: int = 0
    false_alarms: int = 0
    duplicates: int = 0
    negative_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_pattern: dict[str, list[int]] = field(default_factory=dict)  # pattern -> [hits, refs]
    fa_causes: dict[str, int] = field(default_factory=dict)
    # beeping-appliance pattern -> [episodes that raised a false alarm, episodes heard]
    confusers: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.refs += other.refs
        self.hits += other.hits
        self.dets += other.dets
        self.false_alarms += other.false_alarms
        self.duplicates += other.duplicates
        self.negative_s += other.negative_s
        self.latencies += other.latencies
        for k, (h, n) in other.by_pattern.items():
            cur = self.by_pattern.setdefault(k, [0, 0])
            cur[0] += h
            cur[1] += n
        for k, v in other.fa_causes.items():
            self.fa_causes[k] = self.fa_causes.get(k, 0) + v
        for k, (f, n) in other.confusers.items():
            cur = self.confusers.setdefault(k, [0, 0])
            cur[0] += f
            cur[1] += n

    def metrics(self) -> dict[str, Any]:
        recall = self.hits / self.refs if self.refs else None
        matched = self.dets - self.false_alarms - self.duplicates
        precision = matched / (matched + self.false_alarms) if matched + self.false_alarms else None
        f1 = None
        if recall is not None and precision is not None and recall + precision > 0:
            f1 = 2 * recall * precision / (recall + precision)
        hours = self.negative_s / 3600.0
        lat = sorted(self.latencies)
        return {
            "refs": self.refs,
            "hits": self.hits,
            "detections": self.dets,
            "false_alarms": self.false_alarms,
            "duplicates": self.duplicates,
            "recall": _r(recall),
            "recall_ci95": _interval(wilson(self.hits, self.refs)),
            "precision": _r(precision),
            "f1": _r(f1),
            "negative_hours": round(hours, 3),
            "fa_per_hour": _r(self.false_alarms / hours) if hours > 0 else None,
            "fa_per_hour_ci95": _interval(poisson_rate(self.false_alarms, hours)),
            "latency_median_s": _r(float(np.median(lat))) if lat else None,
            "latency_worst_s": _r(lat[-1]) if lat else None,
            "recall_by_pattern": {
                k: {"hits": h, "refs": n, "recall": _r(h / n)}
                for k, (h, n) in sorted(self.by_pattern.items())
            },
            "false_alarm_causes": dict(sorted(self.fa_causes.items(), key=lambda kv: -kv[1])),
            # how often one episode of each beeping appliance set this event off
            "confuser_episodes": {
                k: {
                    "episodes": n,
                    "false_alarms": f,
                    "share": _r(f / n),
                    "share_ci95": _interval(wilson(f, n)),
                }
                for k, (f, n) in sorted(self.confusers.items())
            },
        }


def _interval(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def match_file(item: Item, detections: Sequence[Detection], event: str, hold_s: float) -> Tally:
    """Event-based matching of one event in one file."""
    t = Tally()
    refs = sorted((r for r in item.refs if r.event == event), key=lambda r: r.start)
    ons = sorted((d for d in detections if d.active and d.event == event), key=lambda d: d.time)
    t.refs = len(refs)
    t.dets = len(ons)
    covered = 0.0
    for r in refs:
        covered += max(0.0, min(item.duration, r.end + hold_s) - max(0.0, r.start - EARLY_S))
        pat = t.by_pattern.setdefault(r.pattern or "?", [0, 0])
        pat[1] += 1
    t.negative_s = max(0.0, item.duration - covered)
    appliances = [r for r in item.refs if r.event == CONFUSER_EVENT]
    for r in appliances:
        t.confusers.setdefault(r.pattern or "?", [0, 0])[1] += 1
    fired: set[int] = set()  # appliance episodes that raised a false alarm
    used: set[int] = set()
    for d in ons:
        window = [i for i, r in enumerate(refs) if r.start - EARLY_S <= d.time <= r.end + hold_s]
        free = [i for i in window if i not in used]
        if free:
            i = free[0]
            used.add(i)
            t.hits += 1
            t.latencies.append(round(d.time - refs[i].start, 3))
            t.by_pattern[refs[i].pattern or "?"][0] += 1
        elif window:
            t.duplicates += 1
        else:
            t.false_alarms += 1
            cause = f"{_cause(item, d, hold_s)} ({d.pattern})"
            t.fa_causes[cause] = t.fa_causes.get(cause, 0) + 1
            for i, r in enumerate(appliances):
                if i not in fired and r.start - EARLY_S <= d.time <= r.end + hold_s:
                    fired.add(i)
                    t.confusers[r.pattern or "?"][0] += 1
                    break
    return t


def _cause(item: Item, d: Detection, hold_s: float) -> str:
    """What was sounding when a false alarm turned on (for the report)."""
    for r in item.refs:
        if r.start - EARLY_S <= d.time <= r.end + hold_s:
            return f"{r.event}:{r.pattern}"
    return item.source[:48] or item.kind


# ----------------------------------------------------------------------------- evaluation


def evaluate_scored(
    scored: Sequence[Scored],
    thresholds: Mapping[str, Any] | None,
    head_names: Sequence[str],
    levels: Sequence[str | float] = SENSITIVITIES,
    events: Sequence[str] = EVENTS,
) -> dict[str, Any]:
    """Metrics per level and event (``all`` and ``real`` subsets) from scored files."""
    rows: list[dict[str, Any]] = []
    for level in levels:
        params = params_for(thresholds, level)
        per_file = [(s, replay(s, params, head_names, events)) for s in scored if s.error is None]
        for event in events:
            hold = params[event].hold_s
            subsets: dict[str, Tally] = {"all": Tally(), "real": Tally()}
            for s, dets in per_file:
                tally = match_file(s.item, dets, event, hold)
                subsets["all"].add(tally)
                if s.item.real:
                    subsets["real"].add(tally)
            for name, tally in subsets.items():
                if name == "real" and tally.refs == 0 and tally.dets == 0:
                    continue
                row = {"level": level, "event": event, "subset": name, **tally.metrics()}
                row["latency_target_s"] = LATENCY_TARGET_S.get(event)
                row["params"] = params[event].to_dict()
                rows.append(row)
    return {"rows": rows}


def run_eval(
    data_dir: Path | str = DEFAULT_DATA,
    levels: Sequence[str | float] = SENSITIVITIES,
    runtime: str = "auto",
    *,
    model_dir: Path | str | None = None,
    out_dir: Path | str | None = DEFAULT_OUT,
    limit: int | None = None,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Evaluate the shipped model + aggregation on ``data_dir``; write report.json / .md."""
    from .progress import Progress  # noqa: PLC0415
    from .runtime import get_model  # noqa: PLC0415

    err = stream if stream is not None else sys.stderr
    items = load_labels(data_dir)
    if limit is not None:
        items = items[:limit]
    model = get_model(runtime, model_dir)
    total_s = sum(i.duration for i in items)
    bar = Progress("eval", total_s, err)
    started = time.monotonic()
    scored = score_items(
        items, model, lambda n, s: bar.update(s, f"{n}/{len(items)} files {s / 3600:.2f} h")
    )
    bar.close()
    score_s = time.monotonic() - started
    report = evaluate_scored(scored, model.manifest.get("thresholds"), model.head_names, levels)
    errors = [{"file": s.item.file, "error": s.error} for s in scored if s.error is not None]
    report.update(
        {
            "data": str(data_dir),
            "files": len(items),
            "failed_files": errors,
            "hours": round(total_s / 3600.0, 3),
            "real_files": sum(1 for i in items if i.real),
            "model_version": model.manifest.get("version"),
            "runtime": model.runtime,
            "thresholds_from": "manifest" if model.manifest.get("thresholds") else "defaults",
            "scoring_seconds": round(score_s, 1),
            "realtime_factor": round(total_s / score_s, 1) if score_s > 0 else None,
            "matching": (
                f"on between ref start - {EARLY_S:g} s and ref end + hold; "
                "FA/h over audio outside reference windows"
            ),
        }
    )
    for e in errors:
        print(f"eval: {e['file']}: {e['error']}", file=err)
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def write_report(report: Mapping[str, Any], out_dir: Path | str) -> None:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (folder / "report.md").write_text(format_markdown(report), encoding="utf-8")


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "-"
    if pct:
        return f"{100 * float(x):.1f}%"
    if isinstance(x, float):
        return f"{x:.2f}"
    return str(x)


def _ci(ci: Sequence[float] | None, pct: bool = False) -> str:
    if not ci:
        return ""
    if pct:
        return f" [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"
    return f" [{ci[0]:.2f}-{ci[1]:.2f}]"


def format_markdown(report: Mapping[str, Any]) -> str:
    """The report as a Markdown table (one row per level, event and subset)."""
    lines = [
        "# Acoustic Guard evaluation",
        "",
        f"Data: `{report.get('data', '?')}` - {report.get('files', '?')} files, "
        f"{report.get('hours', '?')} h ({report.get('real_files', 0)} clips of held-out real "
        "recordings). "
        f"Model {report.get('model_version', '?')} ({report.get('runtime', '?')}), thresholds "
        f"from {report.get('thresholds_from', '?')}.",
        "",
        f"Matching: {report.get('matching', '')}. Latency = decision time - reference start.",
        "",
        "Brackets: 95 % confidence intervals (recall: Wilson; false alarms per hour: exact "
        "Poisson).",
        "",
        "| level | event | subset | refs | recall [95 %] | precision | F1 "
        "| FA/h [95 %] (neg. h) "
        "| latency median / worst (s) | target |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.get("rows", []):
        lines.append(
            f"| {row['level']} | {row['event']} | {row['subset']} | {row['refs']} "
            f"| {_fmt(row['recall'], True)}{_ci(row.get('recall_ci95'), True)} "
            f"| {_fmt(row['precision'], True)} | {_fmt(row['f1'])} "
            f"| {_fmt(row['fa_per_hour'])}{_ci(row.get('fa_per_hour_ci95'))} "
            f"({row['negative_hours']:.2f}) "
            f"| {_fmt(row['latency_median_s'])} / {_fmt(row['latency_worst_s'])} "
            f"| {_fmt(row.get('latency_target_s'))} |"
        )
    lines += ["", "## Recall by pattern and false-alarm causes (all files)", ""]
    for row in report.get("rows", []):
        if row["subset"] != "all":
            continue
        pats = ", ".join(
            f"{k} {v['hits']}/{v['refs']}" for k, v in row["recall_by_pattern"].items()
        )
        causes = ", ".join(f"{k} x{v}" for k, v in row["false_alarm_causes"].items())
        head = f"- {row['level']} {row['event']}"
        lines.append(f"{head}: recall {pats or '-'}; false alarms {causes or 'none'}")
        episodes = row.get("confuser_episodes") or {}
        if episodes:
            shares = ", ".join(
                f"{k} {v['false_alarms']}/{v['episodes']}{_ci(v['share_ci95'], True)}"
                for k, v in episodes.items()
            )
            lines.append(f"  - appliance episodes that set it off [95 %]: {shares}")
    failed = report.get("failed_files") or []
    if failed:
        lines += ["", f"{len(failed)} file(s) could not be read:", ""]
        lines += [f"- {f['file']}: {f['error']}" for f in failed]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- command


def _levels(text: str) -> list[str | float]:
    out: list[str | float] = []
    for raw in text.split(","):
        part = raw.strip()
        if part in SENSITIVITIES:
            out.append(part)
        else:
            try:
                value = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"sensitivity {part!r}: use low, medium, high or a number 0..1"
                ) from None
            if not 0.0 <= value <= 1.0:
                raise argparse.ArgumentTypeError(f"sensitivity {part!r} is outside 0..1")
            out.append(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="acoustic-guard eval",
        description="Event-based evaluation of the shipped model on labelled audio "
        "(labels.jsonl). Writes report.json and report.md.",
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with labels.jsonl")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    p.add_argument(
        "--sensitivity",
        type=_levels,
        default=list(SENSITIVITIES),
        help="comma list of low|medium|high|0..1 (default: all three levels)",
    )
    p.add_argument("--runtime", choices=("auto", "onnxruntime", "numpy"), default="auto")
    p.add_argument("--model-dir", type=Path, default=None, help="model folder (default: shipped)")
    p.add_argument("--limit", type=int, default=None, help="only the first N files")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run_eval(
            args.data,
            args.sensitivity,
            args.runtime,
            model_dir=args.model_dir,
            out_dir=args.out,
            limit=args.limit,
        )
    except (LabelError, ValueError, OSError) as err:
        print(f"acoustic-guard eval: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        print(format_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
