"""Inference cost of the sequence models at ML-1M shapes on the CPU: four studies, one module.

Models are built from their architecture alone, as ``load_model`` rebuilds a saved run (3707 item
ids), eval mode, random weights (seed 0): the cost does not depend on the weight values. Inputs are
RecBole-padded item-id sequences. Ratios are against RecBole's SASRec at the paper's sizes (d 128,
D 256, L 4, 4 heads) in the same run; timed calls take turns (``harness.alternate``).

* ``--study=scaling`` → ``attention_scaling`` (issue 2): SASRec, our softmax stack and LinRec at
  N ∈ ``--seq_lens``, ``--batch`` sequences of exactly N items, a fresh process per (model, N):
  latency = best of ``--repeats`` calls, memory = peak RSS minus the RSS once the model is built.
* ``--study=full_ranking`` → ``inference_latency_ml1m`` (issue 5): the same and EASRec's compact
  net (gates 2 and 0); ``--repeats`` passes of ``full_sort_predict`` over ``--users`` ML-1M test
  histories (``--lengths=full``: all at 200); memory = RSS growth over one batch, own process.
* ``--study=serving`` → ``serving`` (issue 12, item 4): the top-10 of ``export.ScoringModule``,
  PyTorch eager vs ONNX Runtime; batch 1: p50/p99 of ``--requests`` requests (lengths 1 … 200) in
  rounds of ``--round``; batch ``--batch`` (256): rows/s, median of ``--batches`` calls.
* ``--study=dsl_sparse`` → ``dsl_sparse_inference`` (issue 3): does sparse storage speed up a DSL
  model? Dense ``x @ W.T`` vs CSR ``(W_csr @ x.T).T.contiguous()`` at ``--densities`` (random
  masks) for the full-ranking scoring product (what ``dsl_sparse_inference: True`` runs), the FFN /
  attention projections, and a DSL model's whole ``full_sort_predict`` with
  ``dsl_sparse_inference`` off vs on; medians of ``--repeats`` alternating pairs, ratio sparse /
  dense (< 1: sparse faster).

Writes ``benchmarks/results/<result>.json`` and its report (``reports.REPORTS``);
``python -m benchmarks run <result>`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import harness
import numpy as np
import recbole
import reports
import torch
from recbole.data.interaction import Interaction
from torch import Tensor

from recbole_easrec.config import build_config
from recbole_easrec.efficiency import count_parameters, model_flops
from recbole_easrec.saving import DatasetInfo

N_ITEMS = 3707  # ML-1M: 3706 items + padding id 0
MAX_LEN = harness.PAPER_ML1M["MAX_ITEM_LIST_LENGTH"]
ITEM_SEQ, ITEM_SEQ_LEN = "item_id_list", "item_length"
SHARED = {
    k: harness.PAPER_ML1M[k]
    for k in ("MAX_ITEM_LIST_LENGTH", "hidden_dropout_prob", "attn_dropout_prob")
}
PAPER = {k: harness.PAPER_ML1M[k] for k in ("hidden_size", "inner_size", "n_layers", "n_heads")}
COMPACT = {"hidden_size": 96, "inner_size": 192, "n_layers": 1, "n_heads": 4}  # EASRec's ML-1M net
BASELINE, SOFTMAX, LINEAR = "SASRec (RecBole)", "LinRec softmax (our SASRec)", "LinRec linear"
EASREC = "EASRecCompact gates=2"
MODELS: dict[str, tuple[str, dict[str, Any]]] = {  # name: (model class, architecture)
    BASELINE: ("SASRec", PAPER),
    SOFTMAX: ("LinRec", {**PAPER, "attention_type": "softmax"}),
    LINEAR: ("LinRec", {**PAPER, "attention_type": "linear"}),
    EASREC: ("EASRecCompact", {**COMPACT, "gate_layers": 2}),
    "EASRecCompact gates=0": ("EASRecCompact", {**COMPACT, "gate_layers": 0}),
}
SCALING = {"SASRec": BASELINE, "softmax (ours)": SOFTMAX, "LinRec": LINEAR}  # row label: model
SERVED = [BASELINE, SOFTMAX, LINEAR, EASREC]
ENGINES = ("eager", "onnxruntime")
TOP_K = 10
BR = "  "  # at the end of a Markdown line: a line break
Call = Callable[..., Any]
SHAPE = "{hidden_size}/{inner_size}/{n_layers}/{n_heads}"
WEIGHTS = "random (each model's own initialisation, seed 0)"


def build(name: str, length: int = MAX_LEN) -> Any:
    """Model ``name`` at ML-1M shapes (N = ``length``) on the CPU."""
    model_class, settings = MODELS[name]
    settings = {**SHARED, **settings, "MAX_ITEM_LIST_LENGTH": length, "device": "cpu"}
    return instantiate(model_class, settings)


def instantiate(model_class: str, settings: dict[str, Any], n_items: int = N_ITEMS) -> Any:
    """``model_class`` with ``settings`` for ``n_items`` item ids: eval mode, random weights
    (seed 0)."""
    config = build_config(model_class, "ml-1m", config_dict=settings)
    torch.manual_seed(0)
    return config.model_class(config, DatasetInfo({config["ITEM_ID_FIELD"]: n_items})).eval()


def batches(
    lengths: Any, size: int, width: int = MAX_LEN, seed: int = 1, n_items: int = N_ITEMS
) -> list[Interaction]:
    """Test batches of ``size`` rows: ``[B, width]`` random item ids below ``n_items``, the first
    ``lengths[i]`` real, the rest padding (0), as RecBole pads them."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, len(lengths), size):
        length = torch.as_tensor(lengths[start : start + size], dtype=torch.long)
        seq = torch.randint(1, n_items, (len(length), width), generator=generator)
        seq = seq.masked_fill(torch.arange(width)[None, :] >= length[:, None], 0)
        out.append(Interaction({ITEM_SEQ: seq, ITEM_SEQ_LEN: length}))
    return out


