"""Inference latency, FLOPs and peak memory of SASRec (RecBole) vs LinRec as the sequence grows.

Issue 2: the paper's ML-1M sizes (d 128, inner 256, 4 layers, 4 heads), N ∈ {50 … 800},
full-ranking ``full_sort_predict`` of ``--batch`` sequences of exactly N items, eval mode, CPU, for
RecBole's ``SASRec``, our stack with softmax attention (``softmax (ours)``) and ``LinRec``. Each
(model, N) runs in its own subprocess, so that its peak RSS (minus the RSS once the model is built)
is its own; latency is the minimum of ``--repeats`` calls after one warm-up (the least disturbed by
other load). Ratios are against SASRec at the same N, in the same run. Writes
``benchmarks/results/attention_scaling.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from harness import PAPER_ML1M, RESULTS, child_json, write_json, write_report

MODELS = {
    "SASRec": ("SASRec", {}),
    "softmax (ours)": ("LinRec", {"attention_type": "softmax"}),
    "LinRec": ("LinRec", {}),
}
SETTINGS = {**PAPER_ML1M, "state": "ERROR"}  # the paper's sizes; N varies
N_ITEMS = 3707


def measure(label: str, length: int, batch: int, repeats: int) -> dict:
    """Runs inside the worker subprocess: build one model, time and count one length."""
    import psutil
    import torch

    from recbole_easrec.config import build_config
    from recbole_easrec.efficiency import count_flops, median_seconds, peak_memory_bytes
    from recbole_easrec.saving import DatasetInfo

    torch.manual_seed(0)
    model_name, extra = MODELS[label]
    config = build_config(
        model_name, "ml-1m", config_dict={**SETTINGS, **extra, "MAX_ITEM_LIST_LENGTH": length}
    )
    model = config.model_class(config, DatasetInfo({config["ITEM_ID_FIELD"]: N_ITEMS})).eval()
    items = torch.randint(1, N_ITEMS, (batch, length))
    lengths = torch.full((batch,), length)
    interaction = {model.ITEM_SEQ: items, model.ITEM_SEQ_LEN: lengths}
    one = {model.ITEM_SEQ: items[:1], model.ITEM_SEQ_LEN: lengths[:1]}
    rss_before = psutil.Process().memory_info().rss

    def infer(batch_interaction: dict = interaction) -> None:
        with torch.no_grad():
            model.full_sort_predict(batch_interaction)

    infer()  # warm-up
    seconds = min(median_seconds(infer, repeats=1) for _ in range(repeats))
    return {
        "model": label,
        "length": length,
        "batch": batch,
        "latency_seconds": seconds,
        "flops_per_sequence": count_flops(lambda: model.full_sort_predict(one)),
        "peak_memory_bytes": max(0, peak_memory_bytes() - rss_before),
        "params": sum(p.numel() for p in model.parameters()),
    }


def run_worker(label: str, length: int, batch: int, repeats: int) -> dict:
    return child_json([__file__, "--worker", label, str(length), str(batch), str(repeats)])


def add_ratios(rows: list[dict]) -> None:
    baseline = {row["length"]: row for row in rows if row["model"] == "SASRec"}
    for row in rows:
        base = baseline[row["length"]]
        for key in ("latency_seconds", "flops_per_sequence", "peak_memory_bytes"):
            row[f"{key}_vs_sasrec"] = row[key] / base[key] if base[key] else None


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# Attention scaling: RecBole SASRec vs our softmax stack vs LinRec",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}, torch {meta['torch']}, {meta['threads']} threads; "
        f"batch {meta['batch']} sequences of exactly N items, full-ranking scores over {N_ITEMS} "
        "items, eval mode. d=128, inner 256, 4 layers, 4 heads. Latency = best of "
        f"{meta['repeats']} runs; memory = peak RSS added by the forward passes (own process). "
        "Ratios are against RecBole's SASRec at the same N (same run); below 1 is better.",
        "",
        "| N | model | latency (s) | × SASRec | GFLOPs/seq | × SASRec | peak mem (MB) | × SASRec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        memory_ratio = row["peak_memory_bytes_vs_sasrec"]
        lines.append(
            f"| {row['length']} | {row['model']} | {row['latency_seconds']:.4f} | "
            f"{row['latency_seconds_vs_sasrec']:.2f} | {row['flops_per_sequence'] / 1e9:.3f} | "
            f"{row['flops_per_sequence_vs_sasrec']:.2f} | {row['peak_memory_bytes'] / 2**20:.1f} | "
            f"{'n/a' if memory_ratio is None else f'{memory_ratio:.2f}'} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    metrics = (
        ("latency_seconds", "latency (s)"),
        ("flops_per_sequence", "FLOPs / sequence"),
        ("peak_memory_bytes", "peak memory (bytes)"),
    )
    for axis, (key, title) in zip(axes, metrics):
        for label in MODELS:
            points = [(r["length"], r[key]) for r in rows if r["model"] == label]
            axis.plot(*zip(*points), marker="o", label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("sequence length N")
        axis.set_title(title)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "attention_scaling")
    args = parser.parse_args()
    import torch

    rows = []
    for length in args.lengths:
        for label in MODELS:
            row = run_worker(label, length, args.batch, args.repeats)
            rows.append(row)
            print(f"N={length:4d} {label:15s} {row['latency_seconds']:.4f}s", file=sys.stderr)
    add_ratios(rows)
    meta = {
        "command": "python benchmarks/attention_scaling.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "repeats": args.repeats,
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json(args.output.with_suffix(".json"), {"meta": meta, "rows": rows})
    write_report(args.output.with_suffix(".md"), markdown(rows, meta))
    plot(rows, args.output.with_suffix(".png"))
    print(markdown(rows, meta))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        label, length, batch, repeats = sys.argv[2], *map(int, sys.argv[3:6])
        print(json.dumps(measure(label, length, batch, repeats)))
    else:
        main()
