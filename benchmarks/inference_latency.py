"""Full-ranking inference cost on ML-1M shapes (issue 5): EASRec's compact nets vs SASRec, LinRec.

Every model is built as ``load_model`` rebuilds a saved run (resolved config, ``DatasetInfo`` with
3707 item ids), with random weights: latency, FLOPs, parameters and memory do not depend on the
weight values, so nothing is trained or loaded. One pass is ``full_sort_predict`` (eval, no grad)
over ``--users`` RecBole-padded ``[batch, 200]`` test sequences (ML-1M's real test-history lengths,
or all 200 with ``--lengths full``); the models' ``--repeats`` passes are interleaved, the order
rotated each round. FLOPs: :func:`recbole_easrec.efficiency.model_flops`; peak memory: RSS growth
over one batch in a fresh subprocess per model (``--probe``). The report's Protocol section gives
the details. Writes ``benchmarks/results/inference_latency_ml1m.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import (
    DATA_PATH,
    PAPER_ML1M,
    RESULTS,
    child_json,
    cpu_name,
    proc_status_kb,
    reset_peak_rss,
    write_json,
    write_report,
)
from recbole.data.interaction import Interaction

from recbole_easrec.config import build_config
from recbole_easrec.efficiency import count_parameters, model_flops
from recbole_easrec.saving import DatasetInfo

N_ITEMS = 3707  # ML-1M: 3706 items + padding id 0
MAX_LEN = PAPER_ML1M["MAX_ITEM_LIST_LENGTH"]
BASELINE = "SASRec (RecBole)"
EASREC = "EASRecCompact gates=2"
SHARED = {
    k: PAPER_ML1M[k] for k in ("MAX_ITEM_LIST_LENGTH", "hidden_dropout_prob", "attn_dropout_prob")
}
PAPER_BASE = {k: PAPER_ML1M[k] for k in ("hidden_size", "inner_size", "n_layers", "n_heads")}
# name: (model class name, architecture settings)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    BASELINE: ("SASRec", PAPER_BASE),
    "LinRec softmax (our SASRec)": ("LinRec", {**PAPER_BASE, "attention_type": "softmax"}),
    "LinRec linear": ("LinRec", {**PAPER_BASE, "attention_type": "linear"}),
    EASREC: (
        "EASRecCompact",
        {"hidden_size": 96, "inner_size": 192, "n_layers": 1, "n_heads": 4, "gate_layers": 2},
    ),
    "EASRecCompact gates=0": (
        "EASRecCompact",
        {"hidden_size": 96, "inner_size": 192, "n_layers": 1, "n_heads": 4, "gate_layers": 0},
    ),
}
TARGET_TIME = 0.40
TARGET_FLOPS = 0.30


def build(name: str) -> Any:
    """The model ``name`` in eval mode, random weights (seed 0), on the CPU."""
    model_name, settings = MODELS[name]
    extra = {"attention_type": "linear"} if model_name == "EASRecCompact" else {}
    config = build_config(
        model_name, "ml-1m", config_dict={**SHARED, **extra, **settings, "device": "cpu"}
    )
    torch.manual_seed(0)
    model = config.model_class(config, DatasetInfo({config["ITEM_ID_FIELD"]: N_ITEMS}))
    return model.eval()


def test_lengths(args: argparse.Namespace) -> np.ndarray:
    """Test-history lengths of ``--users`` users (shuffled, seed 0)."""
    rng = np.random.default_rng(0)
    if args.lengths == "full":
        return np.full(args.users, MAX_LEN)
    inter = Path(args.data_path) / "ml-1m" / "ml-1m.inter"
    with inter.open(encoding="utf-8") as handle:
        next(handle)
        users = [line.split("\t", 1)[0] for line in handle]
    _, counts = np.unique(users, return_counts=True)
    lengths = np.minimum(counts - 1, MAX_LEN)
    return rng.permutation(lengths)[: args.users]


def make_batches(model: Any, lengths: np.ndarray, batch: int) -> list[Interaction]:
    """RecBole-shaped test batches: ``[B, 200]`` item ids, real items first, then zeros."""
    generator = torch.Generator().manual_seed(1)
    batches = []
    for start in range(0, len(lengths), batch):
        length = torch.as_tensor(lengths[start : start + batch], dtype=torch.long)
        seq = torch.randint(1, N_ITEMS, (len(length), MAX_LEN), generator=generator)
        seq[torch.arange(MAX_LEN)[None, :] >= length[:, None]] = 0
        batches.append(Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: length}))
    return batches


def full_pass(model: Any, batches: list[Interaction]) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            model.full_sort_predict(batch)
    return time.perf_counter() - start


def probe_memory(name: str, args: argparse.Namespace) -> dict[str, int]:
    """(In the subprocess.) RSS growth over one full-ranking batch, after a 2-row warm-up."""
    torch.set_num_threads(args.threads)
    model = build(name)
    batch = make_batches(model, test_lengths(args)[: args.batch], args.batch)[0]
    with torch.no_grad():  # fault in library code and lazy state on 2 rows, outside the peak
        model.full_sort_predict(batch[:2])
    reset_peak_rss()  # VmHWM := the current RSS
    before = proc_status_kb("VmRSS")
    with torch.no_grad():
        scores = model.full_sort_predict(batch)
    peak = proc_status_kb("VmHWM")
    return {
        "inference_peak_bytes": (peak - before) * 1024,
        "rss_before_bytes": before * 1024,
        "scores_shape": list(scores.shape),
    }


def run_probe(name: str, args: argparse.Namespace) -> dict[str, int]:
    """:func:`probe_memory` in a fresh process; every tensor over 64 KiB its own mapping, so that
    freed ones leave the RSS."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(args.threads)}
    keys = ("threads", "batch", "users", "lengths", "data_path")
    return child_json([__file__, "--probe", name, *(f"--{k}={vars(args)[k]}" for k in keys)], env)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    names = list(MODELS)
    models = {name: build(name) for name in names}
    lengths = test_lengths(args)
    batches = make_batches(models[BASELINE], lengths, args.batch)
    rows: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        flops = model_flops(model, batches[0])
        model_name, settings = MODELS[name]
        rows[name] = {
            "model": model_name,
            "architecture": settings,
            "params": count_parameters(model),
            "weights_bytes": 4 * count_parameters(model, trainable_only=False),
            **flops,
            "seconds": [],
        }
        with torch.no_grad():
            model.full_sort_predict(batches[0][:64])  # warm-up
    load_before = os.getloadavg()
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            rows[name]["seconds"].append(full_pass(models[name], batches))
        print(
            f"round {round_index + 1}/{args.repeats}: "
            + ", ".join(f"{n} {rows[n]['seconds'][-1]:.2f}s" for n in names),
            flush=True,
        )
    load_after = os.getloadavg()
    base = rows[BASELINE]
    for row in rows.values():
        row["median_seconds"] = statistics.median(row["seconds"])
        row["time_ratio"] = row["median_seconds"] / base["median_seconds"]
        row["time_ratio_per_round_median"] = statistics.median(
            s / b for s, b in zip(row["seconds"], base["seconds"])
        )
        row["flops_ratio"] = row["flops"] / base["flops"]
        row["params_ratio"] = row["params"] / base["params"]
    for name in names:
        rows[name].update(run_probe(name, args))
        print(f"memory {name}: {rows[name]['inference_peak_bytes'] / 2**20:.1f} MiB", flush=True)
    for row in rows.values():
        row["memory_ratio"] = row["inference_peak_bytes"] / base["inference_peak_bytes"]
    easrec = rows[EASREC]
    return {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {
            "cpu": cpu_name(),
            "logical_cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before_timing": load_before,
            "loadavg_after_timing": load_after,
        },
        "torch": torch.__version__,
        "threads": args.threads,
        "protocol": {
            "users": len(lengths),
            "batch": args.batch,
            "batches": len(batches),
            "MAX_ITEM_LIST_LENGTH": MAX_LEN,
            "n_items": N_ITEMS,
            "lengths": args.lengths,
            "length_stats": {
                "mean": float(lengths.mean()),
                "median": float(np.median(lengths)),
                "min": int(lengths.min()),
                "share_at_200": float((lengths == MAX_LEN).mean()),
            },
            "repeats": args.repeats,
            "weights": "random (each model's own initialisation, seed 0)",
            "shared_settings": SHARED,
        },
        "models": rows,
        "targets": {
            "inference_time_ratio_max": TARGET_TIME,
            "flops_ratio_max": TARGET_FLOPS,
            "easrec_time_ratio": easrec["time_ratio"],
            "easrec_flops_ratio": easrec["flops_ratio"],
            "time_met": easrec["time_ratio"] <= TARGET_TIME,
            "flops_met": easrec["flops_ratio"] <= TARGET_FLOPS,
        },
    }


