"""Command line of ``run_recbole_easrec.py`` (RecBole's conventions: ``--key=value`` overrides)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from recbole_easrec.distributed import DEFAULT_PORT, Launch
from recbole_easrec.errors import UserError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_recbole_easrec.py",
        description="Train and evaluate a recommender (plugin or RecBole model). Any other"
        " --key=value pair overrides a RecBole/plugin setting, e.g. --epochs=1.",
    )
    parser.add_argument("--model", default="LinRec", help="LinRec, EASRec, DSL or a RecBole model")
    parser.add_argument(
        "--dataset", default="ml-100k", help="dataset name (folder under data_path)"
    )
    parser.add_argument(
        "--config_files", default=None, help="YAML files, separated by spaces or commas"
    )
    parser.add_argument(
        "--output_dir", default=None, help="run folder (default: new folder in saved/)"
    )
    parser.add_argument(
        "--evaluate",
        default=None,
        metavar="RUN_DIR",
        help="evaluate the model saved in RUN_DIR on its test split instead of training",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="an unknown --key=value setting (a typo) is an error instead of a warning",
    )
    add_study_arguments(parser)
    add_serving_arguments(parser)
    add_distributed_arguments(parser)
    return parser


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """RecBole's flags of a run in several processes (``recbole_easrec.launch``; README)."""
    group = parser.add_argument_group("several processes (RecBole's conventions)")
    group.add_argument("--nproc", type=int, default=1, help="processes on this machine (default 1)")
    group.add_argument(
        "--world_size", type=int, default=-1, help="processes on all machines (default: --nproc)"
    )
    group.add_argument("--ip", default="localhost", help="address of the machine of rank 0")
    group.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of rank 0 (5678)")
    group.add_argument(
        "--offset",
        "--group_offset",
        dest="offset",
        type=int,
        default=0,
        help="rank of this machine's first process (processes on the machines before it)",
    )


def launch_of(args: argparse.Namespace) -> Launch:
    """The ``--nproc`` … ``--offset`` flags as a :class:`~recbole_easrec.distributed.Launch`."""
    return Launch(args.nproc, args.world_size, args.ip, args.port, args.offset)


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``--recommend`` (top-k items for users or histories) and ``--export``."""
    serving = parser.add_argument_group("recommendations and export (docs/recommend.md)")
    serving.add_argument(
        "--recommend", default=None, metavar="RUN_DIR", help="top-k items of the model in RUN_DIR"
    )
    serving.add_argument("--users", default=None, help="user tokens, separated by commas")
    serving.add_argument(
        "--history",
        action="append",
        default=None,
        help="item tokens (oldest first) of an unseen user, separated by commas; repeatable",
    )
    serving.add_argument(
        "--topk",
        default=None,
        help="items per answer (default 10); with --export: export top-k ids instead of scores",
    )
    serving.add_argument(
        "--export", default=None, metavar="RUN_DIR", help="export the model in RUN_DIR for serving"
    )
    serving.add_argument("--format", default="onnx", help="export format: onnx | torchscript")
    serving.add_argument(
        "--overwrite",
        action="store_true",
        help="with --export: replace an earlier export in RUN_DIR (kept by default)",
    )


def parse_topk(value: str | None) -> int | None:
    """``--topk`` as an int (``None`` when absent); anything else is a one-line error."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"--topk must be a whole number of items, got {value!r}") from None


def split_tokens(value: str) -> list[str]:
    """``A,B,C`` → ``["A", "B", "C"]`` (blanks around commas ignored)."""
    return [token.strip() for token in value.split(",") if token.strip()]


