"""Named configurations shipped beside the models' defaults (``properties/model/<Model>-<name>.yaml``,
used with ``--config_files``): each loads, every value it sets reaches the resolved config, and the
model's and trainer's checks accept it."""

from __future__ import annotations

from pathlib import Path

import pytest

from recbole_easrec.config import build_config
from recbole_easrec.defaults import PROPERTIES_DIR, read_yaml_file
from recbole_easrec.registry import resolve_model
from recbole_easrec.trainer import validate_trainer_config

NAMED = sorted((PROPERTIES_DIR / "model").glob("*-*.yaml"))


def test_the_papers_easrec_configuration_is_shipped():
    assert PROPERTIES_DIR / "model" / "EASRec-paper.yaml" in NAMED


@pytest.mark.parametrize("path", NAMED, ids=lambda p: p.stem)
def test_a_named_configuration_loads_and_validates(path: Path):
    model = path.stem.split("-")[0]
    config = build_config(model, "ml-100k", config_file_list=[str(path)])
    for key, value in read_yaml_file(path).items():
        assert config[key] == value, key
    resolve_model(model).validate_config(config)
    validate_trainer_config(config)
