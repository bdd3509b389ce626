"""``search_from``: a run re-picks from a finished search under its own budget, without searching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.methods.base import SearchMethod
from recbole_easrec.search.searched import SEARCH_FILE, SUPERNET_FILE
from recbole_easrec.trainer import easrec as easrec_trainer


def result_of(folder: Path) -> dict:
    return json.loads((folder / "result.json").read_text(encoding="utf-8"))


def searched_run(tiny_data: Path, folder: Path, **overrides: object) -> dict:
    settings = tiny_config(tiny_data, folder, n_layers=2, retrain_epochs=1, **overrides)
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    return settings


@pytest.mark.parametrize("method", ["paper", "sandwich"])
def test_a_run_re_picks_from_a_finished_search_under_its_own_budget(
    tiny_data: Path, tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "parent"
    searched_run(tiny_data, parent, search_method=method)
    assert (parent / SEARCH_FILE).is_file() and (parent / SUPERNET_FILE).is_file()
    first = result_of(parent)
    child = tmp_path / "child"

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("the search ran again")

    monkeypatch.setattr(SearchMethod, "search", no_search)
    searched_run(tiny_data, child, search_method=method, search_from=str(parent), flops_budget=0.2)
    second = result_of(child)
    # the parent's search: its trace and shared-weight scores
    assert second["shared_weight_scores"] == first["shared_weight_scores"]
    assert second["search_iterations"] == first["search_iterations"] > 0
    # the choice obeys the child's budget, among the parent's searched architectures
    assert second["architecture"]["flops_fraction"] <= 0.2
    assert second["architecture"]["flops_budget"] == 0.2
    scores = {(s["candidate"], s["n_layers"]): s for s in first["shared_weight_scores"]}
    if method == "sandwich":  # chooses by shared-weight scores: the best within the budget
        eligible = [s["valid_score"] for s in scores.values() if s["flops_fraction"] <= 0.2]
        chosen = scores[(second["architecture"]["candidate"], second["architecture"]["n_layers"])]
        assert chosen["valid_score"] == max(eligible)
    else:  # the same α and β as the parent's search
        assert second["architecture"]["alpha"] == first["architecture"]["alpha"]
        assert second["architecture"]["beta"] == first["architecture"]["beta"]


def test_search_from_refuses_other_search_settings_and_budgeted_searches(
    tiny_data: Path, tmp_path: Path
) -> None:
    parent = tmp_path / "parent"
    searched_run(tiny_data, parent)
    other = tiny_config(
        tiny_data, tmp_path / "other", n_layers=2, search_from=str(parent), resource_lambda=0.5
    )
    with pytest.raises(ConfigError, match="searched with other settings .*resource_lambda"):
        run_recbole_easrec("EASRec", "tiny", config_dict=other)
    missing = tiny_config(tiny_data, tmp_path / "x", n_layers=2, search_from=str(tmp_path / "no"))
    with pytest.raises(ConfigError, match="holds no finished search"):
        run_recbole_easrec("EASRec", "tiny", config_dict=missing)
    for method in ("random", "oneshot"):
        budgeted = tiny_config(
            tiny_data, tmp_path / method, search_method=method, search_from=str(parent)
        )
        with pytest.raises(ConfigError, match=f"cannot re-pick a {method} search"):
            run_recbole_easrec("EASRec", "tiny", config_dict=budgeted)


def test_a_corrupt_search_record_is_a_one_line_error(tiny_data: Path, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    searched_run(tiny_data, parent)
    record = json.loads((parent / SEARCH_FILE).read_text(encoding="utf-8"))
    del record["trace"]
    (parent / SEARCH_FILE).write_text(json.dumps(record), encoding="utf-8")
    again = tiny_config(tiny_data, tmp_path / "again", n_layers=2, search_from=str(parent))
    with pytest.raises(ConfigError, match="search.json lacks trace; search again"):
        run_recbole_easrec("EASRec", "tiny", config_dict=again)


def test_a_re_pick_distils_from_the_parents_searched_supernet(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """search_from with retrain_distill (search_cpu's paper-distill): the teacher is the
    parent's searched supernet, loaded, and the retraining carries the distillation loss."""
    parent = tmp_path / "parent"
    searched_run(tiny_data, parent)
    searched = torch.load(parent / SUPERNET_FILE, weights_only=True)
    teachers: list[dict[str, torch.Tensor]] = []
    original = easrec_trainer.retraining_loss

    def recording(config: object, compact: object, supernet: torch.nn.Module, largest: object):
        teachers.append({k: v.clone() for k, v in supernet.state_dict().items()})
        loss = original(config, compact, supernet, largest)
        assert loss is not None  # the retraining distils
        return loss

    monkeypatch.setattr(easrec_trainer, "retraining_loss", recording)
    child = tmp_path / "child"
    searched_run(tiny_data, child, search_from=str(parent), retrain_distill=True)
    assert len(teachers) == 1 and teachers[0].keys() == searched.keys()
    assert all(torch.equal(teachers[0][k], searched[k]) for k in searched)
    assert result_of(child)["config"]["retrain_distill"] is True
