"""benchmarks/suite.py and its reports: a suite started again reuses finished runs and continues
stopped ones, epochs are read from the log, and a suite's runs render under every protocol."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from types import ModuleType

import pytest
from conftest import BENCH_TINY, write_cycle_dataset

from recbole_easrec.defaults import PROPERTIES_DIR, read_yaml_file
from recbole_easrec.search.searched import AFTER_SEARCH

ROOT = Path(__file__).resolve().parents[1]
TINY = BENCH_TINY


def test_a_suite_runs_in_processes_and_its_report_shows_every_protocol(
    bench: ModuleType, tmp_path: Path
) -> None:
    data = write_cycle_dataset(tmp_path / "data")
    modes = {"epochs": 1, "seed": 2020, "extra_eval_modes": ["uni100", "pop100"]}
    runs = [
        bench.Run("SASRec-AR", "LinRec", {**modes, "attention_type": "softmax"}, "baselines"),
        bench.Run("LinRec-AR", "LinRec", modes, "baselines"),
    ]
    shared = {**TINY, "data_path": str(data)}
    records = bench.run_suite(runs, "tiny", shared, tmp_path / "out", workers=1)
    assert [r["status"] for r in records] == ["ok", "ok"], [r["error"] for r in records]
    assert all(set(r["extra_test_results"]) == {"uni100", "pop100"} for r in records)
    saved = json.loads((tmp_path / "out" / "suite.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in saved["runs"]] == ["SASRec-AR", "LinRec-AR"]
    page = importlib.import_module("suite_report").report(records, "tiny suite", "SASRec-AR")
    [row] = [line for line in page.splitlines() if line.startswith("| LinRec-AR | 0.")]
    cells = row.split(" | ")
    pop100 = records[1]["extra_test_results"]["pop100"]["ndcg@10"]
    assert cells[1] == f"{records[1]['test_result']['ndcg@10']:.4f}"
    assert cells[5] == f"{pop100:.4f}"  # NDCG@10 full, Recall, MRR, uni100, then pop100


def test_the_dsl_suite_has_the_settings_of_its_committed_runs(bench: ModuleType) -> None:
    committed = ROOT / "benchmarks" / "results" / "suite_ml100k_dsl_converged.json"
    runs = json.loads(committed.read_text(encoding="utf-8"))["runs"]
    suite = {run.name: run for run in bench.SUITES["dsl_cpu"]()}
    assert [r["name"] for r in runs] == list(suite)
    for record in runs:
        run = suite[record["name"]]
        assert (run.model, run.group, run.settings) == (
            record["model"],
            record["group"],
            record["settings"],
        )


def test_a_suite_started_again_reuses_finished_runs_only(bench: ModuleType, tmp_path: Path) -> None:
    settings = {"epochs": 3, "seed": 2020, "extra_eval_modes": ["pop100"]}
    request = {"model": "LinRec", "config_dict": {**settings, "output_dir": str(tmp_path)}}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    assert bench.finished_run(tmp_path, "LinRec", settings) is None  # no result yet
    (tmp_path / "result.json").write_text(json.dumps({"test_result": {"ndcg@10": 0.1}}))
    result, seconds = bench.finished_run(tmp_path, "LinRec", settings)
    assert result["test_result"]["ndcg@10"] == 0.1 and seconds >= 0
    assert bench.finished_run(tmp_path, "LinRec", {**settings, "seed": 2021}) is None
    assert bench.finished_run(tmp_path, "EASRec", settings) is None


def test_a_suite_started_again_continues_a_stopped_run_of_the_same_settings(
    bench: ModuleType, tmp_path: Path
) -> None:
    settings = {"epochs": 3, "seed": 2020}
    request = {"model": "LinRec", "config_dict": {**settings, "output_dir": str(tmp_path)}}
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    assert not bench.unfinished_run(tmp_path, "LinRec", settings)  # no saved epoch yet
    (tmp_path / "in_progress").mkdir()
    (tmp_path / "in_progress" / "state.json").write_text("{}", encoding="utf-8")
    assert bench.unfinished_run(tmp_path, "LinRec", settings)
    assert not bench.unfinished_run(tmp_path, "LinRec", {**settings, "seed": 2021})


def test_epochs_run_reads_each_phase_from_the_log(bench: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    lines = [
        "12:00:01 INFO search: epoch 1/10 done, 5s elapsed",
        "12:00:02 INFO search: epoch 2/10 done, 9s elapsed",
        "12:00:03 INFO retrain: epoch 1/300 done, 1s elapsed",
        "12:00:04 INFO train: epoch 7/300 done, 1s elapsed",
    ]
    log.write_text("\n".join(lines), encoding="utf-8")
    assert bench.epochs_run(log) == {"search": 2, "retrain": 1, "train": 7}
    assert bench.epochs_run(tmp_path / "missing.log") == {}


def test_space_truth_merges_a_rerun_by_name_instead_of_adding_a_seed(
    bench: ModuleType, tmp_path: Path
) -> None:
    """A run trained again replaces its record of the built result (no 4th seed), the page lists
    the suite's runs still missing, and gated runs trained with the gate leak are left out."""
    space_truth = importlib.import_module("space_truth")
    sizes = {"hidden_size": 64, "inner_size": 256, "n_layers": 4, "n_heads": 2}
    small = {**sizes, "hidden_size": 32, "inner_size": 128, "n_layers": 1}
    seeds = (2020, 2021, 2022)
    first = [
        truth_record("SASRec", "LinRec", sizes, s, 0.1, attention_type="softmax") for s in seeds
    ]
    first += [
        truth_record("d32-D128-L1", "EASRecCompact", small, s, 0.08, gate_layers=0) for s in seeds
    ]
    leaked = truth_record("d32-D128-L2", "EASRecCompact", {**small, "n_layers": 2}, 2020, 0.2)
    leaked["settings"]["train_mode"] = "autoregressive"  # gated, no gate_input: the leak
    (tmp_path / "first.json").write_text(json.dumps({"runs": [*first, leaked]}), encoding="utf-8")
    committed = tmp_path / "committed"
    space_truth.main([f"--truth={tmp_path / 'first.json'}", f"--out={committed}"])
    rerun = {**first[0], "test_result": {**first[0]["test_result"], "ndcg@10": 0.5}}
    (tmp_path / "suite.json").write_text(json.dumps({"runs": [rerun]}), encoding="utf-8")
    out = tmp_path / "merged"
    space_truth.main(
        [
            f"--truth_from={committed}.json",
            f"--truth={tmp_path / 'suite.json'}",
            f"--out={out}",
        ]
    )
    merged = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    [entry] = [e for e in merged["architectures"] if e["name"] == "SASRec"]
    assert len(entry["seeds"]) == 3
    assert entry["by_seed"]["2020"]["full"] == 0.5
    page = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "Ground truth" in page
    # the page names the runs of the current suite not yet finished with its settings
    expected = {run.name for run in bench.space_truth_cpu()}
    assert merged["missing"] and set(merged["missing"]) <= expected
    assert f"Still missing ({len(merged['missing'])} runs of suite space_truth_cpu)" in page
    # the gated run trained with the gate leak (issue 27) is left out of a rebuilt truth
    names = {e["name"] for e in merged["architectures"]}
    assert names == {"SASRec", "d32-D128-L1"}


