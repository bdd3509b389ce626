"""DSL density sweep: dynamic sparse training vs static random sparsity, per backbone.

For each backbone (``--backbones``, default SASRec and LinRec) runs DSL at density 1.0 (the dense
backbone: every mask all ones) and at each lower density with dynamic prune/regrow and with static
random masks (``dsl_static: True``; same density, no updates), one run at a time, and writes
``<out>.{json,md}``: test NDCG@10 / Recall@10 (full ranking), ratios to the dense run of the same
backbone, dynamic − static NDCG@10, ideal sparse inference/training MACs, export bytes, train and
inference seconds. ``<out>`` defaults to ``benchmarks/results/dsl_sweep`` on ml-100k and
``benchmarks/results/dsl_sweep_<dataset>`` otherwise. Both files are rewritten after every run;
``--resume`` skips the runs already in ``<out>.json`` when its shared settings are the same.

    python benchmarks/dsl_sweep.py --epochs=3
    python benchmarks/dsl_sweep.py --dataset=ml-1m --data_path=../shared/datasets --epochs=20 \\
        --max_len=200 --train_mode=autoregressive --device=cuda --set hidden_size=128 --resume
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BACKBONES = ("SASRec", "LinRec")
MODES = ("dynamic", "static")
DEVICES = {"cpu": "", "cuda": "0"}  # RecBole picks the device from gpu_id ("" = CPU)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Shared by every run of the sweep (the backbone, density and mode vary per run)."""
    base: dict[str, Any] = {
        "epochs": args.epochs,
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "train_mode": args.train_mode,
        "hidden_size": 64,
        "inner_size": 256,
        "n_layers": 2,
        "learning_rate": 0.003,
        "train_batch_size": 2048,
        "update_interval": 10,
        "update_fraction": 0.5,
        "stop_update_ratio": 0.75,
        "dsl_init": "uniform",
        "seed": 2020,
        "state": "WARNING",
        "show_progress": False,
        "efficiency_repeats": 1,
    }
    if args.data_path:
        base["data_path"] = str(Path(args.data_path).resolve())
    if args.device != "auto":
        base["gpu_id"] = DEVICES[args.device]
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set takes key=value, got {item!r}")
        base[key] = yaml.safe_load(value)
    return base


def run_name(backbone: str, density: float, mode: str) -> str:
    return f"{backbone}-d{density}-{mode}"


def run_one(
    dataset: str, backbone: str, density: float, mode: str, base: dict[str, Any], out: Path
) -> dict[str, Any]:
    """One DSL run; its row of the table."""
    from recbole_easrec.quick_start import run_recbole_easrec

    config = {
        **base,
        "dsl_backbone": backbone,
        "density": density,
        "dsl_static": mode == "static",
        "output_dir": str(out / run_name(backbone, density, mode)),
    }
    result = run_recbole_easrec("DSL", dataset, config_dict=config)
    sparsity = result["sparsity"]
    efficiency = result["efficiency"]
    return {
        "backbone": backbone,
        "density": density,
        "mode": mode,
        "device": str(result["config"].get("device", "")),
        "ndcg@10": float(result["test_result"]["ndcg@10"]),
        "recall@10": float(result["test_result"]["recall@10"]),
        "valid_ndcg@10": float(result["best_valid_result"].get("ndcg@10", float("nan"))),
        "actual_density": sparsity["actual_density"],
        "active_params": sparsity["active_params"],
        "dense_params": sparsity["dense_params"],
        "inference_macs": sparsity["inference_macs"],
        "inference_macs_dense": sparsity["inference_macs_dense"],
        "training_macs_per_sample": sparsity["training_macs_per_sample"],
        "export_bytes": sparsity["export_bytes"],
        "export_formats": sorted(set(sparsity.get("export_formats", {}).values())),
        "dense_bytes": sparsity["dense_bytes"],
        "updates": sparsity["updates"],
        "train_seconds": efficiency["train_seconds"],
        "inference_seconds": efficiency.get("inference_seconds"),
        "peak_memory_bytes": efficiency.get("peak_memory_bytes"),
    }


def planned_runs(backbones: list[str], densities: list[float], modes: list[str]) -> list[tuple]:
    """``(backbone, density, mode)`` in run order; density 1.0 runs once, as ``dense``."""
    runs = []
    for backbone in backbones:
        for density in densities:
            if density == 1.0:
                runs.append((backbone, density, "dense"))
            else:
                runs += [(backbone, density, mode) for mode in modes]
    return runs


def ratio(value: float, reference: dict[str, Any] | None, key: str) -> str:
    if reference is None or not reference[key]:
        return "–"
    return f"{value / reference[key]:.3f}"


