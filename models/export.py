"""Export an Acoustic Guard network: ONNX graph + ``.npz`` weights + ``manifest.json``.

    python models/export.py --untrained --seed 0 --version 0.1.0-untrained --ship
    python models/export.py --checkpoint build/train/model.pt --version 0.1.0 --ship

Writes ``acoustic_guard.onnx`` (opset 17, dynamic batch and time axes, plain GRU op),
``acoustic_guard.npz`` (the torch ``state_dict`` as float32 arrays, same key names, plus
``head_names``) and ``manifest.json`` to ``--out`` (default ``build/export``); ``--ship``
copies the three files to ``custom_components/acoustic_guard/model/``.

Every export is verified before it is written out: onnxruntime == torch to 1e-5 on random
input, and streaming the same input in two chunks (carrying the state) == one pass.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.net import CONTEXT, HEADS, N_MELS, AcousticGuardNet  # noqa: E402

SHIP_DIR = REPO / "custom_components" / "acoustic_guard" / "model"
ONNX_NAME = "acoustic_guard.onnx"
NPZ_NAME = "acoustic_guard.npz"
MANIFEST_NAME = "manifest.json"
OPSET = 17
CHUNK_FRAMES = 50  # 1 s per model call: half the per-call overhead for +0.5 s decision latency
MAX_ONNX_BYTES = 1_000_000
INPUTS = ["features", "ctx1", "ctx2", "h"]
OUTPUTS = ["scores", "ctx1_out", "ctx2_out", "h_out"]


def load_checkpoint(path: Path) -> tuple[AcousticGuardNet, dict[str, Any]]:
    """Load a checkpoint written by ``models/train.py`` (or ``add_head.py``)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    net = AcousticGuardNet.for_state(list(ckpt["head_names"]), ckpt["state_dict"])
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    return net, dict(ckpt.get("meta", {}))


def untrained(seed: int) -> AcousticGuardNet:
    torch.manual_seed(seed)
    net = AcousticGuardNet(list(HEADS))
    net.eval()
    return net


