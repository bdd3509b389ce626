"""Markdown (and the λ plot) of a suite's records (``suite.json`` of ``benchmarks/suite.py``).

``python -m benchmarks run NAME`` copies a suite's records into ``results/NAME.json`` and
``python -m benchmarks report NAME`` renders them (``reports.REPORTS``). Protocols: ``full`` =
ranking against all items (our headline), ``uni100`` / ``pop100`` = against 100 uniformly /
popularity-sampled negatives (``pop100``: the EASRec and LinRec papers' protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
from harness import fmt, ratio, table

Record = dict[str, Any]
Column = tuple[str, Callable[[Record], Any]]

TOLERANCE = 0.01  # EASRec target: NDCG@10 no worse than the reference's by more than 1 % relative
INFERENCE_TARGET = 0.40
FLOPS_TARGET = 0.30


# --- reading a record ----------------------------------------------------------------------------


def metric(record: Record, name: str, mode: str = "full") -> float | None:
    """``name`` (e.g. ``ndcg@10``) of the test split under ``mode``."""
    if mode == record.get("test_protocol", "full"):
        return (record.get("test_result") or {}).get(name)
    return ((record.get("extra_test_results") or {}).get(mode) or {}).get(name)


def valid_metric(record: Record, name: str = "ndcg@10") -> float | None:
    return (record.get("best_valid_result") or {}).get(name)


def efficiency(record: Record, key: str) -> Any:
    return (record.get("efficiency") or {}).get(key)


def architecture(record: Record) -> str:
    arch = record.get("architecture")
    if not arch:
        return ""
    gates = f", gates {arch['gate_layers']}" if "gate_layers" in arch else ""
    return f"d={arch['hidden_size']}, D={arch['inner_size']}, L={arch['n_layers']}{gates}"


def by_group(records: Sequence[Record], *groups: str) -> list[Record]:
    return [r for r in records if r.get("group") in groups and r.get("status") == "ok"]


# --- sections ------------------------------------------------------------------------------------


def quality_columns() -> list[Column]:
    return [
        ("run", lambda r: r["name"]),
        ("NDCG@10 full", lambda r: metric(r, "ndcg@10")),
        ("Recall@10 full", lambda r: metric(r, "recall@10")),
        ("MRR@10 full", lambda r: metric(r, "mrr@10")),
        ("NDCG@10 uni100", lambda r: metric(r, "ndcg@10", "uni100")),
        ("NDCG@10 pop100", lambda r: metric(r, "ndcg@10", "pop100")),
        ("Recall@10 pop100", lambda r: metric(r, "recall@10", "pop100")),
        ("MRR@10 pop100", lambda r: metric(r, "mrr@10", "pop100")),
        ("valid NDCG@10 full", valid_metric),
    ]


def cost_columns(reference: Record | None) -> list[Column]:
    def versus(key: str) -> Callable[[Record], Any]:
        return lambda r: ratio(efficiency(r, key), efficiency(reference or {}, key))

    return [
        ("run", lambda r: r["name"]),
        ("params", lambda r: efficiency(r, "params")),
        ("FLOPs", lambda r: efficiency(r, "flops")),
        ("× ref FLOPs", versus("flops")),
        ("inference s", lambda r: efficiency(r, "inference_seconds")),
        ("× ref inference", versus("inference_seconds")),
        ("peak memory GB", lambda r: (efficiency(r, "peak_memory_bytes") or 0) / 1e9 or None),
        ("train s", lambda r: efficiency(r, "train_seconds")),
        ("architecture", architecture),
    ]


def easrec_targets(easrec: Record | None, reference: Record | None) -> list[str]:
    """The issue's three targets for EASRec against the reference, met or missed."""
    if not easrec or not reference:
        return []
    lines = []
    for mode in ("full", "pop100"):
        ours, theirs = metric(easrec, "ndcg@10", mode), metric(reference, "ndcg@10", mode)
        if ours is None or theirs is None:
            continue
        met = ours >= theirs * (1 - TOLERANCE)
        lines.append(
            f"- NDCG@10 ({mode}) no worse than {reference['name']}'s by more than 1 %:"
            f" **{'met' if met else 'missed'}** — {ours:.4f} vs {theirs:.4f}"
            f" ({100 * (ours / theirs - 1):+.1f} %)"
        )
    for key, target, label in (
        ("inference_seconds", INFERENCE_TARGET, "inference time"),
        ("flops", FLOPS_TARGET, "FLOPs"),
    ):
        share = ratio(efficiency(easrec, key), efficiency(reference, key))
        if share is not None:
            met = share <= target
            lines.append(
                f"- ≤ {100 * target:.0f} % of {reference['name']}'s {label}:"
                f" **{'met' if met else 'missed'}** — {100 * share:.1f} %"
            )
    return lines