def run_serving(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    """``--recommend`` (a JSON list of answers) or ``--export`` (the written files)."""
    k = parse_topk(args.topk)
    if not args.recommend and not args.export:
        raise UserError("--users and --history need --recommend=RUN_DIR (the run to ask)")
    if args.recommend and args.export:
        raise UserError("--recommend and --export are separate commands: pass one of them")
    if args.export:
        from recbole_easrec.export import export

        path = export(
            args.export, args.format, k=k, config_dict=overrides, overwrite=args.overwrite
        )
        return {"model_file": str(path), "description": str(path) + ".json"}
    from recbole_easrec.recommend import DEFAULT_K, recommend

    users = split_tokens(args.users) if args.users is not None else None
    histories = [split_tokens(history) for history in args.history or []]
    return recommend(
        args.recommend,
        users=users,
        histories=histories or None,
        k=DEFAULT_K if k is None else k,
        config_dict=overrides,
    )


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the hyper-parameter search (``--tune``) and of the comparison (``--compare``)."""
    tune = parser.add_argument_group("hyper-parameter search (Ray Tune)")
    tune.add_argument("--tune", action="store_true", help="run a Ray Tune study of --model")
    tune.add_argument("--params_file", default=None, help="search-space YAML (see tune.py)")
    tune.add_argument("--num_samples", type=int, default=8, help="trials to sample (default 8)")
    tune.add_argument(
        "--address", default=None, help="Ray cluster: auto or ray://HOST:PORT (default: local)"
    )
    tune.add_argument("--cpus_per_trial", type=float, default=1.0, help="CPUs per trial")
    tune.add_argument("--gpus_per_trial", type=float, default=0.0, help="GPUs per trial")
    tune.add_argument(
        "--scheduler", default="fifo", help="fifo (all trials to the end) | asha (stop early)"
    )
    tune.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed run, study or comparison in --output_dir from its last epoch",
    )
    compare = parser.add_argument_group("comparison")
    compare.add_argument("--compare", default=None, help="models separated by commas")
    compare.add_argument("--repeats", type=int, default=1, help="seeds per model (default 1)")


def run_study(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    """``--tune`` or ``--compare``: run the study, return a short summary."""
    from recbole_easrec.artifacts import new_run_dir

    if args.tune and args.compare:
        raise UserError("--tune and --compare are separate studies: pass one of them")
    if args.resume and not args.output_dir:
        raise UserError("--resume needs the --output_dir of the study to continue")
    files = split_config_files(args.config_files)
    if args.compare:
        from recbole_easrec.compare import compare_models, parse_model_list

        models = parse_model_list(args.compare)
        output_dir = args.output_dir or new_run_dir("compare", args.dataset)
        with removed_if_left_empty(None if args.output_dir else output_dir, created=True):
            rows = compare_models(
                models, args.dataset, output_dir, files, overrides, args.repeats, args.resume
            )
        return {
            "output_dir": str(output_dir),
            "models": {row["model"]: row["status"] for row in rows},
        }
    from recbole_easrec.tune import TuneOptions, run_tune

    if not args.params_file:
        raise UserError("--tune needs --params_file=FILE.yaml (e.g. properties/hyper/linrec.yaml)")
    output_dir = args.output_dir or new_run_dir(f"tune-{args.model}", args.dataset)
    options = TuneOptions(
        params_file=args.params_file,
        output_dir=str(output_dir),
        num_samples=args.num_samples,
        address=args.address,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        scheduler=args.scheduler,
        resume=args.resume,
    )
    with removed_if_left_empty(None if args.output_dir else output_dir, created=True):
        rows = run_tune(args.model, args.dataset, options, files, overrides)
    return {
        "output_dir": str(output_dir),
        "trials": {row["trial_id"]: row["status"] for row in rows},
    }


@contextmanager
def removed_if_left_empty(folder: Any, created: bool = False) -> Iterator[None]:
    """Run the block; if it fails, remove ``folder`` when this command created it (``created``,
    or it did not exist before) and it holds no file, so an error leaves no empty folder behind."""
    path = Path(folder) if folder else None
    new = path is not None and (created or not path.exists())
    try:
        yield
    except BaseException:
        if new and path is not None:
            remove_empty_tree(path)
        raise


def remove_empty_tree(folder: Path) -> None:
    """Remove ``folder`` and its subfolders if none of them holds a file; else leave all."""
    if not folder.is_dir() or any(path.is_file() for path in folder.rglob("*")):
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        path.rmdir()
    folder.rmdir()


def parse_overrides(extra: list[str]) -> dict[str, Any]:
    """``--key=value`` pairs → dict of strings (RecBole's Config converts the values)."""
    overrides: dict[str, Any] = {}
    for argument in extra:
        if not argument.startswith("--") or "=" not in argument:
            raise UserError(f"unrecognised argument {argument!r}: settings are written --key=value")
        key, value = argument[2:].split("=", 1)
        if not key:
            raise UserError(f"unrecognised argument {argument!r}: settings are written --key=value")
        overrides[key] = value
    return overrides


def warn_unknown_settings(
    parser: argparse.ArgumentParser, args: argparse.Namespace, overrides: dict[str, Any]
) -> None:
    """Print ``warning: unknown setting …`` for each typo (``--strict``: raise instead)."""
    from recbole_easrec.settings_check import check_settings

    files = split_config_files(args.config_files) or []
    for message in check_settings(overrides, parser, files, strict=args.strict):
        print(f"warning: {message}", file=sys.stderr)


def study_lock(output_dir: str | None) -> AbstractContextManager[Any]:
    """The lock of a study's ``--output_dir`` (a fresh default folder needs none)."""
    from recbole_easrec.locking import RunLock

    return RunLock(output_dir) if output_dir else nullcontext()


def split_config_files(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [name for name in value.replace(",", " ").split() if name]


def main(argv: list[str] | None = None) -> int:
    """Run one training job; a user error prints one line and returns 2."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        overrides = parse_overrides(extra)
        warn_unknown_settings(parser, args, overrides)
        serving = args.recommend or args.export or args.users is not None or args.history
        if args.overwrite and not args.export:
            raise UserError(
                "--overwrite goes with --export=RUN_DIR (it replaces an earlier export)"
            )
        if args.topk is not None and not serving:  # then it is RecBole's topk setting
            overrides["topk"] = args.topk
        if args.tune or args.compare:
            with removed_if_left_empty(args.output_dir):
                with study_lock(args.output_dir):
                    print(json.dumps(run_study(args, overrides), indent=2))
            return 0
        if serving:
            print(json.dumps(run_serving(args, overrides), indent=2))
            return 0
        if args.evaluate:
            from recbole_easrec.quick_start import evaluate_saved_run

            print(json.dumps(evaluate_saved_run(args.evaluate, overrides), indent=2))
            return 0
        if args.output_dir:
            overrides["output_dir"] = args.output_dir
        launch = launch_of(args)
        if launch.distributed:
            from recbole_easrec.launch import run_processes

            result = run_processes(
                args.model,
                args.dataset,
                split_config_files(args.config_files),
                overrides,
                launch,
                resume=args.resume,
            )
        else:
            from recbole_easrec.quick_start import run_recbole_easrec

            result = run_recbole_easrec(
                model=args.model,
                dataset=args.dataset,
                config_file_list=split_config_files(args.config_files),
                config_dict=overrides,
                resume=args.resume,
            )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted; the run folder keeps what was written so far", file=sys.stderr)
        return 130
    summary = {"output_dir": result["output_dir"], "test_result": result["test_result"]}
    print(json.dumps(summary, indent=2))
    return 0
