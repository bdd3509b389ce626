"""benchmarks/factorial.py and suite factorial_cpu (issue 27): the cells, their settings, and the
report built end to end from tiny runs — cells, paired tests against the reference, what is
missing."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from conftest import BENCH_TINY, write_cycle_dataset

ROOT = Path(__file__).resolve().parents[1]
TINY = {**BENCH_TINY, "epochs": 1}


def test_factorial_cells_are_the_ground_truths_settings_with_one_factor_changed(bench) -> None:
    runs = {run.name: run for run in bench.factorial_all_cells()}
    assert "softmax-none-s2020" not in runs  # the ground truth's SASRec is the reference
    truth_sasrec = next(r for r in bench.space_truth_cpu() if r.name == "SASRec-s2020")
    linrec = runs["linrec-none-s2020"]
    # the same settings as the reference but the attention kind (linear_variant left default)
    assert {**linrec.settings, "attention_type": "softmax"} == truth_sasrec.settings
    assert linrec.model == "LinRec" == truth_sasrec.model
    gated = runs["softmax-cmean-s2021"]
    assert gated.model == "EASRecCompact"
    assert gated.settings == {
        **truth_sasrec.settings,
        "gate_layers": 2,
        "gate_input": "causal_mean",
        "seed": 2021,
    }
    assert runs["decay-none-s2022"].settings["linear_variant"] == "decay"
    names = [run.name for run in bench.factorial_all_cells()]
    screen = [f"{cell}-s2020" for cell in bench.FACTORIAL_SCREEN]
    assert names[: len(screen)] == screen  # the screen runs first
    expected = [run.name for run in bench.factorial_expected()]
    assert names[: len(expected)] == expected and len(set(names)) == len(names)
    assert [run.name for run in bench.SUITES["factorial_cpu"]()] == expected  # what `run` trains


def test_factorial_report_from_tiny_runs(bench, tmp_path: Path) -> None:
    data = write_cycle_dataset(tmp_path / "data")
    shared = {**TINY, "data_path": str(data)}
    cells = [
        bench.factorial_cell("linrec", "none", 2020),
        bench.factorial_cell("softmax", "token", 2020),
    ]
    cells = [bench.Run(r.name, r.model, {**r.settings, **TINY}, r.group) for r in cells]
    reference = bench.Run(
        "SASRec-s2020", "LinRec", {**cells[0].settings, "attention_type": "softmax"}
    )
    records = bench.run_suite(cells, "tiny", shared, tmp_path / "suite", workers=1)
    truth = bench.run_suite([reference], "tiny", shared, tmp_path / "truth", workers=1)
    assert [r["status"] for r in records + truth] == ["ok"] * 3
    (tmp_path / "truth.json").write_text(json.dumps({"truth_runs": truth}), encoding="utf-8")

    factorial = importlib.import_module("factorial")
    out = tmp_path / "factorial_tiny"
    factorial.main(
        ["--suite", str(tmp_path / "suite" / "suite.json"), "--reference", str(tmp_path / "truth.json"),
         "--out", str(out), "--note", "tiny", "--dataset", "tiny"]
    )  # fmt: skip
    result = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    cells_by_name = {c["cell"]: c for c in result["cells"]}
    assert set(cells_by_name) == {"softmax-none", "linrec-none", "softmax-token"}
    gated = cells_by_name["softmax-token"]
    assert gated["gate_input"] == "token" and gated["model"] == "EASRecCompact"
    ref = cells_by_name["softmax-none"]["by_seed"]["2020"]["full"]
    assert gated["change_full"] == pytest.approx(gated["by_seed"]["2020"]["full"] / ref - 1)
    assert gated["p_full"] is None  # one seed: no test
    assert (
        "linrec-none-s2020" not in result["missing"] and "softmax-cmean-s2020" in result["missing"]
    )
    page = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| softmax-token | 1 |" in page and "softmax-cmean-s2020" in page
    assert out.with_suffix(".png").stat().st_size > 0
    # a rerun keeps the runs of the committed result (--keep) when the suite folder is gone
    again = tmp_path / "again"
    factorial.main(["--keep", str(out.with_suffix(".json")), "--out", str(again)])
    kept = json.loads(again.with_suffix(".json").read_text(encoding="utf-8"))
    assert [c["cell"] for c in kept["cells"]] == [c["cell"] for c in result["cells"]]
    assert kept["note"] == "tiny"
    # --time: each cell's CPU time against SASRec's, kept by a later rebuild
    timed = tmp_path / "timed"
    argv = ["--keep", str(out.with_suffix(".json")), "--out", str(timed), "--dataset", "tiny"]
    factorial.main([*argv, "--time", "--repeats=2", f"--data_path={data}"])
    seconds = json.loads(timed.with_suffix(".json").read_text(encoding="utf-8"))["timing"][
        "seconds"
    ]
    assert set(seconds) == set(cells_by_name) and all(value > 0 for value in seconds.values())
    page = timed.with_suffix(".md").read_text(encoding="utf-8")
    ratio = seconds["softmax-token"] / seconds["softmax-none"]
    [row] = [line for line in page.splitlines() if line.startswith("| softmax-token |")]
    assert row.endswith(f" {ratio:.2f} |") and "a timing pass (60 users" in page
    factorial.main(["--keep", str(timed.with_suffix(".json")), "--out", str(again)])
    assert (
        json.loads(again.with_suffix(".json").read_text(encoding="utf-8"))["timing"]["seconds"]
        == seconds
    )
    # a cell that finished after the timing pass shows no ratio ("–"), not 0.00
    untimed = json.loads(timed.with_suffix(".json").read_text(encoding="utf-8"))
    del untimed["timing"]["seconds"]["linrec-none"]
    (tmp_path / "untimed.json").write_text(json.dumps(untimed), encoding="utf-8")
    factorial.main(["--keep", str(tmp_path / "untimed.json"), "--out", str(again)])
    page = again.with_suffix(".md").read_text(encoding="utf-8")
    [row] = [line for line in page.splitlines() if line.startswith("| linrec-none |")]
    assert row.endswith(" – |")


def test_rebuilding_a_ground_truth_leaves_out_runs_trained_with_the_gate_leak(
    bench, monkeypatch
) -> None:
    """space_truth.py --truth_from drops gated autoregressive runs without ``gate_input`` (trained
    before issue 27); the suites now name their gate input, so their new runs are kept."""
    space_truth = importlib.import_module("space_truth")
    leaked = {
        "model": "EASRecCompact",
        "settings": {"gate_layers": 2, "train_mode": "autoregressive"},
    }
    assert space_truth.trained_with_gate_leak(leaked)
    sasrec = {"model": "LinRec", "settings": {"train_mode": "autoregressive"}}
    ungated = {
        "model": "EASRecCompact",
        "settings": {"gate_layers": 0, "train_mode": "autoregressive"},
    }
    prefix = {"model": "EASRec", "settings": {"gate_layers": 2, "train_mode": "prefix"}}
    assert not any(map(space_truth.trained_with_gate_leak, (sasrec, ungated, prefix)))
    for run in bench.space_truth_cpu() + bench.search_cpu():
        record = {"model": run.model, "settings": run.settings}
        assert not space_truth.trained_with_gate_leak(record), run.name


def test_a_suite_continued_in_a_fresh_checkout_skips_the_committed_runs(bench) -> None:
    """--skip_from: runs the committed result holds with the same settings are not rerun; a run
    whose settings changed, or that failed, is."""
    runs = bench.factorial_all_cells()[:3]
    result = {
        "runs": [
            {"name": runs[0].name, "status": "ok", "settings": runs[0].settings},
            {"name": runs[1].name, "status": "ok", "settings": {**runs[1].settings, "seed": 1}},
            {"name": runs[2].name, "status": "error", "settings": runs[2].settings},
        ]
    }
    assert [r.name for r in bench.not_finished_in(runs, result)] == [runs[1].name, runs[2].name]
    committed = json.loads(
        (ROOT / "benchmarks/results/factorial_ml1m.json").read_text(encoding="utf-8")
    )
    finished = {r["name"] for r in committed["runs"] if r.get("status") == "ok"}
    left = {r.name for r in bench.not_finished_in(bench.factorial_expected(), committed)}
    assert "linrec-none-s2020" in finished and not left & finished  # still the suite's settings
