"""The search space's ground truth (issue 17) and EASRec's searches judged against it.

Input: the ``suite.json`` of ``benchmarks/suite.py --suite=space_truth_cpu`` (every architecture of
the space trained from scratch to convergence, 3 seeds, plus the full-size softmax SASRec) and,
optionally, that of ``--suite=search_cpu`` (EASRec's search methods on the same settings).
Output: ``OUT.json`` (aggregates and every run record, so reports rebuild from it alone),
``OUT.md`` and ``OUT.png`` (test NDCG@10 against FLOPs, Pareto front, each search's picks).

Usage::

    python benchmarks/space_truth.py --truth T/suite.json [--search S/suite.json] \\
        --dataset ml-100k --out benchmarks/results/space_truth_ml100k
    python -m benchmarks report space_truth_ml100k search_methods_ml100k   # pages from their JSON

Definitions: FLOPs = ``efficiency.flops`` of ``result.json`` (one full-ranking forward of one
sequence at N, ``torch.utils.flop_counter``); *regret* of a pick = (best ground-truth mean test
NDCG@10 among architectures at or below the pick's FLOPs − the pick's ground-truth mean) / that
best; Kendall τ = rank correlation between a search's shared-weight validation scores and the
ground truth's mean validation NDCG@10.

``--time`` adds a separate timing pass (issue 28): every architecture's full-ranking inference
over all test users, in this process, the architectures taking turns (``harness.alternate``), one
thread; run it alone on an otherwise idle CPU (the in-run ``inference s`` shared the machine with
the other runs of the suite). A rebuild without ``--time`` keeps the timing of ``--truth_from``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import harness
from harness import findings_of, fmt, read_json, table, with_banner
from suite_report import (
    METRIC_LABELS,
    MODES,
    by_seed,
    grouped,
    metric,
    missing_line,
    percent,
    pm,
    seed_pairs,
    seed_stats,
)

from recbole_easrec.model.attention import attention_name
from recbole_easrec.search.space import BILEVEL_METHODS
from recbole_easrec.stats import kendall_tau, mean_std, pareto_front, regret
from recbole_easrec.stats import paired_p_value as paired_p

Record = dict[str, Any]
Key = tuple[int, int, int, str, int]  # hidden, inner, layers, attention kind, gate layers
METRICS = ("ndcg@10", "recall@10", "mrr@10")
TOLERANCE = 0.01
SCORE = "ndcg@10_full_mean"  # what the ground truth ranks architectures by


# --- aggregation ---------------------------------------------------------------------------------


def kind_of(settings: Record) -> str:
    """The attention kind that settings name (``softmax``, ``linrec``, ``conv``, …); a record
    without ``linear_variant`` ran LinRec's eq. 5."""
    linear_variant = settings.get("linear_variant", "linrec")
    return attention_name(settings.get("attention_type", "linear"), linear_variant)


def arch_key(sizes: Record, attention: str, gate_layers: int) -> Key:
    """The key of the architecture whose ``hidden_size``, ``inner_size``, ``n_layers`` are given,
    with its attention kind and gates (a softmax space's full network is not SASRec)."""
    return (sizes["hidden_size"], sizes["inner_size"], sizes["n_layers"], attention, gate_layers)


def key_name(key: Key) -> str:
    """An architecture's name as the ground truth's runs spell it (``d48-D192-L2``), for one the
    ground truth lacks; its attention kind and gates where they are not the plain ones."""
    hidden, inner, layers, attention, gate_layers = key
    parts = [harness.network_name(hidden, inner, layers)]
    parts += [attention] if attention != "softmax" else []
    parts += [f"gates{gate_layers}"] if gate_layers else []
    return "-".join(parts)


def run_key(record: Record, sizes: str = "settings") -> Key:
    """The architecture a run trained (``sizes="architecture"``: the one its search picked, whose
    record names the attention kind it chose)."""
    settings = record["settings"]
    kind = record[sizes].get("attention") or kind_of(settings)
    return arch_key(record[sizes], kind, settings.get("gate_layers", 0))


def score_key(score: Record, run: Record) -> Key:
    """The architecture of one of a search run's ``shared_weight_scores``."""
    settings = run["settings"]
    kind = score.get("attention") or kind_of(settings)
    return arch_key(score, kind, settings.get("gate_layers", 0))


def is_sasrec(entry: Record) -> bool:
    """The reference (full-size softmax SASRec, no gates), not an architecture of the space."""
    return entry["name"].startswith("SASRec")


def split_reference(entries: Sequence[Record]) -> tuple[Record | None, list[Record]]:
    """(SASRec's entry or None, the space's entries)."""
    sasrec = next((e for e in entries if is_sasrec(e)), None)
    return sasrec, [e for e in entries if not is_sasrec(e)]


