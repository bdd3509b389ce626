"""Recommendations from a saved run and RecBole's case-study path (issue 12, items 1 and 2)."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest
import torch
from recbole.utils.case_study import full_sort_scores, full_sort_topk

import recbole_easrec
from recbole_easrec.cli import main
from recbole_easrec.errors import CheckpointError, UserError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.recommend import (
    RunRecommender,
    load_data_and_model,
    load_run,
    padded_batch,
    recommend,
)
from recbole_easrec.trainer import resolve_trainer
from tests.conftest import tiny_config, write_cycle_dataset

MODELS = ("LinRec", "SASRec")  # one of ours (model.json) and RecBole's (checkpoint.pth only)
MAX_LENGTH = 10


pytestmark = pytest.mark.usefixtures("one_thread")


def shuffled_dataset(folder: Path) -> Path:
    """The tiny cycle dataset with its rows shuffled: file order is not time order."""
    data_path = write_cycle_dataset(folder)
    inter = data_path / "tiny" / "tiny.inter"
    header, *rows = inter.read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(rows)
    inter.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return data_path


def file_histories(data_path: Path) -> dict[str, list[str]]:
    """Each user's item tokens ordered by timestamp, read from the atomic file directly."""
    rows = [
        line.split("\t") for line in (data_path / "tiny" / "tiny.inter").read_text().splitlines()
    ]
    by_user: dict[str, list[tuple[float, str]]] = {}
    for user, item, _, stamp in rows[1:]:
        by_user.setdefault(user, []).append((float(stamp), item))
    return {user: [item for _, item in sorted(pairs)] for user, pairs in by_user.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, object]:
    """LinRec and RecBole's SASRec, trained once through our entry point on shuffled tiny data."""
    base = tmp_path_factory.mktemp("recommend")
    data_path = shuffled_dataset(base / "data")
    folders = {}
    for model in MODELS:
        settings = tiny_config(data_path, base / model, MAX_ITEM_LIST_LENGTH=MAX_LENGTH)
        folders[model] = run_recbole_easrec(model, "tiny", config_dict=settings)
    return {"data_path": data_path, "results": folders}


def run_dir(runs, model: str) -> Path:
    return Path(runs["results"][model]["output_dir"])


def test_package_exports_the_functions() -> None:
    assert recbole_easrec.recommend is recommend
    assert recbole_easrec.load_data_and_model is load_data_and_model


def test_padded_batch_keeps_the_last_items_left_aligned() -> None:
    item_seq, lengths = padded_batch([torch.arange(1, 8).numpy(), torch.tensor([4]).numpy()], 5)
    assert item_seq.tolist() == [[3, 4, 5, 6, 7], [4, 0, 0, 0, 0]]
    assert lengths.tolist() == [5, 1]


@pytest.mark.parametrize("model", MODELS)
def test_user_history_is_every_interaction_in_time_order(runs, model) -> None:
    config, loaded, dataset = load_run(run_dir(runs, model))
    recommender = RunRecommender(config, loaded, dataset)
    expected = file_histories(runs["data_path"])
    histories = recommender.user_histories()
    for user in ("u1", "u7", "u60"):
        uid = dataset.field2token_id[dataset.uid_field][user]
        assert recommender.item_tokens(histories[uid]) == expected[user]


@pytest.mark.parametrize("model", MODELS)
def test_history_before_the_test_item_ranks_as_recbole_case_study(runs, model) -> None:
    """Our history path on the items before each user's test item gives RecBole's own
    ``full_sort_topk`` over its test split (which ranks history items too)."""
    folder = run_dir(runs, model)
    config, loaded, dataset, _, _, test_data = load_data_and_model(folder)
    users = ["u2", "u9", "u31"]
    scores, ids = full_sort_topk(dataset.token2id(dataset.uid_field, users), loaded, test_data, 5)
    expected = file_histories(runs["data_path"])
    answers = recommend(
        folder, histories=[expected[u][:-1] for u in users], k=5, exclude_history=False
    )
    item_vocab = dataset.field2id_token[dataset.iid_field]
    for answer, row_ids, row_scores in zip(answers, ids.tolist(), scores.tolist()):
        assert answer["items"] == [str(item_vocab[i]) for i in row_ids]
        assert answer["scores"] == pytest.approx(row_scores, abs=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_user_answers_exclude_history_and_match_the_same_history(runs, model) -> None:
    folder = run_dir(runs, model)
    expected = file_histories(runs["data_path"])
    by_user, by_history = recommend(folder, users=["u4"], histories=[expected["u4"]], k=7)
    assert by_user["user"] == "u4" and by_history["user"] is None
    assert by_history["history"] == expected["u4"]
    assert len(by_user["items"]) == 7 and len(set(by_user["items"])) == 7
    assert not set(by_user["items"]) & set(expected["u4"])
    assert "[PAD]" not in by_user["items"]
    assert by_user["scores"] == sorted(by_user["scores"], reverse=True)
    assert by_user["items"] == by_history["items"]
    assert by_user["scores"] == pytest.approx(by_history["scores"], abs=1e-6)


def test_answers_shrink_when_the_history_covers_the_catalogue(runs) -> None:
    folder = run_dir(runs, "LinRec")
    every_item = [f"i{item}" for item in range(1, 31)]
    (full,) = recommend(folder, histories=[every_item[:-2]], k=5)
    assert sorted(full["items"]) == ["i29", "i30"]
    assert all(math.isfinite(score) for score in full["scores"])


@pytest.mark.parametrize("model", MODELS)
def test_load_data_and_model_reproduces_the_test_result(runs, model) -> None:
    """The six-tuple's model on its test split scores the run's recorded test metrics, and
    RecBole's ``full_sort_scores`` works on it; the checkpoint file's path is accepted too."""
    result = runs["results"][model]
    checkpoint = Path(result["output_dir"]) / "checkpoint.pth"
    config, loaded, dataset, train_data, valid_data, test_data = load_data_and_model(checkpoint)
    assert config["model"] == model and not loaded.training
    assert len(train_data.dataset) > len(test_data.dataset) > 0 and len(valid_data.dataset) > 0
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, loaded)
    evaluated = trainer.evaluate(test_data, load_best_model=False)
    for metric, value in result["test_result"].items():
        assert evaluated[metric] == pytest.approx(value, abs=1e-6)
    uids = dataset.token2id(dataset.uid_field, ["u1", "u2"])
    scores = full_sort_scores(uids, loaded, test_data)
    assert scores.shape == (2, dataset.item_num) and torch.isinf(scores[:, 0]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": ["nobody"]}, "unknown user 'nobody'"),
        ({"histories": [["i1", "i999"]]}, "unknown item 'i999'"),
        ({"histories": [["[PAD]"]]}, "unknown item '[PAD]'"),
        ({"histories": [[]]}, "history 1 is empty"),
        ({"users": ["u1"], "k": 0}, "positive whole number"),
        ({"users": ["u1"], "k": -3}, "positive whole number"),
        ({"users": ["u1"], "k": True}, "positive whole number"),
        ({"users": ["u1"], "k": 31}, "has 30 items"),
        ({}, "nothing to recommend"),
        ({"users": []}, "nothing to recommend"),
    ],
)
def test_bad_queries_are_one_line_errors(runs, kwargs, message) -> None:
    with pytest.raises(UserError, match=re.escape(message)) as raised:
        recommend(run_dir(runs, "LinRec"), **kwargs)
    assert "\n" not in str(raised.value)


