"""Side-by-side comparisons: reports, error rows, aggregation over seeds."""

from __future__ import annotations

import csv
import json

import pytest

from recbole_easrec.compare import (
    compare_models,
    markdown_report,
    markdown_table,
    parse_model_list,
    plot_omissions,
    run_record,
    summarise,
    write_plot,
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


def repeated_rows():
    """Three seeds of A and B (B better at every seed), A the baseline."""
    records = [
        record(model, seed, value)
        for seed, (a, b) in zip((1, 2, 3), ((0.30, 0.40), (0.32, 0.41), (0.31, 0.43)))
        for model, value in (("A", a), ("B", b))
    ]
    return summarise(records, ["A", "B"])


def table_lines(table: str) -> list[list[str]]:
    """The cells of each line of a Markdown table."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]


def test_repeated_table_puts_mean_and_std_in_one_cell_and_names_p_columns():
    rows = repeated_rows()
    header, _, baseline, other = table_lines(markdown_table(rows))
    assert header == [
        "model",
        "valid NDCG@10",
        "test NDCG@10",
        "p vs A",
        "params",
    ]
    assert not any(title.endswith(("_std", "_p")) for title in header)
    assert baseline == ["A", "0.3100 ± 0.0100", "0.3100 ± 0.0100", "–", "10"]
    p_value = rows[1]["test_ndcg@10_p"]
    assert other[2] == "0.4133 ± 0.0153 *"
    assert other[3] == f"{p_value:.3g} *" and float(other[3].rstrip(" *")) < 0.05
    report = markdown_report(rows, "tiny", [1, 2, 3], {})
    assert "p vs A: two-sided paired t-test over seeds" in report


def test_single_seed_table_has_no_p_columns():
    rows = summarise([record("A", 1, 0.3), record("B", 1, 0.4)], ["A", "B"])
    header, _, baseline, _ = table_lines(markdown_table(rows))
    assert header == ["model", "valid NDCG@10", "test NDCG@10", "params"]
    assert baseline[1] == "0.3000"


def test_a_model_without_flops_is_named_in_the_report_with_the_reason(tmp_path):
    rows = repeated_rows()
    rows[1]["flops"] = None
    rows[1]["flops_error"] = "FLOPs not counted: RuntimeError: cannot trace"
    rows[0]["flops"] = 1000
    rows[0]["inference_seconds"] = rows[1]["inference_seconds"] = 0.5
    assert plot_omissions(rows) == [
        "B: not in the FLOPs plot (FLOPs not counted: RuntimeError: cannot trace)"
    ]
    report = markdown_report(rows, "tiny", [1, 2, 3], {})
    assert (
        "\nMissing from comparison.png:\n"
        "- B: not in the FLOPs plot (FLOPs not counted: RuntimeError: cannot trace)\n"
    ) in report
    rows[0]["flops"] = None  # no reason recorded: still named
    assert "A: not in the FLOPs plot (no FLOPs value recorded)" in plot_omissions(rows)
    write_plot(tmp_path / "comparison.png", rows)
    assert (tmp_path / "comparison.png").stat().st_size > 0


def test_flops_failure_is_recorded_with_its_reason(tiny_data, tmp_path, monkeypatch):
    """A model the FLOP counter cannot run keeps its other numbers and says why in
    ``result.json``; the comparison's report repeats the reason."""
    import recbole_easrec.quick_start as quick_start

    def fail(*args, **kwargs):
        raise RuntimeError("cannot trace this model\nsecond line")

    monkeypatch.setattr(quick_start, "model_flops", fail)
    result = quick_start.run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_config(tiny_data, tmp_path / "run", epochs=1)
    )
    efficiency = result["efficiency"]
    assert efficiency["flops"] is None and efficiency["inference_seconds"] > 0
    assert efficiency["flops_error"] == "FLOPs not counted: RuntimeError: cannot trace this model"
    rows = summarise([run_record("LinRec", 2020, tmp_path / "run", result, None)], ["LinRec"])
    assert plot_omissions(rows) == [f"LinRec: not in the FLOPs plot ({efficiency['flops_error']})"]


def test_bert4rec_flops_are_counted(tiny_data, tmp_path):
    """BERT4Rec's ``forward`` takes the sequence alone; its FLOPs are counted like the others',
    so it is in the FLOPs plot of ``--compare``."""
    from recbole_easrec.quick_start import run_recbole_easrec

    result = run_recbole_easrec(
        "BERT4Rec", "tiny", config_dict=tiny_config(tiny_data, tmp_path / "run", epochs=1)
    )
    efficiency = result["efficiency"]
    assert efficiency["flops"] > efficiency["encoder_flops"] > 0
    assert "flops_error" not in efficiency
