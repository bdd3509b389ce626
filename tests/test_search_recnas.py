"""``search_method: recnas``: annealed temperature, progressive pruning, the choice."""

from __future__ import annotations

import pytest
import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.methods.recnas import (
    PRUNED_LOGIT,
    alive,
    annealed_temperature,
    pin_pruned,
    weakest_candidate,
)
from tests.test_easrec import build_config_for, validate_easrec

pytestmark = pytest.mark.usefixtures("one_thread")


def test_temperature_anneals_geometrically_to_its_floor() -> None:
    temperatures = [annealed_temperature(e, 0.5, 0.1) for e in range(6)]
    assert temperatures[:4] == [1.0, 0.5, 0.25, 0.125] and temperatures[4:] == [0.1, 0.1]


def test_the_weakest_is_pruned_only_when_weak_enough_and_never_the_last() -> None:
    assert weakest_candidate(torch.zeros(3), 0.5) is None  # uniform: nobody below half a share
    logits = torch.tensor([1.0, 0.0, -3.0])
    assert weakest_candidate(logits, 0.5) == 2
    pin_pruned(logits, [2])
    assert alive(logits) == [0, 1] and logits[2] == PRUNED_LOGIT
    assert torch.softmax(logits, 0)[2] == 0.0  # its Gumbel weight is exactly zero
    assert weakest_candidate(torch.tensor([0.0, PRUNED_LOGIT]), 1.0) is None  # one left


@pytest.mark.parametrize(
    "overrides", [{"recnas_anneal": 0}, {"recnas_tau_min": 1.5}, {"recnas_prune_ratio": "x"}]
)
def test_invalid_recnas_settings_are_one_line_errors(tiny_run_config, tmp_path, overrides):
    config = build_config_for(tiny_run_config, tmp_path, search_method="recnas", **overrides)
    with pytest.raises(ConfigError) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


def test_recnas_end_to_end_prunes_and_never_picks_a_pruned_path(tiny_run_config) -> None:
    config_dict = tiny_run_config(
        epochs=3,
        retrain_epochs=1,
        n_layers=3,
        search_method="recnas",
        recnas_prune_ratio=1.0,  # prune the weakest whenever it is below the uniform share
        train_batch_size=16,
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    pruned = result["recnas_pruned"]
    assert pruned and {event["group"] for event in pruned} <= {"width", "depth"}
    arch = result["architecture"]
    assert arch["search_method"] == "recnas"
    for event in pruned:
        probabilities = arch["alpha"] if event["group"] == "width" else arch["beta"]
        assert probabilities[event["index"]] == 0.0
    assert {"group": "width", "index": arch["candidate"]} not in [
        {"group": e["group"], "index": e["index"]} for e in pruned
    ]
    assert {"group": "depth", "index": arch["n_layers"] - 1} not in [
        {"group": e["group"], "index": e["index"]} for e in pruned
    ]