def uniform_requests(count: int, size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(item_seq, lengths)`` batches of ``size`` for ``count`` requests, lengths 1 … 200."""
    lengths = torch.randint(1, MAX_LEN + 1, (count,), generator=torch.Generator().manual_seed(seed))
    return [(b[ITEM_SEQ], b[ITEM_SEQ_LEN]) for b in batches(lengths, size, seed=seed)]


def history_lengths(
    data_path: str | Path, dataset: str = "ml-1m", cap: int = MAX_LEN
) -> tuple[np.ndarray, int]:
    """Every user's test-history length in ``dataset``'s atomic file (interactions − 1, capped at
    ``cap``; shuffled, seed 0) and its item-id count (items + the padding id). A dataset RecBole
    ships (ml-100k) is read from RecBole's own copy when ``data_path`` lacks it."""
    inter = Path(data_path) / dataset / f"{dataset}.inter"
    bundled = Path(recbole.__file__).parent / "dataset_example" / dataset / inter.name
    if not inter.is_file() and bundled.is_file():
        inter = bundled
    with inter.open(encoding="utf-8") as handle:
        next(handle)
        users, items = zip(*(line.split("\t", 2)[:2] for line in handle))
    _, counts = np.unique(users, return_counts=True)
    lengths = np.random.default_rng(0).permutation(np.minimum(counts - 1, cap))
    return lengths, len(set(items)) + 1


def ml1m_lengths(args: argparse.Namespace) -> np.ndarray:
    """Test-history lengths of ``--users`` ML-1M users (:func:`history_lengths`), or all 200 with
    ``--lengths=full``."""
    if args.lengths == "full":
        return np.full(args.users, MAX_LEN)
    return history_lengths(args.data_path)[0][: args.users]


def time_architectures(
    records: Sequence[dict[str, Any]],
    name_of: Callable[[dict[str, Any]], str],
    dataset: str,
    data_path: str | Path,
    threads: int = 1,
    repeats: int = 5,
) -> dict[str, Any]:
    """A timing pass over trained runs' architectures (issue 28): for the first finished record of
    each ``name_of(record)``, the median seconds of one full-ranking pass over every test user of
    ``dataset`` (batch 512, N of the runs), the architectures taking turns, ``threads`` threads,
    random weights (the cost does not depend on them); ``rounds``: every pass's seconds, in the
    order the architectures took turns. Run it alone on an otherwise idle CPU."""
    torch.set_num_threads(threads)
    runs: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("status") == "ok":
            runs.setdefault(name_of(record), record)
    if not runs:
        raise ValueError("no finished run to time")
    width = next(iter(runs.values()))["settings"]["MAX_ITEM_LIST_LENGTH"]
    lengths, n_items = history_lengths(data_path, dataset, width)
    data = batches(lengths, 512, width=width, n_items=n_items)
    calls = {
        name: partial(
            predict, instantiate(run["model"], {**run["settings"], "device": "cpu"}, n_items)
        )
        for name, run in runs.items()
    }
    load = os.getloadavg()
    seconds = harness.alternate(calls, [(data,)] * repeats, warmup=([data[0][:64]],))
    return {
        "protocol": f"{len(lengths)} users, batch 512, N {width}, {threads} thread(s),"
        f" median of {repeats} passes taking turns, random weights",
        "machine": harness.cpu_name(),
        "loadavg_before": load,
        "loadavg_after": os.getloadavg(),
        "seconds": {name: statistics.median(values) for name, values in seconds.items()},
        "rounds": {name: [round(v, 5) for v in values] for name, values in seconds.items()},
    }


def predict(model: Any, inputs: Sequence[Interaction]) -> None:
    """One full-ranking pass: ``full_sort_predict`` of every batch, without gradients."""
    with torch.no_grad():
        for batch in inputs:
            model.full_sort_predict(batch)


def in_child(args: argparse.Namespace, *flags: str, env: Mapping[str, str] | None = None) -> Any:
    """This study's ``--probe`` in a fresh interpreter (a peak RSS of its own): the JSON printed."""
    common = [f"--{key}={getattr(args, key)}" for key in ("study", "batch", "threads")]
    return harness.child_json([__file__, *common, *flags], {**os.environ, **(env or {})})


def scaling_probe(label: str, args: argparse.Namespace) -> dict[str, Any]:
    """(In the child.) One (model, N): best latency, FLOPs of one sequence, peak RSS added."""
    length = args.seq_lens[0]
    model = build(SCALING[label], length)
    batch = batches([length] * args.batch, args.batch, width=length)
    rss_before = harness.proc_status_kb("VmRSS") * 1024
    seconds = harness.alternate({label: lambda: predict(model, batch)}, [()] * args.repeats)[label]
    return {
        "model": label,
        "length": length,
        "batch": args.batch,
        "latency_seconds": min(seconds),
        "flops_per_sequence": model_flops(model, batch[0])["flops"],
        "peak_memory_bytes": max(0, harness.peak_rss_bytes() - rss_before),
        "params": count_parameters(model, trainable_only=False),
    }


def scaling(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Every (N, model) of the scaling study, ratios against SASRec at the same N."""
    rows = []
    for length in args.seq_lens:
        for label in SCALING:
            flags = (f"--probe={label}", f"--seq_lens={length}", f"--repeats={args.repeats}")
            rows.append(in_child(args, *flags))
            print(f"N={length:4d} {label:15s} {rows[-1]['latency_seconds']:.4f}s", file=sys.stderr)
    base = {row["length"]: row for row in rows if row["model"] == "SASRec"}
    for row in rows:
        for key in ("latency_seconds", "flops_per_sequence", "peak_memory_bytes"):
            row[f"{key}_vs_sasrec"] = harness.ratio(row[key], base[row["length"]][key])
    meta = {"command": command, "machine": harness.cpu_name(), "torch": torch.__version__}
    meta |= {"threads": torch.get_num_threads(), "batch": args.batch, "repeats": args.repeats}
    return {"meta": {**meta, "date": time.strftime("%Y-%m-%d")}, "rows": rows}


def memory_probe(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """(In the child.) RSS growth over one full-ranking batch, after a 2-row warm-up."""
    model = build(name)
    batch = batches(ml1m_lengths(args)[: args.batch], args.batch)[0]
    predict(model, [batch[:2]])  # fault in library code and lazy state, outside the peak
    harness.reset_peak_rss()  # VmHWM := the current RSS
    before = harness.proc_status_kb("VmRSS")
    with torch.no_grad():
        scores = model.full_sort_predict(batch)
    peak = harness.proc_status_kb("VmHWM")
    return {
        "inference_peak_bytes": (peak - before) * 1024,
        "rss_before_bytes": before * 1024,
        "scores_shape": list(scores.shape),
    }


def full_ranking(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Every model's full-ranking passes, FLOPs, parameters and peak memory (issue 5)."""
    models = {name: build(name) for name in MODELS}
    lengths = ml1m_lengths(args)
    data = batches(lengths, args.batch)
    rows = {}
    for name, model in models.items():
        weights = 4 * count_parameters(model, trainable_only=False)
        rows[name] = {"model": MODELS[name][0], "architecture": MODELS[name][1]}
        rows[name] |= {"params": count_parameters(model), "weights_bytes": weights}
        rows[name] |= model_flops(model, data[0])
    load_before = os.getloadavg()
    calls = {name: partial(predict, model) for name, model in models.items()}
    seconds = harness.alternate(calls, [(data,)] * args.repeats, warmup=([data[0][:64]],))
    load_after = os.getloadavg()
    base, base_seconds = rows[BASELINE], seconds[BASELINE]
    env = {"MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(args.threads)}
    probe = ("users", "lengths", "data_path")
    for name, row in rows.items():
        median = statistics.median(seconds[name])
        row |= {"seconds": seconds[name], "median_seconds": median}
        row["time_ratio"] = median / statistics.median(base_seconds)
        per_round = [s / b for s, b in zip(seconds[name], base_seconds)]
        row["time_ratio_per_round_median"] = statistics.median(per_round)
        row["flops_ratio"] = row["flops"] / base["flops"]
        row["params_ratio"] = row["params"] / base["params"]
        flags = [f"--{key}={getattr(args, key)}" for key in probe]
        row |= in_child(args, f"--probe={name}", *flags, env=env)
    for row in rows.values():
        row["memory_ratio"] = row["inference_peak_bytes"] / base["inference_peak_bytes"]
    info = {"cpu": harness.cpu_name(), "logical_cpus": os.cpu_count()}
    info |= {"platform": platform.platform(), "python": platform.python_version()}
    info |= {"loadavg_before_timing": load_before, "loadavg_after_timing": load_after}
    stats = {"mean": float(lengths.mean()), "median": float(np.median(lengths))}
    stats |= {"min": int(lengths.min()), "share_at_200": float((lengths == MAX_LEN).mean())}
    protocol = {"users": len(lengths), "batch": args.batch, "batches": len(data)}
    protocol |= {"MAX_ITEM_LIST_LENGTH": MAX_LEN, "n_items": N_ITEMS, "lengths": args.lengths}
    protocol |= {"length_stats": stats, "repeats": args.repeats}
    protocol |= {"weights": WEIGHTS, "shared_settings": SHARED}
    head = {"command": command, "machine": info, "torch": torch.__version__}
    return head | {"threads": torch.get_num_threads(), "protocol": protocol, "models": rows}


def engine_call(name: str, engine: str, folder: Path) -> Call:
    """``call(item_seq, lengths)`` → top-10 ids and scores of model ``name`` under ``engine``."""
    from recbole_easrec.export import ScoringModule, export_module

    model = build(name)
    if engine == "eager":
        return torch.no_grad()(ScoringModule(model, k=TOP_K).eval().forward)
    import onnxruntime as ort

    path = export_module(model, folder / f"{SERVED.index(name)}.onnx", "onnx", k=TOP_K)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda seq, length: session.run(
        None, {"item_seq": seq.numpy(), "item_seq_len": length.numpy()}
    )


def serving(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Batch-1 latency and batch-``--batch`` throughput of every served model and engine."""
    engines = [e for e in ENGINES if e != "onnxruntime" or not args.no_onnx]
    with tempfile.TemporaryDirectory() as folder:
        calls = {(n, e): engine_call(n, e, Path(folder)) for n in SERVED for e in engines}
        single = harness.alternate(calls, uniform_requests(args.requests, 1, seed=0), args.round)
        big = [uniform_requests(args.batch, args.batch, seed=1 + i)[0] for i in range(args.batches)]
        batch = harness.alternate(calls, big)
    rows = []
    for (name, engine), seconds in single.items():
        ms = np.asarray(seconds) * 1000
        row = {"model": name, "engine": engine, "architecture": MODELS[name][1]}
        row |= {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}
        row["requests_per_s"] = float(1000 / ms.mean())
        row["batch256_per_s"] = args.batch / statistics.median(batch[(name, engine)])
        rows.append(row)
    reference = next(r for r in rows if r["model"] == BASELINE and r["engine"] == "eager")
    for row in rows:
        row["x_requests_per_s"] = harness.ratio(row["requests_per_s"], reference["requests_per_s"])
        row["x_batch256_per_s"] = harness.ratio(row["batch256_per_s"], reference["batch256_per_s"])
        row["x_p50"] = harness.ratio(row["p50_ms"], reference["p50_ms"])
    settings = {"requests": args.requests, "round": args.round, "batches": args.batches}
    settings |= {"threads": torch.get_num_threads(), "top_k": TOP_K, "n_items": N_ITEMS}
    settings |= {"sequence_length": MAX_LEN, "batch": args.batch}
    return {"machine": harness.machine(), "settings": settings, "rows": rows, "command": command}


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
    {"hidden_size": 128, "inner_size": 512, "max_len": 200, "batch": 64},
    {"hidden_size": 128, "inner_size": 512, "max_len": 20, "batch": 2048},
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


def sparse_mm(x: Tensor, csr: Tensor) -> Tensor:
    """``x @ W.T`` with a CSR weight, as a contiguous ``[rows of x, rows of W]`` tensor."""
    return (csr @ x.T).T.contiguous()


def time_pair(dense: Callable[[], Tensor], sparse: Callable[[], Tensor], repeats: int) -> dict:
    """Median milliseconds of both, alternating calls, and their ratio; checks they agree."""
    expected, got = dense(), sparse()
    scale = float(expected.abs().max()) or 1.0
    error = float((expected - got).abs().max()) / scale
    medians = harness.time_alternating({"dense": dense, "sparse": sparse}, repeats, warmup=0)
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
            dense = partial(torch.matmul, x, weight.T)  # what nn.Linear and dense scoring run
            sparse = partial(sparse_mm, x, to_csr(weight))
            shape = f"{tokens}×{inp} @ ({out}×{inp})ᵀ"
            rows.append(row_of(part, dataset, shape, time_pair(dense, sparse, repeats), density))
    return rows


def dsl_model(case: dict[str, int], density: float, sparse_inference: bool) -> Any:
    """A DSL model of ``case``'s shapes (eval mode, seed 0)."""
    sizes = {key: case[key] for key in ("hidden_size", "inner_size")}
    settings = {**sizes, "MAX_ITEM_LIST_LENGTH": case["max_len"], "density": density}
    switch = {"dsl_sparse_inference": sparse_inference, "state": "WARNING", "seed": 0}
    return instantiate("DSL", {**settings, **switch})


def model_rows(densities: list[float], repeats: int) -> list[dict[str, Any]]:
    """Whole ``full_sort_predict`` of a DSL model, ``dsl_sparse_inference`` off vs on."""
    rows = []
    for case in MODEL_CASES:
        width, size = case["max_len"], case["batch"]
        batch = batches([width] * size, size, width=width, seed=2)[0]
        shape = f"{size} seqs × {width}, hidden {case['hidden_size']}, {N_ITEMS} items"
        for density in densities:
            dense, sparse = dsl_model(case, density, False), dsl_model(case, density, True)
            sparse.load_state_dict(dense.state_dict())
            calls = [partial(model.full_sort_predict, batch) for model in (dense, sparse)]
            with torch.no_grad():
                timing = time_pair(*calls, repeats)
            rows.append(row_of("model full_sort_predict", "ml-1m", shape, timing, density))
    return rows


def dsl_sparse(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The scoring and projection products and the DSL model, dense vs CSR, at each density."""
    densities = [float(d) for d in args.densities.split(",")]
    parts = set(args.parts.split(","))
    start = time.perf_counter()
    rows = product_rows(parts, densities, args.repeats)
    if "model" in parts:
        rows += model_rows(densities, args.repeats)
    return {
        "command": command,
        "machine": {**harness.machine(), "mkl": torch.backends.mkl.is_available()},
        "repeats": args.repeats,
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }


def dsl_markdown(report: dict[str, Any]) -> str:
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
        harness.table(report["rows"], columns, "   rrrrr"),
    ]
    return "\n".join(lines) + "\n"


def x2(value: float | None) -> str:
    """A ratio cell: two decimals, ``n/a`` when missing."""
    return "n/a" if value is None else f"{value:.2f}"


def scaling_markdown(data: dict[str, Any]) -> str:
    """The report of ``attention_scaling.json``."""
    meta = data["meta"]
    columns = [
        ("N", lambda r: r["length"]),
        ("model", lambda r: r["model"]),
        ("latency (s)", lambda r: f"{r['latency_seconds']:.4f}"),
        ("× SASRec", lambda r: x2(r["latency_seconds_vs_sasrec"])),
        ("GFLOPs/seq", lambda r: f"{r['flops_per_sequence'] / 1e9:.3f}"),
        ("× SASRec", lambda r: x2(r["flops_per_sequence_vs_sasrec"])),
        ("peak mem (MB)", lambda r: f"{r['peak_memory_bytes'] / 2**20:.1f}"),
        ("× SASRec", lambda r: x2(r["peak_memory_bytes_vs_sasrec"])),
    ]
    return f"""# Attention scaling: RecBole SASRec vs our softmax stack vs LinRec

Command: `{meta["command"]}`{BR}
Machine: {meta["machine"]}, torch {meta["torch"]}, {meta["threads"]} threads; batch {meta["batch"]} \
sequences of exactly N items, full-ranking scores over {N_ITEMS} items, eval mode. d=128, inner \
256, 4 layers, 4 heads. Latency = best of {meta["repeats"]} runs; memory = peak RSS added by the \
forward passes (own process). Ratios are against RecBole's SASRec at the same N (same run); below \
1 is better.

{harness.table(data["rows"], columns)}
"""


def full_ranking_markdown(data: dict[str, Any]) -> str:
    """The report of ``inference_latency_ml1m.json``."""
    protocol, info = data["protocol"], data["machine"]
    stats, batch = protocol["length_stats"], protocol["batch"]
    load = [", ".join(f"{x:.2f}" for x in info[f"loadavg_{w}_timing"]) for w in ("before", "after")]
    lengths = (
        "ML-1M's real test-history lengths (interactions − 1 per user, capped at 200),"
        f" mean {stats['mean']:.0f}, median {stats['median']:.0f}, min {stats['min']},"
        f" {stats['share_at_200']:.0%} at the 200 cap. Every model computes on the padded"
        " `[B, 200]` tensor anyway, so lengths change little."
        if protocol["lengths"] == "ml1m"
        else "every user at 200."
    )
    columns = [
        ("model", lambda r: r[0]),
        ("hidden/inner/layers/heads", lambda r: SHAPE.format(**r[1]["architecture"])),
        ("params", lambda r: r[1]["params"]),
        ("FLOPs / seq", lambda r: f"{r[1]['flops'] / 1e6:.1f} M"),
        ("encoder FLOPs", lambda r: f"{r[1]['encoder_flops'] / 1e6:.1f} M"),
        ("pass s", lambda r: f"{r[1]['median_seconds']:.2f}"),
        ("time ratio", lambda r: f"{r[1]['time_ratio']:.1%}"),
        ("ratio/round", lambda r: f"{r[1]['time_ratio_per_round_median']:.1%}"),
        ("FLOPs ratio", lambda r: f"{r[1]['flops_ratio']:.1%}"),
        ("peak inference MiB", lambda r: f"{r[1]['inference_peak_bytes'] / 2**20:.1f}"),
        ("memory ratio", lambda r: f"{r[1]['memory_ratio']:.1%}"),
    ]
    rows = list(data["models"].items())
    return f"""# Full-ranking inference cost on ML-1M shapes: EASRec vs SASRec vs LinRec

Command: `{data["command"]}`{BR}
Machine: {info["cpu"]}, {info["logical_cpus"]} logical CPUs, {info["platform"]}; torch \
{data["torch"]}, {data["threads"]} torch thread(s).{BR}
Load average (1/5/15 min) before timing {load[0]}, after {load[1]}.

## Protocol

- Models built from their architecture alone (`build_config` + `DatasetInfo`, as `load_model` \
does), **random weights**: latency, FLOPs, params and memory do not depend on weight values. 3707 \
item ids (3706 ML-1M items + padding), MAX_ITEM_LIST_LENGTH 200, dropout 0.2 (inactive in eval), \
CPU, `model.eval()`, `torch.no_grad()`.
- One pass = `full_sort_predict` over {protocol["users"]} test users in {protocol["batches"]} \
batch(es) of {batch} (`[B, 200]` item ids, padded as RecBole pads, scores against all 3707 items); \
top-k/metrics left out (same for all).
- Sequence lengths: `{protocol["lengths"]}` — {lengths}
- Time: median of {protocol["repeats"]} passes per model after a warm-up call (64 rows); the \
models' passes are **interleaved** (every round runs each model once, order rotated per round). \
{data.get("load") or "The **ratios to RecBole's SASRec from the same run** are the result."} \
`ratio/round` is the median of per-round ratios (robust to load drifting between rounds).
- FLOPs: `recbole_easrec.efficiency.model_flops` (the counter result.json uses): one full-ranking \
forward of one sequence at length 200 (`encoder` = sequence representation only).
- Peak memory: fresh subprocess per model, resident-set growth (VmHWM − VmRSS) over one \
`full_sort_predict` of one batch of {batch} (after a 2-row warm-up call, so library code pages \
and one-time state are not counted), with `MALLOC_MMAP_THRESHOLD_=65536` so freed tensors leave \
the RSS (growth = peak live activations + allocator overhead, not heap reuse). Weights listed \
separately.

## Results

{harness.table(rows, columns, "  " + "r" * 9)}
"""


def serving_markdown(data: dict[str, Any]) -> str:
    """The report of ``serving.json``."""
    settings, info = data["settings"], data["machine"]
    big = settings.get("batch", 256)
    columns = [
        ("model", lambda r: r["model"]),
        (
            "architecture",
            lambda r: "d={hidden_size}, D={inner_size}, L={n_layers}".format(**r["architecture"]),
        ),
        ("engine", lambda r: r["engine"]),
        ("p50 ms", lambda r: f"{r['p50_ms']:.2f}"),
        ("p99 ms", lambda r: f"{r['p99_ms']:.2f}"),
        ("requests/s (batch 1)", lambda r: f"{r['requests_per_s']:.1f}"),
        ("×", lambda r: x2(r["x_requests_per_s"])),
        (f"rows/s (batch {big})", lambda r: f"{r['batch256_per_s']:.0f}"),
        ("×", lambda r: x2(r["x_batch256_per_s"])),
    ]
    return f"""# Serving: top-10 recommendation latency and throughput on the CPU

Command: `{data["command"]}`

- **Machine**: {info["cpu"]}, {info["cores_visible"]} cores visible, {settings["threads"]} \
torch/ONNX Runtime thread(s), torch {info["torch"]}; \
{data.get("load") or "ratios are measured in alternating rounds of the same run."}
- **Requests**: ML-1M shapes ({settings["n_items"]} item ids), sequences padded to \
N = {settings["sequence_length"]} with random real lengths 1 … 200; output the top-10 ids and \
scores (padding and input items excluded); random weights (latency does not depend on them).
- batch 1: {settings["requests"]} requests per model and engine, p50/p99 latency, requests/s = \
1 / mean latency; batch {big}: median of {settings["batches"]} calls. Ratios (×) against \
RecBole's SASRec under PyTorch eager.

{harness.table(data["rows"], columns)}
"""


def scaling_plot(data: dict[str, Any], path: Path) -> None:
    """Latency, FLOPs and peak memory against N (log-log), one line per model."""
    figure, axes = harness.figure(3, (14, 4))
    metrics = (
        ("latency_seconds", "latency (s)"),
        ("flops_per_sequence", "FLOPs / sequence"),
        ("peak_memory_bytes", "peak memory (bytes)"),
    )
    for axis, (key, title) in zip(axes, metrics):
        for label in SCALING:
            points = [(r["length"], r[key]) for r in data["rows"] if r["model"] == label]
            axis.plot(*zip(*points), marker="o", label=label)
        axis.set(xscale="log", yscale="log", xlabel="sequence length N", title=title)
    axes[0].legend()
    harness.save_figure(figure, path)


def serving_plot(data: dict[str, Any], path: Path) -> None:
    """Batch-1 requests/s and batch-256 rows/s, bars per model and engine."""
    rows = {(r["model"], r["engine"]): r for r in data["rows"]}
    engines = sorted({engine for _, engine in rows})
    figure, axes = harness.figure(2, (10, 4))
    width, where = 0.8 / len(engines), np.arange(len(SERVED))
    for axis, key, title in (
        (axes[0], "requests_per_s", "batch 1: requests/s"),
        (axes[1], "batch256_per_s", f"batch {data['settings'].get('batch', 256)}: rows/s"),
    ):
        for offset, engine in enumerate(engines):
            values = [rows[(model, engine)][key] for model in SERVED]
            axis.bar(where + offset * width, values, width, label=engine)
        axis.set_xticks(where + width * (len(engines) - 1) / 2)
        axis.set_xticklabels([m.replace(" (", "\n(") for m in SERVED], fontsize=7)
        axis.set_title(title)
        axis.legend(fontsize="small")
    harness.save_figure(figure, path)


class Study(NamedTuple):
    result: str  # benchmarks/results/<result>.json, reported by reports.REPORTS[result]
    measure: Call  # (args, command) → the result's JSON
    probe: Call | None  # (name, args) → JSON, in a fresh process (``--probe=NAME``)
    defaults: tuple[int | None, int, int]  # --batch, --repeats, --threads (0: torch's default)


STUDIES = {
    "scaling": Study("attention_scaling", scaling, scaling_probe, (32, 5, 0)),
    "full_ranking": Study("inference_latency_ml1m", full_ranking, memory_probe, (512, 5, 1)),
    "serving": Study("serving", serving, None, (256, 0, 1)),
    "dsl_sparse": Study("dsl_sparse_inference", dsl_sparse, None, (None, 7, 1)),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=list(STUDIES), required=True)
    parser.add_argument("--out", type=Path, help="output stem (default results/<its result>)")
    parser.add_argument("--batch", type=int, help="sequences per call (32 / 512 / 256)")
    parser.add_argument("--repeats", type=int, help="timed calls or passes per model (5)")
    parser.add_argument("--threads", type=int, help="torch / ONNX Runtime threads, 0: default")
    parser.add_argument("--seq_lens", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    parser.add_argument("--users", type=int, default=512, help="full_ranking: users per pass")
    parser.add_argument("--lengths", choices=["ml1m", "full"], default="ml1m")
    parser.add_argument("--data_path", default=harness.DATA_PATH, help="folder holding ml-1m/")
    parser.add_argument("--requests", type=int, default=400, help="serving: batch-1 requests")
    parser.add_argument("--round", type=int, default=20, help="serving: requests per round")
    parser.add_argument("--batches", type=int, default=5, help="serving: big-batch calls")
    parser.add_argument("--no_onnx", action="store_true", help="serving: PyTorch eager only")
    parser.add_argument("--densities", default="1.0,0.5,0.2,0.1", help="dsl_sparse: weights")
    parser.add_argument("--parts", default="scoring,projection,model", help="dsl_sparse: cases")
    parser.add_argument("--load", default="", help="what else ran on the machine (report)")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in zip(("batch", "repeats", "threads"), STUDIES[args.study].defaults):
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    study = STUDIES[args.study]
    if args.probe and study.probe:
        print(json.dumps(study.probe(args.probe, args)))
        return 0
    data = study.measure(args, "python benchmarks/inference.py " + shlex.join(argv))
    data["load"] = args.load
    for path in reports.write(study.result, args.out or harness.RESULTS / study.result, data):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
