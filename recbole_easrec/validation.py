"""One-line checks of config values, used by the models and by :mod:`recbole_easrec.config`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recbole_easrec.errors import ConfigError


def require_positive_int(config: Any, *keys: str) -> None:
    """Each key must hold an int ≥ 1."""
    for key in keys:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value!r}")


def require_probability(config: Any, *keys: str) -> None:
    """Each key must hold a number in [0, 1) (dropout rates)."""
    for key in keys:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"{key} must be a number in [0, 1), got {value!r}")


def require_choice(config: Any, key: str, choices: Iterable[str]) -> None:
    """The key must hold one of ``choices``."""
    choices = tuple(choices)
    if config[key] not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {config[key]!r}")


def require_divisible(config: Any, key: str, divisor_key: str) -> None:
    """``config[key]`` must be a multiple of ``config[divisor_key]`` (e.g. hidden size by heads)."""
    if config[key] % config[divisor_key] != 0:
        raise ConfigError(
            f"{key} ({config[key]}) must be divisible by {divisor_key} ({config[divisor_key]})"
        )


def require_non_negative(config: Any, key: str, integer: bool = False) -> None:
    """The key must hold a number (``integer``: an int) ≥ 0."""
    value = config[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{key} must be {kind} >= 0, got {value!r}")


def require_bool(config: Any, *keys: str) -> None:
    """Each key must hold True or False (not 0/1 or a string)."""
    for key in keys:
        if not isinstance(config[key], bool):
            raise ConfigError(f"{key} must be True or False, got {config[key]!r}")


def require_positive_number(config: Any, *keys: str) -> None:
    """Each key must hold a number > 0 (learning rates, temperatures)."""
    for key in keys:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{key} must be a positive number, got {value!r}")
