"""Every committed report under ``benchmarks/results/``, rebuilt from its JSON (no training).

``REPORTS`` maps a report's stem (``results/<stem>.md``) to the function that renders it from the
committed JSON; :func:`regenerate` writes the Markdown (and PNG where there is one), keeping the
hand-written findings block of the file it replaces (``harness.write_report``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import RESULTS, fmt, ratio, read_json, table, write_json, write_report
from suite_report import MODES, by_seed, grouped, metric, report, seed_pairs, valid_metric

from recbole_easrec.stats import format_mean_std, mean_std, paired_p_value

Record = dict[str, Any]
Renderer = Callable[[Path, str], list[Path]]


def page(module: str, markdown: str = "markdown", plot: str | None = None) -> Renderer:
    """A report that benchmark ``module`` renders from ``<stem>.json``: its function ``markdown``
    gives the page, and ``plot(data, <stem>.png)`` draws the figure where there is one."""

    def render(results: Path, stem: str) -> list[Path]:
        bench = importlib.import_module(module)
        data = read_json(results / f"{stem}.json")
        png = results / f"{stem}.png"
        if plot:
            getattr(bench, plot)(data, png)
        md = write_report(results / f"{stem}.md", getattr(bench, markdown)(data))
        return [md, png] if plot else [md]

    return render


def space_truth(results: Path, stem: str) -> list[Path]:
    """A ground-truth report (and its searches' judging) of ``benchmarks/space_truth.py``."""
    import space_truth as bench

    bench.render(read_json(results / f"{stem}.json"), results / stem)
    return [results / f"{stem}.md", results / f"{stem}.png"]


def _mean_std(values: Sequence[float | None]) -> str:
    """``mean ± std`` (just the mean for one value)."""
    return format_mean_std(*mean_std(values))


def _ndcg(record: Record, mode: str = "full") -> float | None:
    return metric(record, "ndcg@10", mode)


def variants(title: str) -> Renderer:
    """A suite of LinRec variants by seed (``suite.linrec_variants``), each against the first
    variant; ``title`` names the comparison (``{dataset}`` is filled in)."""

    def render(results: Path, stem: str) -> list[Path]:
        data = read_json(results / f"{stem}.json")
        rows = variant_rows([r for r in data["runs"] if r.get("status") == "ok"])
        first = rows[0]["group"]

        def against_first(cell: Callable[[Record], str]) -> Callable[[Record], str]:
            return lambda row: "–" if row is rows[0] else cell(row)

        def spread(value: Callable[[Record], float | None]) -> Callable[[Record], str]:
            return lambda row: _mean_std([value(r) for r in row["runs"]])

        columns = [
            ("variant", lambda row: row["group"]),
            ("seeds", lambda row: str(len(row["runs"]))),
            ("NDCG@10 full", spread(_ndcg)),
            ("NDCG@10 pop100", spread(lambda r: _ndcg(r, "pop100"))),
            ("valid NDCG@10", spread(valid_metric)),
            (f"Δ full vs {first}", against_first(lambda row: f"{row['delta']:+.4f}")),
            ("p full", against_first(lambda row: fmt(row["p_full"], 3))),
            ("p pop100", against_first(lambda row: fmt(row["p_pop100"], 3))),
            ("epochs", lambda row: fmt(row["epochs"], 1)),
            ("training s (with validation)", lambda row: fmt(row["train"], 0)),
            ("s per epoch", lambda row: fmt(row["per_epoch"], 1)),
            (f"× {first}", lambda row: fmt(ratio(row["per_epoch"], rows[0]["per_epoch"]), 2)),
        ]
        lines = [
            f"# {title.format(dataset=data['dataset'])}",
            "",
            f"Command: `{data['report']['command']}`. {data['report'].get('load', '')}",
            "",
            "LinRec's shipped defaults (N = 50, d = 64, D = 256, L = 2, autoregressive, batch 64),"
            " early stopping on validation NDCG@10 (patience 10), one run per seed. Test NDCG@10"
            " under full ranking (headline) and pop100 (the papers' protocol); p: paired t-test"
            f" against `{first}` over the seeds both ran.",
            "",
            table(rows, columns, " r   rrrrrrr"),
        ]
        return [write_report(results / f"{stem}.md", "\n".join(lines) + "\n")]

    return render


def variant_rows(runs: Sequence[Record]) -> list[Record]:
    """One row per variant (suite group), its runs in seed order: the mean paired Δ of full
    NDCG@10 and the paired t-tests against the first variant, epochs and training seconds."""
    rows: list[Record] = []
    for group, members in grouped(runs, lambda r: r["group"]).items():
        members.sort(key=lambda r: r["settings"]["seed"])
        done = [r for r in members if (r.get("epochs_run") or {}).get("train")]
        epochs = [r["epochs_run"]["train"] for r in done]
        train = [r["efficiency"]["train_seconds"] for r in done]
        row = {"group": group, "runs": members, "by_seed": by_seed(members)}
        row["epochs"] = sum(epochs) / len(epochs) if epochs else None
        row["train"] = sum(train) / len(train) if train else None
        row["per_epoch"] = sum(train) / sum(epochs) if epochs else None
        reference = rows[0] if rows else row  # the first variant is the reference
        for mode in MODES:
            row[f"p_{mode}"] = paired_p_value(*seed_pairs(row, reference, mode))
        ours, theirs = seed_pairs(row, reference, "full")
        row["delta"] = sum(a - b for a, b in zip(ours, theirs)) / max(len(ours), 1)
        rows.append(row)
    return rows


def suite(results: Path, stem: str) -> list[Path]:
    """A suite's records (``suite.json`` of ``benchmarks/suite.py``) with ``report`` settings."""
    data = read_json(results / f"{stem}.json")
    meta = data.get("report", {})
    text = report(data["runs"], meta.get("title", stem), meta.get("reference", "SASRec-AR"))
    return [write_report(results / f"{stem}.md", text)]


REPORTS: dict[str, Renderer] = {
    "attention_scaling": page("inference", "scaling_markdown", "scaling_plot"),
    "data_path_ml1m": page("pipeline", "data_path_markdown"),
    "dsl_sparse_inference": page("inference", "dsl_markdown"),
    "factorial_ml1m": page("factorial", plot="plot"),
    "headline_ml1m": page("pipeline", "headline_markdown"),
    "inference_latency_ml1m": page("inference", "full_ranking_markdown"),
    "precision_ml100k": variants(
        "float32 vs bfloat16 training at convergence: LinRec on {dataset} (issue 11, item 5)"
    ),
    "sampled_ce_ml1m": variants(
        "Full CE vs sampled softmax at convergence: LinRec on {dataset} (issue 11, item 4)"
    ),
    "search_methods_ml100k": space_truth,
    "search_methods_ml1m": space_truth,
    "serving": page("inference", "serving_markdown", "serving_plot"),
    "space_truth_ml100k": space_truth,
    "space_truth_ml1m": space_truth,
    "scale": page("pipeline", "scale_markdown"),
    "speed": page("training_speed", "variants_markdown"),
    "step_time": page("training_speed", "catalogue_markdown", "plot"),
    "suite_ml100k_dsl_converged": suite,
    "table3_ml1m": suite,
}


def write(name: str, stem: Path, data: Any) -> list[Path]:
    """Writes ``STEM.json`` and renders result NAME's report beside it from that JSON, as
    :func:`regenerate` does; returns the files written."""
    write_json(Path(f"{stem}.json"), data)
    return REPORTS[name](Path(stem).parent, Path(stem).name)


def regenerate(names: Sequence[str], results: Path = RESULTS) -> list[Path]:
    """Rebuilds the named reports in ``results`` from their JSON; returns the files written."""
    written: list[Path] = []
    for name in names:
        written += REPORTS[name](Path(results), name)
    return written
