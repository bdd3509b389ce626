"""Data path before/after (issue 11, item 2): seconds and peak RSS until training can start.

Each path runs in its own child process (so each peak RSS is its own), on the settings of
``train_mode: autoregressive``:

* ``recbole`` — RecBole's ``SequentialDataset``: one stored, padded history per prefix.
* ``lazy`` — :class:`recbole_easrec.data.sequences.LazySequentialDataset`: the same rows, histories
  gathered per batch (what ``run_recbole_easrec`` uses in this mode).

Phases: the file checks (``check_dataset_files``), dataset + leave-one-out split + dataloaders
(``create_dataset`` + ``data_preparation``), the split check (``check_split``, lazy path only: on
RecBole's rows it turns every stored history into Python ints) and the autoregressive loader with
its first batch. ``ready_to_train`` is their sum.

    python benchmarks/data_path.py --data_path=../shared/datasets --dataset=ml-1m \
        --max_length=200 --output=benchmarks/results/data_path_ml1m
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import child_json, peak_rss_bytes, write_json, write_report

PATHS = ("recbole", "lazy")
GIB = 1024**3


def measure(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Phase seconds and peak RSS of one data path (run inside a child process)."""
    start = time.perf_counter()
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import init_seed

    from recbole_easrec.config import build_config
    from recbole_easrec.data.checks import check_dataset_files, check_split
    from recbole_easrec.data.sequences import LazySequentialDataset
    from recbole_easrec.training_modes import AutoregressiveLoader

    phases: dict[str, float] = {"imports": time.perf_counter() - start}
    cpu_seconds: dict[str, float] = {"imports": time.process_time()}
    rss_after_imports = peak_rss_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        settings = {
            "data_path": args.data_path,
            "MAX_ITEM_LIST_LENGTH": args.max_length,
            "train_mode": "autoregressive",
            "state": "WARNING",
            "show_progress": False,
            "checkpoint_dir": scratch,
        }
        config = build_config(args.model, args.dataset, config_dict=settings)
        init_seed(config["seed"], config["reproducibility"])

        def timed(name: str, step: Any) -> Any:
            begin, cpu = time.perf_counter(), time.process_time()
            value = step()
            phases[name] = time.perf_counter() - begin
            cpu_seconds[name] = time.process_time() - cpu
            return value

        timed("file_checks", lambda: check_dataset_files(config))
        make = LazySequentialDataset if path == "lazy" else create_dataset
        loaders = timed("dataset_and_split", lambda: data_preparation(config, make(config)))
        if path == "lazy":
            timed("split_check", lambda: check_split(config, loaders))
        loader = timed(
            "autoregressive_loader",
            lambda: next(iter(AutoregressiveLoader(loaders[0], config["train_batch_size"]))),
        )
    ready = sum(value for key, value in phases.items() if key != "imports")
    inter_path = Path(config["data_path"]) / f"{config['dataset']}.inter"
    return {
        "path": path,
        "phases_seconds": phases,
        "ready_to_train_seconds": ready,
        "cpu_seconds": cpu_seconds,
        "ready_to_train_cpu_seconds": sum(v for k, v in cpu_seconds.items() if k != "imports"),
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_after_imports_bytes": rss_after_imports,
        "train_rows": len(loaders[0]._dataset),
        "valid_rows": len(loaders[1]._dataset),
        "test_rows": len(loaders[2]._dataset),
        "first_batch_shape": list(loader["item_id_list"].shape),
        "csv_engines": csv_engines(inter_path) if path == "lazy" else None,
    }