def test_the_anchor_suite_is_sasrec_plus_for_both_models_and_validates(bench: ModuleType) -> None:
    from recbole_easrec.config import build_config
    from recbole_easrec.registry import resolve_model
    from recbole_easrec.trainer import validate_trainer_config

    runs = bench.anchor_n200()
    assert [r.name for r in runs[:2]] == ["SASRec-s2020", "EASRec-s2020"] and len(runs) == 6
    for run in runs:
        s = run.settings
        assert (s["MAX_ITEM_LIST_LENGTH"], s["hidden_size"], s["n_layers"], s["n_heads"]) == (
            200,
            64,
            2,
            1,
        )
        assert s["hidden_dropout_prob"] == 0.1 and s["loss_type"] == "CE"
        assert "full_filtered" in s["extra_eval_modes"]
        if run.model == "EASRec":  # its search at the shipped budget (search_cpu's), then SASRec's
            sasrec = runs[0].settings  # training
            shipped = bench.SHIPPED_SEARCH
            assert (s["epochs"], s["train_batch_size"]) == (
                shipped["epochs"],
                shipped["train_batch_size"],
            )
            assert (s["retrain_epochs"], s["retrain_batch_size"]) == (
                sasrec["epochs"],
                sasrec["train_batch_size"],
            )
        config = build_config(run.model, "ml-100k", config_dict=s)
        resolve_model(run.model).validate_config(config)
        validate_trainer_config(config)


def test_every_issue_28_suite_validates(bench: ModuleType) -> None:
    """The ground truth, the searches and Table III's feature models: settings that RecBole and
    our models accept (a typo would cost an hour of a run before failing)."""
    from recbole_easrec.config import build_config, validate_run_config
    from recbole_easrec.trainer import validate_trainer_config

    runs = bench.space_truth_cpu() + bench.search_cpu() + bench.table3_cpu()
    assert {r.model for r in bench.table3_cpu()} == {"LinSASRecF", "SASRecF", "FDSA", "LinFDSA"}
    for run in runs:
        config = build_config(run.model, "ml-1m", config_dict=run.settings)
        validate_run_config(config)
        validate_trainer_config(config)


def truth_record(name: str, model: str, sizes: dict, seed: int, score: float, **settings) -> dict:
    """A finished ground-truth run as suite.json records it (only what the report reads)."""
    flops = sizes["hidden_size"] * sizes["inner_size"] * sizes["n_layers"]
    metrics = {"ndcg@10": score, "recall@10": 2 * score, "mrr@10": score / 2}
    return {
        "name": f"{name}-s{seed}",
        "group": "sasrec" if name == "SASRec" else "space",
        "model": model,
        "settings": {**sizes, **settings, "seed": seed},
        "status": "ok",
        "efficiency": {"flops": flops, "params": flops, "inference_seconds": 1.0},
        "test_result": metrics,
        "extra_test_results": {"pop100": metrics},
        "best_valid_result": metrics,
        "wall_seconds": 60.0,
    }


