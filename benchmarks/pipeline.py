"""The pipeline end to end, each subject in a child process: seconds per phase and peak RSS.

* ``--study=headline`` → ``headline_ml1m`` (issue 11, item 1): ``python run_recbole_easrec.py
  --model=EASRec --dataset=ml-1m --data_path=...`` exactly as a new user runs it, no other setting;
  its phases (start-up and data preparation until the model is printed, search, scoring the
  architectures on shared weights, retraining, test evaluation and cost measurement), its peak
  RSS, the one-screen summary it ends with and the numbers behind it.
* ``--study=scale`` → ``scale`` (issue 11, item 3): a synthetic dataset shaped like Gowalla
  (:func:`generate`) and twice that, one epoch per model through the same command line
  (``--epochs=1``; EASRec: one search epoch, then one retraining epoch of the chosen network).
  Full-ranking evaluation is exact over all items; its score matrices are capped per batch by
  ``recbole_easrec.data.sequences.cap_full_sort_batches``.
* ``--study=data_path`` → ``data_path_ml1m`` (issue 11, item 2): seconds and peak RSS until
  training can start, RecBole's stored prefixes against our lazy sequences (:func:`ready_to_train`).

A command-line run's phases come from its ``run.log`` timestamps, each phase ending at the last
line that matches its pattern (:func:`phase_seconds`); its peak RSS is its own, read by a wrapper
process around it (``getrusage(RUSAGE_CHILDREN)``, :func:`run_child`). Unknown ``--key=value``
arguments go to ``run_recbole_easrec.py`` (headline, scale).

    python benchmarks/pipeline.py --study=headline --data_path=../shared/datasets
    python benchmarks/pipeline.py --study=scale [--runs=1:LinRec,2:LinRec,1:EASRec] [--append]
    python benchmarks/pipeline.py --study=data_path --data_path=../shared/datasets --max_length=200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    LOG_STAMP,
    RESULTS,
    ROOT,
    fmt,
    machine,
    peak_rss_bytes,
    read_json,
    write_json,
    write_report,
)

from recbole_easrec.stats import mean_std

Record = dict[str, Any]
Phases = tuple[tuple[str, str], ...]  # (phase, regular expression of the log line that ends it)


HEADLINE_PHASES: Phases = (
    ("start-up and data preparation", r"INFO EASRec\("),
    ("search", r"search: epoch \d+/\d+ done"),
    ("scoring architectures on shared weights", r"scoring architectures .*done"),
    ("retraining", r"retrain: epoch \d+/\d+ done"),
    ("test, cost measurement, saving", r"test result:"),
)
SCALE_PHASES: dict[str, Phases] = {
    "LinRec": (
        ("load, split, model", r"INFO LinRec\("),
        ("training epoch", r"epoch 0 training"),
        ("validation (full ranking)", r"epoch 0 evaluating"),
        ("test (full ranking), cost, saving", r"test result:"),
    ),
    "EASRec": (
        ("load, split, model", r"INFO EASRec\("),
        ("search epoch", r"search: epoch \d+/\d+ done"),
        ("scoring architectures (full ranking)", r"scoring architectures .*done"),
        ("retraining epoch", r"retrain: epoch \d+/\d+ done"),
        ("test (full ranking), cost, saving", r"test result:"),
    ),
}
# Issue 28's targets for the headline command with defaults (CPU size, 2 cores): the bound, which
# side of it meets the target, and the digits shown.
HEADLINE_TARGETS: dict[str, tuple[float, str, int]] = {
    "wall minutes": (25, "≤", 1),
    "peak RSS GiB": (4.0, "≤", 1),
    "test NDCG@10": (0.135, "≥", 4),
}
GROUND_TRUTH = "space_truth_ml1m"  # where SASRec's converged runs at these sizes are
HEADLINE_RESULT = """architecture test_result test_protocol best_valid_result search_valid_result
    efficiency full_network_efficiency search_iterations""".split()
HEADLINE_SETTINGS = """train_mode train_batch_size retrain_batch_size epochs retrain_epochs
    stopping_step MAX_ITEM_LIST_LENGTH hidden_size inner_size n_layers search_method seed""".split()
MEASURED = ("wall_seconds", "cpu_seconds", "peak_rss_bytes")  # of every command-line run
GOWALLA = (64_000, 165_000, 2_000_000)  # users, items, interactions (as the EASRec paper uses it)
ZIPF_EXPONENT, MIN_PER_USER = 1.0, 5
PATHS = ("recbole", "lazy")
STUDY_RESULTS = {"headline": "headline_ml1m", "scale": "scale", "data_path": "data_path_ml1m"}
REGENERATE = "Regenerate: `python -m benchmarks run {0}` ({1}); the page alone: `python -m benchmarks report {0}`."
# Runs a command, then prints its children's peak RSS (KiB): the run's alone, not the harness's.
RSS_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def gib(size: int) -> str:
    """Bytes as GiB with two decimals."""
    return f"{size / 1024**3:.2f}"


def cpu_of(info: Record) -> str:
    """The CPU of a ``harness.machine()`` record and its cores."""
    return f"{info.get('cpu', 'this CPU')} ({info.get('cores_visible', '?')} cores)"


# -- one child process, measured from outside
def phase_seconds(
    lines: list[str], started: datetime, finished: datetime, ends: Phases
) -> dict[str, float]:
    """Seconds per phase: each ends at the last log line matching its pattern; then ``exit``.
    The log keeps HH:MM:SS only: each line's date follows from the one before (or ``started``)."""
    stamped, previous = [], started
    for line in lines:
        if match := LOG_STAMP.match(line):
            hour, minute, second = (int(part) for part in match.groups())
            moment = previous.replace(hour=hour, minute=minute, second=second, microsecond=0)
            if moment < previous - timedelta(hours=1):  # past midnight
                moment += timedelta(days=1)
            stamped.append((moment, line))
            previous = moment
    seconds, begin = {}, started
    for name, pattern in ends:
        moments = [moment for moment, line in stamped if re.search(pattern, line)]
        if moments:
            seconds[name] = max(0.0, (moments[-1] - begin).total_seconds())
            begin = moments[-1]
    seconds["exit"] = max(0.0, (finished - begin).total_seconds())
    return seconds


