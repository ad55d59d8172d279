"""Refit one head of a trained model on the frozen encoder, with extra training clips.

    nice -n 10 .venv-train/bin/python models/refit_head.py [--head smoke_alarm]
        [--model-dir custom_components/acoustic_guard/model | --checkpoint build/train/model.pt]
        [--data build/data] [--extra refit] [--steps 1500] [--out build/refit] [--ship]

A confuser found after the encoder was trained (model 0.2.1's smoke head scores a whistling
kettle 0.9-0.99) is taught to the one head that confuses it, not to the whole network:

1. the model is loaded from a checkpoint, or rebuilt from a model folder's ``.npz`` (the
   torch ``state_dict`` under the same key names), so a shipped model can be refit without
   its training checkpoint (the default folder is the shipped model, whose smoke head is
   already refit since 0.3.0: 0.3.0 = ``--model-dir`` of 0.2.2 with the defaults, bit for
   bit; ``models/build`` refits its fresh training checkpoint);
2. every parameter but ``heads.<head>`` is frozen; the head starts from its trained weights
   and is trained on ``train`` plus the ``--extra`` set(s) (``models/build_data --splits
   refit``: 10 s kettle clips rendered from the train sources) with ``train.py``'s batches,
   level jitter and positive weight;
3. the refit model is exported (ONNX + npz + manifest, thresholds left to ``models/tune.py``)
   to ``--out``; the script fails unless every other head's scores are bit-identical to the
   starting model's, in torch and in onnxruntime. ``--ship`` copies the files to the
   integration (then run ``models/tune.py`` and the evaluation, as ``models/build`` does).

Reports validation AUC of the head before / after (``val``) and how often the held-out tenth
(every tenth clip) of the extra clips (never trained on) pushes the head over 0.5, before / after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import export as ex  # noqa: E402
from models.add_head import fit_head, one_column, scores_onnx  # noqa: E402
from models.net import AcousticGuardNet  # noqa: E402
from models.train import (  # noqa: E402
    Clip,
    auc,
    load_split,
    noise_clips,
    positive_weights,
)


def load_model_dir(model_dir: Path) -> tuple[AcousticGuardNet, dict[str, Any]]:
    """The network of a shipped model folder, rebuilt from its ``.npz`` and manifest."""
    z = np.load(model_dir / ex.NPZ_NAME, allow_pickle=False)
    heads = [str(h) for h in z["head_names"]]
    net = AcousticGuardNet.for_state(heads, z)
    state = {k: torch.from_numpy(np.asarray(z[k])) for k in net.state_dict()}
    net.load_state_dict(state)
    net.eval()
    man = json.loads((model_dir / ex.MANIFEST_NAME).read_text())
    return net, {"training": man.get("training", {}), "version": man.get("version")}


def head_logits(net: AcousticGuardNet, clips: list[Clip], head: str) -> np.ndarray:
    """Logits of one head over every frame of ``clips`` (one clip at a time, zero state)."""
    out = []
    with torch.no_grad():
        for c in clips:
            x = torch.from_numpy(c.feats[None])
            enc, *_ = net.encoder(x, *net.zero_state(1))
            out.append(net.heads[head](enc)[0, :, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", type=Path, help="a models/train.py checkpoint")
    src.add_argument("--model-dir", type=Path, default=ex.SHIP_DIR, help="a shipped model folder")
    ap.add_argument("--head", default="smoke_alarm")
    ap.add_argument("--data", type=Path, default=REPO / "build" / "data")
    ap.add_argument("--extra", nargs="+", default=["refit"], help="extra sets under --data")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "refit")
    ap.add_argument("--version", default=None, help="model version (default <old>+refit)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=400)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--noise-share", type=float, default=0.08)
    ap.add_argument(
        "--extra-repeat", type=int, default=1, help="draw the extra clips this many times as often"
    )
    ap.add_argument("--ship", action="store_true", help="copy the refit model to the integration")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    if args.checkpoint is not None:
        base, meta = ex.load_checkpoint(args.checkpoint)
        net, _ = ex.load_checkpoint(args.checkpoint)
        old_version = str(meta.get("version") or "checkpoint")
    else:
        base, meta = load_model_dir(args.model_dir)
        net, _ = load_model_dir(args.model_dir)
        old_version = str(meta.get("version"))
    if args.head not in net.head_names:
        raise SystemExit(f"no head {args.head!r} in {net.head_names}")
    j = net.head_names.index(args.head)
    for p in net.parameters():
        p.requires_grad_(False)
    head = net.heads[args.head]
    for p in head.parameters():
        p.requires_grad_(True)
    base.freeze_encoder()  # same GRU kernel choice on both sides (see add_head.py)
    frozen = {
        k: v.clone() for k, v in net.state_dict().items() if not k.startswith(f"heads.{args.head}.")
    }

    heads = list(net.head_names)
    cache = args.out / "cache"
    train = load_split(args.data / "train", heads, cache)
    extra: list[Clip] = []
    for name in args.extra:
        extra += load_split(args.data / name, heads, cache)
    if not extra:
        raise SystemExit(f"no clips in {args.extra} under {args.data}")
    # every tenth extra clip (of every recipe): monitoring only, never trained on
    extra_fit = [c for i, c in enumerate(extra) if i % 10 != 9]
    extra_hold = [c for i, c in enumerate(extra) if i % 10 == 9]
    val = load_split(args.data / "val", heads, cache)
    tr = train + extra_fit * args.extra_repeat
    tr += noise_clips(int(len(train) * args.noise_share), heads, 1234)
    print(
        f"refit {args.head}: {len(train)} train + {len(extra_fit)} extra clips "
        f"({len(extra_hold)} held out), {len(val)} val ({time.time() - t0:.0f}s)",
        flush=True,
    )

    pw = positive_weights([one_column(c, j) for c in train])

    def monitor(model: AcousticGuardNet) -> dict[str, float]:
        lv = head_logits(model, val, args.head)
        yv = np.concatenate([c.target[:, j] for c in val])
        mv = np.concatenate([c.mask[:, j] for c in val]) > 0
        lh = head_logits(model, extra_hold, args.head)
        return {
            "val_auc": round(auc(lv[mv], yv[mv]), 4),
            "val_pos_over_0.5": round(float(np.mean(lv[mv & (yv > 0.5)] > 0.0)), 4),
            "val_neg_over_0.5": round(float(np.mean(lv[mv & (yv < 0.5)] > 0.0)), 5),
            "held_extra_over_0.5": round(float(np.mean(lh > 0.0)), 4),
        }

    before = monitor(base)
    print("before:", before, flush=True)
    fit_head(
        net,
        head,
        [one_column(c, j) for c in tr],
        pw,
        rng,
        steps=args.steps,
        lr=args.lr,
        batch=args.batch,
        seq=args.seq,
        cosine=True,
        every=250,
    )
    after = monitor(net)
    print("after:", after, flush=True)

    for k, v in net.state_dict().items():
        if k in frozen and not torch.equal(v, frozen[k]):
            raise SystemExit(f"parameter {k} changed while refitting {args.head}")
    others = [i for i in range(len(heads)) if i != j]
    probe_clips = val[:40]
    with torch.no_grad():
        for c in probe_clips:
            x = torch.from_numpy(c.feats[None])
            if not torch.equal(net.logits(x)[..., others], base.logits(x)[..., others]):
                raise SystemExit("another head's torch logits changed")

    version = args.version or f"{old_version}+refit-{args.head}"
    training = dict(meta.get("training", {}))
    training["refit_heads"] = [
        *training.get("refit_heads", []),
        {
            "head": args.head,
            "encoder": "frozen",
            "from": old_version,
            "extra_sets": args.extra,
            "extra_clips": len(extra_fit),
            "extra_repeat": args.extra_repeat,
            "steps": args.steps,
            "lr": args.lr,
            "seed": args.seed,
            "before": before,
            "after": after,
        },
    ]
    err = ex.export_all(net, args.out, version, training, ship=False)
    ex.export_onnx(base, args.out / "base.onnx")
    probe = np.concatenate([c.feats for c in val])[None, : 50 * 120]  # two minutes of val audio
    s_new = scores_onnx(args.out / ex.ONNX_NAME, probe)
    s_old = scores_onnx(args.out / "base.onnx", probe)
    (args.out / "base.onnx").unlink()
    same = bool(np.array_equal(s_new[..., others], s_old[..., others]))
    report = {
        "head": args.head,
        "version": version,
        "from": old_version,
        "steps": args.steps,
        "seconds": round(time.time() - t0, 1),
        "before": before,
        "after": after,
        "onnx_other_heads_bit_identical": same,
        "export_checks": err,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if not same:
        raise SystemExit("another head's onnxruntime scores changed")
    if args.ship:
        for name in (ex.ONNX_NAME, ex.NPZ_NAME, ex.MANIFEST_NAME):
            shutil.copyfile(args.out / name, ex.SHIP_DIR / name)
        print(f"shipped to {ex.SHIP_DIR} (thresholds: run models/tune.py next)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