def test_a_softmax_gated_space_is_judged_apart_from_sasrec(bench: ModuleType) -> None:
    """Issue 28's space may be softmax with gates: its full network has SASRec's sizes and
    attention, yet it is an architecture of the space, and a search's picks and shared-weight
    scores match the space's entries by attention kind and gates."""
    space_truth = importlib.import_module("space_truth")
    full = {"hidden_size": 64, "inner_size": 256, "n_layers": 2}
    small = {"hidden_size": 32, "inner_size": 128, "n_layers": 1}
    space = {"attention_type": "softmax", "gate_layers": 2, "gate_input": "token"}
    truth = []
    for seed, bump in ((2020, 0.0), (2021, 0.01), (2022, 0.02)):
        truth += [
            truth_record("SASRec", "LinRec", full, seed, 0.30 + bump, attention_type="softmax"),
            truth_record("d64-D256-L2", "EASRecCompact", full, seed, 0.31 + bump, **space),
            truth_record("d32-D128-L1", "EASRecCompact", small, seed, 0.29 + bump, **space),
        ]
    scores = [
        {"candidate": 0, **full, "attention": "softmax", "valid_score": 0.2},
        {"candidate": 1, **small, "attention": "softmax", "valid_score": 0.1},
    ]
    search = {
        **truth_record("EASRec-paper", "EASRec", full, 2020, 0.28, **space),
        "group": "paper",
        "architecture": {**small, "attention": "softmax", "candidate": 1, "gate_layers": 2}
        | {"alpha": [0.4, 0.6], "beta": [0.7, 0.3]},
        "shared_weight_scores": scores,
    }
    search["settings"]["search_method"] = "paper"
    search["efficiency"]["flops"] = 32 * 128 * 1  # the retrained network's
    built = space_truth.build(truth, [search], {"dataset": "tiny"})
    names = {e["name"]: e for e in built["architectures"]}
    assert set(names) == {"SASRec", "d64-D256-L2", "d32-D128-L1"}
    assert names["SASRec"]["ndcg@10_full_mean"] == 0.31  # the gated runs are not among its seeds
    assert (names["d64-D256-L2"]["attention"], names["d64-D256-L2"]["gate_layers"]) == (
        "softmax",
        2,
    )
    [judged] = built["searches"]
    [pick] = judged["picks"]
    assert pick["architecture"] == "d32-D128-L1" and pick["truth_ndcg@10_full_mean"] == 0.30
    assert pick["kendall_tau"] == 1.0  # both shared-weight scores matched the space's entries
    assert judged["retrained_vs_scratch"] == pytest.approx(0.28 / 0.30 - 1)  # vs its truth
    assert judged["flops_vs_sasrec"] == 32 * 128 / (64 * 256 * 2)
    rules = {rule["rule"]: rule["picks"][0]["architecture"] for rule in built["selection_rules"]}
    assert rules["α·β"] == "d32-D128-L1" and rules["shared weights"] == "d64-D256-L2"


def test_a_pick_of_the_full_network_is_judged_by_sasrec_where_the_space_is_sasrecs(
    bench: ModuleType,
) -> None:
    """In an ungated softmax space the full network is SASRec's architecture: the truth trains it
    once, as SASRec, and a search that picks it is judged against SASRec's runs."""
    space_truth = importlib.import_module("space_truth")
    full = {"hidden_size": 64, "inner_size": 256, "n_layers": 2}
    small = {"hidden_size": 32, "inner_size": 128, "n_layers": 1}
    space = {"attention_type": "softmax", "gate_layers": 0}
    truth = [
        truth_record("SASRec", "LinRec", full, 2020, 0.30, attention_type="softmax"),
        truth_record("d32-D128-L1", "EASRecCompact", small, 2020, 0.25, **space),
    ]
    search = {
        **truth_record("EASRec-paper", "EASRec", full, 2020, 0.29, **space),
        "group": "paper",
        "architecture": {**full, "attention": "softmax", "candidate": 0, "gate_layers": 0},
    }
    built = space_truth.build(truth, [search], {"dataset": "tiny"})
    [pick] = built["searches"][0]["picks"]
    assert pick["architecture"] == "SASRec" and pick["truth_ndcg@10_full_mean"] == 0.30
    assert pick["regret"] == 0.0


def test_distillation_is_compared_with_plain_retraining_by_seed(bench: ModuleType) -> None:
    space_truth = importlib.import_module("space_truth")
    judged = [
        {"method": "paper", "picks": [{"seed": 1, "ndcg@10_full": 0.10}, {"seed": 2, "ndcg@10_full": 0.12}]},
        {"method": "paper-distill", "picks": [{"seed": 1, "ndcg@10_full": 0.11}, {"seed": 2, "ndcg@10_full": 0.135}]},
    ]  # fmt: skip
    [_, line] = space_truth.distillation_line(judged)
    assert line.startswith("In-place distillation from the supernet's largest path during")
    assert "(`paper-distill` against `paper`, 2 seeds): +11.4 % full NDCG@10, paired p = " in line
    assert space_truth.distillation_line(judged[:1]) == []
    sasrec = {"method": "paper-distill-sasrec", "picks": [{"seed": 2, "ndcg@10_full": 0.126}]}
    [_, _, _, line] = space_truth.distillation_line([*judged, sasrec])
    assert line.startswith("Distillation from a trained SASRec during retraining")
    assert "(`paper-distill-sasrec` against `paper`, 1 seeds): +5.0 %" in line


def test_a_trained_sasrec_teaches_its_variant_as_the_truth_trains_it(
    bench: ModuleType, tmp_path: Path
) -> None:
    """search_cpu's paper-distill-sasrec: each seed's teacher is SASRec with the ground truth's
    settings of that seed, scheduled before its student; a suite continued in a fresh checkout
    trains a committed teacher again only where its network is not in the output folder."""
    runs = bench.search_cpu()
    position = {r.name: i for i, r in enumerate(runs)}
    students = [r for r in runs if r.teacher]
    assert {r.group for r in students} == {"paper-distill-sasrec"} and len(students) == 3
    truth = {r.name: r for r in bench.space_truth_cpu()}
    for student in students:
        seed = student.settings["seed"]
        teacher = runs[position[student.teacher]]
        assert position[teacher.name] < position[student.name]
        assert (teacher.model, teacher.settings) == (
            truth[f"SASRec-s{seed}"].model,
            truth[f"SASRec-s{seed}"].settings,
        )
        assert student.search_from == f"EASRec-paper-s{seed}"  # a re-pick: only the retraining
    left = [r for r in students if r.settings["seed"] != 2020]  # the rest committed
    kept = tmp_path / "runs" / "SASRec-teacher-s2021"
    kept.mkdir(parents=True)
    (kept / "model.json").write_text("{}", encoding="utf-8")
    again = bench.with_teachers(runs, left, tmp_path)
    assert [r.name for r in again] == ["SASRec-teacher-s2022", *(r.name for r in left)]
    # end to end: the student waits for its teacher and distils from it; a failed teacher fails it
    data = write_cycle_dataset(tmp_path / "data")
    shared = {**TINY, "data_path": str(data)}
    tiny = {**TINY, "epochs": 1, "seed": 2020}
    teacher = bench.Run("T", "LinRec", {**tiny, "attention_type": "softmax"}, "teacher")
    distilled = {**tiny, "n_layers": 2, "retrain_epochs": 1, "retrain_distill": True}
    student = bench.Run("S", "EASRec", distilled, "d", None, "T")
    records = bench.run_suite([teacher, student], "tiny", shared, tmp_path / "out", workers=2)
    assert [r["status"] for r in records] == ["ok", "ok"], [r["error"] for r in records]
    assert records[1]["teacher"] == "T" and "retrain_teacher" not in records[1]["settings"]
    broken = bench.Run("T", "LinRec", {**tiny, "attention_type": "none"}, "teacher")
    records = bench.run_suite([broken, student], "tiny", shared, tmp_path / "out2", workers=2)
    assert records[1]["status"] == "error" and "teaches this run" in records[1]["error"]


