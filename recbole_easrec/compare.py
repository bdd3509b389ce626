"""Side-by-side comparison of models on one split, seed and evaluation protocol.

``python run_recbole_easrec.py --compare=SASRec,LinRec,FDSA --dataset=ml-100k --output_dir=DIR``
trains and evaluates every model with :func:`recbole_easrec.quick_start.run_recbole_easrec`: each
model starts from its own ``properties/model`` defaults (ours or RecBole's) and the shared
overrides are applied on top, so the split (leave-one-out, chronological), the seed and the
evaluation protocol (``eval_args``) are the same for all. Outputs:

* ``DIR/runs/<model>-seed<seed>/`` — each run's own folder (``result.json``, ``run.log``, …);
* ``DIR/runs.csv`` — one row per model and seed;
* ``DIR/comparison.csv`` — one row per model: valid and test metrics (mean, and with
  ``--repeats`` > 1 the standard deviation and the p-value of a two-sided paired t-test against
  the first model, as the EASRec paper marks significance at p < 0.05), params, FLOPs, train and
  inference seconds, peak memory (``flops_error``: why FLOPs could not be counted); a model that
  failed keeps its row with ``status: error``;
* ``DIR/comparison.md`` — the same as a table (mean ± std in one cell, ``p vs <first model>``
  after each test metric), then each model missing from a panel of the plot, with the reason;
* ``DIR/comparison.png`` — test NDCG@10 against inference time and against FLOPs, Pareto front
  (no other model is both better and cheaper) marked, missing models named under each panel.

Each run is a separate Python process (``python -m recbole_easrec.compare REQUEST.json``), so that
a crash, even one that kills the process, only costs that model's row, and so that peak memory is
that run's own (on CPU the process's peak resident set size).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recbole_easrec.artifacts import (
    atomic_target,
    json_safe,
    write_json_atomic,
    write_text_atomic,
)
from recbole_easrec.errors import ConfigError, one_line_error
from recbole_easrec.stats import mean_std, paired_p_value, pareto_front

RESULT_FILE = "result.json"
ERROR_FILE = "error.txt"
STUDY_FILE = "study.json"
EFFICIENCY_KEYS = ("params", "flops", "train_seconds", "inference_seconds", "peak_memory_bytes")
DEFAULT_SEED = 2020
PLOT_METRIC = "ndcg@10"
SIGNIFICANCE = 0.05

Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    """Default progress sink: one timestamped line on stderr."""
    print(f"[compare {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_model_list(value: str) -> list[str]:
    """``"SASRec,LinRec"`` → ``["SASRec", "LinRec"]``; empty or duplicate names are a ConfigError."""
    models = [name.strip() for name in str(value).split(",") if name.strip()]
    if not models:
        raise ConfigError("--compare needs model names separated by commas, e.g. SASRec,LinRec")
    duplicates = sorted({name for name in models if models.count(name) > 1})
    if duplicates:
        raise ConfigError(f"--compare lists {', '.join(duplicates)} more than once; list each once")
    return models


def run_seeds(base_seed: int, repeats: int) -> list[int]:
    """The seeds of ``repeats`` runs: ``base_seed``, ``base_seed + 1``, …"""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"--repeats must be a positive integer, got {repeats!r}")
    return [base_seed + index for index in range(repeats)]


# --- running one model ---------------------------------------------------------------------------


def run_in_subprocess(
    model: str,
    dataset: str,
    config_file_list: list[str] | None,
    config_dict: dict[str, Any],
    run_dir: Path,
    resume: bool = False,
) -> dict[str, Any]:
    """Run one training job in a fresh Python process; return its ``result.json`` content.
    ``resume``: continue the job's unfinished run in ``run_dir`` (:mod:`recbole_easrec.resume`).

    Raises:
        RuntimeError: with the run's one-line error (from ``error.txt``) or its exit status.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    request = {
        "model": model,
        "dataset": dataset,
        "config_file_list": [str(Path(f).resolve()) for f in config_file_list or []],
        "config_dict": {**config_dict, "output_dir": str(run_dir)},
        "resume": resume,
    }
    request_file = write_json_atomic(run_dir / "request.json", request)
    completed = subprocess.run(
        [sys.executable, "-m", "recbole_easrec.compare", str(request_file)], check=False
    )
    if completed.returncode != 0:
        error_file = run_dir / ERROR_FILE
        message = (
            error_file.read_text(encoding="utf-8").strip()
            if error_file.is_file()
            else f"the run's process ended with exit status {completed.returncode}"
        )
        raise RuntimeError(message)
    return json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))