def markdown(result: dict[str, Any], finding: str) -> str:
    protocol, machine, targets = result["protocol"], result["machine"], result["targets"]
    stats = protocol["length_stats"]
    lines = [
        "# Full-ranking inference cost on ML-1M shapes: EASRec vs SASRec vs LinRec",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, {machine['platform']};"
        f" torch {result['torch']}, {result['threads']} torch thread(s).  ",
        f"Load average (1/5/15 min) before timing {', '.join(f'{x:.2f}' for x in machine['loadavg_before_timing'])},"
        f" after {', '.join(f'{x:.2f}' for x in machine['loadavg_after_timing'])}.",
        "",
        "## Protocol",
        "",
        "- Models built from their architecture alone (`build_config` + `DatasetInfo`, as"
        " `load_model` does), **random weights**: latency, FLOPs, params and memory do not depend"
        " on weight values. 3707 item ids (3706 ML-1M items + padding), MAX_ITEM_LIST_LENGTH 200,"
        " dropout 0.2 (inactive in eval), CPU, `model.eval()`, `torch.no_grad()`.",
        f"- One pass = `full_sort_predict` over {protocol['users']} test users in"
        f" {protocol['batches']} batch(es) of {protocol['batch']} (`[B, 200]` item ids, padded as"
        " RecBole pads, scores against all 3707 items); top-k/metrics left out (same for all).",
        f"- Sequence lengths: `{protocol['lengths']}` — "
        + (
            "ML-1M's real test-history lengths (interactions − 1 per user, capped at 200),"
            f" mean {stats['mean']:.0f}, median {stats['median']:.0f}, min {stats['min']},"
            f" {stats['share_at_200']:.0%} at the 200 cap. Every model computes on the padded"
            " `[B, 200]` tensor anyway, so lengths change little."
            if protocol["lengths"] == "ml1m"
            else "every user at 200."
        ),
        f"- Time: median of {protocol['repeats']} passes per model after a warm-up call (64 rows);"
        " the models' passes are **interleaved** (every round runs each model once, order rotated"
        " per round). The CPU (2 cores) is shared with another benchmark running concurrently,"
        " so absolute seconds are inflated and noisy; interleaving spreads that load over all"
        " models alike, and the **ratios to RecBole's SASRec from the same run** are the result."
        " `ratio/round` is the median of per-round ratios (robust to load drifting between"
        " rounds).",
        "- FLOPs: `recbole_easrec.efficiency.model_flops` (the counter result.json uses): one"
        " full-ranking forward of one sequence at length 200 (`encoder` = sequence"
        " representation only).",
        "- Peak memory: fresh subprocess per model, resident-set growth (VmHWM − VmRSS) over one"
        f" `full_sort_predict` of one batch of {protocol['batch']} (after a 2-row warm-up"
        " call, so library code pages and one-time state are not counted), with"
        " `MALLOC_MMAP_THRESHOLD_=65536` so freed tensors leave the RSS (growth = peak live"
        " activations + allocator overhead, not heap reuse). Weights listed separately.",
        "",
        "## Results",
        "",
        "| model | hidden/inner/layers/heads | params | FLOPs / seq | encoder FLOPs | pass s"
        " | time ratio | ratio/round | FLOPs ratio | peak inference MiB | memory ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result["models"].items():
        arch = row["architecture"]
        shape = f"{arch['hidden_size']}/{arch['inner_size']}/{arch['n_layers']}/{arch['n_heads']}"
        lines.append(
            f"| {name} | {shape} | {row['params']:,} | {row['flops'] / 1e6:.1f} M"
            f" | {row['encoder_flops'] / 1e6:.1f} M | {row['median_seconds']:.2f}"
            f" | {row['time_ratio']:.1%} | {row['time_ratio_per_round_median']:.1%}"
            f" | {row['flops_ratio']:.1%} | {row['inference_peak_bytes'] / 2**20:.1f}"
            f" | {row['memory_ratio']:.1%} |"
        )
    lines += [
        "",
        "## Targets (issue 5), EASRec (gates=2) vs RecBole's SASRec",
        "",
        f"- Inference time ≤ {TARGET_TIME:.0%}: {targets['easrec_time_ratio']:.1%} —"
        f" **{'met' if targets['time_met'] else 'missed'}**.",
        f"- FLOPs ≤ {TARGET_FLOPS:.0%}: {targets['easrec_flops_ratio']:.1%} —"
        f" **{'met' if targets['flops_met'] else 'missed'}**.",
        "",
        "## Finding",
        "",
        finding,
        "",
    ]
    return "\n".join(lines)


def finding_text(result: dict[str, Any]) -> str:
    rows = result["models"]
    easrec, gates0 = rows[EASREC], rows["EASRecCompact gates=0"]
    ours, linear = rows["LinRec softmax (our SASRec)"], rows["LinRec linear"]
    both = result["targets"]["time_met"] and result["targets"]["flops_met"]
    if linear["median_seconds"] >= ours["median_seconds"]:
        attention = (
            "on this CPU at N=200, d=128 its fewer FLOPs do not make it faster than PyTorch's"
            " fused softmax kernel, which materialises no N×N matrix either"
        )
    else:
        attention = "faster than our softmax stack, as its FLOPs suggest"
    return (
        f"On one CPU thread EASRec's selected compact network (96/192, 1 layer, linear attention,"
        f" 2-layer gates) does a full-ranking test pass in {easrec['time_ratio']:.1%} of RecBole"
        f" SASRec's time with {easrec['flops_ratio']:.1%} of its FLOPs,"
        f" {easrec['params_ratio']:.0%} of its parameters (mostly the item embedding) and"
        f" {easrec['memory_ratio']:.0%} of its inference memory; both issue-5 cost targets are"
        f" {'met, by a wide margin' if both else 'not both met'}."
        f" Without gates the same net takes {gates0['time_ratio']:.1%} of SASRec's time"
        f" ({gates0['flops_ratio']:.1%} FLOPs): the gates cost next to nothing."
        f" Part of the gain is our stack, not the search: our softmax stack at SASRec's sizes"
        f" takes {ours['time_ratio']:.0%} of RecBole SASRec's time ({ours['flops_ratio']:.0%}"
        f" FLOPs, {ours['memory_ratio']:.0%} memory), because its last layer runs at the last"
        f" position only and it uses PyTorch's fused attention; against that like-for-like"
        f" baseline EASRec takes {easrec['median_seconds'] / ours['median_seconds']:.0%} of the"
        f" time. LinRec (linear attention, same sizes) takes {linear['time_ratio']:.0%}"
        f" ({linear['flops_ratio']:.0%} FLOPs, {linear['memory_ratio']:.0%} memory): {attention}."
        f" Most of EASRec's saving is its depth: with one layer, computed at the last position"
        f" only, the compact net projects keys and values at all 200 positions but computes the"
        f" query, attention output and feed-forward once per sequence, whereas RecBole's SASRec"
        f" runs 4 layers at all 200 positions with an N×N attention matrix; the narrower width"
        f" (96/192 instead of 128/256) adds the rest."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=512, help="test users per pass (ML-1M: 6040)")
    parser.add_argument("--batch", type=int, default=512, help="eval batch size")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed passes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--lengths", choices=["ml1m", "full"], default="ml1m")
    parser.add_argument("--data_path", default=DATA_PATH)
    parser.add_argument("--output", default=str(RESULTS / "inference_latency_ml1m"))
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe_memory(args.probe, args)))
        return
    result = measure(args)
    output = Path(args.output)
    write_json(output.with_suffix(".json"), result)
    write_report(output.with_suffix(".md"), markdown(result, finding_text(result)))
    print(output.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