def test_search_pages_say_both_phases_batch_sizes(bench: ModuleType) -> None:
    """The search budget and both batch sizes come from the runs' settings (a retraining at the
    search's batch went unnoticed once)."""
    space_truth = importlib.import_module("space_truth")
    settings = {"epochs": 10, "train_batch_size": 256, "retrain_batch_size": 64}
    runs = [
        {"settings": {**settings, "search_method": "paper"}},
        {"settings": {**settings, "search_method": "random", "epochs": 40}},
    ]
    text = space_truth.search_phase(runs)
    assert text.startswith("Each search phase ran at most 10 epochs at batch 256")
    assert "random search 40 epochs" in text and text.endswith("early stopping at batch 64")


def test_linear_variants_are_different_architectures_of_the_truth(bench: ModuleType) -> None:
    """``conv`` and LinRec's eq. 5 share ``attention_type: linear`` but are different kinds."""
    space_truth = importlib.import_module("space_truth")
    sizes = {"hidden_size": 64, "inner_size": 256, "n_layers": 1}
    conv = truth_record("a", "EASRecCompact", sizes, 2020, 0.3, attention_type="linear")
    conv["settings"]["linear_variant"] = "conv"
    linrec = truth_record("b", "EASRecCompact", sizes, 2020, 0.2, attention_type="linear")
    keys = {space_truth.run_key(conv), space_truth.run_key(linrec)}
    assert keys == {(64, 256, 1, "conv", 0), (64, 256, 1, "linrec", 0)}
    assert space_truth.key_name((64, 256, 1, "conv", 2)) == "d64-D256-L1-conv-gates2"


def test_a_pick_the_ground_truth_lacks_is_named_and_not_judged(bench: ModuleType) -> None:
    """A search may pick a network whose ground-truth runs are still missing: the page names it
    as the truth's runs do and leaves its regret open."""
    space_truth = importlib.import_module("space_truth")
    softmax = {"attention_type": "softmax"}
    small = {"hidden_size": 32, "inner_size": 128, "n_layers": 1}
    entries = space_truth.aggregate(
        [truth_record("d32-D128-L1", "EASRecCompact", small, 1, 0.1, **softmax)]
    )
    picked = {"hidden_size": 64, "inner_size": 256, "n_layers": 2}
    run = {
        **truth_record("EASRec-paper", "EASRec", small, 1, 0.12, **softmax),
        "architecture": picked,
    }
    pick = space_truth.judge_pick(run, space_truth.entries_by_key(entries), entries)
    assert pick["architecture"] == "d64-D256-L2"
    assert pick["regret"] is None and pick["on_front"] is False


def test_the_timing_pass_times_every_architecture_and_keeps_its_timing(
    bench: ModuleType, tmp_path: Path
) -> None:
    """``space_truth.py --time`` times each architecture once (its runs' settings, the dataset's
    test histories) and reports it against SASRec; a rebuild without ``--time`` keeps it."""
    space_truth = importlib.import_module("space_truth")
    data = write_cycle_dataset(tmp_path / "data")
    base = {"MAX_ITEM_LIST_LENGTH": 10, "n_heads": 2}
    full = {**base, "hidden_size": 16, "inner_size": 32, "n_layers": 2}
    small = {**base, "hidden_size": 8, "inner_size": 16, "n_layers": 1}
    gates = {"attention_type": "softmax", "gate_layers": 2, "gate_input": "token"}
    truth = [
        truth_record("SASRec", "LinRec", full, seed, 0.3, attention_type="softmax")
        for seed in (2020, 2021)
    ] + [truth_record("d8-D16-L1", "EASRecCompact", small, 2020, 0.2, **gates)]
    (tmp_path / "suite.json").write_text(json.dumps({"runs": truth}), encoding="utf-8")
    out = tmp_path / "timed"
    common = [f"--out={out}", "--dataset=tiny", f"--data_path={data}", "--repeats=2"]
    space_truth.main([f"--truth={tmp_path / 'suite.json'}", "--time", *common])
    timed = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    planned = {run.name.rsplit("-s", 1)[0] for run in bench.space_truth_cpu()}
    assert set(timed["timing"]["seconds"]) == {"d8-D16-L1"} | planned  # runs missing: timed too
    assert timed["timing"]["protocol"].startswith("60 users, batch 512, N 10, 1 thread(s)")
    assert all(e["idle_inference_seconds"] > 0 for e in timed["architectures"])
    page = out.with_suffix(".md").read_text(encoding="utf-8")
    [row] = [line for line in page.splitlines() if line.startswith("| d8-D16-L1 |")]
    small_entry = next(e for e in timed["architectures"] if e["name"] == "d8-D16-L1")
    sasrec = next(e for e in timed["architectures"] if e["name"] == "SASRec")
    ratio = small_entry["idle_inference_seconds"] / sasrec["idle_inference_seconds"]
    passes = [
        a / b for a, b in zip(small_entry["idle_inference_rounds"], sasrec["idle_inference_rounds"])
    ]
    assert len(passes) == 2 and min(passes) <= ratio <= max(passes)
    assert (
        f" {ratio:.2f} ({min(passes):.2f}–{max(passes):.2f}) |" in row and "× SASRec time" in page
    )
    assert "Timing pass (`space_truth.py --time`, alone): 60 users" in page
    rebuilt = tmp_path / "rebuilt"
    space_truth.main([f"--truth_from={out.with_suffix('.json')}", f"--out={rebuilt}"])
    kept = json.loads(rebuilt.with_suffix(".json").read_text(encoding="utf-8"))
    assert kept["timing"] == timed["timing"]


