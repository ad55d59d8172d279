"""Grow the model by one event: a new head trained with the shared encoder frozen.

    nice -n 10 .venv-train/bin/python models/add_head.py [--checkpoint build/train/model.pt]
        [--label beeping_appliance] [--name beeping_appliance_new] [--steps 300]

A new event needs labelled clips in ``build/data/{train,val}/labels.jsonl`` whose events carry
``"event": <label>`` (``on`` intervals, as for every other event). This script

1. loads the trained checkpoint, calls ``AcousticGuardNet.add_head(name)`` and
   ``freeze_encoder()``; only the new head's parameters go to the optimiser;
2. trains that head on the frames of ``<label>`` (a few minutes on a 2-core CPU: the encoder
   runs under ``no_grad``);
3. exports ONNX + npz + manifest with the extra head to ``build/add_head/`` (never to the
   shipped location) and asserts that the old heads' scores are bit-identical, in torch and
   in onnxruntime, to the model it started from.

The default demonstration re-learns ``beeping_appliance`` from scratch as if it were a new
event, and compares the new head's validation AUC with the original jointly-trained head.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import export as ex  # noqa: E402
from models.net import CONTEXT, HEADS, N_MELS, AcousticGuardNet  # noqa: E402
from models.train import Clip, auc, f1_at, length_batches, load_split, make_batch  # noqa: E402


def one_column(c: Clip, j: int) -> Clip:
    """``c`` with only target / mask column ``j`` (training one head)."""
    return Clip(c.file, c.source, c.kind, c.feats, c.target[:, j : j + 1], c.mask[:, j : j + 1])


def _val_logits(net: AcousticGuardNet, clips: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every head over every val clip (clips of one length batched), and labels."""
    out, lab = [], []
    with torch.no_grad():
        for g in length_batches(clips):
            x = torch.from_numpy(np.stack([c.feats for c in g]))
            out.append(net.logits(x).reshape(-1, len(net.head_names)).numpy())
            lab.append(np.concatenate([c.target[:, 0] for c in g]))
    return np.concatenate(out), np.concatenate(lab)


