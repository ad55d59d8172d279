"""Listening proxy: spectrogram PNGs with label overlays + per-recipe spectral stats.

``python -m models.data.preview [--split train] [--n 12]`` writes
``build/data/preview/<split>.png`` and prints, per recipe, the median dominant frequency
inside labelled "on" intervals vs outside, and the on/off energy contrast in dB — a quick
check that the labels sit on the sounds they name.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import stft

from .sources import REPO_ROOT

SR = 16_000


def _load(d: Path) -> list[dict]:
    return [json.loads(line) for line in (d / "labels.jsonl").open()]


def _spec(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f, t, z = stft(x, SR, nperseg=512, noverlap=512 - 160)
    return f, t, 10 * np.log10(np.abs(z) ** 2 + 1e-12)


def stats(d: Path, limit: int = 400) -> None:
    recs = _load(d)[:limit]
    acc: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in recs:
        if not r["events"]:
            continue
        x, _ = sf.read(str(d / r["file"]), dtype="float32")
        f, t, s = _spec(x)
        for e in r["events"]:
            mask = np.zeros(t.size, bool)
            for a, b in e["on"]:
                mask |= (t >= a) & (t < b)
            if mask.sum() < 2 or (~mask).sum() < 2:
                continue
            p = 10 ** (s / 10)
            e_on = 10 * np.log10(p[:, mask].sum(0).mean())
            e_off = 10 * np.log10(p[:, ~mask].sum(0).mean())
            fdom = float(np.median(f[np.argmax(s[:, mask], axis=0)]))
            acc[f"{e['event']}/{e['pattern']}"].append((e_on - e_off, fdom))
    print(f"{d.name}: on-vs-off energy contrast (dB) and dominant frequency while on")
    for k in sorted(acc):
        v = np.array(acc[k])
        print(
            f"  {k:34s} n={len(v):4d}  contrast med {np.median(v[:, 0]):5.1f} dB "
            f"(10% {np.percentile(v[:, 0], 10):5.1f})  f_dom med {np.median(v[:, 1]):6.0f} Hz"
        )


def plot(d: Path, out: Path, n: int) -> None:
    import matplotlib  # noqa: PLC0415  (optional: only the preview needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    recs = _load(d)
    by_recipe: dict[str, dict] = {}
    for r in recs:
        by_recipe.setdefault(r.get("recipe", "?"), r)
    chosen = list(by_recipe.values())[:n]
    fig, axes = plt.subplots(len(chosen), 1, figsize=(14, 2.1 * len(chosen)))
    colors = {
        "smoke_alarm": "red",
        "co_alarm": "orange",
        "glass_break": "cyan",
        "footsteps": "lime",
        "beeping_appliance": "magenta",
    }
    for ax, r in zip(np.atleast_1d(axes), chosen, strict=False):
        x, _ = sf.read(str(d / r["file"]), dtype="float32")
        f, t, s = _spec(x[: 30 * SR])
        ax.pcolormesh(t, f, s, shading="auto", vmin=s.max() - 80, vmax=s.max())
        for e in r["events"]:
            for a, b in e["on"]:
                ax.axvspan(a, b, ymin=0.0, ymax=0.05, color=colors[e["event"]])
        ax.set_title(
            f"{r['file']} {r.get('recipe')} {r['kind']} src={r['source'][-50:]}", fontsize=8
        )
        ax.set_ylabel("Hz", fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO_ROOT / "build" / "data")
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=14)
    ap.add_argument("--offset", type=int, default=0)
    args = ap.parse_args()
    d = args.data / args.split
    stats(d)
    plot(d, args.data / "preview" / f"{args.split}_{args.offset}.png", args.n)


if __name__ == "__main__":
    main()