def worker_main(request_file: str) -> int:
    """Body of the child process: run the request, write a one-line ``error.txt`` on failure."""
    request = json.loads(Path(request_file).read_text(encoding="utf-8"))
    run_dir = Path(request["config_dict"]["output_dir"])
    exit_with_parent(os.getppid())
    try:
        from recbole_easrec.quick_start import run_recbole_easrec

        run_recbole_easrec(
            request["model"],
            request["dataset"],
            request["config_file_list"] or None,
            request["config_dict"],
            resume=bool(request.get("resume")),
        )
    except Exception as exc:  # noqa: BLE001 - any failure becomes the model's error row
        write_text_atomic(run_dir / ERROR_FILE, one_line_error(exc) + "\n")
        print(f"error: {one_line_error(exc)}", file=sys.stderr)
        return 1
    return 0


def exit_with_parent(parent: int, interval: float = 1.0) -> threading.Thread:
    """End this process (like a kill: its run stays resumable) soon after the study process
    ``parent`` dies, even by SIGKILL, so that no orphan run keeps its folder locked."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def run_record(
    model: str, seed: int, run_dir: Path, result: dict | None, error: str | None
) -> dict:
    """One row of ``runs.csv``: metrics flattened as ``valid_<metric>`` / ``test_<metric>``."""
    record: dict[str, Any] = {
        "model": model,
        "seed": seed,
        "status": "ok" if error is None else "error",
        "error": error or "",
        "output_dir": str(run_dir),
    }
    if result is not None:
        for metric, value in (result.get("best_valid_result") or {}).items():
            record[f"valid_{metric}"] = value
        for metric, value in (result.get("test_result") or {}).items():
            record[f"test_{metric}"] = value
        efficiency = result.get("efficiency") or {}
        for key in EFFICIENCY_KEYS:
            record[key] = efficiency.get(key)
        if efficiency.get("flops_error"):
            record["flops_error"] = efficiency["flops_error"]
    return record


# --- the study -----------------------------------------------------------------------------------


def compare_models(
    models: Sequence[str],
    dataset: str,
    output_dir: str | os.PathLike[str],
    config_file_list: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    repeats: int = 1,
    resume: bool = False,
    progress: Progress = print_progress,
) -> list[dict[str, Any]]:
    """Train and evaluate ``models`` on the same split, seed(s) and protocol; write the reports.

    Args:
        models: model names (plugin or RecBole); the first one is the reference of the t-tests.
        dataset: dataset name.
        output_dir: the study folder (made absolute).
        config_file_list: YAML files shared by every model.
        overrides: settings shared by every model (over each model's own defaults).
        repeats: seeds per model (``seed``, ``seed + 1``, …; ``seed`` from ``overrides`` or 2020).
        resume: continue the study in ``output_dir`` (same models, dataset and settings): reuse
            the ``result.json`` of runs that finished, continue a run that was killed from its last
            epoch, run the others.
        progress: sink for progress lines.

    Returns:
        The rows of ``comparison.csv``.

    Raises:
        ResumeError: ``resume`` without a study in ``output_dir``, or with other models or settings.
    """
    models = list(models)
    overrides = dict(overrides or {})
    overrides.pop("output_dir", None)
    seeds = run_seeds(int(overrides.pop("seed", DEFAULT_SEED)), repeats)
    study_dir = Path(output_dir).resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    if "data_path" in overrides:
        overrides["data_path"] = str(Path(str(overrides["data_path"])).resolve())
    study = {
        "models": models,
        "dataset": dataset,
        "seeds": seeds,
        "config_files": [str(Path(f).resolve()) for f in config_file_list or []],
        # as text: the command line gives strings, the Python API typed values (RecBole reads both)
        "overrides": {key: str(value) for key, value in json_safe(overrides).items()},
    }
    check_study(study_dir, study, resume)
    records = []
    total = len(models) * len(seeds)
    for index, (seed, model) in enumerate(((s, m) for s in seeds for m in models), start=1):
        run_dir = study_dir / "runs" / f"{model}-seed{seed}"
        records.append(
            run_one(
                model,
                seed,
                dataset,
                config_file_list,
                overrides,
                run_dir,
                resume,
                progress,
                f"({index}/{total})",
            )
        )
        write_runs_csv(study_dir / "runs.csv", records)
    rows = summarise(records, models)
    write_reports(study_dir, rows, dataset, seeds, overrides)
    progress(f"wrote {study_dir / 'comparison.csv'}, comparison.md, comparison.png")
    return rows


def run_one(
    model: str,
    seed: int,
    dataset: str,
    config_file_list: list[str] | None,
    overrides: dict[str, Any],
    run_dir: Path,
    resume: bool,
    progress: Progress,
    position: str,
) -> dict[str, Any]:
    """Run (or, with ``resume``, reuse or continue) one model at one seed; failures become error
    records."""
    from recbole_easrec.resume import STATE_FILE, WORK_DIR

    if resume and (run_dir / RESULT_FILE).is_file():
        progress(f"{position} {model} seed {seed}: reusing {run_dir / RESULT_FILE}")
        result = json.loads((run_dir / RESULT_FILE).read_text(encoding="utf-8"))
        return run_record(model, seed, run_dir, result, None)
    unfinished = resume and (run_dir / WORK_DIR / STATE_FILE).is_file()
    action = "continuing the killed run" if unfinished else "training"
    progress(f"{position} {model} seed {seed}: {action} (log: {run_dir / 'run.log'})")
    start = time.perf_counter()
    try:
        result = run_in_subprocess(
            model, dataset, config_file_list, {**overrides, "seed": seed}, run_dir, unfinished
        )
    except RuntimeError as exc:
        progress(f"{position} {model} seed {seed}: FAILED: {exc}")
        return run_record(model, seed, run_dir, None, str(exc))
    test = result.get("test_result") or {}
    progress(
        f"{position} {model} seed {seed}: done in {time.perf_counter() - start:.0f} s,"
        f" test {PLOT_METRIC} {test.get(PLOT_METRIC, float('nan')):.4f}"
    )
    return run_record(model, seed, run_dir, result, None)


def check_study(study_dir: Path, study: dict[str, Any], resume: bool) -> None:
    """Record the study's definition in ``study.json``; with ``resume`` it must be the recorded one.

    Raises:
        ResumeError: ``resume`` without a recorded study, or with another definition.
    """
    from recbole_easrec.resume import ResumeError, settings_difference

    path = study_dir / STUDY_FILE
    if resume:
        if not path.is_file():
            raise ResumeError(
                f"--resume: {study_dir} holds no comparison to continue (no {STUDY_FILE});"
                " run again without --resume"
            )
        saved = json.loads(path.read_text(encoding="utf-8"))
        changed = settings_difference(saved, study) + [
            f"overrides {entry}"
            for entry in settings_difference(saved.get("overrides", {}), study["overrides"])
        ]
        changed = [entry for entry in changed if not entry.startswith("overrides:")]
        if changed:
            raise ResumeError(
                f"--resume: the comparison in {study_dir} was started differently"
                f" ({'; '.join(changed)}); pass the same models and settings, or another"
                " --output_dir"
            )
        return
    write_json_atomic(path, study)


# --- aggregation ---------------------------------------------------------------------------------


def value_columns(records: Sequence[dict[str, Any]]) -> list[str]:
    """Metric and efficiency columns present in the records, valid before test, in a fixed order."""
    metrics: list[str] = []
    for record in records:
        for key in record:
            if is_metric_column(key) and key not in metrics:
                metrics.append(key)
    metrics.sort(key=lambda key: (not key.startswith("valid_"), metric_order(key)))
    return metrics + list(EFFICIENCY_KEYS)


def is_metric_column(key: str) -> bool:
    """``valid_<metric>`` or ``test_<metric>``, not its ``_std`` or ``_p`` companion."""
    return key.startswith(("valid_", "test_")) and not key.endswith(("_std", "_p"))


def metric_order(column: str) -> tuple[int, str]:
    name = column.split("_", 1)[1]
    family = name.split("@")[0]
    order = {"recall": 0, "hit": 1, "mrr": 2, "ndcg": 3, "precision": 4, "map": 5}
    return order.get(family, 9), name


def summarise(records: Sequence[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """One row per model: mean (and std, paired-t p-value vs the first model) of every column."""
    columns = value_columns(records)
    by_model = {model: [r for r in records if r["model"] == model] for model in models}
    reference = {r["seed"]: r for r in by_model[models[0]] if r["status"] == "ok"}
    repeated = len({r["seed"] for r in records}) > 1
    rows = []
    for model in models:
        runs = by_model[model]
        done = [r for r in runs if r["status"] == "ok"]
        errors = sorted({r["error"] for r in runs if r["status"] != "ok"})
        row: dict[str, Any] = {
            "model": model,
            "status": "ok" if not errors else ("error" if not done else "partial"),
            "runs": len(done),
            "error": "; ".join(errors),
        }
        for column in columns:
            mean, std = mean_std([r.get(column) for r in done])
            row[column] = mean
            if repeated:
                row[f"{column}_std"] = std
        if repeated and model != models[0]:
            for column in columns:
                if column.startswith("test_"):
                    row[f"{column}_p"] = paired_p_value(
                        [r.get(column) for r in done],
                        [reference.get(r["seed"], {}).get(column) for r in done],
                    )
        flops_errors = sorted({r["flops_error"] for r in done if r.get("flops_error")})
        if flops_errors:
            row["flops_error"] = "; ".join(flops_errors)
        rows.append(row)
    return rows


# --- reports -------------------------------------------------------------------------------------


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV with the union of their keys as header (first-seen order)."""
    header: list[str] = []
    for row in rows:
        header.extend(key for key in row if key not in header)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in header})
    return buffer.getvalue()