def run_child(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter; its JSON line."""
    return child_json([__file__, f"--child={path}", *forwarded(args)])


def forwarded(args: argparse.Namespace) -> list[str]:
    return [
        f"--data_path={args.data_path}",
        f"--dataset={args.dataset}",
        f"--max_length={args.max_length}",
        f"--model={args.model}",
    ]


def csv_engines(path: Path) -> dict[str, Any]:
    """CPU seconds of ``pandas.read_csv`` on ``path`` with RecBole's arguments (``engine="python"``)
    and with the C engine, and whether the two frames are equal (not part of the data path)."""
    import numpy as np
    import pandas as pd

    head = path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
    dtype = {column: np.float64 if column.endswith(":float") else str for column in head}
    frames, seconds = {}, {}
    for engine in ("python", "c"):
        begin = time.process_time()
        frames[engine] = pd.read_csv(path, delimiter="\t", usecols=head, dtype=dtype, engine=engine)
        seconds[engine] = time.process_time() - begin
    return {"cpu_seconds": seconds, "equal": bool(frames["python"].equals(frames["c"]))}


def phase_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """One line per phase: wall / CPU seconds of every path."""
    phases = max((list(row["phases_seconds"]) for row in rows.values()), key=len)
    lines = [
        "| phase (wall s / CPU s) | " + " | ".join(rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for phase in phases:
        cells = [
            f"{row['phases_seconds'][phase]:.1f} / {row['cpu_seconds'][phase]:.1f}"
            if phase in row["phases_seconds"]
            else "not run"
            for row in rows.values()
        ]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    ready = [
        f"**{row['ready_to_train_seconds']:.1f} / {row['ready_to_train_cpu_seconds']:.1f}**"
        for row in rows.values()
    ]
    lines.append("| ready to train (all but imports) | " + " | ".join(ready) + " |")
    peak = [f"**{row['peak_rss_bytes'] / GIB:.2f} GiB**" for row in rows.values()]
    lines.append("| peak RSS | " + " | ".join(peak) + " |")
    samples = [
        f"{row['train_rows']} / {row['valid_rows']} / {row['test_rows']}" for row in rows.values()
    ]
    lines.append("| train / valid / test rows | " + " | ".join(samples) + " |")
    return lines


def targets(row: dict[str, Any]) -> list[str]:
    """The issue's targets (≤ 10 s, ≤ 1.5 GB) against the lazy path's numbers."""
    peak = row["peak_rss_bytes"] / 1e9
    cpu = row["ready_to_train_cpu_seconds"]
    lines = [
        "## Targets (from this run's numbers)",
        "",
        f"- Peak RSS ≤ 1.5 GB: {'met' if peak <= 1.5 else 'missed'} ({peak:.2f} GB).",
        f"- Ready to train ≤ 10 s: {'met' if cpu <= 10 else 'missed'} in CPU time ({cpu:.1f} s);"
        f" wall {row['ready_to_train_seconds']:.1f} s.",
    ]
    engines = row.get("csv_engines")
    if engines:
        python, c = engines["cpu_seconds"]["python"], engines["cpu_seconds"]["c"]
        lines.append(
            f'- RecBole reads the .inter file with `read_csv(engine="python")`: {python:.1f} s CPU'
            f" here. `recbole_easrec/compat.py` gives its `Dataset._load_feat` pandas' C engine"
            f" instead when the separator is one character: {c:.1f} s, the same frame (equal:"
            f" {engines['equal']})."
        )
    return lines + [""]


def markdown(report: dict[str, Any]) -> str:
    """The before/after table with the command that regenerates it."""
    rows = {row["path"]: row for row in report["rows"]}
    lines = [
        f"# Data path: {report['dataset']} at N = {report['max_length']}, before / after",
        "",
        "Regenerate (about 3 minutes; `python -m benchmarks report data_path_ml1m` rewrites this page"
        " from the JSON):",
        "",
        "```bash",
        report["command"],
        "```",
        "",
        "`recbole`: RecBole's `SequentialDataset` (one stored, padded history per prefix; what",
        "`run_recbole_easrec` used before). `lazy`: `recbole_easrec.data.sequences` (the same rows,",
        "split and candidates, histories gathered per batch; used in `train_mode: autoregressive`).",
        "Each path in its own process; peak RSS includes the interpreter, torch and RecBole",
        f"({rows[PATHS[-1]]['rss_after_imports_bytes'] / GIB:.2f} GiB after imports).",
        "",
        *phase_table(rows),
        "",
        f"Machine: {report['machine']}; load average {report['load_average']} when started (on a"
        " shared CPU wall seconds are upper bounds and the process's CPU time is the fairer"
        " measure). `split_check` is not run on RecBole's rows: it",
        "turns every stored history into Python ints (196 M at N = 200 on ML-1M), so the old",
        "`prepare_data` was slower still than the `recbole` column.",
        "",
    ]
    if "lazy" in rows:
        lines += targets(rows["lazy"])
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--max_length", type=int, default=200)
    parser.add_argument("--model", default="LinRec")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--output", default=None, help="write OUTPUT.json and OUTPUT.md")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args)), flush=True)
        return
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    rows = [run_child(path, args) for path in args.paths.split(",")]
    report = {
        "dataset": args.dataset,
        "max_length": args.max_length,
        "model": args.model,
        "command": "nice -n 10 python benchmarks/data_path.py "
        + " ".join(forwarded(args))
        + (f" --output={args.output}" if args.output else ""),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": load,
        "rows": rows,
    }
    print(json.dumps(report, indent=2))
    if args.output:
        write_json(Path(f"{args.output}.json"), report)
        write_report(Path(f"{args.output}.md"), markdown(report))


if __name__ == "__main__":
    main()
