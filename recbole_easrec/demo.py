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

METRICS = ("recall@10", "mrr@10", "ndcg@10")


def architecture_lines(result: dict[str, Any]) -> list[str]:
    """The selected network against the supernet's full path (EASRec runs only)."""
    arch = result.get("architecture")
    config = result["config"]
    if not arch:
        return [f"model: {result['model']} (no architecture search in this run)"]
    full = f"d={config['hidden_size']}, D={config['inner_size']}, L={config['n_layers']}"
    chosen = f"d={arch['hidden_size']}, D={arch['inner_size']}, L={arch['n_layers']}"
    return [
        f"selected architecture: {chosen}, data-aware gates of {arch['gate_layers']} layer(s)"
        f"  (full network: {full})",
        f"  width pruning γ={arch['hidden_prune_ratio']:g}, γ'={arch['inner_prune_ratio']:g}",
    ]


def cost_lines(result: dict[str, Any]) -> list[str]:
    """FLOPs and parameters of the trained network, against the full network where known."""
    efficiency = result.get("efficiency", {})
    flops, params = efficiency.get("flops"), efficiency.get("params")
    fraction = (result.get("architecture") or {}).get("flops_fraction")
    lines = []
    if flops and fraction:
        lines.append(
            f"cost: {flops:,} FLOPs per full-ranking forward pass = {100 * fraction:.1f} % of"
            f" the full network's {round(flops / fraction):,}"
        )
    elif flops:
        lines.append(f"cost: {flops:,} FLOPs per full-ranking forward pass")
    if params:
        supernet = result.get("supernet_params")
        extra = f" (the searched supernet: {supernet:,})" if supernet else ""
        lines.append(f"parameters: {params:,}{extra}")
    if efficiency.get("inference_seconds") is not None:
        lines.append(
            f"inference: {efficiency['inference_seconds']:.3f} s for the test users' full ranking"
        )
    return lines


def metric_lines(result: dict[str, Any]) -> list[str]:
    test = result.get("test_result") or {}
    shown = ", ".join(f"{name} {test[name]:.4f}" for name in METRICS if name in test)
    return [f"test ({result.get('test_protocol', 'full')} ranking): {shown}"]


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
    lines = [f"{result['model']} on {result['dataset']} ({folder})"]
    lines += architecture_lines(result) + cost_lines(result) + metric_lines(result)
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