def export_onnx(net: AcousticGuardNet, path: Path) -> None:
    """Legacy TorchScript exporter: emits one ONNX ``GRU`` op (the dynamo path needs onnxscript)."""
    net.eval()
    x = torch.randn(1, 30, N_MELS)
    state = net.zero_state(1)
    axes = {
        "features": {0: "batch", 1: "time"},
        "ctx1": {0: "batch"},
        "ctx2": {0: "batch"},
        "h": {1: "batch"},
        "scores": {0: "batch", 1: "time"},
        "ctx1_out": {0: "batch"},
        "ctx2_out": {0: "batch"},
        "h_out": {1: "batch"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # legacy-exporter deprecation notice, and the GRU batch-size note (h is an input here)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            net,
            (x, *state),
            str(path),
            input_names=INPUTS,
            output_names=OUTPUTS,
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    size = path.stat().st_size
    if size > MAX_ONNX_BYTES:
        raise SystemExit(f"ONNX file is {size} bytes, over the {MAX_ONNX_BYTES} byte budget")


def save_npz(net: AcousticGuardNet, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()
    }
    arrays["head_names"] = np.array(net.head_names)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _torch_stream(net: AcousticGuardNet, x: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores for the whole input in one pass and in two chunks split at ``cut``."""
    xt = torch.from_numpy(x)
    with torch.no_grad():
        whole, *_ = net(xt, *net.zero_state(x.shape[0]))
        a, c1, c2, h = net(xt[:, :cut], *net.zero_state(x.shape[0]))
        b, *_ = net(xt[:, cut:], c1, c2, h)
    return whole.numpy(), torch.cat([a, b], dim=1).numpy()


def verify(net: AcousticGuardNet, onnx_path: Path, seed: int = 123) -> dict[str, float]:
    """onnxruntime vs torch, streaming vs one pass; raises if either differs by > 1e-5."""
    import onnx  # noqa: PLC0415 (verification only)
    import onnxruntime as ort  # noqa: PLC0415

    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    ops = sorted({n.op_type for n in model.graph.node})
    if "GRU" not in ops:
        raise SystemExit(f"exported graph has no plain GRU op: {ops}")
    names_in = [i.name for i in model.graph.input]
    names_out = [o.name for o in model.graph.output]
    if names_in != INPUTS or names_out != OUTPUTS:
        raise SystemExit(f"bad I/O names: {names_in} -> {names_out}")

    rng = np.random.default_rng(seed)
    # log-mel-like values around the training distribution (log energies, roughly -20..0)
    x = (rng.standard_normal((3, 137, N_MELS)) * 3.0 - 10.0).astype(np.float32)
    whole, chunked = _torch_stream(net, x, 61)

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {
        "features": x,
        "ctx1": np.zeros((3, CONTEXT, N_MELS), np.float32),
        "ctx2": np.zeros((3, CONTEXT, net.conv), np.float32),
        "h": np.zeros((1, 3, net.hidden), np.float32),
    }
    ort_whole = sess.run(None, feeds)[0]
    f1 = dict(feeds, features=x[:, :61])
    s1, c1, c2, h = sess.run(None, f1)
    s2 = sess.run(None, {"features": x[:, 61:], "ctx1": c1, "ctx2": c2, "h": h})[0]
    ort_chunked = np.concatenate([s1, s2], axis=1)

    err = {
        "onnx_vs_torch": float(np.max(np.abs(ort_whole - whole))),
        "torch_chunked_vs_whole": float(np.max(np.abs(chunked - whole))),
        "onnx_chunked_vs_whole": float(np.max(np.abs(ort_chunked - ort_whole))),
    }
    for key, value in err.items():
        if value > 1e-5:
            raise SystemExit(f"export check failed: {key} = {value:.2e} > 1e-5")
    return err


def manifest(net: AcousticGuardNet, version: str, training: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "acoustic_guard",
        "version": version,
        "heads": list(net.head_names),
        "sample_rate": 16000,
        "features": {
            "type": "logmel",
            "n_fft": 512,
            "hop": 320,
            "n_mels": N_MELS,
            "f_min": 50.0,
            "f_max": 8000.0,
            "frame_rate": 50.0,
        },
        "state": {"ctx1": [CONTEXT, N_MELS], "ctx2": [CONTEXT, net.conv], "h": [1, net.hidden]},
        "chunk_frames": CHUNK_FRAMES,
        "params": int(sum(p.numel() for p in net.parameters())),
        "thresholds": {},
        "training": training,
        "evaluation": {},
    }


def export_all(
    net: AcousticGuardNet, out: Path, version: str, training: dict[str, Any], ship: bool
) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(net, out / ONNX_NAME)
    err = verify(net, out / ONNX_NAME)
    save_npz(net, out / NPZ_NAME)
    (out / MANIFEST_NAME).write_text(json.dumps(manifest(net, version, training), indent=2) + "\n")
    if ship:
        SHIP_DIR.mkdir(parents=True, exist_ok=True)
        for name in (ONNX_NAME, NPZ_NAME, MANIFEST_NAME):
            shutil.copyfile(out / name, SHIP_DIR / name)
    return err


EVAL_KEYS = (
    "refs",
    "hits",
    "recall",
    "recall_ci95",
    "precision",
    "f1",
    "fa_per_hour",
    "fa_per_hour_ci95",
    "negative_hours",
    "latency_median_s",
    "latency_worst_s",
)
EVAL_HEADER = (
    "data",
    "files",
    "hours",
    "real_files",
    "model_version",
    "runtime",
    "thresholds_from",
    "matching",
)
SOAK_KEYS = ("false_alarms", "negative_hours", "fa_per_hour", "fa_per_hour_ci95")
SOAK_HEADER = ("data", "files", "hours", "model_version", "runtime")


def _attach(
    report_path: Path,
    manifest_path: Path,
    key: str,
    *,
    header: Sequence[str],
    cell_keys: Sequence[str],
    subsets: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Copy figures of an ``acoustic-guard eval`` report.json into ``manifest[key]``.

    ``results[level][event]`` holds each row's ``cell_keys``, per subset unless ``subsets``
    names the only one kept (then without the subset level).
    """
    report = json.loads(report_path.read_text())
    man = json.loads(manifest_path.read_text())
    if report.get("model_version") != man.get("version"):
        raise SystemExit(
            f"{key} report is for {report.get('model_version')}, manifest is {man.get('version')}"
        )
    results: dict[str, Any] = {}
    for row in report.get("rows", []):
        if subsets is not None and row["subset"] not in subsets:
            continue
        cell = {k: row.get(k) for k in cell_keys if k in row}
        events = results.setdefault(str(row["level"]), {})
        if subsets is None:
            events.setdefault(row["event"], {})[row["subset"]] = cell
        else:
            events[row["event"]] = cell
    man[key] = {**{k: report.get(k) for k in header}, "results": results}
    manifest_path.write_text(json.dumps(man, indent=2) + "\n")
    return man


def attach_eval(
    report_path: Path, manifest_path: Path = SHIP_DIR / MANIFEST_NAME
) -> dict[str, Any]:
    """Copy the headline figures of ``acoustic-guard eval``'s report.json into the manifest."""
    return _attach(
        report_path, manifest_path, "evaluation", header=EVAL_HEADER, cell_keys=EVAL_KEYS
    )


def attach_soak(
    report_path: Path, manifest_path: Path = SHIP_DIR / MANIFEST_NAME
) -> dict[str, Any]:
    """Copy the false-alarm figures of ``acoustic-guard eval`` on the soak set into the manifest."""
    return _attach(
        report_path,
        manifest_path,
        "soak",
        header=SOAK_HEADER,
        cell_keys=SOAK_KEYS,
        subsets=("all",),
    )


def write_report(
    out: Path,
    man: dict[str, Any],
    eval_md: Path,
    model_dir: Path = SHIP_DIR,
    soak_md: Path | None = None,
) -> None:
    """build/REPORT.md: training, add-head demo, tuning and evaluation in one place."""
    build = REPO / "build"
    lines = [f"# Acoustic Guard model {man.get('version')} - build report", ""]
    t = man.get("training", {})
    lines += [
        f"- parameters: {man.get('params')}; ONNX {(model_dir / ONNX_NAME).stat().st_size} bytes",
        f"- training: {t.get('clips')} clips, {t.get('hours')} h, {t.get('epochs')} epochs "
        f"(best {t.get('best_epoch')}), {t.get('wall_clock_s')} s wall clock, seed {t.get('seed')}",
        "",
    ]
    metrics = build / "train" / "metrics.json"
    if metrics.exists():
        vm = json.loads(metrics.read_text()).get("val_frame_metrics", {})
        lines += [
            "## Validation, frame level (50 fps, edges masked)",
            "",
            "| head | AUC | F1@0.5 | best F1 (thr) |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {k} | {v['auc']} | {v['f1@0.5']} | {v['best_f1']} ({v['best_thr']}) |"
            for k, v in vm.items()
        ]
        lines.append("")
    add = build / "add_head" / "report.json"
    if add.exists():
        lines += ["## Add-a-head demonstration", "", "```", add.read_text().strip(), "```", ""]
    if man.get("thresholds"):
        lines += [
            "## Thresholds (models/tune.py on val + tune)",
            "",
            "```",
            json.dumps(man["thresholds"], indent=1),
            "```",
            "",
        ]
    if eval_md.exists():
        lines += [
            eval_md.read_text().replace(
                "# Acoustic Guard evaluation", "## Evaluation (held-out eval split)"
            )
        ]
    if soak_md is not None and soak_md.exists():
        lines += [
            soak_md.read_text().replace(
                "# Acoustic Guard evaluation",
                "## False alarms on the soak set (held-out household audio, no target event)",
            )
        ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="checkpoint from models/train.py")
    src.add_argument("--untrained", action="store_true", help="random init (fixed seed)")
    src.add_argument(
        "--attach-eval",
        type=Path,
        metavar="REPORT_JSON",
        help="no export: copy eval figures into the shipped manifest (and write --report)",
    )
    ap.add_argument(
        "--soak",
        type=Path,
        metavar="REPORT_JSON",
        help="with --attach-eval: also copy the soak set's false-alarm figures",
    )
    ap.add_argument("--report", type=Path, default=REPO / "build" / "REPORT.md")
    ap.add_argument(
        "--manifest", type=Path, default=None, help="with --attach-eval (default: shipped)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "export")
    ap.add_argument("--ship", action="store_true", help=f"copy the files to {SHIP_DIR}")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.attach_eval:
        target = args.manifest or SHIP_DIR / MANIFEST_NAME
        man = attach_eval(args.attach_eval, target)
        if args.soak:
            man = attach_soak(args.soak, target)
        if target.resolve() != (args.out / MANIFEST_NAME).resolve():
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, args.out / MANIFEST_NAME)
        soak_md = args.soak.with_suffix(".md") if args.soak else None
        write_report(args.report, man, args.attach_eval.with_suffix(".md"), target.parent, soak_md)
        print(f"evaluation attached to {target}; report {args.report}")
        return 0
    if args.untrained:
        net = untrained(args.seed)
        training: dict[str, Any] = {
            "data": [],
            "clips": 0,
            "hours": 0.0,
            "epochs": 0,
            "seed": args.seed,
        }
    else:
        net, meta = load_checkpoint(args.checkpoint)
        training = meta.get("training", {})
    err = export_all(net, args.out, args.version, training, args.ship)
    size = (args.out / ONNX_NAME).stat().st_size
    print(f"exported {net.head_names} v{args.version}: onnx {size} bytes, checks {err}")
    if args.ship:
        print(f"shipped to {SHIP_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