@dataclass
class Run:
    """A child process as measured from outside (for a command-line run, with its log)."""

    returncode: int
    error: str  # the last line of its stderr
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    output: list[str]  # its stdout lines
    log_lines: list[str] = field(default_factory=list)
    phases_seconds: dict[str, float] = field(default_factory=dict)


def run_child(arguments: list[str], log: Path | None = None, ends: Phases = ()) -> Run:
    """``python ARGUMENTS`` from the repository root: wall and CPU seconds, peak RSS and output;
    with ``log``, that file's lines and the seconds per phase (:func:`phase_seconds`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, clock = datetime.now(), time.perf_counter()
    command = [sys.executable, "-c", RSS_WRAPPER, sys.executable, *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    *output, rss = done.stdout.strip().splitlines() or ["0"]
    lines = log.read_text(encoding="utf-8").splitlines() if log and log.exists() else []
    seconds = phase_seconds(lines, started, started + timedelta(seconds=wall), ends) if log else {}
    return Run(
        returncode=done.returncode,
        error=(done.stderr.strip().splitlines() or ["(no output)"])[-1],
        wall_seconds=round(wall, 1),
        cpu_seconds=round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        peak_rss_bytes=int(rss) * 1024,
        output=output,
        log_lines=lines,
        phases_seconds={key: round(value, 1) for key, value in seconds.items()},
    )


def run_cli(arguments: list[str], output_dir: Path, ends: Phases) -> Run:
    """``python run_recbole_easrec.py ARGUMENTS --output_dir=OUTPUT_DIR`` with its phases."""
    command = ["run_recbole_easrec.py", *arguments, f"--output_dir={output_dir}"]
    return run_child(command, output_dir / "run.log", ends)


# -- headline
def sasrec_reference(truth: Path, seed: int) -> Record | None:
    """SASRec's test NDCG@10 (full ranking) in a ground truth's JSON (``truth_runs`` named
    ``SASRec-s<seed>``): every seed's, their mean and std, and the one of ``seed``."""
    if not truth.is_file():
        return None
    by_seed = {
        str(run["settings"]["seed"]): run["test_result"]["ndcg@10"]
        for run in read_json(truth).get("truth_runs", [])
        if run.get("name", "").startswith("SASRec-") and run.get("status") == "ok"
    }
    if not by_seed:
        return None
    mean, std = mean_std(by_seed.values())
    return {"source": truth.stem, "by_seed": by_seed, "mean": mean, "std": std, "seed": str(seed)}


