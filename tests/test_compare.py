"""Side-by-side comparisons: reports, error rows, aggregation over seeds."""

from __future__ import annotations

import csv
import json

import pytest

from recbole_easrec.compare import (
    compare_models,
    parse_model_list,
    summarise,
)
from recbole_easrec.errors import ConfigError
from tests.conftest import tiny_config


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_two_models_produce_all_reports(tiny_data, tmp_path):
    lines = []
    rows = compare_models(
        ["LinRec", "SASRec"],
        "tiny",
        tmp_path / "study",
        overrides=tiny_config(tiny_data, epochs=2),
        progress=lines.append,
    )
    study = tmp_path / "study"
    for name in ("comparison.csv", "comparison.md", "comparison.png", "runs.csv"):
        assert (study / name).stat().st_size > 0, name
    saved = read_rows(study / "comparison.csv")
    assert [r["model"] for r in saved] == ["LinRec", "SASRec"]
    for row in saved:
        assert row["status"] == "ok"
        for split in ("valid", "test"):
            for metric in ("recall@10", "mrr@10", "ndcg@10"):
                assert 0 <= float(row[f"{split}_{metric}"]) <= 1
        assert float(row["valid_mrr@10"]) <= float(row["valid_recall@10"])
        for key in ("params", "flops", "train_seconds", "inference_seconds", "peak_memory_bytes"):
            assert float(row[key]) > 0, key
    # Same split and seed: both runs evaluated the same users and used the same seed.
    configs = [
        json.loads((study / "runs" / f"{m}-seed2020" / "result.json").read_text())["config"]
        for m in ("LinRec", "SASRec")
    ]
    assert configs[0]["seed"] == configs[1]["seed"] == 2020
    assert configs[0]["eval_args"] == configs[1]["eval_args"]
    assert configs[0]["attention_type"] == "linear"
    table = (study / "comparison.md").read_text()
    assert "| LinRec |" in table and "test NDCG@10" in table and "inference s" in table
    assert any("(2/2) SASRec" in line for line in lines)
    assert rows[0]["test_ndcg@10"] == pytest.approx(float(saved[0]["test_ndcg@10"]))


def test_failing_model_becomes_an_error_row(tiny_data, tmp_path):
    rows = compare_models(
        ["LinRec", "NoSuchModel"],
        "tiny",
        tmp_path / "study",
        overrides=tiny_config(tiny_data, epochs=1),
        progress=lambda line: None,
    )
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert "unknown model 'NoSuchModel'" in rows[1]["error"]
    table = (tmp_path / "study" / "comparison.md").read_text()
    assert "| NoSuchModel | error: unknown model" in table
    assert (tmp_path / "study" / "comparison.png").is_file()


def record(model, seed, ndcg, status="ok"):
    values = {"test_ndcg@10": ndcg, "valid_ndcg@10": ndcg, "params": 10}
    return {"model": model, "seed": seed, "status": status, "error": "", **values}


def test_repeats_give_mean_std_and_paired_t_test_against_the_first_model():
    records = [
        record("A", 1, 0.30),
        record("B", 1, 0.40),
        record("A", 2, 0.32),
        record("B", 2, 0.41),
        record("A", 3, 0.31),
        record("B", 3, 0.43),
    ]
    rows = summarise(records, ["A", "B"])
    assert rows[0]["test_ndcg@10"] == pytest.approx(0.31)
    assert rows[0]["test_ndcg@10_std"] == pytest.approx(0.01)
    assert "test_ndcg@10_p" not in rows[0]
    assert rows[1]["test_ndcg@10_p"] < 0.05
    from scipy import stats

    expected = stats.ttest_rel([0.40, 0.41, 0.43], [0.30, 0.32, 0.31]).pvalue
    assert rows[1]["test_ndcg@10_p"] == pytest.approx(expected)


@pytest.mark.parametrize("value", ["", " , ", "A,B,A"])
def test_bad_model_lists_are_rejected(value):
    with pytest.raises(ConfigError):
        parse_model_list(value)


def test_cli_compare_rejects_a_bad_model_list(capsys):
    from recbole_easrec.cli import main

    assert main(["--compare=LinRec,LinRec", "--dataset=tiny"]) == 2
    assert capsys.readouterr().err.startswith("error: --compare lists LinRec more than once")