def table_row(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    dense = next(
        (r for r in rows if r["backbone"] == row["backbone"] and r["density"] == 1.0), None
    )
    static = next(
        (
            r
            for r in rows
            if r["backbone"] == row["backbone"]
            and r["density"] == row["density"]
            and r["mode"] == "static"
        ),
        None,
    )
    versus_static = (
        f"{row['ndcg@10'] - static['ndcg@10']:+.4f}" if row["mode"] == "dynamic" and static else "–"
    )
    return (
        f"| {row['backbone']} | {row['density']} | {row['mode']} | {row['ndcg@10']:.4f} | "
        f"{ratio(row['ndcg@10'], dense, 'ndcg@10')} | {versus_static} | {row['recall@10']:.4f} | "
        f"{ratio(row['recall@10'], dense, 'recall@10')} | {row['active_params']} | "
        f"{row['inference_macs']:.3g} | {row['inference_macs'] / row['inference_macs_dense']:.3f} | "
        f"{row['export_bytes']} | {row['export_bytes'] / row['dense_bytes']:.3f} | "
        f"{row['updates']} | {row['train_seconds']:.1f} |"
    )


def write_markdown(rows: list[dict[str, Any]], dataset: str, base: dict, command: str) -> str:
    devices = sorted({r.get("device", "") for r in rows}) or ["?"]
    lines = [
        f"# DSL density sweep on {dataset} (dynamic prune/regrow vs static random sparsity)",
        "",
        f"Command: `{command}` (device: {', '.join(devices)}; train seconds depend on the "
        "machine and its load).",
        f"Settings: {json.dumps(base)}. Protocol: RecBole leave-one-out, chronological, full "
        "ranking, test split of the best-validation checkpoint. Density 1.0 (`dense`) = the dense "
        "backbone (all masks ones). MACs: ideal sparse count of one full-length sequence's full "
        "ranking (dense MACs with every weight product scaled by its tensor's density; dense "
        "PyTorch kernels do not realise it). Export bytes: the compressed export (per tensor the "
        "smallest of CSR, bitmask + values, dense) / the dense state dict.",
        "",
        "| backbone | density | mode | test NDCG@10 | / dense | dyn − static | test Recall@10 | "
        "/ dense | active params | inference MACs | / dense | export bytes | / dense bytes | "
        "updates | train s |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [table_row(row, rows) for row in rows]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max_len", type=int, default=50, help="MAX_ITEM_LIST_LENGTH")
    parser.add_argument("--train_mode", choices=("prefix", "autoregressive"), default="prefix")
    parser.add_argument("--device", choices=("auto", *DEVICES), default="auto")
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--densities", default="1.0,0.5,0.2,0.1")
    parser.add_argument("--modes", default=",".join(MODES), help="dynamic and/or static")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=None, help="results path without .json/.md")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    for name, allowed in (("backbones", BACKBONES), ("modes", MODES)):
        unknown = set(getattr(args, name).split(",")) - set(allowed)
        if unknown:
            parser.error(f"--{name}: unknown {sorted(unknown)}; choose from {allowed}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device=cuda but torch sees no CUDA device")
    return args


def previous_rows(path: Path, base: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    """Rows of an earlier sweep with the same shared settings and dataset (for ``--resume``)."""
    if not path.is_file():
        return []
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("settings") != json.loads(json.dumps(base)) or saved.get("dataset") != dataset:
        print(f"--resume: {path} has other settings; starting afresh", flush=True)
        return []
    return saved.get("rows", [])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from recbole_easrec.artifacts import write_json_atomic, write_text_atomic

    base = settings(args)
    default_name = "dsl_sweep" if args.dataset == "ml-100k" else f"dsl_sweep_{args.dataset}"
    out = Path(args.out) if args.out else RESULTS / default_name
    json_path, md_path = out.with_name(out.name + ".json"), out.with_name(out.name + ".md")
    command = "python benchmarks/dsl_sweep.py " + " ".join(argv or sys.argv[1:])
    rows = previous_rows(json_path, base, args.dataset) if args.resume else []
    done = {(r["backbone"], r["density"], r["mode"]) for r in rows}
    runs = planned_runs(
        args.backbones.split(","),
        [float(d) for d in args.densities.split(",")],
        args.modes.split(","),
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backbone, density, mode in runs:
            if (backbone, density, mode) in done:
                continue
            rows.append(run_one(args.dataset, backbone, density, mode, base, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
            report = {"command": command, "dataset": args.dataset, "settings": base, "rows": rows}
            write_json_atomic(json_path, report)
            write_text_atomic(md_path, write_markdown(rows, args.dataset, base, command))


if __name__ == "__main__":
    main()