def aggregate(records: Sequence[Record]) -> list[Record]:
    """One entry per architecture: metrics mean ± std over seeds, cost."""
    groups = grouped((r for r in records if r.get("status") == "ok"), run_key)
    return [
        {
            "name": runs[0]["name"].rsplit("-s", 1)[0],
            "model": runs[0]["model"],
            **dict(zip(("hidden_size", "inner_size", "n_layers", "attention", "gate_layers"), key)),
            "attention_type": runs[0]["settings"].get("attention_type", "linear"),
            "seeds": [r["settings"]["seed"] for r in runs],
            "flops": runs[0]["efficiency"]["flops"],
            "params": runs[0]["efficiency"]["params"],
            "inference_seconds": statistics.median(
                r["efficiency"]["inference_seconds"] for r in runs
            ),
            **seed_stats(runs, METRICS),
            "by_seed": by_seed(runs),
        }
        for key, runs in sorted(groups.items())
    ]


def pareto_names(entries: Sequence[Record], score: str = SCORE) -> list[str]:
    """Names of the architectures on the Pareto front (FLOPs ↓, ``score`` ↑), cheapest first."""
    ranked = sorted(entries, key=lambda e: (e["flops"], -e[score]))
    flags = pareto_front([(e["flops"], e[score]) for e in ranked])
    return [e["name"] for e, optimal in zip(ranked, flags) if optimal]


def best_at_or_below(entries: Sequence[Record], flops: float, score: str) -> Record | None:
    eligible = [e for e in entries if e["flops"] <= flops]
    return max(eligible, key=lambda e: e[score]) if eligible else None


def regret_of(truth: Record, entries: Sequence[Record], limit: float) -> float | None:
    """:func:`recbole_easrec.stats.regret` of the ground-truth entry ``truth`` among ``entries``
    costing at most ``limit`` FLOPs (module docstring)."""
    return regret(truth[SCORE], [(e["flops"], e[SCORE]) for e in entries], limit)


def entry_key(entry: Record) -> Key:
    """A ground-truth entry's :data:`Key` (results built before the attention kind was recorded
    name ``attention_type`` only)."""
    return arch_key(entry, entry.get("attention") or kind_of(entry), entry.get("gate_layers", 0))


def entries_by_key(entries: Sequence[Record]) -> dict[Key, Record]:
    """The ground-truth entries by :data:`Key`."""
    return {entry_key(e): e for e in entries}


def by_method(searches: Sequence[Record]) -> dict[str, list[Record]]:
    """The finished search runs by method (their suite group)."""
    return grouped((r for r in searches if r.get("status") == "ok"), lambda r: r["group"])


def judge_pick(run: Record, by_key: dict[Key, Record], entries: Sequence[Record]) -> Record:
    """One search run's pick: its retrained metrics, the ground truth's mean of that architecture,
    its regret, and the Kendall τ of its shared-weight scores against the ground truth."""
    truth = by_key.get(run_key(run, "architecture"))
    loss = regret_of(truth, entries, truth["flops"]) if truth else None
    pairs = [
        (s["valid_score"], by_key[k]["valid_ndcg@10_mean"])
        for s in run.get("shared_weight_scores") or []
        if (k := score_key(s, run)) in by_key
    ]
    return {
        "seed": run["settings"]["seed"],
        "architecture": truth["name"] if truth else key_name(run_key(run, "architecture")),
        "flops": run["efficiency"]["flops"],
        "ndcg@10_full": metric(run, "ndcg@10"),
        "ndcg@10_pop100": metric(run, "ndcg@10", "pop100"),
        "truth_ndcg@10_full_mean": truth["ndcg@10_full_mean"] if truth else None,
        "regret": loss,
        "kendall_tau": kendall_tau([a for a, _ in pairs], [b for _, b in pairs]),
        "on_front": bool(loss is not None and loss <= TOLERANCE),
    }


