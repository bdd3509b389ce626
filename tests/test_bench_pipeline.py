"""benchmarks/pipeline.py: the Gowalla-shaped generator of the scale study (issue 11, item 3),
phases read from a run's log, a failed child run, and the scale study end to end (tiny)."""

from __future__ import annotations

import importlib
import json
from datetime import datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("pipeline")


def test_phases_end_at_the_last_matching_line_across_midnight(pipeline: ModuleType) -> None:
    lines = [
        "23:59:50 INFO LinRec(",
        "23:59:58 INFO epoch 0 training [time: 8s]",
        "not a log line",
        "00:00:04 INFO epoch 0 evaluating [time: 6s]",
        "00:00:09 INFO test result: {...}",
    ]
    started, finished = datetime(2026, 1, 1, 23, 59, 40), datetime(2026, 1, 2, 0, 0, 10)
    seconds = pipeline.phase_seconds(lines, started, finished, pipeline.SCALE_PHASES["LinRec"])
    assert list(seconds.values()) == [10.0, 8.0, 6.0, 5.0, 1.0]
    assert list(seconds)[-1] == "exit"


def test_scale_study_end_to_end_on_a_tiny_dataset(
    pipeline: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "scale"
    pipeline.main(["--study=scale", "--shape=200,300,3000", "--runs=1:LinRec", f"--out={out}"])
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert "--shape=200,300,3000 --runs=1:LinRec" in data["command"]
    [dataset] = data["run"]["datasets"]
    assert dataset["name"] == "synthetic_x1" and dataset["interactions"] == 3000
    [run] = dataset["runs"]
    assert run["status"] == "ok", run.get("error")
    phases = [name for name, _ in pipeline.SCALE_PHASES["LinRec"]]
    assert list(run["phases_seconds"]) == [*phases, "exit"]
    assert sum(run["phases_seconds"].values()) > 0
    assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0 and run["peak_rss_bytes"] > 2**20
    assert 0 <= run["test_result"]["ndcg@10"] <= 1
    report = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| synthetic_x1 | 200 | 300 | 3,000 | LinRec |" in report
    rebuilt = pipeline.write_report(tmp_path / "rebuilt.md", pipeline.scale_markdown(data))
    assert rebuilt.read_text(encoding="utf-8") == report  # the page comes from the JSON alone


def read_inter(path: Path) -> np.ndarray:
    return np.loadtxt(path, dtype=np.int64, skiprows=1, delimiter="\t")


def test_generate_has_the_requested_shape(pipeline: ModuleType, tmp_path: Path) -> None:
    folder = pipeline.generate(tmp_path, "toy", users=300, items=800, interactions=6000, seed=1)
    assert (folder / "toy.yaml").read_text(encoding="utf-8").startswith("load_col:")
    header = (folder / "toy.inter").read_text(encoding="utf-8").splitlines()[0]
    assert header == "user_id:token\titem_id:token\ttimestamp:float"
    table = read_inter(folder / "toy.inter")
    users, items, stamps = table.T
    assert len(table) == 6000
    assert set(users) == set(range(1, 301))
    assert set(items) == set(range(1, 801))  # every item occurs
    per_user = np.bincount(users)[1:]
    assert per_user.min() >= pipeline.MIN_PER_USER
    for user in (1, 150, 300):  # timestamps increase along each user's sequence
        assert np.all(np.diff(stamps[users == user]) > 0)


def test_popularity_is_long_tailed_and_seeded(pipeline: ModuleType, tmp_path: Path) -> None:
    a = pipeline.generate(tmp_path / "a", "toy", users=500, items=1000, interactions=20000, seed=3)
    b = pipeline.generate(tmp_path / "b", "toy", users=500, items=1000, interactions=20000, seed=3)
    assert (a / "toy.inter").read_bytes() == (b / "toy.inter").read_bytes()
    counts = np.sort(np.bincount(read_inter(a / "toy.inter")[:, 1])[1:])[::-1]
    top_share = counts[:10].sum() / counts.sum()  # Zipf s = 1: the top 1 % hold ~ 25 %
    assert 0.15 < top_share < 0.45
    assert np.median(counts) < 0.2 * counts[0]


def test_impossible_shapes_are_refused(pipeline: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot give"):
        pipeline.generate(tmp_path, "toy", users=100, items=10, interactions=200, seed=0)
    with pytest.raises(ValueError, match="cannot cover"):
        pipeline.generate(tmp_path, "toy", users=10, items=1000, interactions=500, seed=0)


def test_plan_parsing(pipeline: ModuleType) -> None:
    assert pipeline.parse_plan("1:LinRec,0.5:EASRec") == [(1.0, "LinRec"), (0.5, "EASRec")]
    with pytest.raises(SystemExit, match="SIZE:MODEL"):
        pipeline.parse_plan("1")


def test_run_cli_reports_a_failed_run_with_its_one_line_error(
    pipeline: ModuleType, tmp_path: Path
) -> None:
    run = pipeline.run_cli(["--model=NoSuchModel", "--dataset=ml-100k"], tmp_path / "run", ())
    assert run.returncode != 0
    assert "NoSuchModel" in run.error and "Traceback" not in run.error
    assert run.peak_rss_bytes > 0 and run.cpu_seconds > 0 and run.wall_seconds > 0
    assert run.log_lines == [] and set(run.phases_seconds) == {"exit"}


def test_headline_page_judges_the_targets_and_shows_sasrec_from_the_ground_truth(
    pipeline: ModuleType, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.json"
    runs = [
        {
            "name": f"SASRec-s{seed}",
            "status": "ok",
            "settings": {"seed": seed},
            "test_result": {"ndcg@10": x},
        }
        for seed, x in ((2020, 0.13), (2021, 0.14), (2022, 0.15))
    ]
    runs.append(
        {
            "name": "d32-s2020",
            "status": "ok",
            "settings": {"seed": 2020},
            "test_result": {"ndcg@10": 0.5},
        }
    )
    truth.write_text(json.dumps({"truth_runs": runs}), encoding="utf-8")
    sasrec = pipeline.sasrec_reference(truth, 2020)
    assert sasrec["by_seed"] == {"2020": 0.13, "2021": 0.14, "2022": 0.15}
    assert sasrec["mean"] == pytest.approx(0.14) and sasrec["std"] == pytest.approx(0.01)
    assert pipeline.sasrec_reference(tmp_path / "missing.json", 2020) is None
    run = {
        "command": "python run_recbole_easrec.py --model=EASRec",
        "wall_seconds": 26 * 60,
        "peak_rss_bytes": 3 * 1024**3,
        "phases_seconds": {"search": 60.0},
        "search_epochs": 10,
        "retrain_epochs": 100,
        "summary": "done",
        "settings": {"seed": 2020},
        "result": {
            "architecture": {"hidden_size": 48, "inner_size": 192, "n_layers": 2},
            "test_result": {"ndcg@10": 0.1365},
        },
        "sasrec": json.loads(json.dumps(sasrec)),  # as read back from the committed JSON
    }
    page = pipeline.headline_markdown({"machine": {}, "load": "idle", "run": run})
    assert "wall minutes 26.0 (target ≤ 25: missed)" in page
    assert "peak RSS GiB 3.0 (target ≤ 4.0: met)" in page
    assert "test NDCG@10 0.1365 (target ≥ 0.135: met)" in page
    assert "d=48, D=192, L=2, full-ranking test NDCG@10 **0.1365**" in page
    assert "0.1400 ± 0.0100 over 3 seeds (-2.5 %), 0.1300 on this run's seed 2020 (+5.0 %)" in page
    run["sasrec"] = {**sasrec, "by_seed": {"2021": 0.14}, "mean": 0.14, "std": None}
    page = pipeline.headline_markdown({"machine": {}, "load": "idle", "run": run})
    assert "0.1400 over 1 seed (-2.5 %)." in page  # one seed: no spread, no same-seed pair
