"""Command line of ``run_recbole_easrec.py`` (RecBole's conventions: ``--key=value`` overrides)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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
    return parser


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


def split_config_files(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [name for name in value.replace(",", " ").split() if name]


def main(argv: list[str] | None = None) -> int:
    """Run one training job; a user error prints one line and returns 2."""
    args, extra = build_parser().parse_known_args(argv)
    try:
        overrides = parse_overrides(extra)
        if args.output_dir:
            overrides["output_dir"] = args.output_dir
        from recbole_easrec.quick_start import run_recbole_easrec

        result = run_recbole_easrec(
            model=args.model,
            dataset=args.dataset,
            config_file_list=split_config_files(args.config_files),
            config_dict=overrides,
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