def test_the_ground_truth_trains_the_front_first(bench: ModuleType) -> None:
    """Seed by seed SASRec, the full network and every network within 30 % of SASRec's FLOPs
    come before any other architecture, so a partial truth covers issue 28's targets."""
    runs = bench.space_truth_cpu()
    base = bench.TRUTH_CPU
    cheap = [r for r in runs if bench.softmax_flops(r.settings) <= 0.3 * bench.softmax_flops(base)]
    full = (base["hidden_size"], base["n_layers"])
    later = [
        r
        for r in runs
        if r.group == "space"
        and r not in cheap
        and (r.settings["hidden_size"], r.settings["n_layers"]) != full
    ]
    front, rest = runs[: -len(later)], runs[-len(later) :]
    assert rest == later and {r.name for r in cheap} <= {r.name for r in front}
    seeds = [r.settings["seed"] for r in front]
    assert seeds == sorted(seeds) and front[0].name == "SASRec-s2020"
    full_runs = 0 if bench.full_is_sasrec(bench.TRUTH_SPACE) else 1
    assert len(runs) == len({r.name for r in runs}) == 3 * (3 * base["n_layers"] + full_runs)


def test_a_budgeted_search_re_picks_from_its_parent_in_the_suite(
    bench: ModuleType, tmp_path: Path
) -> None:
    """search_cpu's budgeted variants of methods whose search ignores the budget re-pick from the
    unbudgeted run's search (after it, even with two workers); an absent parent is an error. The
    default method's runs come first."""
    runs = bench.search_cpu()
    children = [r for r in runs if r.search_from]
    assert {r.group for r in children} == {
        "paper-budget0.3",
        "paper-distill",
        "paper-distill-sasrec",
        "sandwich-budget0.3",
        "proxylessnas-budget0.3",
        "recnas-budget0.3",
    }
    position = {r.name: i for i, r in enumerate(runs)}
    assert all(position[r.search_from] < position[r.name] for r in children)
    assert [r.group for r in runs[:6]] == ["paper"] * 3 + ["paper-budget0.3"] * 3
    assert all(r.search_from == f"EASRec-paper-s{r.settings['seed']}" for r in children[:6])
    by_name = {r.name: r for r in runs}
    after_search = AFTER_SEARCH - {"search_from"}
    for child in children:  # the parent searched with the same settings, is no re-pick itself
        parent = by_name[child.search_from]
        assert parent.search_from is None and parent.settings["seed"] == child.settings["seed"]
        differing = {
            k
            for k in child.settings.keys() | parent.settings.keys()
            if child.settings.get(k) != parent.settings.get(k)
        }
        assert differing and differing <= after_search
    searches = [r for r in runs if r.model == "EASRec"]  # not the teachers
    lone = [r for r in searches if not r.search_from and r.group != r.settings["search_method"]]
    # a search of its own: random and one-shot search within the budget; DARTS has no resource term
    assert {r.group for r in lone} == {"random-budget0.3", "oneshot-budget0.3", "darts"}
    data = write_cycle_dataset(tmp_path / "data")
    # logged (state INFO): a run's wall seconds come from its run.log
    shared = {**TINY, "data_path": str(data), "state": "INFO"}
    tiny = {**TINY, "n_layers": 2, "epochs": 1, "retrain_epochs": 1, "seed": 2020}
    parent = bench.Run("EASRec-paper-s2020", "EASRec", tiny, "paper")
    child = bench.Run(
        "EASRec-paper-budget0.3-s2020",
        "EASRec",
        {**tiny, "flops_budget": 0.3},
        "paper-budget0.3",
        "EASRec-paper-s2020",
    )
    began = time.perf_counter()
    records = bench.run_suite([parent, child], "tiny", shared, tmp_path / "out", workers=2)
    elapsed = time.perf_counter() - began
    assert [r["status"] for r in records] == ["ok", "ok"], [r["error"] for r in records]
    assert records[1]["architecture"]["flops_fraction"] <= 0.3
    assert records[1]["architecture"]["flops_budget"] == 0.3
    assert "search_from" not in records[1]["settings"]  # no machine's path in the results
    child_dir = tmp_path / "out" / "runs" / child.name
    choice = json.loads((child_dir / "pick" / "result.json").read_text(encoding="utf-8"))
    assert choice["shared_weight_scores"] == records[0]["shared_weight_scores"]  # its search
    # the parent's pick is within 0.3 here, so the re-pick chose the same network: the parent's
    # retraining stands for its own, which does not run
    assert records[0]["architecture"]["flops_fraction"] <= 0.3
    assert records[1]["retraining_reused_from"] == "EASRec-paper-s2020"
    assert records[1]["test_result"] == records[0]["test_result"]
    assert not (child_dir / "checkpoint_compact.pth").exists()
    again = bench.run_suite([parent, child], "tiny", shared, tmp_path / "out", workers=1)
    assert again[1]["retraining_reused_from"] == "EASRec-paper-s2020"  # kept, not re-picked
    assert [r["wall_seconds"] for r in again] == [r["wall_seconds"] for r in records]  # from logs
    assert 0 < records[0]["wall_seconds"] <= elapsed
    assert 0 < records[0]["search_seconds"] < records[0]["wall_seconds"]
    assert 0 <= records[1]["search_seconds"] <= records[1]["wall_seconds"]  # its choice alone
    # a parent that fails: the re-pick fails with it
    broken = bench.Run("EASRec-x-s2020", "EASRec", {**tiny, "search_method": "none"}, "x")
    orphan = bench.Run("EASRec-x-budget0.3-s2020", "EASRec", tiny, "x", "EASRec-x-s2020")
    records = bench.run_suite([broken, orphan], "tiny", shared, tmp_path / "out2", workers=2)
    assert [r["status"] for r in records] == ["error", "error"]
    assert "has not finished" in records[1]["error"]
    # a parent committed in an earlier session but absent here (a fresh checkout): it searches
    [alone] = bench.run_suite([child], "tiny", shared, tmp_path / "out3", workers=1)
    assert alone["status"] == "ok" and "search_from" not in alone
    assert alone["architecture"]["flops_fraction"] <= 0.3 and alone["search_iterations"] > 0


