"""One entry point for every committed benchmark result.

    python -m benchmarks list                      # every name, its command, its reports
    python -m benchmarks run NAME [--device=cpu|cuda] [EXTRA ARGS...]  # rerun, then report
    python -m benchmarks report NAME... | --all    # rebuild Markdown/PNG from the JSON (no training)

``run`` executes the command recorded for NAME (extra arguments, e.g. ``--device=cuda`` or
``--budget=60``, are appended to the benchmark's own command; later flags win) and then writes
``benchmarks/results/NAME.{json,md,png}``. ``report`` rebuilds reports from the committed JSON and
keeps the hand-written section between ``<!-- findings -->`` and ``<!-- /findings -->``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the benchmark scripts import each other by plain name
    sys.path.insert(0, str(HERE))

from harness import (  # noqa: E402
    DATA_PATH,
    RESULTS,
    ROOT,
    finished_runs,
    merge_by_name,
    read_json,
    write_json,
)
from reports import REPORTS, regenerate  # noqa: E402

from recbole_easrec.errors import UserError  # noqa: E402


@dataclass(frozen=True)
class Bench:
    """A committed result: ``python benchmarks/SCRIPT ARGS`` (in ``env``); for a suite,
    ``saved/<...>/suite.json`` then becomes results/NAME.json (``suite_out``), or a second script
    builds the report (``then``: the script and its arguments)."""

    script: str
    args: tuple[str, ...]
    env: dict[str, str]
    suite_out: str | None = None
    then: tuple[str, tuple[str, ...]] | None = None


def bench(script: str, args: str, cpu: bool = True) -> Bench:
    """A benchmark script's run (``OMP_NUM_THREADS=1`` on the CPU)."""
    return Bench(script, tuple(shlex.split(args)), {"OMP_NUM_THREADS": "1"} if cpu else {})


def suite(out: str, args: str) -> Bench:
    """A run of ``benchmarks/suite.py`` writing ``saved/OUT/suite.json``."""
    return replace(bench("suite.py", f"{args} --out=saved/{out}"), suite_out=f"saved/{out}")


def judged(
    name: str,
    suite_args: str,
    report_args: str,
    dataset: str = "ml-100k",
    reporter: str = "space_truth.py",
    out: str | None = None,
) -> Bench:
    """A suite writing ``saved/OUT`` (default: NAME), then ``reporter`` building results/NAME."""
    data = "" if dataset == "ml-100k" else f" --data_path={DATA_PATH}"
    args = f"{suite_args} --dataset={dataset}{data} --workers=2 --out=saved/{out or name}"
    report = f"{report_args} --dataset {dataset} --out benchmarks/results/{name}"
    return replace(bench("suite.py", args), then=(reporter, tuple(shlex.split(report))))


