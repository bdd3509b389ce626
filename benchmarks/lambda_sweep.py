"""EASRec's λ study (paper Fig. 4): search at several λ, then FLOPs and NDCG@10 per λ.

Runs the ``EASRec`` and ``EASRec-lambda*`` runs of a suite of ``benchmarks/suite.py`` (same data,
sizes, seed and training budget; only ``resource_lambda`` differs) and writes
``benchmarks/results/lambda_sweep_<dataset>.{json,md,png}``::

    python benchmarks/lambda_sweep.py --suite=ml100k_ar --dataset=ml-100k --budget=120
    python benchmarks/lambda_sweep.py --from_suite=saved/suite/suite.json --dataset=ml-100k

``--from_suite`` reports on runs that already finished (e.g. a whole suite run on a GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from suite import SUITES, run_suite  # noqa: E402
from suite_report import find, lambda_records, lambda_section, plot_lambda  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def lambda_run_names(suite: str) -> list[str]:
    return [run.name for run in SUITES[suite]() if run.name == "EASRec" or run.group == "lambda"]


def write_report(records: list[dict], dataset: str, command: str, note: str = "") -> Path:
    runs = lambda_records(records, find(records, "EASRec"))
    stem = RESULTS / f"lambda_sweep_{dataset.replace('-', '')}"
    plot = plot_lambda(runs, stem.with_suffix(".png"))
    lines = [
        f"# EASRec λ study on {dataset} (paper Fig. 4)",
        "",
        f"Command: `{command}`. Same data, sizes, seed and training budget for every λ; the",
        "search picks the architecture, the compact network is retrained, and its test split is",
        "scored under full ranking (headline) and pop100 (the paper's protocol).",
        "",
        note,
        "",
        lambda_section(runs),
    ]
    if plot:
        lines.append(f"![FLOPs and NDCG@10 against λ]({plot.name})")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    return stem.with_suffix(".md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="ml100k_ar")
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--data_path", default=None)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="saved/lambda_sweep")
    parser.add_argument("--from_suite", default=None, help="report on this suite.json instead")
    parser.add_argument("--note", default="", help="settings and machine, for the Markdown")
    args = parser.parse_args(argv)
    command = "python benchmarks/lambda_sweep.py " + " ".join(argv or sys.argv[1:])
    if args.from_suite:
        records = json.loads(Path(args.from_suite).read_text(encoding="utf-8"))["runs"]
    else:
        names = set(lambda_run_names(args.suite))
        runs = [run for run in SUITES[args.suite]() if run.name in names]
        shared = {"max_train_seconds": args.budget}
        if args.data_path:
            shared["data_path"] = str(Path(args.data_path).resolve())
        records = run_suite(runs, args.dataset, shared, Path(args.out).resolve(), args.workers)
    print(f"wrote {write_report(records, args.dataset, command, args.note)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