def dsl_section(records: Sequence[Record], dense: Record | None) -> str:
    dsl = by_group(records, "dsl")
    if not dsl:
        return ""
    static = {r["settings"].get("density"): r for r in dsl if r["settings"].get("dsl_static")}
    dynamic = [r for r in dsl if not r["settings"].get("dsl_static")]
    dense_ndcg = metric(dense, "ndcg@10") if dense else None

    def sparsity(key: str) -> Callable[[Record], Any]:
        return lambda r: (r.get("sparsity") or {}).get(key)

    def static_ndcg(r: Record) -> Any:
        twin = static.get(r["settings"].get("density"))
        return metric(twin, "ndcg@10") if twin else None

    columns: list[Column] = [
        ("density", lambda r: f"{r['settings'].get('density'):g}"),
        ("actual density", sparsity("actual_density")),
        ("NDCG@10 full (DSL)", lambda r: metric(r, "ndcg@10")),
        ("NDCG@10 full (static)", static_ndcg),
        ("DSL − static", lambda r: _difference(metric(r, "ndcg@10"), static_ndcg(r))),
        ("× dense NDCG", lambda r: ratio(metric(r, "ndcg@10"), dense_ndcg)),
        ("Recall@10 full", lambda r: metric(r, "recall@10")),
        ("NDCG@10 pop100", lambda r: metric(r, "ndcg@10", "pop100")),
        ("inference MACs", sparsity("inference_macs")),
        ("× dense MACs", lambda r: ratio(*_pair(r, "inference_macs", "inference_macs_dense"))),
        ("export bytes", sparsity("export_bytes")),
        ("× dense bytes", lambda r: ratio(*_pair(r, "export_bytes", "dense_bytes"))),
        ("train s", lambda r: efficiency(r, "train_seconds")),
    ]
    reference = f"dense backbone: `{dense['name']}`, NDCG@10 {fmt(dense_ndcg)}" if dense else ""
    return "\n".join(["## DSL: density sweep", "", reference, "", table(dynamic, columns), ""])


