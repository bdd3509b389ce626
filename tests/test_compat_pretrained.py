"""Compat fix: pretrained files (S3Rec, NeuMF, ConvNCF, NAIS, RaCT, KD_DAGFM) under torch ≥ 2.6.

S3Rec's pretraining checkpoints pickled the whole ``Config`` and NeuMF's ``dump_parameters`` the
whole model, which ``torch.load`` refuses under ``weights_only=True`` (torch ≥ 2.6's default): the
fine-tune stages could not start. The models now read tensors and plain values only, and a file
that holds pickled objects, or none at all, is a one-line :class:`CheckpointError`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_trainer

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec import compat
from recbole_easrec.config import build_config
from recbole_easrec.errors import CheckpointError
from tests.conftest import tiny_config, write_cycle_dataset


class Pickled:
    """Stands for RecBole's ``Config``: an object ``weights_only`` loading refuses."""


def pickled_checkpoint(path: Path) -> Path:
    torch.save({"config": Pickled(), "state_dict": {}}, path)
    return path


def s3rec_settings(data_path: Path, tmp_path: Path, **overrides: object) -> dict:
    settings = tiny_config(data_path, train_neg_sample_args=None, item_attribute="tags")
    settings["load_col"] = {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "tags"],
    }
    settings.update(checkpoint_dir=str(tmp_path / "saved"), pretrain_epochs=1, save_step=1)
    settings.update(overrides)
    return settings


def test_s3rec_pretrain_then_finetune(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data", with_item_features=True)
    config = build_config("S3Rec", "tiny", config_dict=s3rec_settings(data_path, tmp_path))
    dataset = create_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    model_class = importlib.import_module("recbole.model.sequential_recommender").S3Rec
    pretrained = model_class(config, train.dataset)
    trainer = get_trainer(config["MODEL_TYPE"], "S3Rec")(config, pretrained)
    trainer.fit(train, None, verbose=False)
    saved = Path(trainer.saved_model_file)
    assert saved.name == "S3Rec-tiny-1.pth"
    state = torch.load(saved, weights_only=True)
    assert state["config"]["model"] == "S3Rec" and state["epoch"] == 0
    settings = s3rec_settings(
        data_path, tmp_path, train_stage="finetune", pre_model_path=str(saved)
    )
    finetune = model_class(build_config("S3Rec", "tiny", config_dict=settings), train.dataset)
    for name, tensor in pretrained.state_dict().items():
        assert torch.equal(finetune.state_dict()[name], tensor), name


def test_neumf_pretrained_parts_round_trip(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data")
    paths = {
        "mf_pretrain_path": str(tmp_path / "mf.pth"),
        "mlp_pretrain_path": str(tmp_path / "mlp.pth"),
    }
    neumf = importlib.import_module("recbole.model.general_recommender").NeuMF
    config = build_config("NeuMF", "tiny", config_dict=tiny_config(data_path, **paths))
    dataset = create_dataset(config)
    parts = {}
    for part, flags in (("mf", (True, False)), ("mlp", (False, True))):
        settings = tiny_config(data_path, mf_train=flags[0], mlp_train=flags[1], **paths)
        parts[part] = neumf(build_config("NeuMF", "tiny", config_dict=settings), dataset)
        parts[part].dump_parameters()
        assert isinstance(torch.load(paths[f"{part}_pretrain_path"], weights_only=True), dict)
    settings = tiny_config(data_path, use_pretrain=True, **paths)
    combined = neumf(build_config("NeuMF", "tiny", config_dict=settings), dataset)
    assert torch.equal(combined.user_mf_embedding.weight, parts["mf"].user_mf_embedding.weight)
    assert torch.equal(combined.item_mlp_embedding.weight, parts["mlp"].item_mlp_embedding.weight)


def convncf_after(data_path: Path, pre_model_path: Path):
    from recbole.model.general_recommender import ConvNCF

    settings = tiny_config(
        data_path, train_method="after_pretrain", pre_model_path=str(pre_model_path)
    )
    config = build_config("ConvNCF", "tiny", config_dict=settings)
    return ConvNCF(config, create_dataset(config))


def test_convncf_loads_a_bpr_checkpoint_saved_by_recbole(tmp_path):
    from recbole.model.general_recommender import BPR
    from recbole.trainer import Trainer

    data_path = write_cycle_dataset(tmp_path / "data")
    settings = tiny_config(data_path, checkpoint_dir=str(tmp_path / "saved"))
    config = build_config("BPR", "tiny", config_dict=settings)
    bpr = BPR(config, create_dataset(config))
    trainer = Trainer(config, bpr)
    trainer._save_checkpoint(0, verbose=False)
    model = convncf_after(data_path, Path(trainer.saved_model_file))
    assert torch.equal(model.item_embedding.weight, bpr.item_embedding.weight)


def test_pickled_pretrained_file_is_a_one_line_error(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data")
    path = pickled_checkpoint(tmp_path / "old.pth")
    with pytest.raises(CheckpointError, match="weights_only=True") as caught:
        convncf_after(data_path, path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_missing_pretrained_file_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as caught:
        compat.load_pretrained(tmp_path / "absent.pth")
    assert "\n" not in str(caught.value) and "pre_model_path" in str(caught.value)


@pytest.mark.parametrize("module_name", compat.PRETRAINED_LOADERS)
def test_every_pretrained_loader_uses_weights_only(module_name, tmp_path):
    module = importlib.import_module(module_name)
    assert module.torch.load is compat.load_pretrained
    assert module.torch.cat is torch.cat  # everything else is torch itself
    with pytest.raises(CheckpointError):
        module.torch.load(pickled_checkpoint(tmp_path / "old.pth"))
