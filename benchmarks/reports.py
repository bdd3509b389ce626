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

from harness import RESULTS, fmt, read_json, write_report
from suite_report import metric, report

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


def _paired_p(pairs: Sequence[tuple[Record, Record]], mode: str) -> str:
    """The paired t-test p of NDCG@10 under ``mode`` over (run, reference run) pairs."""
    p = paired_p_value([_ndcg(a, mode) for a, _ in pairs], [_ndcg(b, mode) for _, b in pairs])
    return "–" if p is None else f"{p:.3f}"


def variants(title: str) -> Renderer:
    """A suite of LinRec variants by seed (``suite.linrec_variants``), each against the first
    variant; ``title`` names the comparison (``{dataset}`` is filled in)."""

    def render(results: Path, stem: str) -> list[Path]:
        data = read_json(results / f"{stem}.json")
        runs = [r for r in data["runs"] if r.get("status") == "ok"]
        groups = list(dict.fromkeys(r["group"] for r in runs))
        lines = [
            f"# {title.format(dataset=data['dataset'])}",
            "",
            f"Command: `{data['report']['command']}`. {data['report'].get('load', '')}",
            "",
            "LinRec's shipped defaults (N = 50, d = 64, D = 256, L = 2, autoregressive, batch 64),"
            " early stopping on validation NDCG@10 (patience 10), one run per seed. Test NDCG@10"
            " under full ranking (headline) and pop100 (the papers' protocol); p: paired t-test"
            f" against `{groups[0]}` over the seeds both ran.",
            "",
            f"| variant | seeds | NDCG@10 full | NDCG@10 pop100 | valid NDCG@10 | Δ full vs {groups[0]}"
            f" | p full | p pop100 | epochs | training s (with validation) | s per epoch | × {groups[0]} |",
            "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        return [
            write_report(
                results / f"{stem}.md", "\n".join(lines + variant_rows(runs, groups)) + "\n"
            )
        ]

    return render


def variant_rows(runs: Sequence[Record], groups: Sequence[str]) -> list[str]:
    """One table row per variant: quality (mean ± std, paired Δ and p against ``groups[0]``)
    and training time."""
    seed = {r["name"]: r["settings"]["seed"] for r in runs}
    reference = {seed[r["name"]]: r for r in runs if r["group"] == groups[0]}
    rows, per_epoch_reference = [], None
    for group in groups:
        members = sorted((r for r in runs if r["group"] == group), key=lambda r: seed[r["name"]])
        paired = [(r, reference[seed[r["name"]]]) for r in members if seed[r["name"]] in reference]
        delta = [_ndcg(r) - _ndcg(ref) for r, ref in paired]
        done = [r for r in members if (r.get("epochs_run") or {}).get("train")]
        epochs = [r["epochs_run"]["train"] for r in done]
        train = [r["efficiency"]["train_seconds"] for r in done]
        per_epoch = sum(train) / sum(epochs) if epochs else None
        first = group == groups[0]
        per_epoch_reference = per_epoch if first else per_epoch_reference
        ratio = per_epoch / per_epoch_reference if per_epoch and per_epoch_reference else None
        rows.append(
            f"| {group} | {len(members)} | {_mean_std([_ndcg(r) for r in members])} |"
            f" {_mean_std([_ndcg(r, 'pop100') for r in members])} |"
            f" {_mean_std([r['best_valid_result']['ndcg@10'] for r in members])} |"
            f" {'–' if first else f'{sum(delta) / max(len(delta), 1):+.4f}'} |"
            f" {'–' if first else _paired_p(paired, 'full')} |"
            f" {'–' if first else _paired_p(paired, 'pop100')} |"
            f" {fmt(sum(epochs) / len(epochs) if epochs else None, 1)} |"
            f" {fmt(sum(train) / len(train) if train else None, 0)} | {fmt(per_epoch, 1)} |"
            f" {fmt(ratio, 2)} |"
        )
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
    "dsl_sparse_inference": page("dsl_sparse_inference"),
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
    "serving": page("inference", "serving_markdown", "serving_plot"),
    "space_truth_ml100k": space_truth,
    "space_truth_ml1m": space_truth,
    "scale": page("pipeline", "scale_markdown"),
    "speed": page("training_speed", "variants_markdown"),
    "step_time": page("training_speed", "catalogue_markdown", "plot"),
    "suite_ml100k_dsl_converged": suite,
}


def regenerate(names: Sequence[str], results: Path = RESULTS) -> list[Path]:
    """Rebuilds the named reports in ``results`` from their JSON; returns the files written."""
    written: list[Path] = []
    for name in names:
        written += REPORTS[name](Path(results), name)
    return written