BENCHES: dict[str, Bench] = {
    "attention_scaling": bench("inference.py", "--study=scaling --repeats=9", cpu=False),
    "dsl_sparse_inference": bench("inference.py", "--study=dsl_sparse --threads=1 --repeats=7"),
    "data_path_ml1m": bench(
        "pipeline.py", f"--study=data_path --data_path={DATA_PATH} --dataset=ml-1m --max_length=200"
    ),
    "headline_ml1m": bench("pipeline.py", f"--study=headline --data_path={DATA_PATH}", cpu=False),
    "inference_latency_ml1m": bench(
        "inference.py", f"--study=full_ranking --data_path={DATA_PATH}"
    ),
    "speed": bench(
        "training_speed.py",
        f"--study=variants --data_path={DATA_PATH} --batches=3 --batch_size=256"
        " --ar_batch_size=64 --eval_batch_size=512 --budget=60 --variants=all --threads=1",
    ),
    "suite_ml100k_dsl_converged": suite(
        "ml100k_dsl_conv",
        "--suite=dsl_cpu --dataset=ml-100k --set=efficiency_repeats=3 --workers=2 --budget=1200",
    ),
    "space_truth_ml100k": judged(
        "space_truth_ml100k",
        "--suite=space_truth_cpu --skip_from=benchmarks/results/space_truth_ml100k.json",
        "--truth_from benchmarks/results/space_truth_ml100k.json"
        " --truth saved/space_truth_ml100k/suite.json",
    ),
    # ML-1M at CPU size, issue 28's corrected space (suite.TRUTH_SPACE): the committed result's
    # finished runs of the same settings (SASRec's) are skipped, the rest trained and merged by run
    # name; gated runs trained before the gate fix are dropped (space_truth.trained_with_gate_leak).
    "space_truth_ml1m": judged(
        "space_truth_ml1m",
        "--suite=space_truth_cpu --skip_from=benchmarks/results/space_truth_ml1m.json",
        "--truth_from benchmarks/results/space_truth_ml1m.json"
        " --truth saved/space_truth_ml1m/suite.json",
        dataset="ml-1m",
    ),
    # Issue 27: attention kind × gates; the reference cell is space_truth_ml1m's SASRec, and the
    # runs of the committed result are kept (a next session trains only what is missing).
    "factorial_ml1m": judged(
        "factorial_ml1m",
        "--suite=factorial_cpu --skip_from=benchmarks/results/factorial_ml1m.json",
        "--suite saved/factorial_ml1m/suite.json"
        " --reference benchmarks/results/space_truth_ml1m.json"
        " --keep benchmarks/results/factorial_ml1m.json",
        dataset="ml-1m",
        reporter="factorial.py",
    ),
    # Issue 28: every search method on ML-1M's corrected space, judged against space_truth_ml1m;
    # the committed searches are kept (skipped by the suite, merged by the report). A re-pick
    # (search_from) whose parent's search is not in saved/ (a fresh checkout) searches anew.
    "search_methods_ml1m": judged(
        "search_methods_ml1m",
        "--suite=search_cpu --skip_from=benchmarks/results/search_methods_ml1m.json",
        "--truth_from benchmarks/results/space_truth_ml1m.json --search"
        " benchmarks/results/search_methods_ml1m.json saved/search_methods_ml1m/suite.json",
        dataset="ml-1m",
    ),
    "search_methods_ml100k": judged(
        "search_methods_ml100k",
        "--suite=search_cpu",
        "--truth_from benchmarks/results/space_truth_ml100k.json"
        " --search saved/search_methods_ml100k/suite.json",
    ),
    "serving": bench("inference.py", "--study=serving --requests=200 --round=20 --batches=3"),
    "scale": bench("pipeline.py", "--study=scale"),
    "step_time": bench(
        "training_speed.py",
        "--study=catalogue --repeats=5 --threads=1 --catalogues=3707,10000,20000,50000",
    ),
    "sampled_ce_ml1m": suite(
        "sampled_ce_ml1m", f"--suite=sampled_ce --data_path={DATA_PATH} --workers=2"
    ),
    "precision_ml100k": suite(
        "precision_ml100k", "--suite=precision --dataset=ml-100k --workers=2"
    ),
    "table3_ml1m": suite(
        "table3_cpu",
        "--suite=table3_cpu --skip_from=benchmarks/results/table3_ml1m.json"
        f" --dataset=ml-1m --data_path={DATA_PATH} --workers=2",
    ),
}


def shell_line(env: dict[str, str], script: str, args: tuple[str, ...]) -> str:
    """A command as one would type it from the repository root."""
    settings = " ".join(f"{key}={value}" for key, value in env.items())
    return " ".join(filter(None, [settings, "python", f"benchmarks/{script}", shlex.join(args)]))


def skips_committed(bench: Bench) -> bool:
    """Whether the suite skips the runs its committed result holds (``--skip_from``)."""
    return any(arg.startswith("--skip_from") for arg in bench.args)


