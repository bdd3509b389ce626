"""Compat fix: ``SequentialDataset._benchmark_presets`` gives each row its own ``item_length``.

Under pandas 3 RecBole's ``Series.agg(len)`` returned the number of rows for every row, so any
dataset loaded from pre-split benchmark files (``benchmark_filename``) got wrong lengths silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from recbole.data import create_dataset

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec import compat
from recbole_easrec.config import build_config

HEADER = "user_id:token\titem_id:token\ttimestamp:float\titem_id_list:token_seq"


def write_benchmark(folder: Path, name: str = "bench") -> dict[str, list[int]]:
    """Pre-split files where user u's rows hold prefixes of 1..u+1 items; part → lengths."""
    (folder / name).mkdir(parents=True)
    lengths: dict[str, list[int]] = {}
    for part, offset in (("train", 0), ("valid", 3), ("test", 4)):
        lines, part_lengths = [HEADER], []
        for user in range(1, 5):
            for length in range(1 + offset, 2 + offset + (user if part == "train" else 0)):
                history = " ".join(f"i{k}" for k in range(1, length + 1))
                lines.append(f"u{user}\ti{length + 1}\t{length}\t{history}")
                part_lengths.append(length)
        (folder / name / f"{name}.{part}.inter").write_text("\n".join(lines) + "\n")
        lengths[part] = part_lengths
    return lengths


def test_benchmark_item_length_is_per_row(tmp_path):
    lengths = write_benchmark(tmp_path)
    settings = {
        "data_path": str(tmp_path),
        "load_col": None,
        "benchmark_filename": ["train", "valid", "test"],
        "alias_of_item_id": ["item_id_list"],
        "train_neg_sample_args": None,
        "state": "ERROR",
    }
    train, valid, test = create_dataset(
        build_config("GRU4Rec", "bench", config_dict=settings)
    ).build()
    for part, dataset in zip(("train", "valid", "test"), (train, valid, test)):
        got = dataset.inter_feat["item_length"].numpy()
        assert sorted(got.tolist()) == sorted(lengths[part])
        items = dataset.inter_feat["item_id_list"].numpy()
        assert ((items > 0).sum(axis=1) == got).all()


def test_benchmark_presets_is_patched():
    from recbole.data.dataset import SequentialDataset

    assert SequentialDataset._benchmark_presets is compat._benchmark_presets
    assert np.array_equal(compat._token_lengths(np.array([[1, 2], [3]], dtype=object)), [2, 1])