def fit_head(
    net: AcousticGuardNet,
    head: nn.Module,
    clips: list[Clip],
    pos_weight: torch.Tensor,
    rng: np.random.Generator,
    *,
    steps: int,
    lr: float,
    batch: int,
    seq: int,
    cosine: bool = False,
    every: int = 100,
) -> None:
    """Train ``head`` alone on the frozen encoder's output (``clips``: one target column).

    ``cosine``: decay the learning rate to 5 % over ``steps`` (else constant).
    """
    t0 = time.time()
    loss_fn = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    net.eval()  # the encoder has no dropout / batch-norm, eval mode only documents intent
    for step in range(1, steps + 1):
        if cosine:
            frac = (step - 1) / max(1, steps - 1)
            for g in opt.param_groups:
                g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1.0 + np.cos(np.pi * frac)))
        x, y, m = make_batch(clips, rng, batch, seq)
        with torch.no_grad():
            out, *_ = net.encoder(x, *net.zero_state(x.shape[0]))
        loss = (loss_fn(head(out), y) * m).sum() / m.sum().clamp(min=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            print(
                f"step {step} loss {float(loss.detach()):.4f} ({time.time() - t0:.0f}s)", flush=True
            )


def scores_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort  # noqa: PLC0415 (verification only)

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    b = x.shape[0]
    width = {i.name: i.shape for i in sess.get_inputs()}  # the encoder's widths
    return np.asarray(
        sess.run(
            ["scores"],
            {
                "features": x,
                "ctx1": np.zeros((b, CONTEXT, N_MELS), np.float32),
                "ctx2": np.zeros((b, CONTEXT, width["ctx2"][2]), np.float32),
                "h": np.zeros((1, b, width["h"][2]), np.float32),
            },
        )[0]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", type=Path, default=REPO / "build" / "train" / "model.pt")
    ap.add_argument("--data", type=Path, default=REPO / "build" / "data")
    ap.add_argument("--label", default="beeping_appliance", help="event name in labels.jsonl")
    ap.add_argument("--name", default=None, help="name of the new head (default <label>_new)")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "add_head")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    name = args.name or f"{args.label}_new"
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    base, meta = ex.load_checkpoint(args.checkpoint)
    # same requires_grad flags on both sides: torch picks a different (equally valid) GRU
    # kernel for frozen weights, which moves the last float bit on long sequences
    base.freeze_encoder()
    net, _ = ex.load_checkpoint(args.checkpoint)
    if name in net.head_names:
        raise SystemExit(f"head {name!r} already exists: {net.head_names}")
    head = net.add_head(name)
    net.freeze_encoder()
    frozen = {
        k: v.clone() for k, v in net.state_dict().items() if not k.startswith(f"heads.{name}.")
    }

    train_cache = args.checkpoint.parent / "cache"  # where train.py cached this data's features
    if args.label in HEADS:  # reuse train.py's feature cache, keep only that label's column
        tr = [
            one_column(c, HEADS.index(args.label))
            for c in load_split(args.data / "train", HEADS, train_cache)
        ]
        va = [
            one_column(c, HEADS.index(args.label))
            for c in load_split(args.data / "val", HEADS, train_cache)
        ]
    else:
        tr = load_split(args.data / "train", [args.label], args.out / "cache")
        va = load_split(args.data / "val", [args.label], args.out / "cache")
    if not sum(c.target.sum() for c in tr):
        raise SystemExit(f"no '{args.label}' frames in {args.data / 'train'}")
    pos = sum(float(c.target.sum()) for c in tr)
    n = sum(c.target.shape[0] for c in tr)
    pw = torch.tensor([min(20.0, 2.0 * np.sqrt((n - pos) / pos))])
    fit_head(net, head, tr, pw, rng, steps=args.steps, lr=3e-3, batch=args.batch, seq=args.seq)

    # everything but the new head is untouched
    for k, v in net.state_dict().items():
        if k in frozen and not torch.equal(v, frozen[k]):
            raise SystemExit(f"parameter {k} changed while training the new head")

    # validation: the new head vs the original head for the same label (if there is one)
    # logits: an elementwise sigmoid over 5 vs 6 columns may round differently
    new_scores, sy = _val_logits(net, va)
    old_scores, _ = _val_logits(base, va)
    report = {
        "name": name,
        "label": args.label,
        "steps": args.steps,
        "seconds": round(time.time() - t0, 1),
    }
    report["new_head_val_auc"] = round(auc(new_scores[:, -1], sy), 4)
    report["new_head_val_f1@0.5"] = round(f1_at(new_scores[:, -1], sy, 0.0), 4)  # logit 0 = p 0.5
    if args.label in base.head_names:
        j = base.head_names.index(args.label)
        report["original_head_val_auc"] = round(auc(old_scores[:, j], sy), 4)

    # old heads bit-identical in torch...
    n_old = len(base.head_names)
    if not np.array_equal(new_scores[:, :n_old], old_scores):
        d = float(np.max(np.abs(new_scores[:, :n_old] - old_scores)))
        raise SystemExit(f"old heads' torch logits changed (max {d:.3g})")
    # ... and in onnxruntime, after a full export of the grown model
    training = dict(meta.get("training", {}))
    training["added_heads"] = [
        {"name": name, "label": args.label, "encoder": "frozen", "steps": args.steps}
    ]
    err = ex.export_all(net, args.out, "0.1.0+" + name, training, ship=False)
    ex.export_onnx(base, args.out / "base.onnx")
    probe = np.concatenate([c.feats for c in va])[None, : 50 * 120]  # two minutes of val audio
    s_new = scores_onnx(args.out / ex.ONNX_NAME, probe)
    s_old = scores_onnx(args.out / "base.onnx", probe)
    report["onnx_old_heads_max_abs_diff"] = float(np.max(np.abs(s_new[..., :n_old] - s_old)))
    report["onnx_old_heads_bit_identical"] = bool(np.array_equal(s_new[..., :n_old], s_old))
    report["export_checks"] = err
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if not report["onnx_old_heads_bit_identical"]:
        raise SystemExit("old heads' onnxruntime scores changed")
    print(f"grown model ({net.head_names}) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