def test_a_re_pick_of_another_network_or_retraining_is_retrained(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    asked = {"model": "EASRec", "config_dict": {"seed": 1, "retrain_epochs": 5, "output_dir": "x"}}
    (parent / "request.json").write_text(json.dumps(asked), encoding="utf-8")
    network = {"hidden_size": 48, "inner_size": 192, "n_layers": 2}
    (parent / "result.json").write_text(json.dumps({"architecture": network}), encoding="utf-8")
    child = bench.Run("c", "EASRec", {}, "paper-budget0.3", "parent")
    settings = {"seed": 1, "retrain_epochs": 5, "flops_budget": 0.3, "search_from": str(parent)}
    chosen = []

    def choose(model, dataset, files, config, run_dir, resume=False):  # noqa: ANN001, ANN202
        chosen.append(config["retrain_epochs"])
        return {"architecture": {**network, "n_layers": 1}, "config": config}

    monkeypatch.setattr(bench, "run_in_subprocess", choose)
    assert bench.parent_retraining(child, "tiny", settings, tmp_path / "c", parent) is None
    assert chosen == [0]  # the choice alone, then another network: it retrains
    assert not (tmp_path / "c" / "result.json").exists()
    other = {**settings, "retrain_epochs": 9}  # its own retraining: decided before any choice
    assert bench.parent_retraining(child, "tiny", other, tmp_path / "c", parent) is None
    assert chosen == [0]
    log = parent / "run.log"
    log.write_text(
        "23:58:00 INFO search: epoch 1/1 done\n"
        "23:59:30 INFO paper search chose d=48, D=192, L=2 (22.8 %); retraining it\n"
        "not stamped\n"
        "00:01:00 INFO test result: {}\n",
        encoding="utf-8",
    )
    assert bench.retraining_seconds(log) == 90.0
    log.write_text("00:00:01 INFO no choice\n", encoding="utf-8")
    assert bench.retraining_seconds(log) is None


def test_a_runs_seconds_leave_out_its_stops_and_pauses(bench: ModuleType, tmp_path: Path) -> None:
    """wall_seconds of a suite's run come from its run.log: a silence over RESUME_GAP (a stop and
    a resume in a later session, a pause) is not work, whatever the process's own clock says."""
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "run.log").write_text(
        "23:59:00 INFO settings of this run:\n"
        "23:59:40 INFO retrain: epoch 1/9 done\n"  # then stopped; resumed 2 h later
        "01:59:40 INFO settings of this run:\n"
        "02:00:00 INFO resumed retrain after epoch 1 (state 2)\n"
        "02:01:00 INFO test result: {}\n",
        encoding="utf-8",
    )
    assert bench.run_seconds(run, {}) == 40 + 20 + 60
    assert bench.run_seconds(tmp_path / "runs" / "none", {}) is None
    (run / "request.json").write_text(json.dumps({"model": "M", "config_dict": {}}), "utf-8")
    (run / "result.json").write_text("{}", encoding="utf-8")
    assert bench.finished_run(run, "M", {}) == ({}, 120.0)
    # a re-pick that took its parent's retraining: its choice, then the parent's retraining
    child = tmp_path / "runs" / "c"
    (child / bench.PICK_DIR).mkdir(parents=True)
    (child / bench.PICK_DIR / "run.log").write_text(
        "10:00:00 INFO a\n10:00:30 INFO paper search chose d=48\n", encoding="utf-8"
    )
    (run / "run.log").write_text(
        "09:00:00 INFO search\n09:30:00 INFO paper search chose d=48\n09:32:00 INFO test\n",
        encoding="utf-8",
    )
    assert bench.run_seconds(child, {"retraining_reused_from": "r"}) == 30 + 120
    # the parent resumed during its retraining announces its choice again: counted from the first
    (run / "run.log").write_text(
        "09:00:00 INFO settings of this run:\n09:30:00 INFO paper search chose d=48\n"
        "09:31:00 INFO retrain: epoch 1/9 done\n"
        "12:00:00 INFO settings of this run:\n12:00:10 INFO resumed retrain after epoch 1\n"
        "12:00:20 INFO paper search chose d=48\n12:01:20 INFO test\n",
        encoding="utf-8",
    )
    assert bench.retraining_seconds(run / "run.log") == 60 + 10 + 10 + 60
    assert bench.run_seconds(child, {"retraining_reused_from": "r"}) == 30 + 140
    assert bench.search_seconds(child, {"retraining_reused_from": "r"}) == 30  # its choice
    # a re-pick that retrained: its own run and its trial choice
    (child / "run.log").write_text(
        "11:00:00 INFO a\n11:01:00 INFO paper search chose d=32\n11:05:00 INFO b\n",
        encoding="utf-8",
    )
    assert bench.run_seconds(child, {}) == 300 + 30
    assert bench.search_seconds(child, {}) == 60 + 30
    # the resumed parent's search ends at its first choice (its 30-minute silence is no work);
    # counted to its last choice, it would be 80 s
    assert bench.search_seconds(run, {}) == 0.0


