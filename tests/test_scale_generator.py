"""The Gowalla-shaped synthetic data of benchmarks/scale.py (issue 11, item 3)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scale(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("scale")


def read_inter(path: Path) -> np.ndarray:
    return np.loadtxt(path, dtype=np.int64, skiprows=1, delimiter="\t")


def test_generate_has_the_requested_shape(scale: ModuleType, tmp_path: Path) -> None:
    folder = scale.generate(tmp_path, "toy", users=300, items=800, interactions=6000, seed=1)
    assert (folder / "toy.yaml").read_text(encoding="utf-8").startswith("load_col:")
    header = (folder / "toy.inter").read_text(encoding="utf-8").splitlines()[0]
    assert header == "user_id:token\titem_id:token\ttimestamp:float"
    table = read_inter(folder / "toy.inter")
    users, items, stamps = table.T
    assert len(table) == 6000
    assert set(users) == set(range(1, 301))
    assert set(items) == set(range(1, 801))  # every item occurs
    per_user = np.bincount(users)[1:]
    assert per_user.min() >= scale.MIN_PER_USER
    for user in (1, 150, 300):  # timestamps increase along each user's sequence
        assert np.all(np.diff(stamps[users == user]) > 0)


def test_popularity_is_long_tailed_and_seeded(scale: ModuleType, tmp_path: Path) -> None:
    a = scale.generate(tmp_path / "a", "toy", users=500, items=1000, interactions=20000, seed=3)
    b = scale.generate(tmp_path / "b", "toy", users=500, items=1000, interactions=20000, seed=3)
    assert (a / "toy.inter").read_bytes() == (b / "toy.inter").read_bytes()
    counts = np.sort(np.bincount(read_inter(a / "toy.inter")[:, 1])[1:])[::-1]
    top_share = counts[:10].sum() / counts.sum()  # Zipf s = 1: the top 1 % hold ~ 25 %
    assert 0.15 < top_share < 0.45
    assert np.median(counts) < 0.2 * counts[0]


def test_impossible_shapes_are_refused(scale: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot give"):
        scale.generate(tmp_path, "toy", users=100, items=10, interactions=200, seed=0)
    with pytest.raises(ValueError, match="cannot cover"):
        scale.generate(tmp_path, "toy", users=10, items=1000, interactions=500, seed=0)


def test_plan_parsing(scale: ModuleType) -> None:
    assert scale.parse_plan("1:LinRec,0.5:EASRec") == [(1.0, "LinRec"), (0.5, "EASRec")]
    with pytest.raises(SystemExit, match="SIZE:MODEL"):
        scale.parse_plan("1")
