"""Compat fix: ``Dataset._normalize`` / ``_discretization`` keep each ``float_seq`` row's length.

Under pandas 3 RecBole split the flattened values at ``cumsum(Series.agg(len))`` (one number), so
every ``float_seq`` feature was mangled or failed to load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recbole.data import create_dataset

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec.config import build_config
from tests.conftest import tiny_config, write_cycle_dataset


def write_scores(data_path: Path, n_items: int = 30) -> dict[str, list[float]]:
    """``tiny.item`` with ``scores:float_seq`` (item k has k % 3 + 1 values); token → values."""
    lines = ["item_id:token\tweight:float\tscores:float_seq"]
    values = {}
    for item in range(1, n_items + 1):
        scores = [float(item * 10 + j) for j in range(item % 3 + 1)]
        values[f"i{item}"] = scores
        lines.append(f"i{item}\t{item * 0.5}\t{' '.join(map(str, scores))}")
    (data_path / "tiny" / "tiny.item").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return values


def load_items(tmp_path: Path, **settings: object) -> tuple[object, dict[str, list[float]]]:
    data_path = write_cycle_dataset(tmp_path / "data")
    values = write_scores(data_path)
    config = tiny_config(data_path, **settings)
    config["load_col"] = {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "weight", "scores"],
    }
    dataset = create_dataset(build_config("SASRec", "tiny", config_dict=config))
    return dataset, values


def rows_by_token(dataset: object, values: dict[str, list[float]]):
    """(original values, loaded row as an array) per item; a pair row becomes shape (n, 2)."""
    items = dataset.item_feat  # a DataFrame until the dataset is built
    for item_id, row in zip(items["item_id"].tolist(), items["scores"]):
        if item_id == 0:
            continue
        row = np.stack(row, axis=-1) if isinstance(row, tuple) else np.asarray(row)
        yield values[dataset.id2token("item_id", item_id)], row


def test_normalized_float_seq_keeps_row_lengths(tmp_path):
    dataset, values = load_items(tmp_path, normalize_all=False, normalize_field=["scores"])
    flat = np.concatenate(list(values.values()))
    low, high = flat.min(), flat.max()
    checked = 0
    for original, row in rows_by_token(dataset, values):
        assert row.shape == (len(original),)
        assert np.allclose(row, (np.array(original) - low) / (high - low))
        checked += 1
    assert checked == len(values)


def test_discretized_float_seq_keeps_row_lengths(tmp_path):
    settings = {
        "normalize_all": False,
        "numerical_features": ["weight", "scores"],
        "discretization": {"scores": {"method": "ED", "bucket": 4}},
    }
    dataset, values = load_items(tmp_path, **settings)
    flat = np.concatenate(list(values.values()))
    low, high = flat.min(), flat.max() + 1e-9
    assert dataset.field2bucketnum["scores"] == 5
    for original, row in rows_by_token(dataset, values):
        assert row.shape == (len(original), 2)  # (1, bucket) per value
        expected = np.floor((np.array(original) - low) * 4 / (high - low) + 1)
        assert np.array_equal(row[:, 1], expected)
        assert (row[:, 0] == 1).all()
    weights = np.array(dataset.item_feat["weight"].tolist())  # not discretized: (value, 1)
    assert weights.shape[1] == 2 and (weights[:, 1] == 1).all()


def test_equal_width_without_buckets_is_refused(tmp_path):
    settings = {
        "normalize_all": False,
        "numerical_features": ["scores"],
        "discretization": {"scores": {"method": "ED"}},
    }
    with pytest.raises(ValueError, match="number of buckets"):
        load_items(tmp_path, **settings)
