"""Shared fixtures: tiny synthetic datasets in RecBole atomic format, written per test."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

os.environ.setdefault("PYTHONHASHSEED", "0")


def write_cycle_dataset(
    folder: Path,
    name: str = "tiny",
    n_users: int = 60,
    n_items: int = 30,
    length: int = 12,
    seed: int = 0,
    with_item_features: bool = False,
) -> Path:
    """A dataset with a learnable sequential pattern: each user walks item i → i+1 (mod n_items)
    from a random start, with one random item inserted now and then. Popularity is flat, so a
    popularity ranker scores about ``10 / n_items`` Recall@10 and a sequential model near 1.

    Returns the data_path (the parent folder of ``folder/name``).
    """
    rng = np.random.default_rng(seed)
    dataset_dir = folder / name
    dataset_dir.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, n_users + 1):
        item = int(rng.integers(n_items))
        for step in range(length):
            lines.append(f"u{user}\ti{item + 1}\t{1 + step % 5}\t{1_000_000 + user * 1000 + step}")
            item = (item + 1) % n_items
    (dataset_dir / f"{name}.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if with_item_features:
        item_lines = ["item_id:token\tcategory:token\tprice:float\ttags:token_seq"]
        for item in range(1, n_items + 1):
            category = "" if item % 7 == 0 else f"c{item % 3}"
            price = "" if item % 5 == 0 else f"{item * 1.5}"
            tags = "" if item % 4 == 0 else f"t{item % 2} t{item % 5}"
            item_lines.append(f"i{item}\t{category}\t{price}\t{tags}")
        (dataset_dir / f"{name}.item").write_text("\n".join(item_lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module's tests (``pytestmark = pytest.mark.usefixtures(...)``):
    tiny models run fastest so on the oversubscribed 2-core machine, and a killed child process
    and the in-process runs it is compared with then make the same floating-point sums."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """data_path holding dataset ``tiny`` (60 users, 30 items, sequences of 12)."""
    return write_cycle_dataset(tmp_path / "data")


def tiny_config(data_path: Path, output_dir: Path | None = None, **overrides: object) -> dict:
    """Small, fast settings for end-to-end runs on the ``tiny`` dataset."""
    config = {
        "data_path": str(data_path),
        "epochs": 2,
        "train_batch_size": 64,
        "eval_batch_size": 64,
        "MAX_ITEM_LIST_LENGTH": 10,
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 1,
        "n_heads": 2,
        "hidden_dropout_prob": 0.1,
        "attn_dropout_prob": 0.1,
        "show_progress": False,
        "state": "WARNING",
        "efficiency_repeats": 1,
        "seed": 2020,
    }
    if output_dir is not None:
        config["output_dir"] = str(output_dir)
    config.update(overrides)
    # EASRec's shipped retraining limit is 300 epochs (early stopping ends it); tiny runs retrain
    # as long as they search unless a test says otherwise
    config.setdefault("retrain_epochs", config["epochs"])
    return config


@pytest.fixture
def tiny_run_config(tiny_data: Path, tmp_path: Path):
    """A factory: ``tiny_run_config(**overrides)`` → config_dict for ``run_recbole_easrec``."""

    def make(**overrides: object) -> dict:
        return tiny_config(tiny_data, tmp_path / "run", **overrides)

    return make


# Tiny model settings for benchmark suites run end to end in tests (benchmarks/suite.py).
BENCH_TINY = {
    "MAX_ITEM_LIST_LENGTH": 10,
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 1,
    "n_heads": 2,
    "train_batch_size": 64,
    "eval_batch_size": 64,
    "efficiency_repeats": 1,
    "state": "WARNING",
}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmarks folder on ``sys.path``; returns its ``suite`` module."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    return importlib.import_module("suite")


@pytest.fixture
def bench_main(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks/__main__.py`` (``python -m benchmarks``) as a module, its folder on
    ``sys.path``."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location("bench_main", folder / "__main__.py")
    assert spec and spec.loader
    main = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_main", main)  # its dataclasses look it up
    spec.loader.exec_module(main)
    return main