def judge_searches(
    searches: Sequence[Record], entries: Sequence[Record], sasrec: Record | None
) -> list[Record]:
    """Per search method: its picks, retrained metrics, regret, Kendall τ, paired test."""
    by_key = entries_by_key(entries)
    judged = []
    for method, runs in by_method([r for r in searches if r.get("architecture")]).items():
        picks = [judge_pick(run, by_key, entries) for run in runs]
        entry: Record = {"method": method, "picks": sorted(picks, key=lambda p: p["seed"])}
        entry["search_method"] = runs[0]["settings"].get("search_method")
        entry["flops_budget"] = runs[0]["settings"].get("flops_budget")
        for mode in MODES:
            values = [p[f"ndcg@10_{mode}"] for p in picks]
            entry[f"ndcg@10_{mode}_mean"], entry[f"ndcg@10_{mode}_std"] = mean_std(values)
        entry["flops_mean"] = statistics.fmean(p["flops"] for p in picks)
        entry["regret_mean"], _ = mean_std([p["regret"] for p in picks])
        entry["kendall_tau_mean"], _ = mean_std([p["kendall_tau"] for p in picks])
        entry["search_wall_seconds_mean"] = statistics.fmean(r["wall_seconds"] for r in runs)
        if all(r.get("search_seconds") is not None for r in runs):  # recorded since 2026-12-08
            entry["search_seconds_mean"] = statistics.fmean(r["search_seconds"] for r in runs)
        entry["retrained_vs_scratch"], _ = mean_std(  # the pick's ground truth: from scratch
            [
                p["ndcg@10_full"] / p["truth_ndcg@10_full_mean"] - 1
                for p in picks
                if p["truth_ndcg@10_full_mean"]
            ]
        )
        if sasrec:
            for mode in MODES:
                pairs = [
                    (p[f"ndcg@10_{mode}"], sasrec["by_seed"][str(p["seed"])][mode])
                    for p in picks
                    if str(p["seed"]) in sasrec["by_seed"]
                ]
                entry[f"paired_p_vs_sasrec_{mode}"] = paired_p(*zip(*pairs)) if pairs else None
            entry["flops_vs_sasrec"] = entry["flops_mean"] / sasrec["flops"]
        judged.append(entry)
    return versus_random(judged)


def versus_random(judged: list[Record]) -> list[Record]:
    """Each method's retrained full NDCG@10 against random search's under the same
    ``flops_budget`` (the baseline every NAS method must beat at equal cost, issue 28), paired by
    seed: ``vs_random`` (relative change of the mean) and ``p_vs_random``."""
    randoms = {j.get("flops_budget"): j for j in judged if j.get("search_method") == "random"}
    for entry in judged:
        random = randoms.get(entry.get("flops_budget"))
        baseline = {p["seed"]: p["ndcg@10_full"] for p in random["picks"]} if random else {}
        pairs = [(p["ndcg@10_full"], baseline.get(p["seed"])) for p in entry["picks"]]
        pairs = [pair for pair in pairs if pair[1] is not None] if entry is not random else []
        ours, theirs = [a for a, _ in pairs], [b for _, b in pairs]
        entry["vs_random"] = sum(ours) / sum(theirs) - 1 if pairs else None
        entry["p_vs_random"] = paired_p(ours, theirs) if pairs else None
    return judged


# --- selection rules on the same searches ---------------------------------------------------------

# The search itself does not depend on ``flops_budget`` or ``selection_tolerance`` (they only choose
# the path to reconstruct after it), so every rule below is what a run with that setting picks.
SELECTION_RULES: tuple[tuple[str, str, float | None, float], ...] = (
    ("α·β", "probabilities", None, 0.0),
    ("α·β, budget 0.3", "probabilities", 0.3, 0.0),
    ("shared weights", "shared", None, 0.0),
    ("shared weights, tolerance 1 %", "shared", None, 0.01),
    ("shared weights, tolerance 2 %", "shared", None, 0.02),
    ("shared weights, tolerance 5 %", "shared", None, 0.05),
    ("shared weights, budget 0.3", "shared", 0.3, 0.0),
)


def rule_pick(
    run: Record, source: str, budget: float | None, tolerance: float, fractions: dict[Key, float]
) -> Key | None:
    """The (hidden, inner, layers) a search run reconstructs under one selection rule, with the
    architectures' FLOPs fractions as the ground truth counted them (``fractions``)."""
    from recbole_easrec.search.space import Architecture, choose

    records = run.get("shared_weight_scores") or []
    keys = {Architecture(s["candidate"], s["n_layers"]): score_key(s, run) for s in records}
    if not keys or any(key not in fractions for key in keys.values()):
        return None
    if source == "probabilities":
        alpha, beta = run["architecture"]["alpha"], run["architecture"]["beta"]
        scores = {arch: alpha[arch.candidate] * beta[arch.depth - 1] for arch in keys}
    else:
        scores = {Architecture(s["candidate"], s["n_layers"]): s["valid_score"] for s in records}
    by_arch = {arch: fractions[key] for arch, key in keys.items()}
    return keys[choose(scores, by_arch, budget, tolerance)]


