"""Typo detection for ``--key=value`` settings.

RecBole turns every ``--key=value`` into a setting, so a misspelt key (``--epoch=5``) or a misspelt
flag (``--recomend=DIR``) would be silently ignored and a long default run would start. Every key is
checked against the names that RecBole and this plugin know, read at run time from:

- RecBole's ``properties/overall.yaml``, ``properties/model/*.yaml``, ``properties/dataset/*.yaml``
  and ``properties/quick_start_config/*.yaml``;
- this plugin's ``properties/**/*.yaml``;
- RecBole's ``Config`` itself: its argument lists (``recbole.utils.argument_list``) and the keys its
  source sets (``MODEL_TYPE``, ``device``, …);
- the command line's own flags (from the ``argparse`` parser, so new flags are known at once).

An unknown key gives one warning line with the closest known name (:mod:`difflib`); with
``--strict`` it is an error.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import recbole
import yaml

from recbole_easrec.defaults import PROPERTIES_DIR
from recbole_easrec.errors import ConfigError

RECBOLE_DIR = Path(recbole.__file__).resolve().parent
CONFIG_KEY = re.compile(r"""(?:final|internal|external)_config_dict\[\s*["'](\w+)["']\s*\]""")


def yaml_keys(files: Iterable[Path]) -> set[str]:
    """Top-level keys of the YAML mappings in ``files`` (unreadable files are skipped)."""
    keys: set[str] = set()
    for file in files:
        try:
            content = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(content, dict):
            keys.update(str(key) for key in content)
    return keys


def recbole_config_keys() -> set[str]:
    """Keys that RecBole's ``Config`` defines or sets itself."""
    from recbole.utils import argument_list

    keys = {
        name
        for group in (
            "general_arguments",
            "training_arguments",
            "evaluation_arguments",
            "dataset_arguments",
        )
        for name in getattr(argument_list, group, [])
    }
    source = RECBOLE_DIR / "config" / "configurator.py"
    keys.update(CONFIG_KEY.findall(source.read_text(encoding="utf-8")))
    return keys


def known_setting_names() -> set[str]:
    """Every setting name RecBole or this plugin knows (see the module docstring)."""
    properties = RECBOLE_DIR / "properties"
    files = [properties / "overall.yaml"]
    for folder in ("model", "dataset", "quick_start_config"):
        files += sorted((properties / folder).glob("*.yaml"))
    files += sorted(PROPERTIES_DIR.rglob("*.yaml"))
    return yaml_keys(files) | recbole_config_keys()


def parser_names(parser: argparse.ArgumentParser) -> set[str]:
    """The parser's long flags without ``--`` (``output_dir``, ``tune``, …)."""
    return {
        option[2:]
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }


def closest_name(key: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``key`` (case-insensitive), or ``None`` if none is close."""
    by_lower = {name.lower(): name for name in sorted(known)}
    matches = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def unknown_setting_messages(
    keys: Iterable[str], known: set[str], flags: set[str], source: str = "the command line"
) -> list[str]:
    """One message per key that neither ``known`` settings nor ``flags`` hold."""
    messages = []
    for key in keys:
        if key in known or key in flags:
            continue
        suggestion = closest_name(key, known | flags)
        hint = f"; did you mean --{suggestion}?" if suggestion else ""
        messages.append(
            f"unknown setting --{key} on {source} (no RecBole or plugin default, dataset or model"
            f" YAML defines it; it would be ignored){hint}"
        )
    return messages


def check_settings(
    overrides: Mapping[str, object],
    parser: argparse.ArgumentParser,
    config_files: Iterable[str] = (),
    strict: bool = False,
) -> list[str]:
    """Messages for every unknown key of ``overrides`` and of the YAML ``config_files``.

    Returns the warning lines; with ``strict`` the first one is raised as :class:`ConfigError`
    (every unknown key is named in it).
    """
    known = known_setting_names()
    flags = parser_names(parser)
    messages = unknown_setting_messages(overrides, known, flags)
    for file in config_files:
        keys = yaml_keys([Path(file)])
        messages += unknown_setting_messages(sorted(keys), known, flags, source=str(file))
    if strict and messages:
        raise ConfigError(
            " | ".join(messages) + " (--strict: fix the names or drop --strict to only warn)"
        )
    return messages
