"""DSL density sweep on ml-100k: dynamic sparse training vs static random sparsity.

Runs DSL (SASRec backbone) at density 1.0 (the dense backbone: every mask all ones), 0.5, 0.2 and
0.1, each with dynamic prune/regrow and with static random masks (``dsl_static: True``; same
density, no updates), at small settings (below), one run at a time, and writes
``benchmarks/results/dsl_sweep.{json,md}``: test NDCG@10 / Recall@10 (full ranking), ratios to the
dense run of the same sweep, ideal sparse inference/training MACs, export bytes, train seconds.

    python benchmarks/dsl_sweep.py --epochs=3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def settings(epochs: int, max_len: int) -> dict[str, Any]:
    """Shared by every run of the sweep."""
    return {
        "epochs": epochs,
        "MAX_ITEM_LIST_LENGTH": max_len,
        "dsl_backbone": "SASRec",
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


def run_one(density: float, static: bool, base: dict[str, Any], out: Path) -> dict[str, Any]:
    from recbole_easrec.quick_start import run_recbole_easrec

    name = f"d{density}-{'static' if static else 'dynamic'}"
    config = {**base, "density": density, "dsl_static": static, "output_dir": str(out / name)}
    result = run_recbole_easrec("DSL", "ml-100k", config_dict=config)
    sparsity = result["sparsity"]
    return {
        "density": density,
        "mode": "static" if static else "dynamic",
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
        "dense_bytes": sparsity["dense_bytes"],
        "updates": sparsity["updates"],
        "train_seconds": result["efficiency"]["train_seconds"],
    }


def write_markdown(rows: list[dict[str, Any]], base: dict[str, Any], command: str) -> str:
    dense = next(r for r in rows if r["density"] == 1.0)
    lines = [
        "# DSL density sweep on ml-100k (dynamic prune/regrow vs static random sparsity)",
        "",
        f"Command: `{command}` (CPU, 2 cores shared with other jobs: train seconds are noisy).",
        f"Settings: {json.dumps(base)}. Protocol: RecBole leave-one-out, chronological, full "
        "ranking, test split of the best-validation checkpoint. Density 1.0 = the dense SASRec "
        "backbone (all masks ones). MACs: ideal sparse count of one full-length sequence's full "
        "ranking (dense MACs with every weight product scaled by its tensor's density; dense "
        "PyTorch kernels do not realise it). Export bytes: indices (int32) + values + dense rest.",
        "",
        "| density | mode | test NDCG@10 | / dense | test Recall@10 | / dense | active params | "
        "inference MACs | / dense | export bytes | / dense bytes | updates | train s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['density']} | {r['mode']} | {r['ndcg@10']:.4f} | "
            f"{r['ndcg@10'] / dense['ndcg@10']:.3f} | {r['recall@10']:.4f} | "
            f"{r['recall@10'] / dense['recall@10']:.3f} | {r['active_params']} | "
            f"{r['inference_macs']:.3g} | {r['inference_macs'] / r['inference_macs_dense']:.3f} | "
            f"{r['export_bytes']} | {r['export_bytes'] / r['dense_bytes']:.3f} | {r['updates']} | "
            f"{r['train_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max_len", type=int, default=50)
    parser.add_argument("--densities", default="1.0,0.5,0.2,0.1")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from recbole_easrec.artifacts import write_json_atomic, write_text_atomic

    base = settings(args.epochs, args.max_len)
    command = "python benchmarks/dsl_sweep.py " + " ".join(argv or sys.argv[1:])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for density in [float(d) for d in args.densities.split(",")]:
            for static in [False] if density == 1.0 else [False, True]:
                rows.append(run_one(density, static, base, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
                write_json_atomic(
                    RESULTS / "dsl_sweep.json",
                    {"command": command, "settings": base, "rows": rows},
                )
                if any(r["density"] == 1.0 for r in rows):
                    text = write_markdown(rows, base, command)
                    write_text_atomic(RESULTS / "dsl_sweep.md", text)


if __name__ == "__main__":
    main()
