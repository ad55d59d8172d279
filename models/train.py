"""Train the Acoustic Guard network on ``build/data/{train,val}``.

    nice -n 10 .venv-train/bin/python models/train.py [--data build/data] [--minutes 20]

Features come from the SAME log-mel front end as inference
(``custom_components/acoustic_guard/engine/features.py``). Frame targets at 50 fps from each
event's ``on`` intervals (frame ``k`` covers the audio ending at ``(k + 1) * 0.02`` s):

* smoke_alarm / co_alarm / beeping_appliance: 1 while a beep sounds;
* glass_break: 1 over the impact + shatter span;
* footsteps: 1 from each impact to 0.06 s after it ends (the network is causal, so the
  frames before an impact cannot know about it; the frame either side of every edge is
  masked out of the loss rather than forced to 0 or 1).

Training sequences are random crops of two clips joined end to end (so the GRU also learns
to switch off after an event and to run past a single clip's length; one in five starts at a
clip's first frame, as a fresh stream does), level jitter in the log domain, 8 % extra
stationary-noise-only negatives (white/pink/brown, ±hum, -75...-12 dBFS), BCE with
per-head positive weights, Adam with a cosine learning-rate decay over the epochs that fit
the wall-clock budget, early stop on the validation loss.
Writes ``build/train/model.pt`` (state_dict + head names + training metadata) and
``build/train/metrics.json`` (per-head frame-level AUC / F1 on val).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import inspect
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.net import CONV, HEADS, HIDDEN, AcousticGuardNet  # noqa: E402


def _load_features() -> Any:
    """The integration's front end, loaded by path (it needs numpy only): importing the
    package would pull in Home Assistant (``custom_components/acoustic_guard/__init__.py``)."""
    path = REPO / "custom_components" / "acoustic_guard" / "engine" / "features.py"
    spec = importlib.util.spec_from_file_location("acoustic_guard_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


features = _load_features()
FRAME_RATE: float = features.FRAME_RATE
N_FFT: int = features.N_FFT
SAMPLE_RATE: int = features.SAMPLE_RATE
logmel = features.logmel

HOP_S = 1.0 / FRAME_RATE
WIN_S = N_FFT / SAMPLE_RATE
FOOTSTEP_TAIL_S = 0.06
STREAM_START_P = 0.2


@dataclass
class Clip:
    file: str
    source: str
    kind: str
    feats: np.ndarray  # [T, 40] float32
    target: np.ndarray  # [T, H] float32 in {0, 1}
    mask: np.ndarray  # [T, H] float32 in {0, 1}


# --------------------------------------------------------------------------- data


def read_labels(split_dir: Path) -> list[dict[str, Any]]:
    path = split_dir / "labels.jsonl"
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _sources(row: dict[str, Any]) -> str:
    """Every source in a clip: the foreground ``source`` and the ``mix`` (beds, 2nd sound)."""
    return "+".join([str(row.get("source", "?")), *(str(m) for m in row.get("mix", []))])


def read_wav(path: Path) -> np.ndarray:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return np.ascontiguousarray(audio.mean(axis=1))


def frame_targets(
    events: list[dict[str, Any]], n_frames: int, heads: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame 0/1 targets and a loss mask (edges masked) for each head."""
    t_end = (np.arange(n_frames) + 1) * HOP_S  # each frame covers [t_end - WIN_S, t_end]
    target = np.zeros((n_frames, len(heads)), np.float32)
    edge = np.zeros((n_frames, len(heads)), bool)
    for ev in events:
        name = ev.get("event")
        if name not in heads:
            continue
        j = heads.index(name)
        spans = ev.get("on") or [[ev["start"], ev["end"]]]
        for s, e_on in spans:
            e = max(e_on, s + 0.02) + FOOTSTEP_TAIL_S if name == "footsteps" else e_on
            # "on" when at least ~10 ms of the sound lies inside the frame's window
            on = (t_end >= s + 0.01) & (t_end - WIN_S <= e - 0.01)
            target[on, j] = 1.0
            for b in (s, e + WIN_S):  # frames straddling the onset / the offset (+ window)
                edge[np.abs(t_end - b) <= HOP_S * 1.5, j] = True
    mask = np.where(edge, 0.0, 1.0).astype(np.float32)
    return target, mask


def _cache_key(split_dir: Path, rows: list[dict[str, Any]], heads: list[str]) -> str:
    h = hashlib.sha1()
    h.update(",".join(heads).encode())
    h.update((REPO / "custom_components/acoustic_guard/engine/features.py").read_bytes())
    h.update(inspect.getsource(frame_targets).encode())
    for r in rows:
        p = split_dir / r["file"]
        h.update(json.dumps(r, sort_keys=True).encode())
        h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]