def _difference(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else a - b


def _pair(record: Record, key: str, dense_key: str) -> tuple[Any, Any]:
    sparsity = record.get("sparsity") or {}
    return sparsity.get(key), sparsity.get(dense_key)


def lambda_records(records: Sequence[Record], easrec: Record | None) -> list[Record]:
    """The λ runs plus the default EASRec run, sorted by λ."""
    runs = by_group(records, "lambda") + ([easrec] if easrec else [])
    return sorted(runs, key=lambda r: r["settings"].get("resource_lambda", 0.1))


def lambda_section(runs: Sequence[Record]) -> str:
    if len(runs) < 2:
        return ""
    columns: list[Column] = [
        ("λ", lambda r: f"{float(r['settings'].get('resource_lambda', 0.1)):g}"),
        ("architecture", architecture),
        ("FLOPs", lambda r: efficiency(r, "flops")),
        ("params", lambda r: efficiency(r, "params")),
        ("NDCG@10 full", lambda r: metric(r, "ndcg@10")),
        ("Recall@10 full", lambda r: metric(r, "recall@10")),
        ("NDCG@10 pop100", lambda r: metric(r, "ndcg@10", "pop100")),
    ]
    return "\n".join(["## λ study (EASRec Fig. 4)", "", table(runs, columns), ""])


def plot_lambda(
    runs: Sequence[Record],
    path: Path,
    flops: Callable[[Record], Any] = lambda r: efficiency(r, "flops"),
    score: Callable[[Record], Any] = lambda r: metric(r, "ndcg@10"),
    score_label: str = "test NDCG@10 (full ranking)",
) -> Path | None:
    """FLOPs of the selected network and its NDCG@10 against λ (EASRec Fig. 4)."""
    points = [(float(r["settings"].get("resource_lambda", 0.1)), flops(r), score(r)) for r in runs]
    points = [p for p in points if p[1] is not None and p[2] is not None]
    if len(points) < 2:
        return None
    labels = [f"{lam:g}" for lam, _, _ in points]
    figure, (left, right) = harness.figure(2, (9, 3.5))
    left.bar(labels, [flops for _, flops, _ in points])
    left.set_xlabel("λ")
    left.set_ylabel("FLOPs of the selected network")
    right.plot(labels, [ndcg for _, _, ndcg in points], marker="o")
    right.set_xlabel("λ")
    right.set_ylabel(score_label)
    return harness.save_figure(figure, path)


def ablation_section(title: str, records: Sequence[Record], label: Callable[[Record], Any]) -> str:
    if len(records) < 2:
        return ""
    columns: list[Column] = [
        ("run", lambda r: r["name"]),
        ("setting", label),
        ("architecture", architecture),
        ("NDCG@10 full", lambda r: metric(r, "ndcg@10")),
        ("Recall@10 full", lambda r: metric(r, "recall@10")),
        ("NDCG@10 pop100", lambda r: metric(r, "ndcg@10", "pop100")),
        ("search valid NDCG@10", lambda r: (r.get("search_valid_result") or {}).get("ndcg@10")),
        ("valid NDCG@10", valid_metric),
    ]
    return "\n".join([f"## {title}", "", table(records, columns), ""])


# --- the report ----------------------------------------------------------------------------------


def setting(key: str, default: Any) -> Callable[[Record], str]:
    """``key value`` of a run's settings (``default`` where the run keeps it)."""
    return lambda r: f"{key} {r['settings'].get(key, default)}"


# Each ablation: its section title, the runs shown beside EASRec, and their setting's label.
ABLATIONS: tuple[tuple[str, tuple[str, ...], Callable[[Record], str]], ...] = (
    (
        "Gates ablation (EASRec Table V)",
        ("EASRec-gates1", "EASRec-gates0"),
        setting("gate_layers", 2),
    ),
    (
        "Architecture data: validation batches vs held-out training users",
        ("EASRec-holdout",),
        setting("arch_data", "valid"),
    ),
)


def find(records: Sequence[Record], name: str) -> Record | None:
    return next((r for r in records if r["name"] == name and r.get("status") == "ok"), None)


def report(records: Sequence[Record], title: str, note: str, reference_name: str) -> str:
    reference = find(records, reference_name)
    easrec = find(records, "EASRec")
    main = by_group(records, "baselines", "easrec", "darts", "recbole", "features")
    failed = [r for r in records if r.get("status") != "ok"]
    parts = [f"# {title}", "", note, ""]
    parts += ["## Quality (test split)", "", table(main, quality_columns()), ""]
    cost = table(main, cost_columns(reference))
    parts += [f"## Cost (ratios against `{reference_name}`)", "", cost, ""]
    targets = easrec_targets(easrec, reference)
    if targets:
        parts += ["## EASRec targets (issue 5)", "", *targets, ""]
    for heading, names, label in ABLATIONS:
        runs = [r for r in (easrec, *(find(records, name) for name in names)) if r]
        parts.append(ablation_section(heading, runs, label))
    parts.append(lambda_section(lambda_records(records, easrec)))
    parts.append(dsl_section(records, reference))
    if failed:
        parts += ["## Runs that failed", ""]
        parts += [f"- `{r['name']}`: {r.get('error')}" for r in failed]
    return "\n".join(part for part in parts if part is not None) + "\n"


METRIC_LABELS = {"recall@10": "Recall@10", "mrr@10": "MRR@10", "ndcg@10": "NDCG@10"}