def import_suite(name: str, bench: Bench) -> None:
    """``saved/.../suite.json`` → ``results/NAME.json``, keeping the report settings on record
    (and, for a suite that skips committed runs, those runs)."""
    suite = read_json(ROOT / str(bench.suite_out) / "suite.json")
    target = RESULTS / f"{name}.json"
    old = read_json(target) if target.exists() else {}
    if isinstance(old, dict) and "report" in old:
        suite["report"] = old["report"]
    if isinstance(old, dict) and skips_committed(bench):
        suite["runs"] = merge_by_name(finished_runs(old.get("runs", [])), suite.get("runs", []))
    write_json(target, suite)


def device_env(extra: list[str]) -> tuple[list[str], dict[str, str]]:
    """Takes ``--device=cpu|cuda`` out of ``extra``; ``cpu`` hides every GPU from the runs."""
    devices = [arg.partition("=")[2] for arg in extra if arg.startswith("--device=")]
    if devices and devices[-1] not in ("cpu", "cuda"):
        raise UserError(
            f"--device={devices[-1]} is not a device: use --device=cpu or --device=cuda"
        )
    rest = [arg for arg in extra if not arg.startswith("--device=")]
    return rest, ({"CUDA_VISIBLE_DEVICES": ""} if devices and devices[-1] == "cpu" else {})


def run(name: str, extra: list[str]) -> int:
    """Reruns NAME's recorded command (plus ``extra``), then rebuilds its report."""
    bench = BENCHES[name]
    extra, device = device_env(extra)
    env = {**os.environ, **bench.env, **device}
    steps = [(bench.env, bench.script, (*bench.args, *extra))]
    steps += [({}, *bench.then)] if bench.then else []
    for shown, script, args in steps:
        print(f"$ {shell_line(shown, script, args)}", flush=True)
        command = [sys.executable, str(HERE / script), *args]
        if status := subprocess.run(command, cwd=ROOT, env=env, check=False).returncode:
            return status
    if bench.suite_out:
        import_suite(name, bench)
        for path in regenerate([name]):
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


def report(names: list[str], results: Path) -> int:
    """Rebuilds the named reports (or every one) from the JSON in ``results``."""
    unknown = sorted(set(names) - set(REPORTS))
    if unknown:
        raise UserError(
            f"no report named {', '.join(unknown)}; `python -m benchmarks list` names them"
        )
    if not results.is_dir():
        raise UserError(
            f"{results} is not a folder: pass --results=FOLDER holding the result JSON"
            " (default benchmarks/results)"
        )
    try:
        written = regenerate(names, results)
    except (OSError, KeyError, ValueError) as error:
        raise UserError(f"cannot rebuild from the JSON in {results}: {error!r}") from error
    for path in written:
        print(f"wrote {path}")
    return 0


def list_all() -> int:
    """Prints every benchmark name and its recorded commands."""
    for name, bench in BENCHES.items():
        print(f"{name:28s} {shell_line(bench.env, bench.script, bench.args)}")
        if bench.then:
            print(f"{name:28s} {shell_line({}, *bench.then)}")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every benchmark and report name")
    runner = commands.add_parser("run", help="rerun a result's recorded command, then report")
    runner.add_argument("name", choices=sorted(BENCHES))
    runner.add_argument("extra", nargs=argparse.REMAINDER, help="appended to the command")
    reporter = commands.add_parser("report", help="rebuild reports from JSON (no training)")
    reporter.add_argument("names", nargs="*", metavar="NAME")
    reporter.add_argument("--all", action="store_true", help="every report")
    reporter.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "list":
        return list_all()
    if args.command == "run":
        return run(args.name, list(args.extra))
    results = args.results.resolve()
    # --all: every report with a result (a benchmark registered before its first run has none)
    names = [n for n in REPORTS if (results / f"{n}.json").is_file()] if args.all else args.names
    if not names:
        raise UserError("name the reports to rebuild, or pass --all")
    return report(names, results)


def entry(argv: list[str] | None = None) -> int:
    """``main`` with bad input turned into one ``error:`` line and exit status 2."""
    try:
        return main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(entry())