def load_split(split_dir: Path, heads: list[str], cache_dir: Path) -> list[Clip]:
    """Read WAVs -> log-mel + targets, cached under ``cache_dir`` (keyed on content)."""
    rows = read_labels(split_dir)
    key = _cache_key(split_dir, rows, heads)
    cache = cache_dir / f"{split_dir.name}-{key}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        lengths = z["lengths"]
        offs = np.concatenate([[0], np.cumsum(lengths)])
        feats, target, mask = z["feats"], z["target"], z["mask"]
        return [
            Clip(
                r["file"],
                _sources(r),
                r.get("kind", "?"),
                feats[offs[i] : offs[i + 1]],
                target[offs[i] : offs[i + 1]],
                mask[offs[i] : offs[i + 1]],
            )
            for i, r in enumerate(rows)
        ]
    clips: list[Clip] = []
    t0 = time.time()
    for i, r in enumerate(rows):
        audio = read_wav(split_dir / r["file"])
        f = logmel(audio)
        tgt, msk = frame_targets(r.get("events", []), f.shape[0], heads)
        clips.append(Clip(r["file"], _sources(r), r.get("kind", "?"), f, tgt, msk))
        if (i + 1) % 500 == 0:
            print(
                f"  {split_dir.name}: {i + 1}/{len(rows)} clips ({time.time() - t0:.0f}s)",
                flush=True,
            )
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.glob(f"{split_dir.name}-*.npz"):
        old.unlink()
    np.savez(
        cache,
        feats=np.concatenate([c.feats for c in clips]),
        target=np.concatenate([c.target for c in clips]),
        mask=np.concatenate([c.mask for c in clips]),
        lengths=np.array([c.feats.shape[0] for c in clips]),
    )
    return clips


def noise_clips(n: int, heads: list[str], seed: int, seconds: float = 10.0) -> list[Clip]:
    """Extra negatives: stationary noise only (white / pink / brown, optional mains hum) from
    near digital silence to loud, starting at a stream's first frame like any clip. Nothing
    happening but noise is never an event, whatever its level or colour."""
    rng = np.random.default_rng(seed)
    size = int(seconds * SAMPLE_RATE)
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    clips = []
    for i in range(n):
        colour = ("white", "pink", "brown")[i % 3]
        spec = np.fft.rfft(rng.standard_normal(size))
        if colour != "white":
            spec /= np.maximum(freqs, 20.0) ** (0.5 if colour == "pink" else 1.0)
        x = np.fft.irfft(spec, size)
        if rng.random() < 0.3:
            t = np.arange(size) / SAMPLE_RATE
            mains = rng.choice([50.0, 60.0])
            x += sum(
                rng.uniform(0.0, 2.0) * np.sin(2 * np.pi * mains * h * t) for h in (1, 2, 3)
            ) * np.std(x)
        level_db = rng.uniform(-75.0, -12.0)
        x = (x / (np.std(x) + 1e-12) * 10 ** (level_db / 20.0)).astype(np.float32)
        f = logmel(x)
        zeros = np.zeros((f.shape[0], len(heads)), np.float32)
        clips.append(Clip(f"noise{i}", f"synth:noise_{colour}", "negative", f, zeros, zeros + 1))
    return clips


# --------------------------------------------------------------------------- batches


