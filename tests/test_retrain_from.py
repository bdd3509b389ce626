"""``retrain_from``: retraining starts from the supernet's weights (eq. 18) or from fresh ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec


def retrained_weights(tiny_data: Path, parent: Path, folder: Path, start: str) -> dict:
    """The saved compact network of a run re-picking ``parent``'s search, not retrained."""
    settings = tiny_config(
        tiny_data, folder, n_layers=2, retrain_epochs=0, search_from=str(parent), retrain_from=start
    )
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    return torch.load(folder / "model.pt", weights_only=True)


def test_retraining_starts_from_the_searched_weights_or_from_fresh_ones(
    tiny_data: Path, tmp_path: Path
) -> None:
    parent = tmp_path / "parent"
    settings = tiny_config(tiny_data, parent, n_layers=2, retrain_epochs=1)
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    searched = retrained_weights(tiny_data, parent, tmp_path / "supernet", "supernet")
    again = retrained_weights(tiny_data, parent, tmp_path / "supernet2", "supernet")
    fresh = retrained_weights(tiny_data, parent, tmp_path / "scratch", "scratch")
    assert searched.keys() == fresh.keys()
    # the searched weights are the same path of the same supernet each time
    assert all(torch.equal(searched[key], again[key]) for key in searched)
    # fresh weights: every matrix drawn again (normal, std initializer_range), LayerNorm reset
    embedding = "item_embedding.weight"
    assert not torch.equal(fresh[embedding], searched[embedding])
    assert fresh[embedding][1:].std().item() == pytest.approx(0.02, rel=0.2)
    norms = [key for key in fresh if key.endswith("layer_norm.weight")]
    assert norms and all(torch.all(fresh[key] == 1) for key in norms)
    assert not all(torch.all(searched[key] == 1) for key in norms)
    # the run still reports the transferred network's validation score, measured before the reset
    transferred = [
        json.loads((tmp_path / name / "result.json").read_text(encoding="utf-8"))
        for name in ("supernet", "scratch")
    ]
    assert transferred[0]["search_valid_result"] == transferred[1]["search_valid_result"]


def test_an_unknown_retrain_from_is_a_one_line_error(tiny_data: Path, tmp_path: Path) -> None:
    settings = tiny_config(tiny_data, tmp_path, retrain_from="pretrained")
    with pytest.raises(ConfigError, match="retrain_from") as error:
        run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    assert "\n" not in str(error.value)
