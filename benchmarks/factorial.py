"""Issue 27's factorial on ML-1M at CPU size: what attention kind and data-aware gates cost.

Collects the runs of ``suite.py --suite=factorial_cpu`` (one or several suite folders, merged by
run name, later files win) with the reference cell softmax-none — our SASRec, the ground truth's
runs at the same settings, read from ``space_truth_ml1m.json`` — and tables every cell: test
NDCG@10 (full ranking, the headline; pop100, the papers' protocol) mean ± std over seeds, the
paired t-test against the reference over the seeds both ran, FLOPs and parameters. Cells of the
factorial that have no run yet are listed, so a partial result says what it lacks.

    python benchmarks/factorial.py --suite saved/factorial_ml1m/suite.json [--suite ...] \\
        --reference benchmarks/results/space_truth_ml1m.json \\
        --keep benchmarks/results/factorial_ml1m.json --out benchmarks/results/factorial_ml1m
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import reports  # noqa: E402
from harness import (  # noqa: E402
    add_timing_arguments,
    figure,
    finished_runs,
    fmt,
    merge_by_name,
    read_json,
    save_figure,
    table,
)
from suite_report import (  # noqa: E402
    MODES,
    by_seed,
    grouped,
    missing_line,
    percent,
    pm,
    seed_pairs,
    seed_stats,
)

from recbole_easrec.stats import mean_std, paired_p_value  # noqa: E402

Record = dict[str, Any]
REFERENCE = "softmax-none"
KEPT = ("name", "group", "model", "settings", "status", "best_valid_result", "test_result")
KEPT += ("test_protocol", "extra_test_results", "efficiency", "epochs_run", "wall_seconds")


def cell_of(record: Record) -> str:
    """The factorial cell of a run: its suite group; the ground truth's SASRec is the reference."""
    return REFERENCE if record["name"].startswith("SASRec-s") else record["group"]


def collect(suites: Sequence[Path], reference: Path | None, keep: Path | None) -> list[Record]:
    """Finished runs by name (:func:`harness.merge_by_name`): the kept result's, the
    reference's SASRec, then each suite's."""
    kept = read_json(keep)["runs"] if keep is not None and keep.is_file() else []
    truth = read_json(reference)["truth_runs"] if reference is not None else []
    sasrec = [{**r, "group": REFERENCE} for r in truth if r["name"].startswith("SASRec-s")]
    fresh = [{key: r.get(key) for key in KEPT} for path in suites for r in read_json(path)["runs"]]
    return merge_by_name(kept, finished_runs(sasrec), finished_runs(fresh))


def summarise(cell: str, runs: Sequence[Record]) -> Record:
    """One cell: its seeds' NDCG@10 by mode, mean ± std of the metrics, cost."""
    settings = runs[0]["settings"]
    attention, gates = cell.split("-")[:2]
    return {
        "cell": cell,
        "attention": attention,
        "gates": gates,
        "model": runs[0]["model"],
        "seeds": sorted(r["settings"]["seed"] for r in runs),
        "flops": runs[0]["efficiency"]["flops"],
        "params": runs[0]["efficiency"]["params"],
        "epochs": mean_std([max((r.get("epochs_run") or {"": 0}).values()) for r in runs])[0],
        "gate_input": settings.get("gate_input") if settings.get("gate_layers") else None,
        "by_seed": by_seed(runs),
        **seed_stats(runs, ("ndcg@10", "recall@10")),
    }


def versus(entry: Record, reference: Record | None, mode: str) -> tuple[float | None, ...]:
    """(relative change of the mean, paired t-test p) against the reference over shared seeds."""
    if reference is None or entry is reference:
        return None, None
    ours, theirs = seed_pairs(entry, reference, mode)
    change = sum(ours) / sum(theirs) - 1 if ours else None
    return change, paired_p_value(ours, theirs)


def build(
    runs: Sequence[Record], expected: Sequence[str], note: str, timing: Record | None = None
) -> Record:
    """The result: every cell's summary (with its timing-pass seconds, given a ``timing``), the
    cells and seeds still missing, and the runs."""
    cells = grouped(runs, cell_of)
    entries = [summarise(cell, group) for cell, group in sorted(cells.items())]
    for entry in entries if timing else ():
        entry["idle_inference_seconds"] = timing["seconds"].get(entry["cell"])
    reference = next((e for e in entries if e["cell"] == REFERENCE), None)
    for entry in entries:
        for mode in MODES:
            entry[f"change_{mode}"], entry[f"p_{mode}"] = versus(entry, reference, mode)
    ran = {r["name"] for r in runs}
    return {
        "dataset": "ml-1m",
        "note": note,
        "reference": REFERENCE,
        "cells": entries,
        "missing": [name for name in expected if name not in ran],
        **({"timing": timing} if timing else {}),
        "runs": sorted(runs, key=lambda r: r["name"]),
    }


def ratio(value: float | None, base: float) -> float | None:
    """``value / base``; None (shown as ``–``) for a cell the timing pass did not time."""
    return None if value is None else value / base


TIMING = "`factorial.py --time`, full-ranking inference of each cell alone, on an idle CPU"