def make_batch(
    clips: list[Clip], rng: np.random.Generator, batch: int, seq: int, pieces: int = 2
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``batch`` sequences of ``seq`` frames, each random crops of ``pieces`` clips joined."""
    n_h = clips[0].target.shape[1]
    x = np.empty((batch, seq, clips[0].feats.shape[1]), np.float32)
    y = np.zeros((batch, seq, n_h), np.float32)
    m = np.zeros((batch, seq, n_h), np.float32)
    for b in range(batch):
        cuts = np.sort(rng.integers(seq // 4, 3 * seq // 4, size=pieces - 1))
        bounds = [0, *cuts.tolist(), seq]
        for k in range(pieces):
            need = bounds[k + 1] - bounds[k]
            c = clips[rng.integers(len(clips))]
            while c.feats.shape[0] < 8:
                c = clips[rng.integers(len(clips))]
            n = c.feats.shape[0]
            if n >= need:
                # 1 in 5 first pieces start at the clip's (= a stream's) first frame
                first = k == 0 and rng.random() < STREAM_START_P
                s = 0 if first else int(rng.integers(0, n - need + 1))
                f, t, mk = c.feats[s : s + need], c.target[s : s + need], c.mask[s : s + need]
            else:  # too short: pad by repeating the clip
                reps = int(np.ceil(need / n))
                f = np.tile(c.feats, (reps, 1))[:need]
                t = np.tile(c.target, (reps, 1))[:need]
                mk = np.tile(c.mask, (reps, 1))[:need]
            # level jitter: a gain g adds log(g^2) to every log-mel bin
            gain_db = rng.uniform(-12.0, 8.0)
            x[b, bounds[k] : bounds[k + 1]] = f + np.float32(gain_db / 10.0 * np.log(10.0))
            y[b, bounds[k] : bounds[k + 1]] = t
            m[b, bounds[k] : bounds[k + 1]] = mk
            m[b, bounds[k] : bounds[k] + 2] = 0.0  # the join itself
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(m)


# --------------------------------------------------------------------------- metrics


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos = labels > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def f1_at(scores: np.ndarray, labels: np.ndarray, thr: float) -> float:
    pred = scores >= thr
    pos = labels > 0.5
    tp = float((pred & pos).sum())
    denom = float(pred.sum() + pos.sum())
    return 2 * tp / denom if denom else float("nan")


def length_batches(clips: list[Clip], size: int = 64) -> Iterator[list[Clip]]:
    """Whole clips in batches of equal length (no padding), ``size`` at most per batch."""
    by_len: dict[int, list[Clip]] = {}
    for c in clips:
        by_len.setdefault(c.feats.shape[0], []).append(c)
    for group in by_len.values():
        for i in range(0, len(group), size):
            yield group[i : i + size]


def evaluate(
    net: AcousticGuardNet, clips: list[Clip], pos_weight: torch.Tensor
) -> tuple[float, dict[str, Any]]:
    """Whole clips from a zero state (as in streaming); returns loss and per-head metrics."""
    net.eval()
    loss_fn = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)
    total, weight = 0.0, 0.0
    all_s, all_y, all_m = [], [], []
    with torch.no_grad():
        for g in length_batches(clips):
            x = torch.from_numpy(np.stack([c.feats for c in g]))
            y = torch.from_numpy(np.stack([c.target for c in g]))
            m = torch.from_numpy(np.stack([c.mask for c in g]))
            logit = net.logits(x)
            total += float((loss_fn(logit, y) * m).sum())
            weight += float(m.sum())
            all_s.append(torch.sigmoid(logit).reshape(-1, y.shape[-1]).numpy())
            all_y.append(y.reshape(-1, y.shape[-1]).numpy())
            all_m.append(m.reshape(-1, y.shape[-1]).numpy())
    s, y_, m_ = np.concatenate(all_s), np.concatenate(all_y), np.concatenate(all_m)
    metrics: dict[str, Any] = {}
    for j, name in enumerate(net.head_names):
        keep = m_[:, j] > 0
        sj, yj = s[keep, j], y_[keep, j]
        best = max((f1_at(sj, yj, t), t) for t in np.linspace(0.05, 0.95, 19))
        metrics[name] = {
            "auc": round(auc(sj, yj), 4),
            "f1@0.5": round(f1_at(sj, yj, 0.5), 4),
            "best_f1": round(best[0], 4),
            "best_thr": round(float(best[1]), 2),
            "pos_frames": int(yj.sum()),
        }
    net.train()
    return total / max(weight, 1.0), metrics


# --------------------------------------------------------------------------- training


def positive_weights(clips: list[Clip], cap: float = 20.0) -> torch.Tensor:
    pos = sum(c.target.sum(axis=0) for c in clips)
    n = sum(c.target.shape[0] for c in clips)
    w = np.clip((n - pos) / np.maximum(pos, 1.0), 1.0, cap)
    return torch.tensor(np.sqrt(w) * 2.0, dtype=torch.float32).clamp(max=cap)


def credits(clips: list[Clip]) -> list[str]:
    """Where the training audio came from: each ``+``-joined part of a clip's ``source``,
    reduced to its origin (Debian package, shared/ file, synthesis recipe), with clip counts."""
    counts: Counter[str] = Counter()
    for c in clips:
        parts = set()
        for part in c.source.split("+"):
            if ":" not in part:  # a voice variant such as espeak:fr+f3, not a new source
                continue
            kind, _, rest = part.partition(":")
            if kind == "debian":
                parts.add(f"debian:{rest.split('/', 1)[0]}")
            elif kind == "espeak":
                parts.add("espeak-ng speech")
            elif kind in ("shared", "synth", "noise"):
                parts.add(part)
            else:
                parts.add(kind or part)
        counts.update(parts)
    return [f"{k} ({v} clips)" for k, v in sorted(counts.items())]


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    heads = list(HEADS)
    cache = args.out / "cache"
    t0 = time.time()
    tr = load_split(args.data / "train", heads, cache)
    va = load_split(args.data / "val", heads, cache)
    n_noise = int(len(tr) * args.noise_share)
    tr += noise_clips(n_noise, heads, args.seed)
    va += noise_clips(max(1, n_noise // 8), heads, args.seed + 1)
    t_feat = time.time() - t0
    hours = sum(c.feats.shape[0] for c in tr) / FRAME_RATE / 3600
    print(
        f"features: {len(tr)} train clips ({hours:.2f} h), {len(va)} val clips in {t_feat:.0f}s",
        flush=True,
    )

    net = AcousticGuardNet(heads, args.conv, args.hidden)
    allf = np.concatenate([c.feats for c in tr])
    net.encoder.mean.copy_(torch.from_numpy(allf.mean(axis=0)))
    net.encoder.std.copy_(torch.from_numpy(np.maximum(allf.std(axis=0), 1e-3)))
    del allf
    pw = positive_weights(tr)
    print(
        "pos_weight:", dict(zip(heads, [round(float(v), 2) for v in pw], strict=True)), flush=True
    )
    loss_fn = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pw)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)

    frames_per_epoch = sum(c.feats.shape[0] for c in tr)
    steps = max(1, frames_per_epoch // (args.batch * args.seq))
    best = (float("inf"), None, -1)
    history = []
    bad = 0
    deadline = t0 + args.minutes * 60
    epoch = 0
    planned = args.epochs
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        te = time.time()
        if epoch > 1:  # how many epochs fit the budget at the mean epoch time so far
            per_epoch = (te - t_train) / (epoch - 1)
            planned = min(args.epochs, epoch - 1 + max(1, int((deadline - te) / per_epoch)))
        for g in opt.param_groups:  # cosine decay to 5 % over the planned epochs
            frac = (epoch - 1) / max(1, planned - 1)
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac))))
        net.train()
        run = 0.0
        for _ in range(steps):
            x, y, m = make_batch(tr, rng, args.batch, args.seq)
            loss = (loss_fn(net.logits(x), y) * m).sum() / m.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            run += float(loss.detach())
        vloss, vm = evaluate(net, va, pw)
        history.append({"epoch": epoch, "train_loss": run / steps, "val_loss": vloss})
        aucs = " ".join(f"{k[:5]}={v['auc']:.3f}/{v['best_f1']:.2f}" for k, v in vm.items())
        print(
            f"epoch {epoch:2d} train {run / steps:.4f} val {vloss:.4f} auc/F1 {aucs} "
            f"lr {opt.param_groups[0]['lr']:.2e} ({time.time() - te:.0f}s)",
            flush=True,
        )
        if vloss < best[0] - 1e-4:
            best = (vloss, {k: v.clone() for k, v in net.state_dict().items()}, epoch)
            bad = 0
        else:
            bad += 1
            if bad >= args.patience:
                print("early stop", flush=True)
                break
        if time.time() + (time.time() - te) > deadline:
            print("time budget reached", flush=True)
            break
    assert best[1] is not None
    net.load_state_dict(best[1])
    vloss, vm = evaluate(net, va, pw)
    train_s = time.time() - t0
    meta = {
        "training": {
            "data": credits(tr),
            "clips": len(tr) - n_noise,
            "noise_clips": n_noise,
            "hours": round(hours, 3),
            "val_clips": len(va),
            "epochs": epoch,
            "best_epoch": best[2],
            "seed": args.seed,
            "encoder": {"conv": args.conv, "hidden": args.hidden},
            "batch": args.batch,
            "crop_frames": args.seq,
            "lr": args.lr,
            "wall_clock_s": round(train_s, 1),
            "threads": args.threads,
        },
        "val_frame_metrics": vm,
        "val_loss": vloss,
        "history": history,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"state_dict": net.state_dict(), "head_names": net.head_names, "meta": meta},
        args.out / "model.pt",
    )
    (args.out / "metrics.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"best epoch {best[2]} val loss {vloss:.4f}; wall clock {train_s:.0f}s")
    print("val frame metrics (masked edges):")
    for k, v in vm.items():
        print(
            f"  {k:18s} AUC {v['auc']:.4f}  F1@0.5 {v['f1@0.5']:.3f}  "
            f"best F1 {v['best_f1']:.3f} @ {v['best_thr']}"
        )
    print(f"saved {args.out / 'model.pt'}")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=REPO / "build" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "train")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument(
        "--minutes", type=float, default=20.0, help="wall-clock budget (incl. features)"
    )
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=400, help="frames per training sequence (8 s)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--conv", type=int, default=CONV, help="conv channels of the encoder")
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="GRU width of the encoder")
    ap.add_argument(
        "--noise-share", type=float, default=0.08, help="extra stationary-noise negatives"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="1: two threads on a busy 2-core box are 10x slower"
    )
    args = ap.parse_args(argv)
    for split in ("train", "val"):
        if not (args.data / split / "labels.jsonl").exists():
            print(
                f"missing {args.data / split / 'labels.jsonl'} (run models/build_data first)",
                file=sys.stderr,
            )
            return 2
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