def judge_rules(searches: Sequence[Record], entries: Sequence[Record]) -> list[Record]:
    """Every selection rule on every search run, judged by the ground truth's mean test NDCG@10:
    regret against the best architecture at or below the pick's FLOPs (and, with a budget,
    against the best within the budget)."""
    if not entries:
        return []
    by_key = entries_by_key(entries)
    largest = max(e["flops"] for e in entries)
    fractions = {key: e["flops"] / largest for key, e in by_key.items()}
    judged = []
    for method, runs in sorted(by_method(searches).items()):
        trains_alpha_beta = runs[0]["settings"].get("search_method") in BILEVEL_METHODS
        for label, source, budget, tolerance in SELECTION_RULES:
            if source == "probabilities" and not trains_alpha_beta:
                continue  # α and β are not trained by the one-shot rules or random search
            picks = []
            for run in runs:
                key = rule_pick(run, source, budget, tolerance, fractions)
                truth = by_key.get(key) if key else None
                limit = budget * largest if budget else truth and truth["flops"]
                loss = regret_of(truth, entries, limit) if truth else None
                if loss is not None:  # else no pick, or nothing within the budget to judge it by
                    fraction = truth["flops"] / largest
                    picks.append(
                        {
                            "seed": run["settings"]["seed"],
                            "architecture": truth["name"],
                            "flops_fraction": fraction,
                            "truth_ndcg@10_full_mean": truth[SCORE],
                            "regret": loss,
                            "on_front": loss <= TOLERANCE,
                        }
                    )
            if picks:
                judged.append(
                    {
                        "method": method,
                        "rule": label,
                        "picks": picks,
                        "regret_mean": statistics.fmean(p["regret"] for p in picks),
                        "flops_fraction_mean": statistics.fmean(p["flops_fraction"] for p in picks),
                    }
                )
    return judged


def picks_of(judged: Record, key: str = "architecture", digits: int = 4) -> str:
    """One search's ``key`` of every pick (per seed), comma-separated."""
    return ", ".join(fmt(p[key], digits) for p in judged["picks"])


def on_front(judged: Record) -> str:
    return f"{sum(p['on_front'] for p in judged['picks'])}/{len(judged['picks'])}"


def rules_table(judged: Sequence[Record]) -> str:
    return table(
        judged,
        [
            ("search", lambda j: j["method"]),
            ("selection rule", lambda j: j["rule"]),
            ("picks (per seed)", picks_of),
            ("FLOPs fraction (mean)", lambda j: fmt(j["flops_fraction_mean"], 3)),
            ("ground-truth NDCG@10 of the picks", lambda j: picks_of(j, "truth_ndcg@10_full_mean")),
            ("regret (mean)", lambda j: fmt(j["regret_mean"], 3)),
            ("on front", on_front),
        ],
    )


# --- timing pass ---------------------------------------------------------------------------------


def timing_pass(truth: Sequence[Record], args: argparse.Namespace) -> Record:
    """:func:`inference.time_architectures` of every architecture of the truth and of suite
    ``space_truth_cpu`` (module doc): the cost needs no trained weights, so architectures whose
    runs are still missing are timed too."""
    import inference
    import suite

    planned = [
        {"name": run.name, "model": run.model, "settings": run.settings, "status": "ok"}
        for run in suite.space_truth_cpu()
    ]
    try:
        return inference.time_architectures(
            [*truth, *planned],
            lambda r: r["name"].rsplit("-s", 1)[0],
            args.dataset,
            args.data_path,
            args.threads,
            args.repeats,
        )
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: no timing pass: {error}") from None


# --- report --------------------------------------------------------------------------------------


def paired_vs(entry: Record, sasrec: Record | None, mode: str) -> float | None:
    """Paired t-test p of ``entry``'s test NDCG@10 against SASRec's over the seeds both ran."""
    return None if sasrec is None or entry is sasrec else paired_p(*seed_pairs(entry, sasrec, mode))


def time_vs_sasrec(entry: Record, sasrec: Record | None) -> float | None:
    """The timing pass's inference seconds of ``entry`` over SASRec's (None without the pass)."""
    ours = entry.get("idle_inference_seconds")
    theirs = sasrec.get("idle_inference_seconds") if sasrec else None
    return ours / theirs if ours and theirs else None


def time_ratio_range(entry: Record, sasrec: Record | None) -> tuple[float, float] | None:
    """The least and the largest of ``entry``'s per-pass time ratios against SASRec (the two timed
    in the same round of the timing pass), None without the passes."""
    ours = entry.get("idle_inference_rounds")
    theirs = sasrec.get("idle_inference_rounds") if sasrec else None
    if not ours or not theirs or len(ours) != len(theirs):
        return None
    ratios = [a / b for a, b in zip(ours, theirs)]
    return min(ratios), max(ratios)


def time_ratio(entry: Record, sasrec: Record | None) -> str:
    """``× SASRec time``: the ratio of the medians, and the per-pass range where recorded."""
    spread = time_ratio_range(entry, sasrec)
    low_high = f" ({spread[0]:.2f}–{spread[1]:.2f})" if spread and entry is not sasrec else ""
    return fmt(time_vs_sasrec(entry, sasrec), 2) + low_high