def markdown(data: Record) -> str:
    """The page: the cells table, then what is missing."""
    entries = sorted(data["cells"], key=lambda e: -e["ndcg@10_full_mean"])
    reference = next((e for e in entries if e["cell"] == data["reference"]), None)
    columns = [
        ("cell (attention-gates)", lambda e: e["cell"]),
        ("seeds", lambda e: len(e["seeds"])),
        ("NDCG@10 full", lambda e: pm(e, "ndcg@10_full")),
        ("vs SASRec", lambda e: percent(e["change_full"])),
        ("p full", lambda e: fmt(e["p_full"], 3)),
        ("NDCG@10 pop100", lambda e: pm(e, "ndcg@10_pop100")),
        ("vs SASRec pop100", lambda e: percent(e["change_pop100"])),
        ("p pop100", lambda e: fmt(e["p_pop100"], 3)),
        ("Recall@10 full", lambda e: pm(e, "recall@10_full")),
        ("FLOPs", lambda e: e["flops"]),
        ("× SASRec FLOPs", lambda e: fmt(e["flops"] / reference["flops"], 2) if reference else "–"),
        ("params", lambda e: e["params"]),
        ("epochs", lambda e: fmt(e["epochs"], 0)),
    ]
    if reference and reference.get("idle_inference_seconds"):
        base = reference["idle_inference_seconds"]
        columns.append(
            ("× SASRec CPU time", lambda e: fmt(ratio(e.get("idle_inference_seconds"), base), 2))
        )
    lines = [
        "# Attention kind × data-aware gates on ML-1M at CPU size (issue 27)",
        "",
        data["note"],
        "",
        "Cells: attention kind (softmax; `linrec` = LinRec eq. 5; `count`, `elu1`, `norm`, `conv`,"
        " `decay` = the causal linear variants of `recbole_easrec/model/attention.py`) × gates"
        " (`none` = LinRec, no gates; `token` / `cmean` = EASRecCompact with 2-layer data-aware"
        " gates reading E_t / the causal mean of E up to t). Test NDCG@10, mean ± std over seeds;"
        " p = paired t-test against softmax-none (our SASRec) over the seeds both ran (– with"
        " one seed).",
        "",
        table(entries, columns),
        "",
        missing_line("Still missing", data["missing"]),
        *(
            ["", f"CPU time: a timing pass ({data['timing']['protocol']}; {TIMING})."]
            if data.get("timing")
            else []
        ),
        "",
        "Commands: `python -m benchmarks run factorial_ml1m` (trains what is missing, then"
        " reports); `python -m benchmarks report factorial_ml1m` rebuilds this page.",
    ]
    return "\n".join(lines)


def plot(data: Record, path: Path) -> None:
    """NDCG@10 (full) of every cell with its seeds' std."""
    entries = sorted(data["cells"], key=lambda e: -e["ndcg@10_full_mean"])
    fig, ax = figure(size=(max(6, 0.6 * len(entries) + 2), 4))
    colours = ["tab:red" if e["cell"] == data["reference"] else "tab:blue" for e in entries]
    ax.bar(
        [e["cell"] for e in entries],
        [e["ndcg@10_full_mean"] for e in entries],
        yerr=[e["ndcg@10_full_std"] or 0 for e in entries],
        color=colours,
        capsize=3,
    )
    ax.set_ylabel("test NDCG@10 (full ranking)")
    ax.set_ylim(bottom=min(e["ndcg@10_full_mean"] for e in entries) * 0.9)
    ax.set_title("ML-1M, N 50, d 64, L 4 (red: softmax without gates = SASRec)")
    ax.tick_params(axis="x", rotation=60)
    save_figure(fig, path, dpi=120)


def expected_runs() -> list[str]:
    """The runs of the factorial proper (``suite.factorial_expected``: the screen, then softmax,
    linrec and the screen's best variant × the gate inputs, 3 seeds; the reference aside)."""
    import suite

    return [run.name for run in suite.factorial_expected()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, action="append", default=[], help="suite.json")
    parser.add_argument("--reference", type=Path, help="space_truth_ml1m.json (SASRec's runs)")
    parser.add_argument("--keep", type=Path, help="an earlier result whose runs are kept")
    parser.add_argument("--out", type=Path, required=True, help="path without extension")
    parser.add_argument("--note", default="")
    parser.add_argument("--dataset", default="ml-1m")
    add_timing_arguments(parser, "cell")
    args = parser.parse_args(argv)
    suites = [path for path in args.suite if path.is_file()]
    runs = collect(suites, args.reference, args.keep)
    note = args.note
    if not note and args.keep is not None and args.keep.is_file():
        note = read_json(args.keep).get("note", "")
    kept = read_json(args.keep) if args.keep is not None and args.keep.is_file() else {}
    timing = kept.get("timing")
    if args.time:
        import inference

        timing = inference.time_architectures(
            runs, cell_of, args.dataset, args.data_path, args.threads, args.repeats
        )
    data = {**build(runs, expected_runs(), note, timing), "dataset": args.dataset}
    reports.write("factorial_ml1m", args.out, data)  # the JSON, then the page and plot from it
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