def headline(args: argparse.Namespace, extra: list[str]) -> Record:
    """The headline command in a child process: its phases, peak RSS, summary and result."""
    flags = [f"--data_path={args.data_path}"] if args.data_path else []
    arguments = ["--model=EASRec", f"--dataset={args.dataset}", *flags, *extra]
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        run = run_cli(arguments, run_dir, HEADLINE_PHASES)
        if run.returncode:
            raise SystemExit(f"the headline command failed: {run.error}")
        result = read_json(run_dir / "result.json")
        summary = (run_dir / "summary.txt").read_text(encoding="utf-8").strip()
    ends = dict(HEADLINE_PHASES)
    print(summary)
    return {
        "command": " ".join(["python run_recbole_easrec.py", *arguments]),
        **{key: getattr(run, key) for key in MEASURED},
        "phases_seconds": run.phases_seconds,
        "search_epochs": sum(bool(re.search(ends["search"], s)) for s in run.log_lines),
        "retrain_epochs": sum(bool(re.search(ends["retraining"], s)) for s in run.log_lines),
        "summary": summary.replace(str(run_dir), "RUN_DIR"),
        "result": {key: result.get(key) for key in HEADLINE_RESULT},
        "settings": {key: result["config"].get(key) for key in HEADLINE_SETTINGS},
        "sasrec": sasrec_reference(RESULTS / f"{GROUND_TRUTH}.json", result["config"]["seed"]),
    }


def headline_verdicts(run: Record) -> list[str]:
    """Each of :data:`HEADLINE_TARGETS` with the run's value and whether it is met."""
    values = {
        "wall minutes": run["wall_seconds"] / 60,
        "peak RSS GiB": run["peak_rss_bytes"] / 1024**3,
        "test NDCG@10": run["result"]["test_result"]["ndcg@10"],
    }
    lines = []
    for name, (target, side, digits) in HEADLINE_TARGETS.items():
        met = values[name] >= target if side == "≥" else values[name] <= target
        lines.append(
            f"{name} {fmt(values[name], digits)} (target {side} {target}:"
            f" {'met' if met else 'missed'})"
        )
    return lines


def picked_line(run: Record) -> str:
    """The picked architecture, its test NDCG@10 and SASRec's at these sizes (ground truth)."""
    arch, ndcg = run["result"]["architecture"], run["result"]["test_result"]["ndcg@10"]
    picked = f"d={arch['hidden_size']}, D={arch['inner_size']}, L={arch['n_layers']}"
    line = f"- Picked: {picked}, full-ranking test NDCG@10 **{ndcg:.4f}**"
    sasrec = run.get("sasrec")
    if not sasrec:
        return line + " (no SASRec ground truth at these sizes committed)."
    same = sasrec["by_seed"].get(sasrec["seed"])
    seeds = len(sasrec["by_seed"])
    spread = "" if sasrec["std"] is None else f" ± {sasrec['std']:.4f}"  # one seed: no spread
    line += (
        f"; SASRec at these sizes, trained to convergence (`{sasrec['source']}`):"
        f" {sasrec['mean']:.4f}{spread} over {seeds} seed{'s' if seeds > 1 else ''}"
        f" ({100 * (ndcg / sasrec['mean'] - 1):+.1f} %)"
    )
    if same is not None:
        line += (
            f", {same:.4f} on this run's seed {sasrec['seed']} ({100 * (ndcg / same - 1):+.1f} %)"
        )
    return line + "."