def truth_table(entries: Sequence[Record], front: Sequence[str], sasrec: Record | None) -> str:
    def versus_sasrec(e: Record) -> str:
        return fmt(e["flops"] / sasrec["flops"] if sasrec else None, 2)

    def quality(key: str) -> Callable[[Record], str]:
        return lambda e: pm(e, key)

    columns: list[tuple[str, Callable[[Record], Any]]] = [
        ("architecture", lambda e: e["name"]),
        ("attention", lambda e: e.get("attention") or e["attention_type"]),
        ("FLOPs", lambda e: e["flops"]),
        ("× SASRec FLOPs", versus_sasrec),
        ("params", lambda e: e["params"]),
        ("inference s", lambda e: fmt(e["inference_seconds"], 3)),
    ]
    if any("idle_inference_seconds" in e for e in entries):
        columns += [
            ("inference s (timing pass)", lambda e: fmt(e["idle_inference_seconds"], 3)),
            ("× SASRec time", lambda e: time_ratio(e, sasrec)),
        ]
    columns += [(f"{METRIC_LABELS[n]} {m}", quality(f"{n}_{m}")) for m in MODES for n in METRICS]
    columns += [
        ("p vs SASRec full", lambda e: fmt(paired_vs(e, sasrec, "full"), 3)),
        ("p vs SASRec pop100", lambda e: fmt(paired_vs(e, sasrec, "pop100"), 3)),
        ("valid NDCG@10", lambda e: e["valid_ndcg@10_mean"]),
        ("seeds", lambda e: len(e["seeds"])),
        ("Pareto", lambda e: "yes" if e["name"] in front else ""),
    ]
    return table(sorted(entries, key=lambda e: e["flops"]), columns)


def search_table(judged: Sequence[Record]) -> str:
    columns: list[tuple[str, Callable[[Record], Any]]] = [
        ("method", lambda j: j["method"]),
        ("picks (per seed)", picks_of),
        ("FLOPs × SASRec", lambda j: fmt(j.get("flops_vs_sasrec"), 2)),
        ("NDCG@10 full", lambda j: pm(j, "ndcg@10_full")),
        ("NDCG@10 pop100", lambda j: pm(j, "ndcg@10_pop100")),
        ("p vs SASRec full", lambda j: fmt(j.get("paired_p_vs_sasrec_full"), 3)),
        ("p vs SASRec pop100", lambda j: fmt(j.get("paired_p_vs_sasrec_pop100"), 3)),
        ("regret (mean)", lambda j: fmt(j["regret_mean"], 3)),
        ("on front", on_front),
        ("Kendall τ", lambda j: fmt(j["kendall_tau_mean"], 2)),
        ("wall s", lambda j: fmt(round(j["search_wall_seconds_mean"]))),
    ]
    if all("search_seconds_mean" in j for j in judged):
        columns.append(("search s", lambda j: fmt(round(j["search_seconds_mean"]))))
    if all("vs_random" in j for j in judged):
        columns.append(("vs random (same budget)", lambda j: percent(j["vs_random"])))
        columns.append(("p vs random", lambda j: fmt(j["p_vs_random"], 3)))
    if all("retrained_vs_scratch" in j for j in judged):  # not in results built before issue 28
        columns.append(("retrained vs from scratch", lambda j: percent(j["retrained_vs_scratch"])))
    return table(judged, columns)


def repick_line(searches: Sequence[Record]) -> list[str]:
    """Which methods re-picked from another run's search (``search_from``), and which of their
    seeds searched anew instead (a suite continued where the parent's search was not kept):
    a re-pick's wall time is its choice's and its retraining's."""
    groups = grouped(searches, lambda r: r["group"])
    picked = {g: [r for r in runs if r.get("search_from")] for g, runs in groups.items()}
    if not any(picked.values()):
        return []
    reused = [r["name"] for r in searches if r.get("retraining_reused_from")]

    def pair(group: str) -> str:
        parent = re.sub(r"^EASRec-|-s[0-9]+$", "", picked[group][0]["search_from"])
        anew = sorted(r["settings"]["seed"] for r in groups[group] if not r.get("search_from"))
        return f"{group} from {parent}" + (
            f" (searched anew on seed {', '.join(map(str, anew))})" if anew else ""
        )

    pairs = ", ".join(pair(group) for group in sorted(g for g in picked if picked[g]))
    return [
        "",
        f"Re-picks from the same seed's search ({pairs}; `search_from`: their settings differ"
        " only after the search, in the budget or the retraining, so the search ran once): their"
        " wall seconds are the choice's and the retraining's; their search time is the parent's."
        + (
            f" {', '.join(reused)} chose the network their parent chose; retraining it again"
            " would draw the parent's retraining again (the same network, seed and settings; only the"
            " random state differs), so the"
            " parent's retrained result stands for theirs (`retraining_reused_from`)."
            if reused
            else ""
        ),
    ]