def write_runs_csv(path: Path, records: Sequence[dict[str, Any]]) -> None:
    write_text_atomic(path, csv_text(records))


def format_value(column: str, mean: Any, std: Any = None) -> str:
    """Human-readable cell: metrics to 4 decimals, counts in M/G, seconds to 2 decimals, memory MiB."""
    if mean is None:
        return "–"
    if column in ("params", "flops"):
        text = si_units(mean)
    elif column.endswith("seconds"):
        text = f"{mean:.3g}"
    elif column == "peak_memory_bytes":
        text = f"{mean / 2**20:.0f}"
    else:
        text = f"{mean:.4f}"
    if std is not None and column.startswith(("valid_", "test_")):
        text += f" ± {std:.4f}"
    return text


def si_units(value: float) -> str:
    """``2912`` → ``2.91 K``, ``4.7e7`` → ``47.0 M`` (three significant digits)."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value:.3g}"


COLUMN_TITLES = {
    "params": "params",
    "flops": "FLOPs",
    "train_seconds": "train s",
    "inference_seconds": "inference s",
    "peak_memory_bytes": "peak MiB",
}


def column_title(column: str) -> str:
    if column in COLUMN_TITLES:
        return COLUMN_TITLES[column]
    split, metric = column.split("_", 1)
    family, _, k = metric.partition("@")
    names = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "hit": "Hit"}
    return f"{split} {names.get(family, family)}@{k}" if k else f"{split} {metric}"


def table_columns(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(title, key)`` of each column of ``comparison.md``: every value column with a value, and
    after each test metric with p-values its ``p vs <first model>`` column."""
    baseline = rows[0]["model"] if rows else ""
    columns: list[tuple[str, str]] = []
    for column in value_columns(rows):
        if any(r.get(column) is not None for r in rows):
            columns.append((column_title(column), column))
        if any(r.get(f"{column}_p") is not None for r in rows):
            columns.append((f"p vs {baseline}", f"{column}_p"))
    return columns


