"""A small Ray Tune study of LinRec on ml-100k, against LinRec's default config.

Runs (sequentially, one trial at a time on this machine's CPUs):

1. LinRec with its defaults (``properties/model/LinRec.yaml``) and the shared budget below;
2. a Ray Tune study of ``properties/hyper/linrec.yaml`` with the same budget and seed
   (ASHA on the validation NDCG@10, reported every epoch);

then writes ``benchmarks/results/tune_linrec_ml100k.{json,md}``: the best trial's settings (chosen
on validation only) and its valid/test metrics beside the default config's, as ratios.

    python benchmarks/tune_linrec_ml100k.py --num_samples=8 --epochs=10
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from harness import RESULTS, ROOT, ratio, read_json, table, write_json, write_report

METRICS = ("recall@10", "mrr@10", "ndcg@10")
TRIAL_COLUMNS = (
    "trial_id status learning_rate hidden_size inner_size n_layers n_heads hidden_dropout_prob"
    " weight_decay epochs_reported valid_ndcg@10 test_ndcg@10"
).split()


def budget(epochs: int, max_len: int = 50) -> dict[str, Any]:
    """Settings shared by the default run and every trial."""
    return {
        "epochs": epochs,
        "MAX_ITEM_LIST_LENGTH": max_len,
        "seed": 2020,
        "state": "WARNING",
        "show_progress": False,
        "efficiency_repeats": 1,
    }


def run_default(study_dir: Path, epochs: int, max_len: int) -> dict[str, Any]:
    from recbole_easrec.quick_start import run_recbole_easrec

    return run_recbole_easrec(
        "LinRec",
        "ml-100k",
        config_dict={**budget(epochs, max_len), "output_dir": str(study_dir / "default")},
    )


def run_study(
    study_dir: Path, epochs: int, max_len: int, num_samples: int, resume: bool, cpus: int
) -> list[dict]:
    from recbole_easrec.tune import TuneOptions, run_tune

    options = TuneOptions(
        params_file=str(ROOT / "properties" / "hyper" / "linrec.yaml"),
        output_dir=str(study_dir / "tune"),
        num_samples=num_samples,
        cpus_per_trial=cpus,
        ray_init_kwargs={"num_cpus": cpus},  # one trial at a time
        scheduler="asha",
        resume=resume,
    )
    return run_tune("LinRec", "ml-100k", options, overrides=budget(epochs, max_len))


def summary(default: dict, rows: list[dict], study_dir: Path, args: argparse.Namespace) -> dict:
    best_config = yaml.safe_load((study_dir / "tune" / "best_config.yaml").read_text())
    finished = [r for r in rows if r["status"] == "ok"]
    best = max(finished, key=lambda r: float(r["valid_ndcg@10"]))
    ours = {split: {m: float(best[f"{split}_{m}"]) for m in METRICS} for split in ("valid", "test")}
    base = {"valid": default["best_valid_result"], "test": default["test_result"]}
    shared = budget(args.epochs, args.max_len)
    return {
        "command": " ".join(["python", "benchmarks/tune_linrec_ml100k.py", *sys.argv[1:]]),
        "budget": shared,
        "num_samples": args.num_samples,
        "load": args.load,
        "scheduler": "asha",
        "trials": {
            "total": len(rows),
            "finished": len(finished),
            "stopped_early": sum(r["status"] == "stopped" for r in rows),
            "errors": sum(r["status"] == "error" for r in rows),
        },
        "search_space": yaml.safe_load((ROOT / "properties/hyper/linrec.yaml").read_text()),
        "best_trial": best["trial_id"],
        "best_config": {k: best_config[k] for k in best_config if k not in shared},
        "default": base,
        "tuned": ours,
        "ratio_tuned_over_default": {
            split: {m: ratio(ours[split][m], base[split].get(m)) for m in METRICS}
            for split in ("valid", "test")
        },
        "trial_rows": rows,
        "seconds": {"default": default["efficiency"]["train_seconds"]},
    }


def markdown(result: dict) -> str:
    lines = [
        "# Ray Tune study of LinRec on ml-100k",
        "",
        f"Command: `{result['command']}` ({result.get('load') or 'CPU'}).",
        f"Budget for every run: {result['budget']}. Search space: `properties/hyper/linrec.yaml`;"
        f" {result['num_samples']} trials, ASHA on valid NDCG@10 reported every epoch, one trial"
        " at a time. The best trial is chosen on validation only; test numbers are reported, never"
        " used to choose. Protocol: RecBole leave-one-out, chronological, full ranking.",
        "",
        f"Trials: {result['trials']}.",
        "",
        f"Best trial {result['best_trial']}: `{json.dumps(result['best_config'])}`",
        "",
        "| config | valid Recall@10 | valid MRR@10 | valid NDCG@10 | test Recall@10 | test MRR@10 |"
        " test NDCG@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("default", "tuned"):
        values = result[name]
        cells = [f"{values[s][m]:.4f}" for s in ("valid", "test") for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratios = result["ratio_tuned_over_default"]
    cells = [f"{ratios[s][m]:.3f}×" for s in ("valid", "test") for m in METRICS]
    lines.append("| tuned / default | " + " | ".join(cells) + " |")
    lines += ["", "All trials (`tune_results.csv`):", "", trials_table(result["trial_rows"])]
    return "\n".join(lines) + "\n"


def trial_cell(row: dict, key: str) -> str:
    """A cell of the trials table: numbers to 4 significant digits (the trial id as it is)."""
    value = row.get(key, "")
    try:
        return str(value) if key == "trial_id" else f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


def trials_table(rows: list[dict]) -> str:
    """Every trial of ``tune_results.csv``, one row each."""
    return table(rows, [(key, lambda row, key=key: trial_cell(row, key)) for key in TRIAL_COLUMNS])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_samples", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max_len", type=int, default=50, help="MAX_ITEM_LIST_LENGTH")
    parser.add_argument("--study_dir", default="saved/tune_linrec_ml100k")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs (threads) of the one trial")
    parser.add_argument("--load", default="", help="what else ran on the machine (report)")
    args = parser.parse_args()
    study_dir = Path(args.study_dir).resolve()
    start = time.perf_counter()
    default_file = study_dir / "default" / "result.json"
    default = (
        read_json(default_file)
        if default_file.is_file()
        else run_default(study_dir, args.epochs, args.max_len)
    )
    run_study(study_dir, args.epochs, args.max_len, args.num_samples, args.resume, args.cpus)
    with open(study_dir / "tune" / "tune_results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    result = summary(default, rows, study_dir, args)
    result["seconds"]["total"] = time.perf_counter() - start
    write_json(RESULTS / "tune_linrec_ml100k.json", result)
    write_report(RESULTS / "tune_linrec_ml100k.md", markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
