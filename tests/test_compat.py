"""The compatibility module: RecBole 1.2.1 on NumPy 2, pandas 3 and torch ≥ 2.6."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from recbole.data import create_dataset

import recbole_easrec  # noqa: F401  (applies the fixes)
from recbole_easrec import compat
from recbole_easrec.config import build_config
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset


def test_numpy_aliases_restored():
    assert np.float_ is np.float64
    assert np.complex_ is np.complex128
    assert np.float is float


def test_apply_twice_is_harmless():
    compat.apply()
    compat.apply()
    from recbole.trainer import Trainer

    assert Trainer._save_checkpoint is compat._save_checkpoint


def test_recbole_checkpoint_loads_with_weights_only(tiny_run_config, tmp_path):
    run_recbole_easrec("SASRec", "tiny", config_dict=tiny_run_config(epochs=1))
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pth", weights_only=True)
    assert checkpoint["config"]["model"] == "SASRec"
    assert "state_dict" in checkpoint and checkpoint["epoch"] == 0


def test_missing_feature_values_are_filled(tmp_path):
    """Under pandas ≥ 3 RecBole's inplace fillna is a no-op; our fix must fill every gap."""
    data_path = write_cycle_dataset(tmp_path / "data", with_item_features=True)
    settings = tiny_config(data_path)
    settings["load_col"] = {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "category", "price", "tags"],
    }
    dataset = create_dataset(build_config("SASRec", "tiny", config_dict=settings))
    items = dataset.item_feat
    items = items[items["item_id"] > 0]  # row of the padding id, if present
    original = [int(dataset.id2token("item_id", i)[1:]) for i in items["item_id"]]
    number = np.array(original)
    prices = items["price"].to_numpy()
    assert not np.isnan(prices).any()
    known = number % 5 != 0
    assert np.allclose(prices[~known], (number[known] * 1.5).mean())
    categories = items["category"].to_numpy()
    assert (categories[number % 7 == 0] == 0).all()
    assert (categories[number % 7 != 0] > 0).all()
    tag_counts = np.array([len(tags) for tags in items["tags"]])
    assert (tag_counts[number % 4 == 0] == 0).all()
    assert (tag_counts[number % 4 != 0] == 2).all()
    first_tags = [dataset.id2token("tags", t).tolist() for t in items["tags"].iloc[:3]]
    assert all(
        tokens == [f"t{n % 2}", f"t{n % 5}"] or n % 4 == 0
        for n, tokens in zip(original, first_tags)
    )


def test_unpatched_fill_would_leave_nan(tmp_path):
    """Guards the test above: the original RecBole method really is broken here."""
    import pandas as pd

    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("copy-on-write is the default only from pandas 3")
    frame = pd.DataFrame({"price": [1.0, None, 3.0]})
    with pytest.warns(Warning):
        frame["price"].fillna(value=2.0, inplace=True)
    assert frame["price"].isna().any()


def test_fdsa_checkpoint_reloads(tmp_path):
    """FDSA keeps a module in ``other_parameter``; its best checkpoint must still reload."""
    data_path = write_cycle_dataset(tmp_path / "data", with_item_features=True)
    settings = tiny_config(
        data_path,
        tmp_path / "run",
        epochs=1,
        load_col={"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "category"]},
        selected_features=["category"],
    )
    result = run_recbole_easrec("FDSA", "tiny", config_dict=settings)
    assert 0 <= result["test_result"]["ndcg@10"] <= 1
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pth", weights_only=True)
    assert checkpoint["other_parameter"] is None


def test_recbole_trainer_grad_scaler_does_not_warn():
    """Issue 30, item 8: ``torch.cuda.amp.GradScaler(...)`` warned FutureWarning on every run."""
    import warnings

    import recbole.trainer.trainer as trainer_module

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = trainer_module.amp.GradScaler(enabled=False)
    assert not scaler.is_enabled()


def test_interaction_tensors_do_not_share_pandas_read_only_arrays():
    """Issue 30, item 8: torch shared pandas 3's read-only arrays (a UserWarning on every run)."""
    import types

    import pandas as pd
    from recbole.data.dataset import Dataset
    from recbole.utils import FeatureType

    frame = pd.DataFrame({"user_id": np.arange(4, dtype=np.int64)})
    column = frame["user_id"].to_numpy()
    fake = types.SimpleNamespace(
        field2type={"user_id": FeatureType.TOKEN}, config={"numerical_features": []}
    )
    interaction = Dataset._dataframe_to_interaction(fake, frame)
    tensor = interaction["user_id"]
    assert tensor.tolist() == [0, 1, 2, 3]
    tensor[0] = 7  # writing the tensor must not write into the frame
    assert frame["user_id"].tolist() == [0, 1, 2, 3]
    assert tensor.data_ptr() != column.__array_interface__["data"][0] or column.flags.writeable