def table_cell(row: dict[str, Any], key: str) -> str:
    """One cell: a p-value (3 significant digits, ``*`` below :data:`SIGNIFICANCE`) or a value
    with its ``± std`` and a ``*`` where its p-value is below :data:`SIGNIFICANCE`."""
    if key.endswith("_p"):
        p_value = row.get(key)
        if p_value is None or p_value != p_value:  # the first model, or no pairs: no test
            return "–"
        return f"{p_value:.3g}" + (" *" if p_value < SIGNIFICANCE else "")
    cell = format_value(key, row.get(key), row.get(f"{key}_std"))
    p_value = row.get(f"{key}_p")
    if p_value is not None and p_value < SIGNIFICANCE:
        cell += " *"
    return cell


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison as a Markdown table: mean ± std in one cell, ``p vs <first model>`` after
    each tested metric; ``*`` marks p < 0.05 against the first model."""
    columns = table_columns(rows)
    lines = [
        "| model | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for row in rows:
        if row["status"] == "error":
            lines.append(f"| {row['model']} | error: {row['error']} |" + " |" * (len(columns) - 1))
            continue
        cells = [table_cell(row, key) for _, key in columns]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_report(
    rows: Sequence[dict[str, Any]], dataset: str, seeds: Sequence[int], overrides: dict[str, Any]
) -> str:
    """``comparison.md``: the table, the protocol and the shared settings."""
    shared = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "none"
    notes = [
        f"# Comparison on {dataset}",
        "",
        f"Seeds: {', '.join(map(str, seeds))} (each value is the mean over seeds"
        + (", ± sample standard deviation" if len(seeds) > 1 else "")
        + "). Every model: its own defaults plus the shared settings below; same split"
        " (leave-one-out, chronological), same evaluation protocol (`eval_args`).",
        f"Shared settings: {shared}.",
        "Valid: the best validation epoch; test: the checkpoint of that epoch. FLOPs: one"
        " full-ranking forward of one sequence of MAX_ITEM_LIST_LENGTH items; inference s: one"
        " pass over the test set; peak MiB: the run's own process (GPU: allocator peak, CPU:"
        " peak resident set size).",
    ]
    if len(seeds) > 1:
        notes.append(
            f"p vs {rows[0]['model']}: two-sided paired t-test over seeds of the metric to its"
            f" left against {rows[0]['model']}; `*`: p < {SIGNIFICANCE}."
        )
    errors = [r for r in rows if r["status"] == "partial"]
    for row in errors:
        notes.append(
            f"{row['model']}: {row['runs']} of {len(seeds)} runs finished ({row['error']})."
        )
    omissions = plot_omissions(rows)
    if omissions:
        notes += ["", "Missing from comparison.png:", *(f"- {line}" for line in omissions)]
    return "\n".join(notes) + "\n\n" + markdown_table(rows)


PLOT_AXES = (("inference_seconds", "inference time (s)"), ("flops", "FLOPs per sequence"))
PLOT_NAMES = {"inference_seconds": "inference-time", "flops": "FLOPs"}


def plot_omissions(rows: Sequence[dict[str, Any]], metric: str = PLOT_METRIC) -> list[str]:
    """One line per model that finished but is missing from a panel of ``comparison.png``, with
    the reason (e.g. ``BERT4Rec: not in the FLOPs plot (FLOPs not counted: …)``)."""
    lines = []
    for row in rows:
        if row["status"] == "error":  # its row in the table says why
            continue
        for cost, _ in PLOT_AXES:
            reason = missing_reason(row, cost, metric)
            if reason:
                lines.append(f"{row['model']}: not in the {PLOT_NAMES[cost]} plot ({reason})")
    return lines


def missing_reason(row: dict[str, Any], cost: str, metric: str) -> str | None:
    """Why ``row`` has no point in the ``cost`` panel, or ``None`` if it has one."""
    if row.get(f"test_{metric}") is None:
        return f"no test {metric}: add it to metrics/topk"
    if row.get(cost) is not None:
        return None
    if cost == "flops" and row.get("flops_error"):
        return str(row["flops_error"])
    return f"no {PLOT_NAMES[cost]} value recorded"


def write_plot(path: Path, rows: Sequence[dict[str, Any]], metric: str = PLOT_METRIC) -> None:
    """Test ``metric`` against inference seconds and against FLOPs; Pareto front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, (cost, label) in zip(axes, PLOT_AXES):
        points = [
            (row["model"], row.get(cost), row.get(f"test_{metric}"))
            for row in rows
            if row.get(cost) is not None and row.get(f"test_{metric}") is not None
        ]
        flags = pareto_front([(c, q) for _, c, q in points])
        for (name, c, q), optimal in zip(points, flags):
            axis.scatter(c, q, color="tab:red" if optimal else "tab:blue", zorder=3)
            axis.annotate(name, (c, q), textcoords="offset points", xytext=(4, 4), fontsize=8)
        front = sorted((c, q) for (_, c, q), optimal in zip(points, flags) if optimal)
        if front:
            axis.plot(*zip(*front), color="tab:red", linestyle="--", label="Pareto front")
            axis.legend(loc="best", fontsize=8)
        missing = [
            r["model"] for r in rows if r["status"] != "error" and missing_reason(r, cost, metric)
        ]
        if missing:
            axis.text(
                0.01,
                0.01,
                f"not shown: {', '.join(missing)} (why: comparison.md)",
                transform=axis.transAxes,
                fontsize=7,
                color="dimgray",
            )
        axis.margins(0.15)
        axis.set_title("red: Pareto-optimal (no model is better and cheaper)", fontsize=9)
        axis.set_xlabel(label)
        axis.set_ylabel(f"test {metric.upper().replace('@', '@')}")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_target(path) as temp:
        figure.savefig(temp, dpi=120, format="png")
    plt.close(figure)


def write_reports(
    study_dir: Path,
    rows: Sequence[dict[str, Any]],
    dataset: str,
    seeds: Sequence[int],
    overrides: dict[str, Any],
) -> None:
    write_text_atomic(study_dir / "comparison.csv", csv_text(rows))
    write_text_atomic(study_dir / "comparison.md", markdown_report(rows, dataset, seeds, overrides))
    write_json_atomic(study_dir / "comparison.json", json_safe(list(rows)))
    write_plot(study_dir / "comparison.png", rows)


if __name__ == "__main__":
    raise SystemExit(worker_main(sys.argv[1]))
