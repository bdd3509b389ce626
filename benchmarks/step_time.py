"""Training-step time against catalogue size: full CE vs sampled softmax, fp32 vs bf16 (issue 11).

One autoregressive training step of LinRec at its shipped sizes (d = 64, D = 256, L = 2, N = 50,
batch 64, every position a target): forward, loss, backward and an Adam step, for catalogues from
ML-1M's 3,707 items to 50,000. Variants, timed alternately in one process so that they
share the machine's load (``harness.time_alternating``: warm-up, then the median of ``--repeats``):

* ``CE fp32`` — cross-entropy over every item (eq. 12–14), float32: the reference;
* ``sampled_ce fp32`` — the target against K = 1,000 shared negatives (uniform: the cost is the
  same as popularity's);
* ``CE bf16`` / ``sampled_ce bf16`` — the same under ``precision: bf16`` (bfloat16 autocast).

    python benchmarks/step_time.py --out=benchmarks/results/step_time [--threads=1 --repeats=5]
    python -m benchmarks report step_time                                    # Markdown + PNG
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness import ROOT, machine, time_alternating, write_json, write_report

CATALOGUES = "3707,10000,20000,50000"  # ML-1M and larger (item ids with the padding id)
VARIANTS: dict[str, dict[str, Any]] = {
    "CE fp32": {"loss_type": "CE", "precision": "fp32"},
    "sampled_ce fp32": {"loss_type": "sampled_ce", "precision": "fp32"},
    "CE bf16": {"loss_type": "CE", "precision": "bf16"},
    "sampled_ce bf16": {"loss_type": "sampled_ce", "precision": "bf16"},
}
REFERENCE = "CE fp32"
BATCH, LENGTH = 64, 50


def training_step(n_items: int, settings: dict[str, Any]) -> Any:
    """A closure running one training step of a fresh LinRec with ``settings``."""
    import torch

    import recbole_easrec  # noqa: F401
    from recbole_easrec.config import build_config
    from recbole_easrec.precision import training_precision
    from recbole_easrec.saving import DatasetInfo

    extra = {"negative_distribution": "uniform", "sampled_negatives": 1000, "state": "ERROR"}
    config = build_config("LinRec", "ml-1m", config_dict={**extra, **settings})
    model = config.model_class(config, DatasetInfo({config["ITEM_ID_FIELD"]: n_items})).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    items = torch.randint(1, n_items, (BATCH, LENGTH + 1), generator=generator)
    inputs, targets = items[:, :-1], items[:, 1:]
    device = torch.device("cpu")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with training_precision(settings["precision"], device):
            loss = model.calculate_autoregressive_loss(inputs, targets)
        loss.backward()
        optimizer.step()

    return step


def measure(catalogues: tuple[int, ...], repeats: int, threads: int) -> list[dict[str, Any]]:
    """Median step seconds of every variant at every catalogue size, with ratios to CE fp32."""
    import torch

    torch.set_num_threads(threads)
    torch.autograd.set_detect_anomaly(False)  # importing RecBole's models turns it on
    rows = []
    for n_items in catalogues:
        calls = {name: training_step(n_items, settings) for name, settings in VARIANTS.items()}
        seconds = time_alternating(calls, repeats=repeats, warmup=2)
        for name, value in seconds.items():
            rows.append(
                {
                    "n_items": n_items,
                    "variant": name,
                    "step_seconds": value,
                    "speedup_vs_ce_fp32": seconds[REFERENCE] / value,
                }
            )
        print(f"[step_time] {n_items} items: {seconds}", flush=True)
    return rows


def markdown(data: dict[str, Any]) -> str:
    """Step seconds and speed-ups by catalogue size."""
    rows = data["rows"]
    sizes = sorted({row["n_items"] for row in rows})
    cell = {(row["n_items"], row["variant"]): row for row in rows}
    lines = [
        "# Training-step time against catalogue size: CE vs sampled softmax, fp32 vs bf16",
        "",
        f"Command: `{data['command']}`. Machine: {data['machine'].get('cpu', 'this CPU')},"
        f" {data['threads']} torch thread(s); {data.get('load', '')}",
        "",
        f"One autoregressive LinRec step (d = 64, D = 256, L = 2, N = {LENGTH}, batch {BATCH},"
        " every position a target; forward + loss + backward + Adam), median of"
        f" {data['repeats']} alternating repeats after 2 warm-ups. Speed-up = CE fp32's step time"
        " over the variant's, measured in the same rounds.",
        "",
        "| items | " + " | ".join(f"{name} s (× CE fp32)" for name in VARIANTS) + " |",
        "|---:|" + "---:|" * len(VARIANTS),
    ]
    for size in sizes:
        parts = [
            f"{cell[(size, name)]['step_seconds']:.3f} ({cell[(size, name)]['speedup_vs_ce_fp32']:.2f}×)"
            for name in VARIANTS
        ]
        lines.append(f"| {size:,} | " + " | ".join(parts) + " |")
    lines += [
        "",
        f"![step time against catalogue size]({Path(data['png']).name})",
        "",
        "Regenerate: `python -m benchmarks run step_time` (a few minutes); the page alone:"
        " `python -m benchmarks report step_time`.",
        "",
    ]
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> Path:
    """Step seconds against catalogue size, one line per variant (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name in VARIANTS:
        points = sorted(
            (row["n_items"], row["step_seconds"]) for row in data["rows"] if row["variant"] == name
        )
        axis.plot(*zip(*points), marker="o", label=name)
    axis.set(xscale="log", yscale="log", xlabel="items in the catalogue", ylabel="s per step")
    axis.set_title("LinRec training step (batch 64, N = 50)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/step_time")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--catalogues", default=CATALOGUES, help="item counts, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--load", default="", help="what else ran on the machine (for the report)")
    args = parser.parse_args()
    catalogues = tuple(int(size) for size in args.catalogues.split(","))
    data = {
        "command": f"python benchmarks/step_time.py --repeats={args.repeats}"
        f" --threads={args.threads} --catalogues={args.catalogues}",
        "machine": machine(),
        "load": args.load,
        "repeats": args.repeats,
        "threads": args.threads,
        "png": f"{Path(args.out).name}.png",
        "rows": measure(catalogues, args.repeats, args.threads),
    }
    out = ROOT / args.out
    write_json(out.with_suffix(".json"), data)
    plot(data, out.with_suffix(".png"))
    write_report(out.with_suffix(".md"), markdown(data))


if __name__ == "__main__":
    main()
