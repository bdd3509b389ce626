"""Markdown of a suite's records (``suite.json`` of ``benchmarks/suite.py``): quality, cost, DSL.

``python -m benchmarks run NAME`` copies a suite's records into ``results/NAME.json`` and
``python -m benchmarks report NAME`` renders them (``reports.REPORTS``). Protocols: ``full`` =
ranking against all items (our headline), ``uni100`` / ``pop100`` = against 100 uniformly /
popularity-sampled negatives (``pop100``: the EASRec and LinRec papers' protocol).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from harness import fmt, ratio, table

from recbole_easrec.stats import format_mean_std, mean_std

Record = dict[str, Any]
Column = tuple[str, Callable[[Record], Any]]
MODES = ("full", "pop100")  # the protocols tabled over seeds: the headline and the papers'

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


# --- over seeds ----------------------------------------------------------------------------------


def grouped(
    records: Iterable[Record], key: Callable[[Record], Hashable]
) -> dict[Any, list[Record]]:
    """``records`` by ``key(record)``, in the order the keys first occur."""
    groups: dict[Any, list[Record]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


def seed_stats(runs: Sequence[Record], metrics: Sequence[str]) -> Record:
    """``{metric}_{mode}_mean`` and ``_std`` over ``runs`` (one per seed) for every mode and
    metric, then ``valid_ndcg@10_mean``."""
    stats: Record = {}
    for mode in MODES:
        for name in metrics:
            mean, std = mean_std([metric(r, name, mode) for r in runs])
            stats[f"{name}_{mode}_mean"], stats[f"{name}_{mode}_std"] = mean, std
    stats["valid_ndcg@10_mean"] = mean_std([valid_metric(r) for r in runs])[0]
    return stats


def by_seed(runs: Sequence[Record]) -> dict[str, dict[str, float | None]]:
    """Test NDCG@10 of every run under each mode, by seed (what paired tests read)."""
    return {
        str(r["settings"]["seed"]): {mode: metric(r, "ndcg@10", mode) for mode in MODES}
        for r in runs
    }


def missing_line(label: str, names: Sequence[str], suite: str | None = None) -> str:
    """``LABEL (n runs[ of suite S]): a, b`` (``none.`` when nothing is missing): what a partial
    result still lacks."""
    of = f" of suite {suite}" if suite else ""
    return f"{label} ({len(names)} runs{of}): " + (", ".join(names) if names else "none.")


def percent(value: float | None) -> str:
    """A relative change as ``+1.2 %`` (– for none)."""
    return "–" if value is None else f"{100 * value:+.1f} %"


def pm(entry: Record, key: str) -> str:
    """``mean ± std`` of ``key`` over seeds (``entry[key_mean]``, ``entry[key_std]``; the mean
    alone for a single seed)."""
    return format_mean_std(entry[f"{key}_mean"], entry[f"{key}_std"])


def seed_pairs(entry: Record, reference: Record, mode: str) -> tuple[list[Any], list[Any]]:
    """The ``by_seed`` NDCG@10 under ``mode`` of ``entry`` and ``reference`` over the seeds both
    ran, in seed order."""
    seeds = sorted(set(entry["by_seed"]) & set(reference["by_seed"]))
    return [entry["by_seed"][s][mode] for s in seeds], [
        reference["by_seed"][s][mode] for s in seeds
    ]


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


# --- the report ----------------------------------------------------------------------------------


def find(records: Sequence[Record], name: str) -> Record | None:
    return next((r for r in records if r["name"] == name and r.get("status") == "ok"), None)


def report(records: Sequence[Record], title: str, reference_name: str) -> str:
    """Quality and cost of every run but the DSL sweep, then the sweep against the reference."""
    reference = find(records, reference_name)
    main = [r for r in records if r.get("status") == "ok" and r.get("group") != "dsl"]
    failed = [r for r in records if r.get("status") != "ok"]
    parts = [f"# {title}", "", "## Quality (test split)", "", table(main, quality_columns()), ""]
    cost = table(main, cost_columns(reference))
    parts += [f"## Cost (ratios against `{reference_name}`)", "", cost, ""]
    parts.append(dsl_section(records, reference))
    if failed:
        parts += ["## Runs that failed", ""]
        parts += [f"- `{r['name']}`: {r.get('error')}" for r in failed]
    return "\n".join(parts) + "\n"


METRIC_LABELS = {"recall@10": "Recall@10", "mrr@10": "MRR@10", "ndcg@10": "NDCG@10"}