def test_folders_without_a_run_are_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        recommend(tmp_path / "missing", users=["u1"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="neither model.json nor result.json"):
        recommend(tmp_path / "empty", users=["u1"])
    (tmp_path / "empty" / "result.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_data_and_model(tmp_path / "empty")


def test_recbole_run_without_checkpoint_is_a_checkpoint_error(runs, tmp_path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    source = run_dir(runs, "SASRec") / "result.json"
    (folder / "result.json").write_text(source.read_text())
    with pytest.raises(CheckpointError, match="checkpoint.pth is missing"):
        recommend(folder, users=["u1"])
    (folder / "checkpoint.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot load"):
        recommend(folder, users=["u1"])


def test_cli_recommend_prints_json(runs, capsys) -> None:
    folder = run_dir(runs, "SASRec")
    code = main([f"--recommend={folder}", "--users=u3, u5", "--history=i1,i2", "--topk=4"])
    assert code == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["user"] for a in answers] == ["u3", "u5", None]
    assert answers[2]["history"] == ["i1", "i2"]
    assert all(len(a["items"]) == len(a["scores"]) == 4 for a in answers)
    assert answers == recommend(folder, users=["u3", "u5"], histories=[["i1", "i2"]], k=4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--users=u1", "--topk=many"], "--topk must be a whole number"),
        (["--users=u1", "--topk=0"], "positive whole number"),
        (["--history="], "history 1 is empty"),
        (["--users=ghost"], "unknown user 'ghost'"),
        (["--history=i1,nope"], "unknown item 'nope'"),
    ],
)
def test_cli_bad_input_is_one_line(runs, capsys, arguments, message) -> None:
    assert main([f"--recommend={run_dir(runs, 'LinRec')}", *arguments]) == 2
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert captured.out == ""


def test_cli_users_without_recommend_is_an_error(capsys) -> None:
    assert main(["--users=u1"]) == 2
    assert "need --recommend" in capsys.readouterr().err


def test_demo_summary_shows_architecture_cost_metrics_and_titled_top_k(tmp_path, capsys) -> None:
    from recbole_easrec.demo import main as demo_main

    data_path = write_cycle_dataset(tmp_path / "data")
    titles = "".join(f"i{item}\tFilm number {item}\n" for item in range(1, 31))
    (data_path / "tiny" / "tiny.item").write_text("item_id:token\tmovie_title:token_seq\n" + titles)
    settings = tiny_config(data_path, tmp_path / "easrec", epochs=1, retrain_epochs=1, n_layers=2)
    result = run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    folder = Path(result["output_dir"])
    assert demo_main([str(folder), "--user=u5", "--topk=3"]) == 0
    report = capsys.readouterr().out
    arch = result["architecture"]
    assert f"selected architecture: d={arch['hidden_size']}, D={arch['inner_size']}" in report
    assert "(full network: d=16, D=32, L=2)" in report
    gates = f"{arch['gate_layers']}-layer data-aware gates" if arch["gate_layers"] else "no data"
    assert f"{arch['attention']} attention, {gates}" in report
    assert f"{100 * arch['flops_fraction']:.1f} % of the full network's" in report
    assert f"ndcg@10 {result['test_result']['ndcg@10']:.4f}" in report
    full = result["full_network_efficiency"]
    assert full["flops"] > result["efficiency"]["flops"] or arch["flops_fraction"] == 1.0
    assert full["params"] >= result["efficiency"]["params"] and full["inference_seconds"] > 0
    assert f"of the full network's {full['inference_seconds']:.3f} s" in report
    assert (folder / "summary.txt").read_text().strip() in report
    (answer,) = recommend(folder, users=["u5"], k=3)
    for rank, item in enumerate(answer["items"], start=1):
        assert f"{rank:2d}. item {item:>5}" in report
        assert f"Film number {item[1:]}" in report
    assert demo_main([str(folder), "--user=nobody"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
