"""Helpers of the benchmark harness: the Gowalla-shaped data of scale.py (issue 11, item 3), and
suite.py's reuse of finished runs and its epoch counts."""

from __future__ import annotations

import importlib
import json
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


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("suite")


def test_a_suite_started_again_reuses_finished_runs_only(suite: ModuleType, tmp_path: Path) -> None:
    settings = {"epochs": 3, "seed": 2020, "extra_eval_modes": ["pop100"]}
    request = {"model": "LinRec", "config_dict": {**settings, "output_dir": str(tmp_path)}}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    assert suite.finished_run(tmp_path, "LinRec", settings) is None  # no result yet
    (tmp_path / "result.json").write_text(json.dumps({"test_result": {"ndcg@10": 0.1}}))
    result, seconds = suite.finished_run(tmp_path, "LinRec", settings)
    assert result["test_result"]["ndcg@10"] == 0.1 and seconds >= 0
    assert suite.finished_run(tmp_path, "LinRec", {**settings, "seed": 2021}) is None
    assert suite.finished_run(tmp_path, "EASRec", settings) is None


def test_a_suite_started_again_continues_a_stopped_run_of_the_same_settings(
    suite: ModuleType, tmp_path: Path
) -> None:
    settings = {"epochs": 3, "seed": 2020}
    request = {"model": "LinRec", "config_dict": {**settings, "output_dir": str(tmp_path)}}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    assert not suite.unfinished_run(tmp_path, "LinRec", settings)  # no saved epoch yet
    (tmp_path / "in_progress").mkdir()
    (tmp_path / "in_progress" / "state.json").write_text("{}", encoding="utf-8")
    assert suite.unfinished_run(tmp_path, "LinRec", settings)
    assert not suite.unfinished_run(tmp_path, "LinRec", {**settings, "seed": 2021})


def test_epochs_run_reads_each_phase_from_the_log(suite: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [
        "12:00:01 INFO search: epoch 1/10 done, 5s elapsed",
        "12:00:02 INFO search: epoch 2/10 done, 9s elapsed",
        "12:00:03 INFO retrain: epoch 1/300 done, 1s elapsed",
        "12:00:04 INFO train: epoch 7/300 done, 1s elapsed",
    ]
    log.write_text("\n".join(lines), encoding="utf-8")
    assert suite.epochs_run(log) == {"search": 2, "retrain": 1, "train": 7}
    assert suite.epochs_run(tmp_path / "missing.log") == {}


def test_run_cli_reports_a_failed_run_with_its_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    headline = importlib.import_module("headline")
    run = headline.run_cli(["--model=NoSuchModel", "--dataset=ml-100k"], tmp_path / "run", ())
    assert run.returncode != 0
    assert "NoSuchModel" in run.error and "Traceback" not in run.error
    assert run.peak_rss_bytes > 0 and run.cpu_seconds > 0 and run.wall_seconds > 0
    assert run.log_lines == [] and set(run.phases_seconds) == {"exit"}