def headline_markdown(data: Record) -> str:
    """The command, its time, memory and accuracy against issue 28's targets, the pick beside
    SASRec's ground truth, seconds per phase, the summary."""
    run = data["run"]
    settings = ", ".join(f"`{key}: {value}`" for key, value in run["settings"].items())
    phase_rows = "\n".join(
        f"| {name} | {seconds:.0f} | {100 * seconds / run['wall_seconds']:.0f} % |"
        for name, seconds in run["phases_seconds"].items()
    )
    return f"""# The headline command on ML-1M with the shipped defaults (issue 11, item 1; issue 28, item 7)

`{run["command"]}` (nothing else set), on {cpu_of(data["machine"])}, {data.get("load", "")}

- **Wall time: {run["wall_seconds"] / 60:.1f} min**; peak RSS {gib(run["peak_rss_bytes"])} GiB.
- Issue 28's targets: {"; ".join(headline_verdicts(run))}.
{picked_line(run)}
- Search epochs run: {run["search_epochs"]}; retraining epochs run: {run["retrain_epochs"]} (early stopping).
- Settings that decide the time: {settings}

| phase | seconds | share |
|---|---:|---:|
{phase_rows}

The summary the command ends with:

```
{run["summary"]}
```

{REGENERATE.format("headline_ml1m", "about half an hour on 2 CPU cores")}
"""


# -- scale
def user_counts(rng: Any, users: int, interactions: int) -> Any:
    """Interactions per user: log-normal, at least ``MIN_PER_USER``, summing to ``interactions``."""
    import numpy as np

    if interactions < users * MIN_PER_USER:
        raise ValueError(f"{interactions} interactions cannot give {users} users {MIN_PER_USER}")
    weights = rng.lognormal(mean=0.0, sigma=1.0, size=users)
    spare = interactions - users * MIN_PER_USER
    counts = MIN_PER_USER + np.floor(spare * weights / weights.sum()).astype(np.int64)
    counts[rng.choice(users, interactions - int(counts.sum()), replace=False)] += 1
    return counts


def item_draws(rng: Any, items: int, interactions: int) -> Any:
    """Item ids 1..items: each once, the rest Zipf by popularity rank, in a random order."""
    import numpy as np

    if interactions < items:
        raise ValueError(f"{interactions} interactions cannot cover {items} items")
    popularity = 1.0 / np.arange(1, items + 1) ** ZIPF_EXPONENT
    ranked = rng.permutation(items) + 1  # which item has popularity rank r
    extra = rng.choice(items, interactions - items, p=popularity / popularity.sum())
    return rng.permutation(np.concatenate([np.arange(1, items + 1), ranked[extra]]))