DISTILLED = {  # issue 28 item 4: the retraining variants against plain retraining (paper)
    "paper-distill": "In-place distillation from the supernet's largest path",
    "paper-distill-sasrec": "Distillation from a trained SASRec",
}


def distillation_line(judged: Sequence[Record]) -> list[str]:
    """Issue 28 item 4: retraining with distillation (:data:`DISTILLED`) against without
    (``paper``), paired by seed, on the retrained networks' full NDCG@10."""
    by_name = {j["method"]: {p["seed"]: p["ndcg@10_full"] for p in j["picks"]} for j in judged}
    plain = by_name.get("paper") or {}
    lines = []
    for method, label in DISTILLED.items():
        taught = by_name.get(method) or {}
        seeds = sorted(set(plain) & set(taught))
        if seeds:
            ours, theirs = [taught[s] for s in seeds], [plain[s] for s in seeds]
            change = sum(ours) / sum(theirs) - 1
            lines += [
                "",
                f"{label} during retraining (`{method}` against `paper`, {len(seeds)} seeds):"
                f" {percent(change)} full NDCG@10, paired p = {fmt(paired_p(ours, theirs), 3)}.",
            ]
    return lines


def gap_vs_sasrec(entry: Record, sasrec: Record) -> float:
    """``entry``'s full NDCG@10 against SASRec's over the seeds both ran (a partial ground truth
    is not judged against other seeds' SASRec); with no seed in common, against SASRec's mean."""
    shared = [seed for seed in entry["by_seed"] if seed in sasrec["by_seed"]]
    if not shared:
        return entry[SCORE] / sasrec[SCORE] - 1
    ours = sum(entry["by_seed"][seed]["full"] for seed in shared)
    return ours / sum(sasrec["by_seed"][seed]["full"] for seed in shared) - 1


def summary_lines(entries: Sequence[Record], sasrec: Record | None) -> list[str]:
    best = max(entries, key=lambda e: e[SCORE])
    lines = [
        f"- Best architecture (test NDCG@10, full ranking): **{best['name']}** {best[SCORE]:.4f}."
    ]
    if sasrec:
        lines.append(
            f"- Full-size softmax SASRec: {sasrec[SCORE]:.4f} full, "
            f"{sasrec['ndcg@10_pop100_mean']:.4f} pop100, {fmt(sasrec['flops'])} FLOPs."
        )
        cheap = best_at_or_below(split_reference(entries)[1], 0.3 * sasrec["flops"], SCORE)
        if cheap:
            gap = gap_vs_sasrec(cheap, sasrec)
            lines.append(
                f"- Best at ≤ 30 % of SASRec's FLOPs: **{cheap['name']}** {cheap[SCORE]:.4f}"
                f" ({gap:+.1%} vs SASRec, {cheap['flops'] / sasrec['flops']:.2f}× its FLOPs)."
            )
        fast = [
            e
            for e in split_reference(entries)[1]
            if e["flops"] <= 0.3 * sasrec["flops"] and (time_vs_sasrec(e, sasrec) or 1) <= 0.25
        ]
        if "idle_inference_seconds" in sasrec and fast:
            pick = max(fast, key=lambda e: e[SCORE])
            gap = gap_vs_sasrec(pick, sasrec)
            lines.append(
                f"- Best at ≤ 30 % of SASRec's FLOPs and ≤ 25 % of its inference time (timing"
                f" pass): **{pick['name']}** {pick[SCORE]:.4f} ({gap:+.1%} vs SASRec,"
                f" {time_vs_sasrec(pick, sasrec):.2f}× its time)."
            )
        within = [e for e in entries if gap_vs_sasrec(e, sasrec) >= -TOLERANCE]
        if within:
            cheapest = min(within, key=lambda e: e["flops"])
            lines.append(
                f"- Cheapest within 1 % of SASRec: **{cheapest['name']}**"
                f" ({cheapest['flops'] / sasrec['flops']:.2f}× its FLOPs)."
            )
    return lines


