"""The summary ``make demo`` prints after its EASRec run: architecture, cost, metrics, top-10.

``python -m recbole_easrec.demo RUN_DIR [--user=1] [--topk=10]`` reads ``RUN_DIR/result.json``
and asks the saved model for one user's recommendations (:func:`recbole_easrec.recommend`). Movie
titles are shown when the dataset's ``.item`` file has a ``movie_title`` column (ml-100k's has).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from recbole_easrec.cli import EXIT_USER_ERROR, parse_topk
from recbole_easrec.errors import UserError
from recbole_easrec.recommend import DEFAULT_K, RESULT_FILE, read_result, recommend, run_folder
from recbole_easrec.summary import run_summary


def item_titles(result: dict[str, Any]) -> dict[str, str]:
    """``item token → movie title`` from the dataset's ``.item`` file, if it has titles."""
    config = result["config"]
    path = Path(str(config.get("data_path", ""))) / f"{result['dataset']}.item"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [field.split(":")[0] for field in next(rows, [])]
        if "item_id" not in header or "movie_title" not in header:
            return {}
        item, title = header.index("item_id"), header.index("movie_title")
        return {row[item]: row[title] for row in rows if len(row) > max(item, title)}


def recommendation_lines(answer: dict[str, Any], titles: dict[str, str]) -> list[str]:
    lines = [f"top-{len(answer['items'])} for user {answer['user']} (items not yet seen):"]
    for rank, (item, score) in enumerate(zip(answer["items"], answer["scores"]), start=1):
        title = titles.get(item, "")
        lines.append(f"  {rank:2d}. item {item:>5}  score {score:7.3f}  {title}".rstrip())
    return lines


def summary(run_dir: str | Path, user: str, k: int = DEFAULT_K) -> str:
    """The demo's report for the run in ``run_dir`` (see module docstring)."""
    folder = run_folder(run_dir)
    result = read_result(folder / RESULT_FILE)
    (answer,) = recommend(folder, users=[user], k=k)
    lines = [run_summary({**result, "output_dir": str(folder)})]
    lines += recommendation_lines(answer, item_titles(result))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recbole_easrec.demo", description=__doc__)
    parser.add_argument("run_dir", help="folder of a finished run (make demo: saved/demo)")
    parser.add_argument("--user", default="1", help="user token (default 1)")
    parser.add_argument("--topk", default=None, help="items to recommend (default 10)")
    args = parser.parse_args(argv)
    try:
        k = parse_topk(args.topk)
        print(summary(args.run_dir, args.user, DEFAULT_K if k is None else k))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
