"""RecBole's own save/reload round trip with the plugin imported (issue 30, item 1).

``recbole.quick_start.load_data_and_model`` must rebuild a RecBole SASRec checkpoint written by
``run_recbole`` and a LinRec checkpoint of ours, and ``full_sort_topk`` must run on the result;
the checkpoints stay loadable with ``weights_only=True`` (plain values, one allow-listed rebuild
function for the config).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from recbole.utils.case_study import full_sort_topk

import recbole_easrec
from recbole_easrec.errors import CheckpointError
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

RECBOLE_SETTINGS = {
    "epochs": 1,
    "train_neg_sample_args": None,
    "hidden_size": 16,
    "inner_size": 32,
    "n_layers": 1,
    "n_heads": 2,
    "MAX_ITEM_LIST_LENGTH": 10,
    "show_progress": False,
    "state": "WARNING",
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A checkpoint of RecBole's ``run_recbole`` (SASRec) and one of our LinRec run."""
    from recbole.quick_start import run_recbole

    base = tmp_path_factory.mktemp("checkpoints")
    data_path = write_cycle_dataset(base / "data")
    saved = base / "recbole-saved"
    run_recbole(
        model="SASRec",
        dataset="tiny",
        config_dict={**RECBOLE_SETTINGS, "data_path": str(data_path), "checkpoint_dir": str(saved)},
    )
    (recbole_file,) = saved.glob("SASRec-*.pth")
    ours = run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_config(data_path, base / "linrec", epochs=1)
    )
    return {"SASRec": recbole_file, "LinRec": Path(ours["output_dir"]) / "checkpoint.pth"}


@pytest.mark.parametrize("model", ["SASRec", "LinRec"])
def test_recbole_load_data_and_model_rebuilds_the_run(checkpoints, model, monkeypatch, tmp_path):
    from recbole.quick_start import load_data_and_model

    monkeypatch.chdir(tmp_path)  # RecBole's init_logger writes ./log/
    path = checkpoints[model]
    config, loaded, dataset, _, _, test_data = load_data_and_model(str(path))
    assert config["model"] == model and config["seed"] == 2020
    assert "Hyper Parameters" in str(config)  # RecBole logs the config: it must print
    saved = torch.load(path, weights_only=True)["state_dict"]
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor.cpu(), saved[name].cpu()), name
    users = dataset.token2id(dataset.uid_field, ["u1", "u2"])
    scores, items = full_sort_topk(users, loaded, test_data, k=5, device=config["device"])
    assert items.shape == (2, 5) and torch.isfinite(scores).all()


@pytest.mark.parametrize("model", ["SASRec", "LinRec"])
def test_checkpoints_hold_plain_values_only(checkpoints, model):
    path = checkpoints[model]
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
    allowed = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:  # without the plugin's allow-list entry, its rebuild function is the only global left
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    finally:
        torch.serialization.add_safe_globals(allowed)
    assert unsafe == ["recbole_easrec.compat.restore_config"]
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["config"].final_config_dict["model"] == model


def test_our_loader_reads_a_bare_recbole_checkpoint(checkpoints):
    config, model, dataset, _, _, test_data = recbole_easrec.load_data_and_model(
        checkpoints["SASRec"]
    )
    assert config["model"] == "SASRec" and not model.training
    users = dataset.token2id(dataset.uid_field, ["u3"])
    _, items = full_sort_topk(users, model, test_data, k=3, device=config["device"])
    assert items.shape == (1, 3)


def test_a_checkpoint_without_settings_is_a_one_line_error(checkpoints, tmp_path):
    old = torch.load(checkpoints["SASRec"], weights_only=True)
    old["config"] = {"model": "SASRec"}  # what earlier versions wrote
    path = tmp_path / "SASRec-old.pth"
    torch.save(old, path)
    with pytest.raises(CheckpointError, match="holds no settings to rebuild"):
        recbole_easrec.load_data_and_model(path)


def test_get_model_finds_plugin_models_and_still_rejects_unknown_names():
    import recbole.utils

    from recbole_easrec.model import LinRec

    assert recbole.utils.get_model("LinRec") is LinRec
    with pytest.raises((ValueError, ImportError)):  # RecBole's own answer for unknown names
        recbole.utils.get_model("NoSuchModel")
