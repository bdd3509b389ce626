"""The plugin's YAML defaults (``properties/``): where they are, how they are read, and how a config
built without :class:`~recbole_easrec.config.EasRecConfig` gets them.

Models import this module, not :mod:`recbole_easrec.config`, so that ``config → registry → model``
never loops back (issue 16).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from recbole_easrec.errors import ConfigError

PROPERTIES_DIR = Path(__file__).resolve().parent / "properties"


def fill_missing_defaults(config: Any, model_class: type) -> None:
    """Give ``config`` the plugin defaults it lacks, for a config built without :class:`EasRecConfig`.

    RecBole's own ``Config(model=LinRec, ...)`` looks for model YAML only inside RecBole, so our
    models would miss their keys; they call this first. Existing values are never replaced. Files:
    ``properties/overall.yaml`` then ``properties/model/<Class>.yaml`` for each class in the model's
    hierarchy, most general first.
    """
    files = [PROPERTIES_DIR / "overall.yaml"]
    files += [
        PROPERTIES_DIR / "model" / f"{cls.__name__}.yaml" for cls in reversed(model_class.__mro__)
    ]
    defaults: dict[str, Any] = {}
    for file in files:
        if file.is_file():
            defaults.update(read_yaml_file(file))
    for key, value in defaults.items():
        if key not in config:
            config[key] = value


def read_yaml_file(path: str | os.PathLike[str], loader: Any = yaml.SafeLoader) -> dict[str, Any]:
    """Read a YAML mapping; a missing or malformed file is a one-line :class:`ConfigError`."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.load(handle.read(), Loader=loader)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path} is not valid YAML ({problem})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value lines")
    return content