def test_a_runs_seconds_count_its_last_fresh_start_only(bench: ModuleType, tmp_path: Path) -> None:
    """A folder started again with other settings appends to its run.log: the earlier attempt's
    time is not this run's; a log without two stamps (warnings only) tells nothing."""
    log = tmp_path / "run.log"
    log.write_text(
        "08:00:00 INFO settings of this run:\n08:04:00 INFO train: epoch 1/9 done\n"
        "08:04:30 ERROR failed\n"  # then started afresh with other settings
        "09:00:00 INFO settings of this run:\n09:02:00 INFO train: epoch 1/9 done\n"
        "13:00:00 INFO settings of this run:\n13:00:05 INFO resumed train after epoch 1\n"
        "13:01:05 INFO test\n",
        encoding="utf-8",
    )
    assert bench.working_seconds(bench.log_lines(log)) == 120 + 5 + 60
    assert bench.run_seconds(tmp_path, {}) == 185
    log.write_text("not stamped\n10:00:00 WARNING once\n", encoding="utf-8")
    assert bench.run_seconds(tmp_path, {}) is None
    assert bench.retraining_seconds(log) is None


def test_the_report_says_which_searches_were_re_picked(bench: ModuleType) -> None:
    space_truth = importlib.import_module("space_truth")
    searches = [
        {"group": "paper", "name": "EASRec-paper-s2020"},
        {"group": "paper-budget0.3", "name": "b", "search_from": "EASRec-paper-s2020"},
    ]
    [_, line] = space_truth.repick_line(searches)
    assert "(paper-budget0.3 from paper;" in line
    searches.append({"group": "paper-distill", "name": "c", "search_from": "EASRec-paper-s2021"})
    [_, line] = space_truth.repick_line(searches)
    assert "(paper-budget0.3 from paper, paper-distill from paper;" in line
    # a seed whose parent's search was not kept searched anew (a fresh checkout continuing)
    searches.append({"group": "paper-distill", "name": "d", "settings": {"seed": 2022}})
    [_, line] = space_truth.repick_line(searches)
    assert "paper-distill from paper (searched anew on seed 2022);" in line
    searches.pop()
    assert "retraining_reused_from" not in line
    searches[1]["retraining_reused_from"] = "EASRec-paper-s2020"
    [_, line] = space_truth.repick_line(searches)
    assert "b chose the network their parent chose" in line
    assert space_truth.repick_line(searches[:1]) == []


def test_a_search_page_keeps_its_committed_searches_and_lists_the_missing(
    bench: ModuleType, tmp_path: Path
) -> None:
    """search_methods_ml1m's report: searches from a built result and from suite folders (one
    not there yet), the truth from another result, and the search_cpu runs still missing."""
    space_truth = importlib.import_module("space_truth")
    full = {"hidden_size": 64, "inner_size": 256, "n_layers": 2}
    space = dict(bench.TRUTH_SPACE)
    truth = [truth_record("SASRec", "LinRec", full, 2020, 0.3, attention_type="softmax")]
    (tmp_path / "truth.json").write_text(
        json.dumps({"truth_runs": truth, "search_runs": []}), encoding="utf-8"
    )
    [planned] = [r for r in bench.search_cpu() if r.name == "EASRec-paper-s2020"]
    search = {
        **truth_record("EASRec-paper", "EASRec", full, 2020, 0.29, **space),
        "settings": planned.settings,
        "group": "paper",
        "architecture": {**full, "attention": "softmax", "candidate": 0, "gate_layers": 0},
    }
    (tmp_path / "built.json").write_text(json.dumps({"search_runs": [search]}), encoding="utf-8")
    out = tmp_path / "search_methods"
    space_truth.main(
        [f"--truth_from={tmp_path / 'truth.json'}", "--search", str(tmp_path / "built.json"),
         str(tmp_path / "absent" / "suite.json"), f"--out={out}", "--dataset=ml-1m"]
    )  # fmt: skip
    built = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["name"] for r in built["search_runs"]] == ["EASRec-paper-s2020"]
    assert "EASRec-paper-s2020" not in built["missing_searches"]
    assert len(built["missing_searches"]) == len(bench.search_cpu()) - 1
    page = out.with_suffix(".md").read_text(encoding="utf-8")
    assert f"Searches still missing ({len(built['missing_searches'])} runs" in page
    # the page says how long the searches searched, from their settings
    epochs, batch = planned.settings["epochs"], planned.settings["train_batch_size"]
    assert f"Each search phase ran at most {epochs} epochs at batch {batch} (search" in page


