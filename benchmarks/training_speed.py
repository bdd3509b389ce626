"""Training speed: the time of training steps on the CPU, two studies (issues 6 and 11).

``--study=variants`` (result ``speed``): RecBole's SASRec vs LinRec at the paper's ML-1M settings,
adding one speed-up at a time: autograd anomaly detection off (importing RecBole's models turns it
on process-wide), linear attention, ``train_mode: autoregressive``, ``torch.compile`` of the
encoder, bf16 autocast (not run by default). Per variant: mean seconds of ``--batches`` steps after
a warm-up, scaled to an epoch, targets per second and peak RSS; some also train for ``--budget``
seconds and are evaluated (full ranking); a profiler table of two LinRec steps.

``--study=catalogue`` (result ``step_time``): one autoregressive LinRec step (shipped sizes, batch
64, N = 50) for catalogues of 3,707 to 50,000 items: full CE vs sampled softmax (K = 1,000), fp32
vs bf16, alternating medians (``harness.time_alternating``). Run: ``python -m benchmarks run speed``
(or ``step_time``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import harness
import reports
import torch
from harness import fmt, table
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed

from recbole_easrec.config import build_config
from recbole_easrec.precision import training_precision
from recbole_easrec.saving import DatasetInfo
from recbole_easrec.trainer import resolve_trainer
from recbole_easrec.training_modes import TARGETS_FIELD, AutoregressiveLoader

Row = dict[str, Any]
# variants study — name: (model, train_mode, anomaly detection on while training, budgeted)
VARIANTS: dict[str, tuple[str, str, bool, bool]] = {
    "SASRec (RecBole), prefix, anomaly on (as shipped)": ("SASRec", "prefix", True, True),
    "SASRec (RecBole), prefix, anomaly off": ("SASRec", "prefix", False, True),
    "LinRec, prefix": ("LinRec", "prefix", False, False),
    "LinRec, autoregressive, anomaly on": ("LinRec", "autoregressive", True, False),
    "LinRec, autoregressive": ("LinRec", "autoregressive", False, True),
    "LinRec, autoregressive + compile": ("LinRec", "autoregressive", False, False),
    "LinRec, autoregressive + bf16": ("LinRec", "autoregressive", False, False),
}
ON_CPU = dict(show_progress=False, device="cpu", use_gpu=False, seed=2020)
# catalogue study — name: LinRec's settings; the first is the reference of the speed-ups
LOSSES = {
    f"{loss} {p}": dict(loss_type=loss, precision=p)
    for p in ("fp32", "bf16")
    for loss in ("CE", "sampled_ce")
}
CATALOGUES = "3707,10000,20000,50000"  # ML-1M and larger (item ids with the padding id)
BATCH, LENGTH = 64, 50


def train_step(model: Any, optimizer: Any, loss: Callable[[], Any], precision: str) -> None:
    """One optimiser step: forward and loss (under ``precision``), backward, Adam."""
    optimizer.zero_grad(set_to_none=True)
    with training_precision(precision, torch.device("cpu")):
        value = loss()
    value.backward()
    optimizer.step()


def stepper(model: Any, precision: str = "fp32") -> Callable[[Any], None]:
    """A training step on a RecBole batch, with a fresh Adam optimiser (the model in train mode)."""
    adam = torch.optim.Adam(model.train().parameters(), lr=harness.PAPER_ML1M["learning_rate"])
    return lambda batch: train_step(model, adam, lambda: model.calculate_loss(batch), precision)


# --- variants: throughput per variant at the paper's ML-1M settings


def paper_config(model: str, args: argparse.Namespace, **overrides: Any) -> Any:
    """The config of ``model`` at the paper's sizes on the CPU (no data_path: RecBole's ml-100k)."""
    paths = {"data_path": args.data_path} if args.data_path else {}
    batches = dict(train_batch_size=args.batch_size, eval_batch_size=args.eval_batch_size)
    settings = {**harness.PAPER_ML1M, **paths, **batches, **ON_CPU, **overrides}
    return build_config(model, args.dataset, config_dict=settings)


def train(step: Callable, batches: Iterator, until: Callable[[int, float], bool]) -> Row:
    """Steps until ``until(steps, seconds)``; targets: samples (prefix) or real positions (AR)."""
    steps, targets, start = 0, 0, time.perf_counter()
    while not until(steps, time.perf_counter() - start):
        batch = next(batches)
        step(batch)
        real = int((batch[TARGETS_FIELD] > 0).sum()) if TARGETS_FIELD in batch else len(batch)
        steps, targets = steps + 1, targets + real
    return {"steps": steps, "targets": targets, "seconds": time.perf_counter() - start}


def time_batches(model: Any, loader: Any, n: int, precision: str) -> dict[str, float]:
    """Mean seconds per batch and targets per second over ``n`` batches after one warm-up."""
    step, batches = stepper(model, precision), iter(loader)
    step(next(batches))
    done = train(step, batches, lambda steps, _: steps >= n)
    seconds = done["seconds"]
    return {"seconds_per_batch": seconds / n, "targets_per_second": done["targets"] / seconds}


def evaluate(config: Any, model: Any, test_data: Any) -> tuple[dict[str, float], float]:
    """Full-ranking test metrics and their seconds."""
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    model.eval()
    start = time.perf_counter()
    result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
    return {k: float(v) for k, v in result.items()}, time.perf_counter() - start


def profile_table(model: Any, loader: Any) -> str:
    """Top operators (self CPU time) of two training steps after one warm-up."""
    from torch.profiler import ProfilerActivity, profile

    step, batches = stepper(model), iter(loader)
    step(next(batches))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(2):
            step(next(batches))
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


def measure_variant(name: str, args: argparse.Namespace, data: tuple) -> Row:
    """Times one variant; a budgeted one also trains from scratch and is evaluated."""
    model_name, mode, _, budgeted = VARIANTS[name]
    train_data, _, test_data = data
    ar = mode == "autoregressive"
    batch_size = args.ar_batch_size if ar else args.batch_size
    config = paper_config(model_name, args, train_mode=mode, train_batch_size=batch_size)
    init_seed(config["seed"], True)
    model = config.model_class(config, train_data._dataset)
    if name.endswith("+ compile"):
        model.encoder = torch.compile(model.encoder, dynamic=False)
    loader = AutoregressiveLoader(train_data, batch_size, seed=config["seed"]) if ar else train_data
    harness.reset_peak_rss()
    timing = time_batches(model, loader, args.batches, "bf16" if "bf16" in name else "fp32")
    row: Row = {
        "variant": name,
        "anomaly_detection": torch.is_anomaly_enabled(),
        "train_batch_size": batch_size,
        "batches_per_epoch": len(loader),
        **timing,
        "epoch_seconds_scaled": timing["seconds_per_batch"] * len(loader),
        "peak_rss_bytes_training": harness.peak_rss_bytes(),
    }
    if budgeted and args.budget > 0:
        init_seed(config["seed"], True)
        model = config.model_class(config, train_data._dataset)
        epochs = (batch for _ in count() for batch in loader)  # every epoch restarts the loader
        row["budget"] = train(stepper(model), epochs, lambda _, seconds: seconds >= args.budget)
        harness.reset_peak_rss()
        metrics, row["eval_seconds_full_ranking"] = evaluate(config, model, test_data)
        row["peak_rss_bytes_eval"] = harness.peak_rss_bytes()
        row["test_after_budget"] = {k: metrics[k] for k in ("ndcg@10", "recall@10")}
    if args.profile and name == "LinRec, autoregressive":
        row["profile"] = profile_table(model, loader)
    print(json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)
    return row


def variants_study(args: argparse.Namespace) -> Row:
    """One data load, then each chosen variant (anomaly detection as it says; errors skip one)."""
    config = paper_config("LinRec", args)
    init_seed(config["seed"], True)
    harness.reset_peak_rss()
    start = time.perf_counter()
    data = data_preparation(config, create_dataset(config))
    load = {"seconds": time.perf_counter() - start, "peak_rss_bytes": harness.peak_rss_bytes()}
    load["train_samples_prefix"] = len(data[0].dataset)
    print(json.dumps({"data_load": load}), flush=True)
    rows = []
    for name in chosen(VARIANTS, args.variants, default=lambda n: "bf16" not in n):
        try:
            with torch.autograd.set_detect_anomaly(VARIANTS[name][2]):
                rows.append(measure_variant(name, args, data))
        except Exception as error:  # noqa: BLE001 - a failing variant keeps the rest
            print(json.dumps({"variant": name, "error": str(error).splitlines()[0]}), flush=True)
    bf16 = bool(getattr(torch.backends.mkldnn, "is_available", lambda: 0)())
    return {
        "machine": f"{harness.cpu_name()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "bf16_supported_cpu": bf16,
        "data_load": load,
        "load": args.load,
        "batches": args.batches,
        "budget_seconds": args.budget,
        "variants": rows,
    }


def variants_markdown(data: Row) -> str:
    """Result ``speed``: throughput, × SASRec, budgeted NDCG@10 per variant, and the profile."""
    rows, load = data["variants"], data["data_load"]
    base = next((r for r in rows if r["variant"].startswith("SASRec")), rows[0])
    fair = next((r for r in rows if r["variant"].endswith("anomaly off")), base)
    over = lambda ref: lambda r: fmt(r["targets_per_second"] / ref["targets_per_second"], 1)  # noqa: E731
    test = lambda key: lambda r: r.get("test_after_budget", {}).get(key)  # noqa: E731
    columns = [
        ("variant", lambda r: r["variant"]),
        ("batch", lambda r: r["train_batch_size"]),
        ("s/batch", lambda r: fmt(r["seconds_per_batch"], 3)),
        ("epoch s (scaled)", lambda r: fmt(r["epoch_seconds_scaled"], 0)),
        ("targets/s", lambda r: fmt(r["targets_per_second"], 0)),
        ("× SASRec", over(base)),
        ("× SASRec off", over(fair)),
        ("eval s", lambda r: fmt(r.get("eval_seconds_full_ranking"), 1)),
        ("peak RSS train GiB", lambda r: fmt(r["peak_rss_bytes_training"] / 2**30, 2)),
        ("NDCG@10", test("ndcg@10")),
        ("Recall@10", test("recall@10")),
    ]
    lines = [
        "# Speed on ML-1M at the paper's settings (issue 6)",
        "",
        f"Command: `{data['command']}`  ",
        f"Machine: {data['machine']}; torch {data['torch']}."
        f" {data.get('load') or 'Ratios come from one run.'}",
        "",
        f"Data loading (RecBole, prefix augmentation at N=200, leave-one-out): {load['seconds']:.0f}"
        f" s, peak RSS {load['peak_rss_bytes'] / 2**30:.2f} GiB, {load['train_samples_prefix']}"
        " prefix training samples.",
        "",
        f"Epoch seconds are **scaled**: {data['batches']} timed batches (after 1 warm-up) × batches"
        f" per epoch. Budget: each variant trained from scratch for {data['budget_seconds']} s"
        " wall clock, then full-ranking test evaluation (no validation / early stopping).",
        "",
        f"× SASRec: targets/s over `{base['variant']}`; × SASRec off: over `{fair['variant']}`.",
        "",
        table(rows, columns),
    ]
    profile = next((r["profile"] for r in rows if r.get("profile")), None)
    if profile:
        lines += ["", "## Profile: two LinRec autoregressive steps", "", "```", profile, "```"]
    return "\n".join(lines) + "\n"


# --- catalogue: one LinRec step against catalogue size, loss and precision


def catalogue_step(n_items: int, settings: Row) -> Callable[[], None]:
    """A closure running one autoregressive training step of a fresh LinRec with ``settings``."""
    extra = {"negative_distribution": "uniform", "sampled_negatives": 1000, "state": "ERROR"}
    config = build_config("LinRec", "ml-1m", config_dict={**extra, **settings})
    model = config.model_class(config, DatasetInfo({config["ITEM_ID_FIELD"]: n_items})).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    items = torch.randint(1, n_items, (BATCH, LENGTH + 1), generator=generator)
    batch = {model.ITEM_SEQ: items[:, :-1], TARGETS_FIELD: items[:, 1:]}  # every position a target
    loss = lambda: model.calculate_loss(batch)  # noqa: E731
    return lambda: train_step(model, optimizer, loss, settings["precision"])


def catalogue_study(args: argparse.Namespace) -> Row:
    """Median step seconds per variant and catalogue size, speed-ups over the first (CE fp32)."""
    torch.autograd.set_detect_anomaly(False)  # importing RecBole's models turns it on
    names, rows = chosen(LOSSES, args.variants), []
    for n_items in (int(size) for size in args.catalogues.split(",")):
        calls = {name: catalogue_step(n_items, LOSSES[name]) for name in names}
        seconds = harness.time_alternating(calls, repeats=args.repeats, warmup=2)
        rows += [
            {
                "n_items": n_items,
                "variant": name,
                "step_seconds": value,
                "speedup_vs_ce_fp32": seconds[names[0]] / value,
            }
            for name, value in seconds.items()
        ]
        print(f"[step_time] {n_items} items: {seconds}", flush=True)
    return {
        "machine": harness.machine(),
        "load": args.load,
        "repeats": args.repeats,
        "threads": args.threads,
        "png": f"{args.out.name}.png",
        "rows": rows,
    }


def catalogue_markdown(data: Row) -> str:
    """Result ``step_time``: step seconds and speed-ups by catalogue size."""
    cell = {(row["n_items"], row["variant"]): row for row in data["rows"]}
    shown = lambda r: f"{r['step_seconds']:.3f} ({r['speedup_vs_ce_fp32']:.2f}×)"  # noqa: E731
    columns = [("items", lambda size: size)] + [
        (f"{name} s (× CE fp32)", lambda size, name=name: shown(cell[size, name]))
        for name in dict.fromkeys(row["variant"] for row in data["rows"])
    ]
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
        table(sorted({size for size, _ in cell}), columns, "r" * len(columns)),
        "",
        f"![step time against catalogue size]({Path(data['png']).name})",
        "",
        "Regenerate: `python -m benchmarks run step_time` (a few minutes); the page alone:"
        " `python -m benchmarks report step_time`.",
    ]
    return "\n".join(lines) + "\n"


def plot(data: Row, path: Path) -> Path:
    """Step seconds against catalogue size, one line per variant (log-log)."""
    figure, axis = harness.figure()
    rows = data["rows"]
    for name in dict.fromkeys(row["variant"] for row in rows):
        points = sorted((r["n_items"], r["step_seconds"]) for r in rows if r["variant"] == name)
        axis.plot(*zip(*points), marker="o", label=name)
    axis.set(xscale="log", yscale="log", xlabel="items in the catalogue", ylabel="s per step")
    axis.set_title("LinRec training step (batch 64, N = 50)")
    axis.legend()
    return harness.save_figure(figure, path)


STUDIES = {"variants": (variants_study, "speed"), "catalogue": (catalogue_study, "step_time")}


def chosen(names: dict[str, Any], wanted: str, default: Callable[[str], bool] = bool) -> list[str]:
    """The names in ``wanted`` (``;``-separated), in their table's order; ``all``: the defaults."""
    if wanted == "all":
        return [name for name in names if default(name)]
    return [name for name in names if name in wanted.split(";")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--dataset", default="ml-1m", help="variants: ml-100k for a quick run")
    parser.add_argument("--data_path", default=harness.DATA_PATH, help="'': RecBole's ml-100k")
    parser.add_argument("--variants", default="all", help="names separated by ';'")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared 2-core CPU)")
    parser.add_argument("--batches", type=int, default=3, help="variants: timed batches")
    parser.add_argument("--batch_size", type=int, default=256, help="prefix mode (samples)")
    parser.add_argument("--ar_batch_size", type=int, default=64, help="autoregressive (users)")
    parser.add_argument("--eval_batch_size", type=int, default=512)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training each")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--repeats", type=int, default=5, help="catalogue: alternating rounds")
    parser.add_argument("--catalogues", default=CATALOGUES, help="item counts, comma-separated")
    parser.add_argument("--load", default="", help="what else ran on the machine (report)")
    parser.add_argument("--out", help="path without .json/.md (default: results/<result>)")
    args = parser.parse_args(argv)
    measure, result = STUDIES[args.study]
    args.out = harness.ROOT / (args.out or harness.RESULTS / result)
    torch.set_num_threads(args.threads)
    data = measure(args)
    given = {arg.split("=")[0]: arg for arg in argv or sys.argv[1:]}  # the last of each flag
    given.pop("--out", None)
    data["command"] = shlex.join(["python", "benchmarks/training_speed.py", *given.values()])
    reports.write(result, args.out, data)


if __name__ == "__main__":
    main()
