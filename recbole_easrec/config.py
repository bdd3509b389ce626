"""RecBole's ``Config`` extended to find this plugin's models and YAML defaults.

Merge order (later wins), as in RecBole, with our files after RecBole's own internal ones:
RecBole internal (overall → model → dataset → sequential quick-start) < our ``properties/overall.yaml``
< our ``properties/model/<Model>.yaml`` < our ``properties/dataset/<dataset>.yaml``
< ``config_file_list`` < ``config_dict``.

Unlike RecBole's ``Config``, this one does not read ``sys.argv``: the entry script parses the
command line and passes the overrides as ``config_dict`` (no hidden global input).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import recbole
from recbole.config import Config

from recbole_easrec.budget import validate_budget
from recbole_easrec.defaults import PROPERTIES_DIR, fill_missing_defaults, read_yaml_file
from recbole_easrec.errors import ConfigError, UserError
from recbole_easrec.precision import validate_precision
from recbole_easrec.registry import resolve_model
from recbole_easrec.training_modes import TRAIN_MODES
from recbole_easrec.validation import (
    require_choice,
    require_divisible,
    require_non_negative,
    require_positive_int,
    require_positive_number,
    require_probability,
)

__all__ = [
    "PROPERTIES_DIR",
    "EasRecConfig",
    "build_config",
    "fill_missing_defaults",
    "read_yaml_file",
    "require_choice",
    "require_divisible",
    "require_positive_int",
    "require_probability",
    "validate_run_config",
]


class EasRecConfig(Config):
    """``recbole.config.Config`` that resolves plugin models first and loads plugin YAML defaults."""

    def _load_cmd_line(self) -> dict[str, Any]:
        return {}

    def _load_config_files(self, file_list: Iterable[str] | None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for file in file_list or []:
            merged.update(read_yaml_file(file, self.yaml_loader))
        return merged

    def _get_model_and_dataset(self, model: Any, dataset: str | None) -> tuple[str, type, str]:
        model = self.external_config_dict.get("model") if model is None else model
        dataset = self.external_config_dict.get("dataset") if dataset is None else dataset
        if model is None:
            raise ConfigError("no model given: pass --model=NAME (e.g. --model=LinRec)")
        if dataset is None:
            raise ConfigError("no dataset given: pass --dataset=NAME (e.g. --dataset=ml-100k)")
        model_class = model if isinstance(model, type) else resolve_model(str(model))
        return model_class.__name__, model_class, str(dataset)

    def _load_internal_config_dict(self, model: str, model_class: type, dataset: str) -> None:
        super()._load_internal_config_dict(model, model_class, dataset)
        for file in (
            PROPERTIES_DIR / "overall.yaml",
            PROPERTIES_DIR / "model" / f"{model}.yaml",
            PROPERTIES_DIR / "dataset" / f"{dataset}.yaml",
        ):
            if file.is_file():
                self.internal_config_dict.update(read_yaml_file(file, self.yaml_loader))
        if not has_dataset_yaml(dataset):
            self.internal_config_dict["load_col"] = default_sequential_load_col(
                self.internal_config_dict
            )


def has_dataset_yaml(dataset: str) -> bool:
    """Whether RecBole or this plugin ships ``properties/dataset/<dataset>.yaml``."""
    recbole_file = Path(recbole.__file__).parent / "properties" / "dataset" / f"{dataset}.yaml"
    return recbole_file.is_file() or (PROPERTIES_DIR / "dataset" / f"{dataset}.yaml").is_file()


def default_sequential_load_col(settings: Mapping[str, Any]) -> dict[str, list[str]]:
    """User, item and time columns of the ``.inter`` file.

    RecBole's default ``load_col`` loads only user and item ids, and our chronological split
    (``order: TO``) then fails to sort by time; datasets without a YAML of their own get this.
    """
    fields = ("USER_ID_FIELD", "ITEM_ID_FIELD", "TIME_FIELD")
    return {"inter": [settings.get(key) or key.split("_")[0].lower() for key in fields]}


def build_config(
    model: str | type,
    dataset: str,
    config_file_list: list[str] | None = None,
    config_dict: Mapping[str, Any] | None = None,
) -> EasRecConfig:
    """Build the resolved config; RecBole's own errors become one-line :class:`UserError` s."""
    try:
        return EasRecConfig(
            model=model,
            dataset=dataset,
            config_file_list=config_file_list,
            config_dict=dict(config_dict or {}),
        )
    except UserError:
        raise
    except (KeyError, ValueError, TypeError, NotImplementedError) as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None


def validate_run_config(config: Any) -> None:
    """Check the training settings, then the model's own (``model_class.validate_config``).

    Runs before any data is loaded or any folder is created, so a bad value costs nothing.
    """
    require_positive_int(config, "train_batch_size", "eval_batch_size", "eval_step")
    require_non_negative(config, "epochs", integer=True)
    require_positive_number(config, "learning_rate")
    validate_budget(config)
    validate_eval_modes(config)
    validate_precision(config)
    require_choice(config, "train_mode", TRAIN_MODES)
    if config["train_mode"] == "autoregressive" and not getattr(
        config.model_class, "supports_autoregressive", False
    ):
        raise ConfigError(
            f"train_mode: autoregressive is not available for {config['model']}; use prefix"
            " (RecBole's protocol) or one of this plugin's transformer models"
        )
    validate_model_config = getattr(config.model_class, "validate_config", None)
    if validate_model_config is not None:
        validate_model_config(config)


EVAL_MODE = re.compile(r"full|full_filtered|(uni|pop)[1-9][0-9]*")


def validate_eval_modes(config: Any) -> None:
    """``extra_eval_modes`` lists RecBole evaluation modes: ``full``, ``uniN`` or ``popN``, or
    ``full_filtered`` (full ranking without each user's input items)."""
    modes = config["extra_eval_modes"] or []
    if not isinstance(modes, (list, tuple)) or not all(
        isinstance(mode, str) and EVAL_MODE.fullmatch(mode) for mode in modes
    ):
        raise ConfigError(
            "extra_eval_modes must be a list of evaluation modes such as [full, full_filtered,"
            " uni100, pop100],"
            f" got {modes!r}"
        )
