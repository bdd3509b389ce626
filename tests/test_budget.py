"""``max_train_seconds``: a wall-clock budget per training phase, and the trainer that RecBole's
own models get."""

from __future__ import annotations

import json

import pytest
from recbole.trainer import Trainer

from recbole_easrec.budget import BudgetedLoader, TrainingBudgetSpent
from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.trainer import resolve_trainer
from recbole_easrec.trainer.base import EasRecBaseTrainer


def trained_epochs(log: str) -> int:
    """Epochs that trained, from RecBole's ``epoch k training [time: …, train loss: …]`` lines."""
    return sum("train loss" in line for line in log.splitlines())


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_budgeted_loader_allows_passes_until_the_deadline() -> None:
    clock = FakeClock()
    loader = BudgetedLoader([1, 2, 3], seconds=10, clock=clock)
    assert list(loader) == [1, 2, 3] and len(loader) == 3
    clock.now += 9.9
    assert list(loader) == [1, 2, 3]  # still inside the budget: a second pass starts
    clock.now += 0.1
    with pytest.raises(TrainingBudgetSpent, match="10 s spent after 2 epoch"):
        iter(loader)


def test_budgeted_loader_always_runs_one_pass_and_forwards_attributes() -> None:
    class Loader(list):
        shuffle = True

    clock = FakeClock()
    loader = BudgetedLoader(Loader([7]), seconds=1, clock=clock)
    clock.now += 50  # even a budget spent before training starts lets the first epoch run
    assert list(loader) == [7]
    assert loader.shuffle is True


@pytest.mark.parametrize("model", ["LinRec", "SASRec"])  # ours, and RecBole's own SASRec
def test_budget_stops_training_after_the_first_epoch(tiny_run_config, tmp_path, model) -> None:
    result = run_recbole_easrec(
        model,
        "tiny",
        config_dict=tiny_run_config(epochs=40, max_train_seconds=1e-6, state="INFO"),
    )
    log = (tmp_path / "run" / "run.log").read_text()
    assert trained_epochs(log) == 1
    assert "training budget of 1e-06 s spent after 1 epoch(s)" in log
    assert result["best_valid_result"]  # the epoch that ran was validated and kept
    assert json.loads((tmp_path / "run" / "result.json").read_text())["model"] == model
    assert 0 <= result["test_result"]["ndcg@10"] <= 1


@pytest.mark.parametrize("value", [0, -5, "soon", True])
def test_invalid_budget_is_a_one_line_error(tiny_run_config, value) -> None:
    with pytest.raises(ConfigError, match="max_train_seconds must be a positive number"):
        run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(max_train_seconds=value))


def test_recbole_models_with_the_plain_trainer_get_ours() -> None:
    from recbole.utils import ModelType

    assert resolve_trainer(ModelType.SEQUENTIAL, "SASRec") is EasRecBaseTrainer
    assert issubclass(EasRecBaseTrainer, Trainer)


def test_autoregressive_mode_is_rejected_for_models_without_it(tiny_run_config) -> None:
    with pytest.raises(ConfigError, match="autoregressive is not available for SASRec"):
        run_recbole_easrec(
            "SASRec", "tiny", config_dict=tiny_run_config(train_mode="autoregressive")
        )
