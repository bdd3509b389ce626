"""RecBole's feature-aware models (FDSA, SASRecF, GRU4RecF) without their item features: the same
one-line error as our LinFDSA and LinSASRecF, never RecBole's bare ``KeyError: 'class'``."""

from __future__ import annotations

import pytest

from recbole_easrec.cli import main
from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

FEATURE_MODELS = ["FDSA", "SASRecF", "GRU4RecF", "LinFDSA", "LinSASRecF"]
ITEM_FIELDS = {
    "inter": ["user_id", "item_id", "timestamp"],
    "item": ["item_id", "category", "tags"],
}


def cli_error(capsys, data_path, output_dir, model: str, *settings: str) -> str:
    """The ``error:`` line of a command that must end with exit status 2 (the last line of
    stderr, after any data warnings; no traceback)."""
    argv = [
        f"--model={model}",
        "--dataset=tiny",
        f"--data_path={data_path}",
        f"--output_dir={output_dir}",
        "--epochs=1",
        "--state=WARNING",
        "--show_progress=False",
        *settings,
    ]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:]
    assert not any("Traceback" in line for line in lines)
    return lines[-1]


def test_a_dataset_without_the_feature_field_is_the_same_one_line_error(
    tiny_data, tmp_path, capsys
):
    """The cycle dataset has no ``.item`` file: every model that embeds ``class`` says what is
    missing and how to load it, word for word as LinSASRecF does, and trains nothing."""
    errors = {
        model: cli_error(capsys, tiny_data, tmp_path / model, model) for model in FEATURE_MODELS
    }
    assert errors["FDSA"].startswith("error: selected_features ['class'] are not loaded: add them")
    assert "load_col" in errors["FDSA"]
    assert set(errors.values()) == {errors["LinSASRecF"]}
    for model in FEATURE_MODELS:
        assert not (tmp_path / model / "result.json").exists()


def test_an_unloaded_feature_is_named(tmp_path, capsys):
    data_path = write_cycle_dataset(tmp_path / "data", with_item_features=True)
    err = cli_error(
        capsys,
        data_path,
        tmp_path / "run",
        "SASRecF",
        f"--load_col={ITEM_FIELDS}",
        "--selected_features=['category', 'colour']",
    )
    assert err.startswith("error: selected_features ['colour'] are not loaded")


def test_selected_features_that_are_not_a_list_are_a_one_line_error(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data", with_item_features=True)
    settings = tiny_config(
        data_path, tmp_path / "run", load_col=ITEM_FIELDS, selected_features="category"
    )
    with pytest.raises(ConfigError, match=r"FDSA needs selected_features as a list") as raised:
        run_recbole_easrec("FDSA", "tiny", config_dict=settings)
    assert "\n" not in str(raised.value)


# A feature model with its features loaded still trains: tests/test_compat.py::test_fdsa_checkpoint_reloads
