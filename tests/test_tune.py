"""Ray Tune studies: search-space parsing, an end-to-end study on tiny data, best config reuse."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.tune import TuneOptions, load_search_space, parse_search_space, run_tune
from tests.conftest import tiny_config


def samples(dimension, n=200):
    domain = dimension.to_ray()
    return [domain.sample() for _ in range(n)]


def test_each_distribution_samples_inside_its_bounds():
    space = parse_search_space(
        {
            "learning_rate": {"loguniform": [1e-4, 1e-2]},
            "hidden_dropout_prob": {"uniform": [0.1, 0.5]},
            "n_layers": {"randint": [1, 2]},
            "hidden_size": {"choice": [16, 32]},
            "inner_size": {"grid": [32, 64]},
            "epochs": 3,
        }
    )
    dims = {d.key: d for d in space.dimensions}
    assert space.fixed == {"epochs": 3}
    assert all(1e-4 <= v <= 1e-2 for v in samples(dims["learning_rate"]))
    assert all(0.1 <= v <= 0.5 for v in samples(dims["hidden_dropout_prob"]))
    assert set(samples(dims["n_layers"])) == {1, 2}  # both ends included
    assert set(samples(dims["hidden_size"])) == {16, 32}
    assert space.to_ray()["inner_size"] == {"grid_search": [32, 64]}


def test_params_file_reads_exponent_floats_and_lists(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {loguniform: [1e-4, 1e-2]}\nratios: {choice: [[0, 0.5]]}\n")
    space = load_search_space(path)
    assert space.dimensions[0].values == (1e-4, 1e-2)
    assert space.dimensions[1].values == ([0, 0.5],)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"x": {"gaussian": [0, 1]}}, "unknown distribution"),
        ({"x": {"uniform": [1]}}, "two numbers"),
        ({"x": {"uniform": [2, 1]}}, "low < high"),
        ({"x": {"loguniform": [0, 1]}}, "low > 0"),
        ({"x": {"randint": [1.5, 3]}}, "two integers"),
        ({"x": {"choice": []}}, "non-empty list"),
        ({"x": {"choice": 3}}, "non-empty list"),
        ({"x": {"uniform": [0, 1], "choice": [1]}}, "exactly one distribution"),
        ({"x": 3}, "searches nothing"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_entries_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as error:
        parse_search_space(spec, "space.yaml")
    assert "\n" not in str(error.value)


def test_unknown_setting_is_rejected_before_ray_starts(tiny_data, tmp_path):
    params = tmp_path / "space.yaml"
    params.write_text("hiden_size: {choice: [16, 32]}\n")
    options = TuneOptions(params_file=str(params), output_dir=str(tmp_path / "study"))
    with pytest.raises(ConfigError, match="hiden_size"):
        run_tune("LinRec", "tiny", options, overrides=tiny_config(tiny_data))


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_study_end_to_end_with_a_failing_trial_and_resume(tiny_data, tmp_path):
    # n_heads 3 does not divide hidden_size 16: that trial fails, the other must still finish.
    params = tmp_path / "space.yaml"
    params.write_text("n_heads: {grid: [2, 3]}\nlearning_rate: {loguniform: [1e-3, 1e-2]}\n")
    study = tmp_path / "study"
    options = TuneOptions(
        params_file=str(params),
        output_dir=str(study),
        num_samples=1,
        scheduler="asha",
        ray_init_kwargs={"num_cpus": 2},
    )
    run_tune("LinRec", "tiny", options, overrides=tiny_config(tiny_data, epochs=2))

    rows = read_rows(study / "tune_results.csv")
    assert sorted(r["status"] for r in rows) == ["error", "ok"]
    failed = next(r for r in rows if r["status"] == "error")
    good = next(r for r in rows if r["status"] == "ok")
    assert failed["n_heads"] == "3" and "divisible" in failed["error"]
    assert good["n_heads"] == "2"
    assert 0 <= float(good["valid_ndcg@10"]) <= 1 and 0 <= float(good["test_ndcg@10"]) <= 1
    assert int(good["epochs_reported"]) == 2  # one per epoch, not counting the final report
    assert Path(good["output_dir"]).parent == study / "trials"
    assert (Path(good["output_dir"]) / "result.json").is_file()

    best = yaml.safe_load((study / "best_config.yaml").read_text())
    assert best["n_heads"] == 2
    assert best["learning_rate"] == pytest.approx(float(good["learning_rate"]))
    rerun = run_recbole_easrec(
        "LinRec",
        "tiny",
        config_file_list=[str(study / "best_config.yaml")],
        config_dict={"output_dir": str(tmp_path / "rerun")},
    )
    assert rerun["config"]["n_heads"] == 2
    assert rerun["config"]["learning_rate"] == pytest.approx(best["learning_rate"])
    assert rerun["config"]["hidden_size"] == 16

    with pytest.raises(ConfigError, match="--resume"):
        run_tune("LinRec", "tiny", options, overrides=tiny_config(tiny_data, epochs=2))
    result_file = Path(good["output_dir"]) / "result.json"
    before = result_file.stat().st_mtime_ns
    options.resume = True
    resumed = run_tune("LinRec", "tiny", options, overrides=tiny_config(tiny_data, epochs=2))
    assert sorted(r["trial_id"] for r in resumed) == sorted(r["trial_id"] for r in rows)
    assert result_file.stat().st_mtime_ns == before  # finished trials are not run again


def test_cli_tune_errors_are_one_line(capsys):
    from recbole_easrec.cli import main

    assert main(["--tune", "--model=LinRec", "--dataset=tiny"]) == 2
    assert main(["--tune", "--compare=LinRec", "--params_file=x.yaml"]) == 2
    assert main(["--tune", "--resume", "--params_file=x.yaml"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert "--params_file" in errors[0] and "separate" in errors[1] and "--output_dir" in errors[2]


class FakeRay:
    """``ray.init`` that refuses ``object_store_memory`` when it would join a running cluster,
    as Ray does ("When connecting to an existing cluster, object_store_memory must not be
    provided")."""

    def __init__(self, running: str | None) -> None:
        self.running = running
        self.calls: list[dict] = []

    def init(self, **kwargs) -> None:
        self.calls.append(kwargs)
        joins = kwargs.get("address") not in (None, "local") or (
            kwargs.get("address") is None and self.running
        )
        if joins and "object_store_memory" in kwargs:
            raise ValueError("When connecting to an existing cluster, object_store_memory must not")


@pytest.mark.parametrize("running", ["127.0.0.1:6379", None])
def test_embedded_default_joins_a_running_cluster_or_starts_its_own(running, monkeypatch, capsys):
    """Issue 30, item 2: with `ray start --head` running, --tune crashed in ray.init."""
    import ray

    from recbole_easrec import tune

    fake = FakeRay(running)
    monkeypatch.setattr(ray, "init", fake.init)
    monkeypatch.setattr(tune, "running_ray_address", lambda: running)
    tune.start_embedded_ray(TuneOptions(params_file="x.yaml", output_dir="out"))
    (call,) = fake.calls
    err = capsys.readouterr().err
    if running:
        assert call == {"address": running}
        assert err.count("\n") == 1 and "note: joined the Ray cluster already running at" in err
    else:
        assert call["address"] == "local" and call["object_store_memory"] > 0
        assert err == ""


def test_a_failed_study_leaves_no_empty_output_folder(tmp_path, monkeypatch, capsys):
    from recbole_easrec.cli import main

    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "space.yaml"
    bad.write_text("learning_rate: {normal: [1, 2]}\n", encoding="utf-8")
    for output in ([], [f"--output_dir={tmp_path / 'study'}"]):
        code = main(
            ["--tune", "--model=LinRec", "--dataset=ml-100k", f"--params_file={bad}", *output]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error: ") and "unknown distribution" in err
    assert not (tmp_path / "study").exists()
    assert not (tmp_path / "saved").exists() or list((tmp_path / "saved").iterdir()) == []


def test_epochs_reported_does_not_count_the_final_report():
    """Issue 30, item 8: the table showed one iteration more than --epochs."""
    from recbole_easrec.tune import epochs_reported

    assert epochs_reported({"training_iteration": 3, "final": True}) == 2
    assert epochs_reported({"training_iteration": 1, "final": False}) == 1  # stopped by ASHA
    assert epochs_reported({}) is None


def test_best_config_keeps_data_path_only_when_the_study_was_given_one():
    """Issue 30, item 8: best_config.yaml hard-coded RecBole's folder inside site-packages."""
    from recbole_easrec.tune import best_config_values

    shared = {"data_path": "/venv/site-packages/recbole/dataset_example", "epochs": 2}
    assert best_config_values(shared, {"n_layers": 1}, {"epochs": "2"}) == {
        "epochs": 2,
        "n_layers": 1,
    }
    given = best_config_values({**shared, "data_path": "/data"}, {}, {"data_path": "data"})
    assert given["data_path"] == "/data"
