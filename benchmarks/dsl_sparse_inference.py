"""Does sparse storage speed CPU inference of a DSL model? Sparse CSR vs dense, as time ratios.

At densities 1.0 / 0.5 / 0.2 / 0.1 (random masks), dense ``x @ W.T`` vs CSR
``(W_csr @ x.T).T.contiguous()`` for the full-ranking **scoring** product (what
``dsl_sparse_inference: True`` runs) and the FFN / attention **projections**, and a DSL
**model**'s whole ``full_sort_predict`` with ``dsl_sparse_inference`` off vs on. Each case
alternates dense and sparse calls (``--repeats`` timed pairs): medians and the ratio sparse / dense
(< 1: sparse faster). Run: ``python -m benchmarks run dsl_sparse_inference``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from harness import RESULTS, machine, table, time_alternating, write_json, write_report
from torch import Tensor

PRODUCT_CASES = [  # (part, dataset, rows of W, columns of W, rows of x): x @ Wᵀ
    ("scoring", "ml-1m", 3707, 128, 256),
    ("scoring", "ml-1m", 3707, 128, 1024),
    ("scoring", "ml-1m", 3707, 128, 2048),
    ("scoring", "ml-100k", 1683, 64, 256),
    ("scoring", "ml-100k", 1683, 64, 2048),
    ("projection: ffn up", "ml-1m", 512, 128, 64 * 200),
    ("projection: ffn down", "ml-1m", 128, 512, 64 * 200),
    ("projection: attention q", "ml-1m", 128, 128, 64 * 200),
    ("projection: ffn up", "ml-100k", 256, 64, 256 * 50),
    ("projection: ffn down", "ml-100k", 64, 256, 256 * 50),
]
SEEDS = {"scoring": 0, "projection": 1}  # the generator seed of each part's cases
ALTERNATING = "Each ratio comes from alternating dense/sparse calls, median of the repeats."
MODEL_CASES = [  # ML-1M shapes: long sequences (encoder-bound), short ones in big batches
    {"items": 3707, "hidden_size": 128, "inner_size": 512, "max_len": 200, "batch": 64},
    {"items": 3707, "hidden_size": 128, "inner_size": 512, "max_len": 20, "batch": 2048},
]


def random_masked(shape: tuple[int, int], density: float, generator: torch.Generator) -> Tensor:
    """A random weight with exactly ``round(density · numel)`` non-zeros."""
    numel = shape[0] * shape[1]
    flat = torch.zeros(numel)
    positions = torch.randperm(numel, generator=generator)[: round(density * numel)]
    flat[positions] = torch.randn(positions.numel(), generator=generator)
    return flat.view(shape)


def to_csr(weight: Tensor) -> Tensor:
    """``weight`` in CSR storage (without PyTorch's beta warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
        return weight.to_sparse_csr()


def dense_mm(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight.T`` (what ``nn.Linear`` and dense scoring run)."""
    return x @ weight.T


def sparse_mm(x: Tensor, csr: Tensor) -> Tensor:
    """The same product with a CSR weight, as a contiguous ``[rows of x, rows of csr]`` tensor."""
    return (csr @ x.T).T.contiguous()


def time_pair(dense: Callable[[], Tensor], sparse: Callable[[], Tensor], repeats: int) -> dict:
    """Median milliseconds of both, alternating calls, and their ratio; checks they agree."""
    expected, got = dense(), sparse()
    scale = float(expected.abs().max()) or 1.0
    error = float((expected - got).abs().max()) / scale
    medians = time_alternating({"dense": dense, "sparse": sparse}, repeats, warmup=0)
    return {
        "dense_ms": medians["dense"] * 1e3,
        "sparse_ms": medians["sparse"] * 1e3,
        "ratio": medians["sparse"] / medians["dense"],
        "max_rel_error": error,
    }


def row_of(part: str, dataset: str, shape: str, timing: dict, density: float) -> dict[str, Any]:
    """One result row (printed as it is measured)."""
    row = {"part": part, "dataset": dataset, "shape": shape, **timing, "density": density}
    print(json.dumps(row), flush=True)
    return row


def product_rows(parts: set[str], densities: list[float], repeats: int) -> list[dict[str, Any]]:
    """``x @ Wᵀ`` with W dense vs CSR, one row per case of ``parts`` and density."""
    rows = []
    for part, dataset, out, inp, tokens in PRODUCT_CASES:
        kind = part.split(":")[0]
        if kind not in parts:
            continue
        generator = torch.Generator().manual_seed(SEEDS[kind])
        x = torch.randn(tokens, inp, generator=generator)
        for density in densities:
            weight = random_masked((out, inp), density, generator)
            dense, sparse = partial(dense_mm, x, weight), partial(sparse_mm, x, to_csr(weight))
            shape = f"{tokens}×{inp} @ ({out}×{inp})ᵀ"
            rows.append(row_of(part, dataset, shape, time_pair(dense, sparse, repeats), density))
    return rows


def dsl_model(case: dict[str, int], density: float, sparse_inference: bool) -> Any:
    """A DSL model of ``case``'s shapes in eval mode (seed 0)."""
    from recbole_easrec.config import build_config
    from recbole_easrec.model.dsl import DSL
    from recbole_easrec.saving import DatasetInfo

    sizes = {key: case[key] for key in ("hidden_size", "inner_size")}
    settings = {**sizes, "MAX_ITEM_LIST_LENGTH": case["max_len"], "density": density}
    switch = {"dsl_sparse_inference": sparse_inference, "state": "WARNING", "seed": 0}
    config = build_config("DSL", "ml-1m", config_dict={**settings, **switch})
    return DSL(config, DatasetInfo({"item_id": case["items"]})).eval()


def model_rows(densities: list[float], repeats: int) -> list[dict[str, Any]]:
    """Whole ``full_sort_predict`` of a DSL model, ``dsl_sparse_inference`` off vs on."""
    from recbole.data.interaction import Interaction

    rows = []
    for case in MODEL_CASES:
        generator = torch.Generator().manual_seed(2)
        seq = torch.randint(1, case["items"], (case["batch"], case["max_len"]), generator=generator)
        lengths = torch.full((case["batch"],), case["max_len"])
        shape = "{batch} seqs × {max_len}, hidden {hidden_size}, {items} items".format(**case)
        for density in densities:
            dense, sparse = dsl_model(case, density, False), dsl_model(case, density, True)
            sparse.load_state_dict(dense.state_dict())
            batch = Interaction({dense.ITEM_SEQ: seq, dense.ITEM_SEQ_LEN: lengths})
            calls = [partial(model.full_sort_predict, batch) for model in (dense, sparse)]
            with torch.no_grad():
                timing = time_pair(*calls, repeats)
            rows.append(row_of("model full_sort_predict", "ml-1m", shape, timing, density))
    return rows


def markdown(report: dict[str, Any]) -> str:
    """The rows as one table of sparse/dense time ratios."""
    cells = {
        "part": "{part}",
        "dataset": "{dataset}",
        "shape": "{shape}",
        "density": "{density}",
        "dense ms": "{dense_ms:.2f}",
        "sparse ms": "{sparse_ms:.2f}",
        "ratio": "{ratio:.2f}",
        "max rel. error": "{max_rel_error:.1e}",
    }
    columns = [(head, lambda row, cell=cell: cell.format(**row)) for head, cell in cells.items()]
    lines = [
        "# DSL: sparse (CSR) vs dense CPU inference",
        "",
        f"Command: `{report['command']}`",
        f"Machine: {json.dumps(report['machine'])}. {report.get('load') or ALTERNATING}",
        "",
        "Ratio = sparse time / dense time (< 1: sparse faster). Sparse = `torch.sparse_csr` "
        "(MKL) matmul with the result transposed back to a contiguous `[batch, n]` tensor; dense = "
        "`x @ W.T`. Weights: random masks at the density (what DSL trains).",
        "",
        table(report["rows"], columns, "   rrrrr"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--densities", default="1.0,0.5,0.2,0.1")
    parser.add_argument("--parts", default="scoring,projection,model")
    parser.add_argument("--out", default=str(RESULTS / "dsl_sparse_inference"), help="no suffix")
    parser.add_argument("--load", default="", help="what else ran on the machine (report)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    densities = [float(d) for d in args.densities.split(",")]
    parts = set(args.parts.split(","))
    start = time.perf_counter()
    rows = product_rows(parts, densities, args.repeats)
    if "model" in parts:
        rows += model_rows(densities, args.repeats)
    report = {
        "command": "python benchmarks/dsl_sparse_inference.py " + " ".join(argv or sys.argv[1:]),
        "machine": {**machine(), "mkl": torch.backends.mkl.is_available()},
        "repeats": args.repeats,
        "load": args.load,
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }
    write_json(Path(f"{args.out}.json"), report)
    write_report(Path(f"{args.out}.md"), markdown(report))


if __name__ == "__main__":
    main()
