"""EASRec vs SASRec vs LinRec on ml-100k at small settings (CPU, one thread).

Runs the three models one after another with the same shared settings (below; full ranking,
leave-one-out, chronological) and writes ``benchmarks/results/easrec_ml100k.{json,md}``: test
Recall/MRR/NDCG@10, parameters, encoder FLOPs of one full-length sequence, inference seconds
(full-ranking test evaluation), train seconds (search + retrain for EASRec), each also as a ratio
to SASRec of the same run, and EASRec's chosen architecture.

    python benchmarks/easrec_ml100k.py --epochs=3 --retrain_epochs=3 --max_len=50
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
MODELS = ("SASRec", "LinRec", "EASRec")


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Shared by every run."""
    return {
        "epochs": args.epochs,
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "hidden_size": 64,
        "inner_size": 256,
        "n_layers": 2,
        "n_heads": 2,
        "learning_rate": 0.003,
        "train_batch_size": 1024,
        "eval_batch_size": 2048,
        "seed": 2020,
        "state": "WARNING",
        "show_progress": False,
        "efficiency_repeats": 3,
    }


def easrec_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "retrain_epochs": args.retrain_epochs,
        "retrain_batch_size": 2048,
        "hidden_prune_ratios": [0.0, 0.25, 0.5],
        "inner_prune_ratios": [0.0, 0.25, 0.5],
        "resource_lambda": args.resource_lambda,
    }


def run_one(model: str, config: dict[str, Any]) -> dict[str, Any]:
    from recbole_easrec.quick_start import run_recbole_easrec

    result = run_recbole_easrec(model, "ml-100k", config_dict=config)
    test = result["test_result"]
    efficiency = result["efficiency"]
    row = {
        "model": model,
        "recall@10": float(test["recall@10"]),
        "mrr@10": float(test["mrr@10"]),
        "ndcg@10": float(test["ndcg@10"]),
        "params": efficiency["params"],
        "encoder_flops": efficiency["encoder_flops"],
        "inference_seconds": efficiency["inference_seconds"],
        "train_seconds": efficiency["train_seconds"],
    }
    if "architecture" in result:
        row["architecture"] = result["architecture"]
        row["search_valid_ndcg@10"] = float(result["search_valid_result"]["ndcg@10"])
        row["best_valid_ndcg@10"] = float(result["best_valid_result"]["ndcg@10"])
    return row


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next(row for row in rows if row["model"] == "SASRec")
    for row in rows:
        for key in ("ndcg@10", "params", "encoder_flops", "inference_seconds", "train_seconds"):
            row[f"{key}_vs_sasrec"] = row[key] / base[key] if base[key] else None
    return rows


def markdown(rows: list[dict[str, Any]], command: str, shared: dict[str, Any]) -> str:
    lines = [
        "# EASRec vs SASRec vs LinRec on ml-100k (small settings, CPU)",
        "",
        f"Command: `{command}`",
        "",
        f"Shared settings: `{json.dumps(shared)}`; EASRec additionally "
        f"`{json.dumps(shared.get('easrec', {}))}`. Full ranking, leave-one-out (RecBole's"
        " bundled ml-100k), one torch thread. Ratios are to SASRec of the same run. EASRec's"
        " train seconds include search, reconstruction and retraining.",
        "",
        "| model | Recall@10 | MRR@10 | NDCG@10 | NDCG vs SASRec | params | encoder FLOPs | FLOPs vs"
        " SASRec | inference s | inference vs SASRec | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['recall@10']:.4f} | {r['mrr@10']:.4f} | {r['ndcg@10']:.4f} |"
            f" {r['ndcg@10_vs_sasrec']:.3f} | {r['params']} | {r['encoder_flops']} |"
            f" {r['encoder_flops_vs_sasrec']:.3f} | {r['inference_seconds']:.2f} |"
            f" {r['inference_seconds_vs_sasrec']:.3f} | {r['train_seconds']:.1f} |"
        )
    for r in rows:
        if "architecture" in r:
            a = r["architecture"]
            lines += [
                "",
                f"EASRec's architecture: hidden {a['hidden_size']}, inner {a['inner_size']},"
                f" layers {a['n_layers']} (candidate {a['candidate']}); softmax(α) ="
                f" {[round(x, 3) for x in a['alpha']]}, softmax(β) ="
                f" {[round(x, 3) for x in a['beta']]}. Validation NDCG@10 of the transferred"
                f" network {r['search_valid_ndcg@10']:.4f}, after retraining"
                f" {r['best_valid_ndcg@10']:.4f}.",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--retrain_epochs", type=int, default=3)
    parser.add_argument("--max_len", type=int, default=50)
    parser.add_argument("--resource_lambda", type=float, default=0.1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    shared = settings(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:
            config = {**shared, "output_dir": str(Path(tmp) / model)}
            if model == "EASRec":
                config.update(easrec_settings(args))
            rows.append(run_one(model, config))
            print(json.dumps(rows[-1]), flush=True)
    rows = with_ratios(rows)
    command = "python benchmarks/easrec_ml100k.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"command": command, "settings": shared, "easrec": easrec_settings(args), "rows": rows}
    (RESULTS / "easrec_ml100k.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(rows, command, {**shared, "easrec": easrec_settings(args)})
    (RESULTS / "easrec_ml100k.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