def generate(folder: Path, name: str, users: int, items: int, interactions: int, seed: int) -> Path:
    """Writes the RecBole atomic file ``folder/name/name.inter`` (and the YAML that loads it):
    every item occurs at least once, the rest are drawn from a Zipf popularity law
    ``p(rank r) ∝ r^-s``; each user's count is log-normal (at least ``MIN_PER_USER``) and
    timestamps increase along each user's sequence. Returns the dataset folder."""
    import numpy as np

    rng = np.random.default_rng(seed)
    counts = user_counts(rng, users, interactions)
    user_ids = np.repeat(np.arange(1, users + 1), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    timestamps = 1_300_000_000 + (np.arange(interactions) - starts) * 60
    rows = np.column_stack([user_ids, item_draws(rng, items, interactions), timestamps])
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    with open(target / f"{name}.inter", "w", encoding="utf-8") as handle:
        handle.write("user_id:token\titem_id:token\ttimestamp:float\n")
        np.savetxt(handle, rows, fmt="%d", delimiter="\t")
    yaml = "load_col:\n  inter: [user_id, item_id, timestamp]\n"
    (target / f"{name}.yaml").write_text(yaml, encoding="utf-8")
    return target


def resolved_loss(config: Record, n_items: int) -> str:
    """``loss_type`` as the run trained (``auto`` resolved as the model resolves it)."""
    from recbole_easrec.model.sampled_softmax import resolve_loss_type

    picked = resolve_loss_type(config, n_items)
    negatives = f" (K = {config.get('sampled_negatives')})" if picked == "sampled_ce" else ""
    return ("auto → " if config.get("loss_type") == "auto" else "") + picked + negatives


def scale_run(model: str, name: str, n_items: int, data: Path, extra: list[str]) -> Record:
    """One epoch of ``model`` on dataset ``name`` in a child process: phases and peak RSS."""
    yaml = data / name / f"{name}.yaml"
    arguments = [f"--model={model}", f"--dataset={name}", f"--data_path={data}"]
    arguments += [f"--config_files={yaml}", "--epochs=1", "--efficiency_repeats=1"]
    arguments += ["--retrain_epochs=1"] if model == "EASRec" else []
    run_dir = data / "runs" / f"{name}-{model}"
    run = run_cli([*arguments, *extra], run_dir, SCALE_PHASES.get(model, ()))
    record = {"model": model, "status": "error" if run.returncode else "ok"}
    record |= {key: getattr(run, key) for key in MEASURED}
    if run.returncode:
        return {**record, "error": run.error}
    result = read_json(run_dir / "result.json")
    record["phases_seconds"] = run.phases_seconds
    record["test_result"] = result.get("test_result")
    record["loss_type"] = resolved_loss(result["config"], n_items)
    return record


def parse_plan(text: str) -> list[tuple[float, str]]:
    """``"1:LinRec,2:LinRec,1:EASRec"`` → ``[(1.0, "LinRec"), (2.0, "LinRec"), (1.0, "EASRec")]``."""
    plan = []
    for item in text.split(","):
        size, _, model = item.partition(":")
        if not model:
            raise SystemExit(f"--runs item {item!r} is not SIZE:MODEL, e.g. 1:LinRec")
        plan.append((float(size), model))
    return plan


def scale(args: argparse.Namespace, extra: list[str], out: Path) -> None:
    """Generates each size of dataset (a multiple of ``args.shape``) in a scratch folder once and
    runs the plan's models on it, saving JSON and report after every run (``--append``: the runs
    OUT.json holds are kept, not run again)."""
    from recbole_easrec.data.sequences import full_sort_rows

    target = out.with_suffix(".json")
    previous = read_json(target) if args.append and target.exists() else None
    if previous and previous["run"]["seed"] != args.seed:
        raise SystemExit(f"--append: {target.name} has runs of seed {previous['run']['seed']}")
    size = "" if args.shape == GOWALLA else f" --shape={','.join(map(str, args.shape))}"
    command = f"python benchmarks/pipeline.py --study=scale{size} --runs="
    runs = " ".join([args.runs, *extra])
    header = {"command": command + runs, "machine": machine(), "load": args.load}
    if previous:  # the command and load of the runs kept, then of the runs added
        header["command"] = f"{command}{previous['command'].split('--runs=')[-1]},{runs}"
        header["load"] = f"{previous['load']} Runs added by `--append --runs={runs}`: {args.load}"
    fresh = {"seed": args.seed, "zipf_exponent": ZIPF_EXPONENT, "datasets": []}
    data = previous["run"] if previous else fresh
    finished = {(e["name"], r["model"]) for e in data["datasets"] for r in e["runs"]}
    prefix = "gowalla" if args.shape == GOWALLA else "synthetic"
    with tempfile.TemporaryDirectory() as scratch:
        for size_factor, model in parse_plan(args.runs):
            name = f"{prefix}_x{size_factor:g}".replace(".", "_")
            if (name, model) in finished:
                print(f"[scale] {name}: {model} is in the JSON already, kept", flush=True)
                continue
            users, items, interactions = (round(value * size_factor) for value in args.shape)
            entry = next((e for e in data["datasets"] if e["name"] == name), None)
            if entry is None:
                shape = {"users": users, "items": items, "interactions": interactions}
                data["datasets"].append(entry := {"name": name, **shape, "runs": []})
            if not (Path(scratch) / name).exists():  # each size is generated once
                clock = time.perf_counter()
                generate(Path(scratch), name, users, items, interactions, args.seed)
                entry["generate_seconds"] = round(time.perf_counter() - clock, 1)
                entry["eval_users_per_batch"] = full_sort_rows(items + 1)
            print(f"[scale {time.strftime('%H:%M:%S')}] {name}: {model} ...", flush=True)
            entry["runs"].append(scale_run(model, name, entry["items"] + 1, Path(scratch), extra))
            print(f"[scale] {entry['runs'][-1]}", flush=True)
            write_json(target, {**header, "run": data})
            write_report(out.with_suffix(".md"), scale_markdown({**header, "run": data}))


def scale_markdown(data: Record) -> str:
    """Per dataset and model: seconds per phase, total, CPU, peak RSS, test NDCG@10."""
    runs = [{**entry, **run} for entry in data["run"]["datasets"] for run in entry["runs"]]
    rows = "\n".join(
        f"| {r['name']} | {r['users']:,} | {r['items']:,} | {r['interactions']:,} | {r['model']} |"
        f" {r.get('loss_type', '–')} | {phase_list(r) or r.get('error')} | {r['wall_seconds']:.0f} |"
        f" {r['cpu_seconds']:.0f} | {gib(r['peak_rss_bytes'])} |"
        f" {fmt((r.get('test_result') or {}).get('ndcg@10'))} |"
        for r in runs
    )
    return f"""# Scale on one machine: Gowalla-shaped synthetic data (issue 11, item 3)

Command: `{data["command"]}`. Machine: {cpu_of(data["machine"])}; {data.get("load", "")}

Synthetic data (`benchmarks/pipeline.py: generate`, seed {data["run"]["seed"]}): every item once, the rest Zipf (s = {data["run"]["zipf_exponent"]}) by popularity, log-normal interactions per user (≥ {MIN_PER_USER}). Each run is one `run_recbole_easrec.py` call with `--epochs=1` (EASRec: one search epoch and one retraining epoch) and the shipped defaults otherwise; full-ranking evaluation is exact over all items.

| dataset | users | items | interactions | model | loss | phase seconds | total wall s | CPU s | peak RSS GiB | test NDCG@10 (full) |
|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|
{rows}

{REGENERATE.format("scale", "the time is in the table")}
"""


def phase_list(run: Record) -> str:
    """``phase seconds; phase seconds; …`` of one run."""
    return "; ".join(f"{key} {value:.0f}" for key, value in run.get("phases_seconds", {}).items())


# -- data path
def ready_to_train(path: str, args: argparse.Namespace) -> Record:
    """Wall and CPU seconds per phase and peak RSS of one data path (inside a child process), on
    the settings of ``train_mode: autoregressive``. ``recbole``: RecBole's ``SequentialDataset``
    (one stored, padded history per prefix); ``lazy``: ``LazySequentialDataset`` (the same rows,
    histories gathered per batch). Phases: imports, file checks, dataset + leave-one-out split +
    dataloaders, the split check (lazy path only: on RecBole's rows it turns every stored history
    into Python ints), the autoregressive loader's first batch. ``ready_to_train``: all but imports."""
    start = time.perf_counter()
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import init_seed

    from recbole_easrec.config import build_config
    from recbole_easrec.data.checks import check_dataset_files, check_split
    from recbole_easrec.data.sequences import LazySequentialDataset
    from recbole_easrec.training_modes import AutoregressiveLoader

    wall: dict[str, float] = {"imports": time.perf_counter() - start}
    cpu: dict[str, float] = {"imports": time.process_time()}
    rss_after_imports = peak_rss_bytes()

    def timed(name: str, step: Callable[[], Any]) -> Any:
        begin, begin_cpu = time.perf_counter(), time.process_time()
        value = step()
        wall[name], cpu[name] = time.perf_counter() - begin, time.process_time() - begin_cpu
        return value

    with tempfile.TemporaryDirectory() as scratch:
        settings = {"MAX_ITEM_LIST_LENGTH": args.max_length, "train_mode": "autoregressive"}
        settings |= {"state": "WARNING", "show_progress": False, "checkpoint_dir": scratch}
        settings |= {"data_path": args.data_path} if args.data_path else {}
        config = build_config(args.model, args.dataset, config_dict=settings)
        init_seed(config["seed"], config["reproducibility"])
        timed("file_checks", lambda: check_dataset_files(config))
        make = LazySequentialDataset if path == "lazy" else create_dataset
        loaders = timed("dataset_and_split", lambda: data_preparation(config, make(config)))
        if path == "lazy":
            timed("split_check", lambda: check_split(config, loaders))
        batch = timed(
            "autoregressive_loader",
            lambda: next(iter(AutoregressiveLoader(loaders[0], config["train_batch_size"]))),
        )
    inter = Path(config["data_path"]) / f"{config['dataset']}.inter"
    return {
        "path": path,
        "phases_seconds": wall,
        "ready_to_train_seconds": sum(v for k, v in wall.items() if k != "imports"),
        "cpu_seconds": cpu,
        "ready_to_train_cpu_seconds": sum(v for k, v in cpu.items() if k != "imports"),
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_after_imports_bytes": rss_after_imports,
        "train_rows": len(loaders[0]._dataset),
        "valid_rows": len(loaders[1]._dataset),
        "test_rows": len(loaders[2]._dataset),
        "first_batch_shape": list(batch["item_id_list"].shape),
        "csv_engines": csv_engines(inter) if path == "lazy" else None,
    }


def csv_engines(path: Path) -> Record:
    """CPU seconds of ``pandas.read_csv`` on ``path`` with RecBole's arguments (``engine="python"``)
    and with the C engine, and whether the two frames are equal (not part of the data path)."""
    import numpy as np
    import pandas as pd

    head = path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")
    dtype = {column: np.float64 if column.endswith(":float") else str for column in head}
    frames, seconds = {}, {}
    for engine in ("python", "c"):
        begin = time.process_time()
        frames[engine] = pd.read_csv(path, delimiter="\t", usecols=head, dtype=dtype, engine=engine)
        seconds[engine] = time.process_time() - begin
    return {"cpu_seconds": seconds, "equal": bool(frames["python"].equals(frames["c"]))}


def data_path(args: argparse.Namespace, out: str) -> Record:
    """Each path (``PATHS``) through :func:`ready_to_train` in a fresh interpreter."""
    flags = [f"--data_path={args.data_path}"] if args.data_path else []
    flags += f"--dataset={args.dataset} --max_length={args.max_length} --model={args.model}".split()
    command = ["python benchmarks/pipeline.py --study=data_path", *flags, f"--out={out}"]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    rows = []
    for path in PATHS:
        run = run_child([__file__, "--study=data_path", f"--child={path}", *flags])
        if run.returncode:
            raise SystemExit(f"the {path} data path failed: {run.error}")
        rows.append(json.loads(run.output[-1]))
    return {
        "dataset": args.dataset,
        "max_length": args.max_length,
        "model": args.model,
        "command": " ".join(command),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": load,
        "rows": rows,
    }


def data_path_cells(row: Record, phases: list[str]) -> list[str]:
    """One column of the data-path table: wall / CPU seconds per phase, totals, memory, rows."""
    wall, cpu, csv = row["phases_seconds"], row["cpu_seconds"], row.get("csv_engines")
    read = csv["cpu_seconds"] if csv else {}
    return [
        *(f"{wall[p]:.1f} / {cpu[p]:.1f}" if p in wall else "not run" for p in phases),
        f"**{row['ready_to_train_seconds']:.1f} / {row['ready_to_train_cpu_seconds']:.1f}**",
        f"**{gib(row['peak_rss_bytes'])} GiB**",
        f"{row['train_rows']} / {row['valid_rows']} / {row['test_rows']}",
        f"{read['python']:.1f} / {read['c']:.1f} (equal frames: {csv['equal']})" if csv else "–",
    ]


def data_path_markdown(report: Record) -> str:
    """Wall / CPU seconds per phase and peak RSS of every path, with the recorded command."""
    rows = report["rows"]
    phases = max((list(row["phases_seconds"]) for row in rows), key=len)
    labels = [*phases, "ready to train (all but imports)", "peak RSS", "train / valid / test rows"]
    labels += ['`.inter` read with `read_csv(engine="python")` / C engine, CPU s (not in the path)']
    body = zip(labels, *(data_path_cells(row, phases) for row in rows))
    lines = "\n".join(f"| {' | '.join(cells)} |" for cells in body)
    return f"""# Data path: {report["dataset"]} at N = {report["max_length"]}, before / after

## Measurement

Recorded command:

```bash
{report["command"]}
```

`recbole`: RecBole's `SequentialDataset` (one stored, padded history per prefix; what
`run_recbole_easrec` used before). `lazy`: `recbole_easrec.data.sequences` (the same rows,
split and candidates, histories gathered per batch; used in `train_mode: autoregressive`).
Each path in its own process; peak RSS includes the interpreter, torch and RecBole
({gib(rows[-1]["rss_after_imports_bytes"])} GiB after imports).

| phase (wall s / CPU s) | {" | ".join(row["path"] for row in rows)} |
|---|{"---:|" * len(rows)}
{lines}

Machine: {report["machine"]}; load average {report["load_average"]} when started (on a shared CPU wall seconds are upper bounds and the process's CPU time is the fairer measure).

{REGENERATE.format("data_path_ml1m", "about 3 minutes")}
"""


# -- entry point
def shape(text: str) -> tuple[int, ...]:
    """``--shape=64000,165000,2000000`` → users, items, interactions."""
    return tuple(int(value) for value in text.split(","))


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """The options; unknown ``--key=value`` ones go to ``run_recbole_easrec.py``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add = parser.add_argument
    add("--study", required=True, choices=sorted(STUDY_RESULTS))
    add("--out", help="write OUT.json and OUT.md (default: the study's result)")
    add("--data_path", help="folder of the datasets (default: RecBole's, which holds ml-100k)")
    add("--dataset", default="ml-1m", help="headline, data_path: the dataset")
    add("--load", default="", help="what else ran on the machine (for the report)")
    add("--runs", default="1:LinRec,2:LinRec,1:EASRec", help="scale: SIZE:MODEL, SIZE × --shape")
    add("--shape", type=shape, default=GOWALLA, help="scale: USERS,ITEMS,INTERACTIONS of size 1")
    add("--seed", type=int, default=2020, help="scale: the generator's seed")
    add("--append", action="store_true", help="scale: keep the runs OUT.json holds, run the others")
    add("--max_length", type=int, default=200, help="data_path: N")
    add("--model", default="LinRec", help="data_path: whose settings")
    add("--child", choices=PATHS, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    if extra and args.study == "data_path":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args, extra


def main(argv: list[str] | None = None) -> None:
    """Runs one study and writes its JSON and Markdown (or, with ``--child``, one data path)."""
    args, extra = parse(argv)
    if args.child:
        print(json.dumps(ready_to_train(args.child, args)), flush=True)
        return
    out_name = args.out or f"benchmarks/results/{STUDY_RESULTS[args.study]}"
    out = ROOT / out_name
    if args.study == "scale":
        return scale(args, extra, out)
    if args.study == "data_path":
        data, markdown = data_path(args, out_name), data_path_markdown
    else:
        data = {"machine": machine(), "load": args.load, "run": headline(args, extra)}
        markdown = headline_markdown
    write_json(out.with_suffix(".json"), data)
    write_report(out.with_suffix(".md"), markdown(data))


if __name__ == "__main__":
    main()