def plot(entries: Sequence[Record], front: Sequence[str], judged: Sequence[Record], path: Path):
    figure, axis = harness.figure(size=(8, 5))
    for e in entries:
        colour = "tab:red" if is_sasrec(e) else "tab:blue"
        axis.errorbar(
            e["flops"], e["ndcg@10_full_mean"], yerr=e["ndcg@10_full_std"], fmt="o", color=colour
        )
        axis.annotate(e["name"], (e["flops"], e["ndcg@10_full_mean"]), fontsize=7)
    points = sorted((e["flops"], e["ndcg@10_full_mean"]) for e in entries if e["name"] in front)
    axis.step(*zip(*points), where="post", color="grey", linestyle="--", label="Pareto front")
    markers = "s^vDP*X"
    for index, j in enumerate(judged):
        axis.scatter(
            [p["flops"] for p in j["picks"]],
            [p["ndcg@10_full"] for p in j["picks"]],
            marker=markers[index % len(markers)],
            s=60,
            facecolors="none",
            edgecolors=f"C{index + 2}",
            label=f"{j['method']} (retrained)",
        )
    axis.set_xscale("log")
    axis.set_xlabel("FLOPs (one full-ranking forward, log)")
    axis.set_ylabel("test NDCG@10, full ranking (mean ± std over seeds)")
    axis.legend(fontsize="small")
    harness.save_figure(figure, path, dpi=110)


def build(
    truth: Sequence[Record], search: Sequence[Record], meta: Record, timing: Record | None = None
) -> Record:
    entries = aggregate(truth)
    if timing:
        for entry in entries:
            entry["idle_inference_seconds"] = timing["seconds"].get(entry["name"])
            if timing.get("rounds"):  # recorded since 2026-12-08
                entry["idle_inference_rounds"] = timing["rounds"].get(entry["name"])
    sasrec, space = split_reference(entries)
    if sasrec and entry_key(sasrec) not in entries_by_key(space):
        space = [*space, sasrec]  # the space's full network is SASRec's (softmax, no gates)
    return {
        **meta,
        "architectures": entries,
        "pareto_front": pareto_names(entries),
        "searches": judge_searches(searches_of(search), space, sasrec),
        "selection_rules": judge_rules(searches_of(search), space),
        **({"timing": timing} if timing else {}),
        "truth_runs": list(truth),
        "search_runs": list(search),
    }


def searches_of(runs: Sequence[Record]) -> list[Record]:
    """The EASRec searches among a search suite's runs (not the teachers some of them need)."""
    return [r for r in runs if r.get("model", "EASRec") == "EASRec"]


def search_phase(runs: Sequence[Record]) -> str:
    """How long the searches searched, read from their settings: the most search epochs (random
    search: epochs split over its candidates) and the batch, then retraining with early stopping
    at its batch."""

    def values(key: str, random: bool | None = None) -> str:
        found = {
            r["settings"].get(key)
            for r in runs
            if random is None or is_random(r) == random
            if r["settings"].get(key) is not None
        }
        return "/".join(str(value) for value in sorted(found)) or "?"

    def is_random(record: Record) -> bool:
        return record["settings"].get("search_method") == "random"

    text = (
        f"Each search phase ran at most {values('epochs', False)} epochs at batch "
        f"{values('train_batch_size')} (search early stopping)"
    )
    if any(map(is_random, runs)):
        text += f", random search {values('epochs', True)} epochs split over its candidates"
    return (
        text + "; then the chosen network was retrained with early stopping at batch "
        f"{values('retrain_batch_size')}"
    )


def render(data: Record, out: Path) -> None:
    entries, front, judged = data["architectures"], data["pareto_front"], data["searches"]
    sasrec = split_reference(entries)[0]
    plot(entries, front, judged, out.with_suffix(".png"))
    md = out.with_suffix(".md")
    old = md.read_text(encoding="utf-8") if md.is_file() else ""
    findings = findings_of(old) or "<!-- findings -->\n(none yet)\n<!-- /findings -->"
    parts = [
        f"# Ground truth of EASRec's search space: {data['dataset']}",
        "",
        f"Commands: `{data['truth_command']}`"
        + (f"; `{data['search_command']}`" if data.get("search_command") else "")
        + f"; report: `{data['report_command']}`.",
        "",
        data.get("note", ""),
        "",
        "## Findings (written by hand; kept when the report is regenerated)",
        "",
        findings,
        "",
        "## Summary (computed)",
        "",
        *summary_lines(entries, sasrec),
        "",
        "## Every architecture, trained from scratch to convergence",
        "",
        "Test split; `full` = ranking against all items (headline), `pop100` = against 100"
        " popularity-sampled negatives (the papers' protocol); mean ± std over seeds.",
        "",
        truth_table(entries, front, sasrec),
        "",
        f"![NDCG@10 against FLOPs]({out.with_suffix('.png').name})",
    ]
    if data.get("timing"):
        timing = data["timing"]
        parts += ["", f"Timing pass (`space_truth.py --time`, alone): {timing['protocol']}."]
        if timing.get("rounds"):
            parts[-1] += (
                " `× SASRec time` is the ratio of the medians; in brackets, the least and the"
                " largest ratio of one pass to SASRec's pass in the same round."
            )
    if data.get("missing") is not None:
        parts += ["", missing_line("Still missing", data["missing"], "space_truth_cpu")]
    if judged:
        parts += [
            "",
            "## EASRec's searches, judged against the ground truth",
            "",
            f"{search_phase(searches_of(data['search_runs']))}, 3 seeds. NDCG@10 is the retrained network's; regret"
            " uses the ground truth's mean of the picked architecture; paired t-test against"
            " SASRec by seed."
            + (
                " `wall s`: a run's search and retraining; `search s`: its search phase (a"
                " re-pick's: its choice); both from the run's log, stops and pauses left out."
                if all("search_seconds_mean" in j for j in judged)
                else ""
            ),
            "",
            search_table(judged),
            *repick_line(searches_of(data.get("search_runs") or [])),
            *distillation_line(judged),
        ]
    if data.get("missing_searches") is not None:
        parts += [
            "",
            missing_line("Searches still missing", data["missing_searches"], "search_cpu"),
        ]
    if data.get("selection_rules"):
        parts += [
            "",
            "## Selection rules on the same searches",
            "",
            "`flops_budget` and `selection_tolerance` only choose the path after the search, so each"
            " rule is what a run with that setting picks (same seed, same search). Judged by the"
            " ground truth's mean test NDCG@10 (full); regret against the best architecture at or"
            " below the pick's FLOPs, or, with a budget, the best within the budget; on front ="
            f" regret ≤ {TOLERANCE:.0%}.",
            "",
            rules_table(data["selection_rules"]),
        ]
    md.write_text(with_banner(md.stem, "\n".join(parts)) + "\n", encoding="utf-8")


