"""Scale on one machine (issue 11, item 3): a synthetic dataset shaped like Gowalla, and twice that.

:func:`generate` writes a RecBole atomic ``.inter`` file of ``users`` users, ``items`` items and
``interactions`` interactions: every item occurs at least once, the rest are drawn from a Zipf
popularity law ``p(rank r) ∝ r^-s``; each user's count follows a log-normal law (at least
``min_per_user``), and timestamps increase along each user's sequence. Gowalla as the EASRec paper
uses it: 64 k users, 165 k items, 2.0 M interactions.

Each (dataset, model) is then run as a user would, in its own child process, with one training
epoch (``--epochs=1``; EASRec: one search epoch, then one retraining epoch of the chosen network):

    python run_recbole_easrec.py --model=LinRec --dataset=gowalla_x1 --data_path=DATA \\
        --config_files=DATA/gowalla_x1/gowalla_x1.yaml --epochs=1

The phases come from the run's log timestamps (as in ``headline.py``); peak RSS is the child's
(``getrusage(RUSAGE_CHILDREN)``). Full-ranking evaluation is exact over all items; its score
matrices are capped per batch by ``recbole_easrec.data.sequences.cap_full_sort_batches``.

    python benchmarks/scale.py --out=benchmarks/results/scale [--runs=1:LinRec,2:LinRec,1:EASRec]
    python -m benchmarks report scale                                   # the page from its JSON
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from harness import ROOT, machine, read_json, write_json, write_report
from headline import run_cli

from recbole_easrec.data.sequences import full_sort_rows
from recbole_easrec.model.sampled_softmax import resolve_loss_type

GIB = 1024**3
GOWALLA = {"users": 64_000, "items": 165_000, "interactions": 2_000_000}
TARGET_SECONDS, TARGET_RSS = 20 * 60, 6 * GIB
ZIPF_EXPONENT = 1.0
MIN_PER_USER = 5
PHASE_ENDS: dict[str, tuple[tuple[str, str], ...]] = {
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


def user_counts(rng: np.random.Generator, users: int, interactions: int) -> np.ndarray:
    """Interactions per user: log-normal, at least ``MIN_PER_USER``, summing to ``interactions``."""
    if interactions < users * MIN_PER_USER:
        raise ValueError(f"{interactions} interactions cannot give {users} users {MIN_PER_USER}")
    weights = rng.lognormal(mean=0.0, sigma=1.0, size=users)
    spare = interactions - users * MIN_PER_USER
    counts = MIN_PER_USER + np.floor(spare * weights / weights.sum()).astype(np.int64)
    counts[rng.choice(users, interactions - int(counts.sum()), replace=False)] += 1
    return counts


def item_draws(rng: np.random.Generator, items: int, interactions: int) -> np.ndarray:
    """Item ids 1..items: each once, the rest Zipf by popularity rank, in a random order."""
    if interactions < items:
        raise ValueError(f"{interactions} interactions cannot cover {items} items")
    popularity = 1.0 / np.arange(1, items + 1) ** ZIPF_EXPONENT
    ranked = rng.permutation(items) + 1  # which item has popularity rank r
    extra = rng.choice(items, interactions - items, p=popularity / popularity.sum())
    draws = np.concatenate([np.arange(1, items + 1), ranked[extra]])
    return rng.permutation(draws)


def generate(folder: Path, name: str, users: int, items: int, interactions: int, seed: int) -> Path:
    """Writes ``folder/name/name.inter`` (and the YAML that loads it); returns the dataset folder."""
    rng = np.random.default_rng(seed)
    counts = user_counts(rng, users, interactions)
    user_ids = np.repeat(np.arange(1, users + 1), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    timestamps = 1_300_000_000 + (np.arange(interactions) - starts) * 60
    item_ids = item_draws(rng, items, interactions)
    target = folder / name
    target.mkdir(parents=True, exist_ok=True)
    table = np.column_stack([user_ids, item_ids, timestamps])
    with open(target / f"{name}.inter", "w", encoding="utf-8") as handle:
        handle.write("user_id:token\titem_id:token\ttimestamp:float\n")
        np.savetxt(handle, table, fmt="%d", delimiter="\t")
    (target / f"{name}.yaml").write_text(
        "load_col:\n  inter: [user_id, item_id, timestamp]\n", encoding="utf-8"
    )
    return target


def run_one(model: str, name: str, n_items: int, data: Path, run_dir: Path) -> dict[str, Any]:
    """One epoch of ``model`` on dataset ``name`` in a child process: phases and peak RSS."""
    arguments = [
        f"--model={model}",
        f"--dataset={name}",
        f"--data_path={data}",
        f"--config_files={data / name / (name + '.yaml')}",
        "--epochs=1",
        "--efficiency_repeats=1",
    ]
    if model == "EASRec":
        arguments.append("--retrain_epochs=1")
    run = run_cli(arguments, run_dir, PHASE_ENDS[model])
    record: dict[str, Any] = {
        "model": model,
        "status": "ok" if run.returncode == 0 else "error",
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "peak_rss_bytes": run.peak_rss_bytes,
    }
    if run.returncode:
        return {**record, "error": run.error}
    result = read_json(run_dir / "result.json")
    record["phases_seconds"] = run.phases_seconds
    record["test_result"] = result.get("test_result")
    record["loss_type"] = resolved_loss(result["config"], n_items)
    return record


def resolved_loss(config: dict[str, Any], n_items: int) -> str:
    """``loss_type`` as the run trained (``auto`` resolved as the model resolves it)."""
    picked = resolve_loss_type(config, n_items)
    negatives = f" (K = {config.get('sampled_negatives')})" if picked == "sampled_ce" else ""
    return ("auto → " if config.get("loss_type") == "auto" else "") + picked + negatives


def measure(
    plan: list[tuple[float, str]],
    seed: int,
    save: Callable[[dict], None],
    done: dict[str, Any] | None = None,
) -> None:
    """Generates each size of dataset in a scratch folder once and runs the plan's models on it,
    calling ``save`` with everything measured so far after every run."""
    data: dict[str, Any] = done or {"seed": seed, "zipf_exponent": ZIPF_EXPONENT, "datasets": []}
    entries: dict[float, dict[str, Any]] = {}
    finished = {(e["name"], r["model"]) for e in data["datasets"] for r in e["runs"]}
    with tempfile.TemporaryDirectory() as scratch:
        for size, model in plan:
            name = f"gowalla_x{size:g}".replace(".", "_")
            if (name, model) in finished:
                print(f"[scale] {name}: {model} is in the JSON already, kept", flush=True)
                continue
            if size not in entries:
                shape = {key: round(value * size) for key, value in GOWALLA.items()}
                clock = time.perf_counter()
                generate(Path(scratch), name, seed=seed, **shape)
                kept = [e for e in data["datasets"] if e["name"] == name]
                if not kept:
                    data["datasets"].append({"name": name, **shape, "runs": []})
                entry = entries[size] = kept[0] if kept else data["datasets"][-1]
                entry["generate_seconds"] = round(time.perf_counter() - clock, 1)
                entry["eval_users_per_batch"] = full_sort_rows(shape["items"] + 1)
            print(f"[scale {time.strftime('%H:%M:%S')}] {name}: {model} ...", flush=True)
            run_dir = Path(scratch) / "runs" / f"{name}-{model}"
            entries[size]["runs"].append(
                run_one(model, name, entries[size]["items"] + 1, Path(scratch), run_dir)
            )
            print(f"[scale] {entries[size]['runs'][-1]}", flush=True)
            save(data)


def parse_plan(text: str) -> list[tuple[float, str]]:
    """``"1:LinRec,2:LinRec,1:EASRec"`` → ``[(1.0, "LinRec"), (2.0, "LinRec"), (1.0, "EASRec")]``."""
    plan = []
    for item in text.split(","):
        size, _, model = item.partition(":")
        if not model:
            raise SystemExit(f"--runs item {item!r} is not SIZE:MODEL, e.g. 1:LinRec")
        plan.append((float(size), model))
    return plan


def markdown(data: dict[str, Any]) -> str:
    """The scale table: per dataset and model, seconds per phase, total, peak RSS, NDCG@10."""
    lines = [
        "# Scale on one machine: Gowalla-shaped synthetic data (issue 11, item 3)",
        "",
        f"Command: `{data['command']}`. Machine: {data['machine'].get('cpu', 'this CPU')}"
        f" ({data['machine'].get('cores_visible', '?')} cores); {data.get('load', '')}",
        "",
        f"Synthetic data (`benchmarks/scale.py: generate`, seed {data['run']['seed']}): every item"
        f" once, the rest Zipf (s = {data['run']['zipf_exponent']}) by popularity, log-normal"
        f" interactions per user (≥ {MIN_PER_USER}). Each run is one `run_recbole_easrec.py` call"
        " with `--epochs=1` (EASRec: one search epoch and one retraining epoch) and the shipped"
        " defaults otherwise; full-ranking evaluation is exact over all items."
        f" Targets for the Gowalla-size LinRec run: ≤ {TARGET_SECONDS // 60} min and"
        f" ≤ {TARGET_RSS // GIB} GiB peak RSS.",
        "",
        "| dataset | users | items | interactions | model | loss | phase seconds | total wall s |"
        " CPU s | peak RSS GiB | test NDCG@10 (full) |",
        "|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for entry in data["run"]["datasets"]:
        for run in entry["runs"]:
            phases = "; ".join(
                f"{key} {value:.0f}" for key, value in run.get("phases_seconds", {}).items()
            )
            ndcg = (run.get("test_result") or {}).get("ndcg@10")
            lines.append(
                f"| {entry['name']} | {entry['users']:,} | {entry['items']:,} |"
                f" {entry['interactions']:,} | {run['model']} | {run.get('loss_type', '–')} |"
                f" {phases or run.get('error')} | {run['wall_seconds']:.0f} |"
                f" {run['cpu_seconds']:.0f} | {run['peak_rss_bytes'] / GIB:.2f} |"
                f" {'–' if ndcg is None else f'{ndcg:.4f}'} |"
            )
    notes = [
        f"- {entry['name']} {run['model']}: {run['status']}; {run['note']}"
        for entry in data["run"]["datasets"]
        for run in entry["runs"]
        if run.get("note")
    ]
    lines += ["", *notes] if notes else []
    lines += [
        "",
        "Regenerate: `python -m benchmarks run scale` (the time is in the table); the page alone:"
        " `python -m benchmarks report scale`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/scale")
    parser.add_argument(
        "--runs",
        default="1:LinRec,2:LinRec,1:EASRec",
        help="SIZE:MODEL pairs in order; SIZE is a multiple of Gowalla's shape (0.01 = smoke run)",
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--append", action="store_true", help="keep the runs OUT.json holds; run only the others"
    )
    parser.add_argument("--load", default="", help="what else ran on the machine (for the report)")
    args = parser.parse_args()
    out = ROOT / args.out
    target = out.with_suffix(".json")
    previous = read_json(target) if args.append and target.exists() else None
    if previous and previous["run"]["seed"] != args.seed:
        raise SystemExit(
            f"--append: {target.name} was generated with seed {previous['run']['seed']}"
        )
    header = {
        "command": f"python benchmarks/scale.py --runs={args.runs}",
        "machine": machine(),
        "load": args.load,
    }
    if previous:  # the command and load of the runs kept, then of the runs added
        kept = previous["command"].split("--runs=")[-1]
        header["command"] = f"python benchmarks/scale.py --runs={kept},{args.runs}"
        header["load"] = (
            f"{previous['load']} Runs added by `--append --runs={args.runs}`: {args.load}"
        )

    def save(run: dict[str, Any]) -> None:
        write_json(target, {**header, "run": run})
        write_report(out.with_suffix(".md"), markdown({**header, "run": run}))

    measure(parse_plan(args.runs), args.seed, save, previous and previous["run"])


if __name__ == "__main__":
    main()