def test_every_search_is_compared_with_random_search_by_seed(bench: ModuleType) -> None:
    space_truth = importlib.import_module("space_truth")

    def picks(*scores: float) -> list[dict]:
        return [{"seed": 2020 + i, "ndcg@10_full": v} for i, v in enumerate(scores)]

    def entry(method: str, budget: float | None, *scores: float) -> dict:
        name = f"{method}-budget{budget}" if budget else method
        return {
            "method": name,
            "search_method": method,
            "flops_budget": budget,
            "picks": picks(*scores),
        }

    judged = [
        entry("paper", None, 0.12, 0.135, 0.125),
        entry("random", None, 0.10, 0.11),  # one seed missing: two pairs
        entry("paper", 0.3, 0.13, 0.14, 0.12),
        entry("random", 0.3, 0.12, 0.12, 0.13),  # the baseline of the budgeted searches
    ]
    paper, random, budgeted, _ = space_truth.versus_random(judged)
    assert paper["vs_random"] == pytest.approx((0.12 + 0.135) / (0.10 + 0.11) - 1)
    assert paper["p_vs_random"] is not None and random["vs_random"] is None
    assert budgeted["vs_random"] == pytest.approx(0.39 / 0.37 - 1)
    shown = [{**j, "ndcg@10_full_mean": 0.1, "ndcg@10_full_std": None, "ndcg@10_pop100_mean": 0.4,
              "ndcg@10_pop100_std": None, "regret_mean": None, "kendall_tau_mean": None,
              "search_wall_seconds_mean": 1.0, "picks": [{**p, "architecture": "a",
              "on_front": True} for p in j["picks"]]} for j in (paper, random)]  # fmt: skip
    header = space_truth.search_table(shown).splitlines()[0]
    assert "vs random (same budget)" in header and "search s" not in header
    shown = [{**j, "search_seconds_mean": 0.4} for j in shown]  # every method's search phase
    assert "| search s |" in space_truth.search_table(shown).splitlines()[0]


def test_searches_run_at_the_shipped_search_budget_and_retrain_like_the_truth(
    bench: ModuleType,
) -> None:
    """search_cpu's search phase is the one EASRec.yaml ships (random: each candidate that many
    epochs); its retraining has the ground truth's batch size and epoch cap, so they compare."""
    shipped = read_yaml_file(PROPERTIES_DIR / "model" / "EASRec.yaml")
    [truth] = {r.settings["train_batch_size"]: r for r in bench.space_truth_cpu()}.values()
    for run in (r for r in bench.search_cpu() if r.model == "EASRec"):  # not the teachers
        settings = run.settings
        per_candidate = shipped["random_samples"] if settings["search_method"] == "random" else 1
        assert settings["epochs"] == shipped["epochs"] * per_candidate, run.name
        assert settings["train_batch_size"] == shipped["train_batch_size"]
        assert settings["retrain_batch_size"] == truth.settings["train_batch_size"]
        assert settings["retrain_epochs"] == truth.settings["epochs"]


def test_the_timing_pass_reads_recboles_own_ml100k(bench: ModuleType, tmp_path: Path) -> None:
    """A data folder without ml-100k falls back to the copy RecBole ships (943 users, 1,682
    items); a dataset RecBole does not ship stays a missing file."""
    inference = importlib.import_module("inference")
    lengths, n_items = inference.history_lengths(tmp_path, "ml-100k", 50)
    assert (len(lengths), n_items, int(lengths.max())) == (943, 1683, 50)
    with pytest.raises(FileNotFoundError):
        inference.history_lengths(tmp_path, "ml-1m", 50)


def test_a_partial_ground_truth_is_judged_against_sasrec_on_the_same_seeds(
    bench: ModuleType,
) -> None:
    """One seed of a network against SASRec's three: the summary pairs the seed (−4 %), instead
    of comparing it with the mean of seeds it has not run (−10 %)."""
    space_truth = importlib.import_module("space_truth")
    sasrec = {
        "ndcg@10_full_mean": 0.125,
        "by_seed": {"2020": {"full": 0.10}, "2021": {"full": 0.14}, "2022": {"full": 0.135}},
    }
    partial = {"ndcg@10_full_mean": 0.096, "by_seed": {"2020": {"full": 0.096}}}
    assert space_truth.gap_vs_sasrec(partial, sasrec) == pytest.approx(-0.04)
    unpaired = {"ndcg@10_full_mean": 0.1375, "by_seed": {"2030": {"full": 0.1375}}}
    assert space_truth.gap_vs_sasrec(unpaired, sasrec) == pytest.approx(0.1)


def test_a_suite_continued_from_its_committed_result_keeps_the_committed_runs(
    bench_main: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = bench_main
    assert main.skips_committed(main.BENCHES["table3_ml1m"])
    assert not main.skips_committed(main.BENCHES["sampled_ce_ml1m"])
    results, saved = tmp_path / "results", tmp_path / "saved" / "t3"
    results.mkdir()
    saved.mkdir(parents=True)
    committed = [
        {"name": "A", "status": "ok", "test": 1},
        {"name": "B", "status": "failed"},
        {"name": "C", "status": "ok", "test": 3},
    ]
    fresh = [{"name": "B", "status": "ok", "test": 2}, {"name": "C", "status": "failed"}]
    (results / "t3.json").write_text(
        json.dumps({"runs": committed, "report": {"title": "kept"}}), encoding="utf-8"
    )
    (saved / "suite.json").write_text(json.dumps({"runs": fresh}), encoding="utf-8")
    monkeypatch.setattr(main, "RESULTS", results)
    monkeypatch.setattr(main, "ROOT", tmp_path)
    for bench, names in (
        (main.suite("t3", "--suite=x --skip_from=results/t3.json"), ["A", "C", "B"]),
        (main.suite("t3", "--suite=x"), ["B", "C"]),  # a suite that reruns everything
    ):
        (results / "t3.json").write_text(
            json.dumps({"runs": committed, "report": {"title": "kept"}}), encoding="utf-8"
        )
        main.import_suite("t3", bench)
        merged = json.loads((results / "t3.json").read_text(encoding="utf-8"))
        assert [record["name"] for record in merged["runs"]] == names
        assert merged["report"] == {"title": "kept"}
    assert [r.get("test") for r in merged["runs"]] == [2, None]