def trained_with_gate_leak(record: Record) -> bool:
    """A gated run trained autoregressively before issue 27 (no ``gate_input`` in its settings):
    its gates read the whole sequence, so it is left out when a report is rebuilt from it."""
    settings = record.get("settings") or {}
    gated = record.get("model") in ("EASRec", "EASRecCompact") and settings.get("gate_layers", 2)
    autoregressive = (record.get("resolved") or settings).get("train_mode") == "autoregressive"
    return bool(gated and autoregressive and "gate_input" not in settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", help="suite.json of --suite=space_truth_cpu")
    parser.add_argument(
        "--search",
        nargs="*",
        default=[],
        help="suite.json(s) of --suite=search_cpu, or a built result whose search runs are kept",
    )
    parser.add_argument(
        "--truth_from",
        help="a built report's JSON (e.g. space_truth_ml100k.json): its truth and search runs",
    )
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--out", help="path without extension")
    parser.add_argument("--note", default="")
    harness.add_timing_arguments(parser, "architecture")
    args = parser.parse_args(argv)
    if not (args.truth or args.truth_from) or not args.out:
        parser.error("--truth (or --truth_from) and --out are needed")
    truth, search, built = [], [], {}
    if args.truth_from:
        built = read_json(args.truth_from)
        truth = [r for r in built["truth_runs"] if not trained_with_gate_leak(r)]
        search = [r for r in built["search_runs"] if not trained_with_gate_leak(r)]
    if args.truth:
        truth += read_json(args.truth)["runs"]
    for path in filter(Path.is_file, map(Path, args.search)):  # a first run has no result yet
        found = read_json(path)
        search += found.get("runs") or [r for r in found.get("search_runs", []) if r]
    # a run trained again (same name) replaces its earlier record instead of adding a seed
    truth, search = (harness.merge_by_name(runs) for runs in (truth, search))
    data_path = "" if args.dataset == "ml-100k" else " --data_path=../shared/datasets"
    out = Path(args.out)
    short = args.dataset.replace(
        "-", ""
    )  # the suites' folders, as `python -m benchmarks run` names them
    meta = {
        "dataset": args.dataset,
        "note": args.note or built.get("note", ""),
        "truth_command": "python benchmarks/suite.py --suite=space_truth_cpu"
        + (f" --skip_from={args.truth_from}" if args.truth_from else "")
        + f" --dataset={args.dataset}{data_path} --out=saved/space_truth_{short} --workers=2",
        "search_command": "python benchmarks/suite.py --suite=search_cpu"
        f" --dataset={args.dataset}{data_path} --out=saved/search_methods_{short} --workers=2"
        if args.search or search
        else None,
        "report_command": f"python -m benchmarks report {out.name}",
    }
    timing = timing_pass(list(truth), args) if args.time else built.get("timing")
    import suite

    unfinished = suite.not_finished_in(suite.space_truth_cpu(), {"truth_runs": list(truth)})
    meta["missing"] = [run.name for run in unfinished]  # by name and settings
    if args.search:
        unfinished = suite.not_finished_in(suite.search_cpu(), {"search_runs": list(search)})
        meta["missing_searches"] = [run.name for run in unfinished]
    data = build(truth, search, meta, timing)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    render(data, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
