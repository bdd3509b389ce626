"""The headline command with the shipped defaults (issue 11, item 1): wall time per phase, peak RSS.

Runs ``python run_recbole_easrec.py --model=EASRec --dataset=ml-1m --data_path=...`` exactly as a
new user would — no other setting — in a child process, then reads the run's ``run.log`` and
``result.json``:

* phases from the log's timestamps: start-up and data preparation (until the model is printed),
  search, scoring the architectures on shared weights, retraining, test evaluation and the cost
  measurement (FLOPs, inference time of the selected and of the full network);
* the child's peak RSS (``getrusage(RUSAGE_CHILDREN)``);
* the one-screen summary the command ends with, and the numbers behind it.

    python benchmarks/headline.py --data_path=../shared/datasets --out=benchmarks/results/headline_ml1m
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import DATA_PATH, ROOT, machine, read_json, write_json, write_report

GIB = 1024**3
TARGET_SECONDS = 30 * 60
# (phase, regular expression of the log line that ends it), in the order the run logs them
PHASE_ENDS: tuple[tuple[str, str], ...] = (
    ("start-up and data preparation", r"INFO EASRec\("),
    ("search", r"search: epoch \d+/\d+ done"),
    ("scoring architectures on shared weights", r"scoring architectures .*done"),
    ("retraining", r"retrain: epoch \d+/\d+ done"),
    ("test, cost measurement, saving", r"test result:"),
)
STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d) ")


def log_times(lines: list[str], started: datetime) -> list[tuple[datetime, str]]:
    """Each timestamped log line with its full date (the log keeps HH:MM:SS only)."""
    stamped, previous = [], started
    for line in lines:
        match = STAMP.match(line)
        if not match:
            continue
        hour, minute, second = (int(part) for part in match.groups())
        moment = previous.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if moment < previous - timedelta(hours=1):  # past midnight
            moment += timedelta(days=1)
        stamped.append((moment, line))
        previous = moment
    return stamped


def phase_seconds(
    lines: list[str],
    started: datetime,
    finished: datetime,
    ends: tuple[tuple[str, str], ...] = PHASE_ENDS,
) -> dict[str, float]:
    """Seconds per phase: each phase ends at the last log line matching its pattern in ``ends``."""
    stamped = log_times(lines, started)
    phases, begin = {}, started
    for name, pattern in ends:
        ends = [moment for moment, line in stamped if re.search(pattern, line)]
        if not ends:
            continue
        phases[name] = max(0.0, (ends[-1] - begin).total_seconds())
        begin = ends[-1]
    phases["exit"] = max(0.0, (finished - begin).total_seconds())
    return phases


# Runs the command and prints its own children's peak RSS: the run's alone, not the harness's max.
RSS_WRAPPER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


@dataclass
class CliRun:
    """One ``run_recbole_easrec.py`` call in a child process, as measured from outside."""

    returncode: int
    error: str  # the last line of its stderr
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    log_lines: list[str]
    phases_seconds: dict[str, float]


def run_cli(arguments: list[str], output_dir: Path, ends: tuple[tuple[str, str], ...]) -> CliRun:
    """``python run_recbole_easrec.py ARGUMENTS --output_dir=OUTPUT_DIR``: its wall and CPU
    seconds, peak RSS, log lines and seconds per phase (:func:`phase_seconds` with ``ends``)."""
    command = [sys.executable, "run_recbole_easrec.py", *arguments, f"--output_dir={output_dir}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, clock = datetime.now(), time.perf_counter()
    wrapped = [sys.executable, "-c", RSS_WRAPPER, *command]
    done = subprocess.run(wrapped, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = output_dir / "run.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    phases = phase_seconds(lines, started, started + timedelta(seconds=wall), ends)
    return CliRun(
        returncode=done.returncode,
        error=(done.stderr.strip().splitlines() or ["(no output)"])[-1],
        wall_seconds=round(wall, 1),
        cpu_seconds=round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        peak_rss_bytes=int((done.stdout.strip().splitlines() or ["0"])[-1]) * 1024,
        log_lines=lines,
        phases_seconds={key: round(value, 1) for key, value in phases.items()},
    )


def run_headline(data_path: str, output_dir: Path, dataset: str) -> dict[str, Any]:
    """The headline command in a child process: its phases, peak RSS and result."""
    arguments = ["--model=EASRec", f"--dataset={dataset}", f"--data_path={data_path}"]
    run = run_cli(arguments, output_dir, PHASE_ENDS)
    if run.returncode:
        raise SystemExit(f"the headline command failed: {run.error}")
    lines = run.log_lines
    result = read_json(output_dir / "result.json")
    return {
        "command": " ".join(
            ["python run_recbole_easrec.py --model=EASRec", f"--dataset={dataset}"]
            + [f"--data_path={data_path}"]
        ),
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "target_seconds": TARGET_SECONDS,
        "phases_seconds": run.phases_seconds,
        "peak_rss_bytes": run.peak_rss_bytes,
        "search_epochs": sum(bool(re.search(PHASE_ENDS[1][1], line)) for line in lines),
        "retrain_epochs": sum(bool(re.search(PHASE_ENDS[3][1], line)) for line in lines),
        "summary": (output_dir / "summary.txt")
        .read_text(encoding="utf-8")
        .strip()
        .replace(str(output_dir), "RUN_DIR"),
        "result": {
            key: result.get(key)
            for key in (
                "architecture",
                "test_result",
                "test_protocol",
                "best_valid_result",
                "search_valid_result",
                "efficiency",
                "full_network_efficiency",
                "search_iterations",
            )
        },
        "settings": {
            key: result["config"].get(key)
            for key in (
                "train_mode",
                "train_batch_size",
                "epochs",
                "retrain_epochs",
                "stopping_step",
                "MAX_ITEM_LIST_LENGTH",
                "hidden_size",
                "inner_size",
                "n_layers",
                "search_method",
            )
        },
    }


def markdown(data: dict[str, Any]) -> str:
    """The report: the command, phase times, memory, the summary."""
    run = data["run"]
    minutes = run["wall_seconds"] / 60
    verdict = "met" if run["wall_seconds"] <= run["target_seconds"] else "missed"
    lines = [
        "# The headline command on ML-1M with the shipped defaults (issue 11, item 1)",
        "",
        f"`{run['command']}` (nothing else set), on {data['machine'].get('cpu', 'this CPU')}"
        f" ({data['machine'].get('cores_visible', '?')} cores), {data.get('load', '')}",
        "",
        f"- **Wall time: {minutes:.1f} min** (target ≤ {run['target_seconds'] // 60} min: {verdict});"
        f" peak RSS {run['peak_rss_bytes'] / GIB:.2f} GiB.",
        f"- Search epochs run: {run['search_epochs']}; retraining epochs run:"
        f" {run['retrain_epochs']} (early stopping).",
        "- Settings that decide the time: "
        + ", ".join(f"`{k}: {v}`" for k, v in run["settings"].items()),
        "",
        "| phase | seconds | share |",
        "|---|---:|---:|",
    ]
    for name, seconds in run["phases_seconds"].items():
        lines.append(f"| {name} | {seconds:.0f} | {100 * seconds / run['wall_seconds']:.0f} % |")
    lines += ["", "The summary the command ends with:", "", "```", run["summary"], "```", ""]
    lines += [
        "Regenerate: `python -m benchmarks run headline_ml1m` (about half an hour on 2 CPU"
        " cores); the Markdown alone: `python -m benchmarks report headline_ml1m`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data_path", default=DATA_PATH)
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--out", default="benchmarks/results/headline_ml1m")
    parser.add_argument("--load", default="", help="what else ran on the machine (for the report)")
    args = parser.parse_args()
    out = ROOT / args.out
    with tempfile.TemporaryDirectory() as scratch:
        run = run_headline(args.data_path, Path(scratch) / "run", args.dataset)
    data = {"machine": machine(), "load": args.load, "run": run}
    write_json(out.with_suffix(".json"), data)
    write_report(out.with_suffix(".md"), markdown(data))
    print(run["summary"])


if __name__ == "__main__":
    main()
