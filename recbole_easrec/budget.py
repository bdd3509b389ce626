"""A wall-clock budget for training (``max_train_seconds``).

Benchmarks at the papers' settings (e.g. ML-1M, N = 200) must end in a known time on whatever
machine runs them. ``max_train_seconds: S`` lets every training phase run whole epochs until S
seconds have passed since the phase began; the epoch under way then finishes (with its validation),
no new one starts, and the best checkpoint so far is the result — as if early stopping had fired.
``~`` (the default) means no budget. EASRec's search and retraining are separate phases, each with
its own budget.

The budget is enforced by :class:`BudgetedLoader`, which wraps the training dataloader and refuses
to start a new pass once the deadline has passed; every trainer iterates its training data, so one
wrapper serves them all (RecBole's, ours, EASRec's bilevel loop).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from recbole_easrec.errors import ConfigError


class TrainingBudgetSpent(Exception):
    """Raised when a new epoch would start after the training deadline."""


def validate_budget(config: Any) -> None:
    """``max_train_seconds`` must be ``None`` (no budget) or a positive number."""
    value = config["max_train_seconds"]
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(
            f"max_train_seconds must be a positive number of seconds or ~ (no budget), got {value!r}"
        )


class BudgetedLoader:
    """``train_data`` that raises :class:`TrainingBudgetSpent` when a pass starts too late.

    Attributes other than iteration and length are those of the wrapped loader, so RecBole's
    trainers use it unchanged.
    """

    def __init__(self, train_data: Any, seconds: float, clock: Any = time.monotonic) -> None:
        self._train_data = train_data
        self._clock = clock
        self.seconds = float(seconds)
        self.deadline = clock() + self.seconds
        self.passes = 0

    def __len__(self) -> int:
        return len(self._train_data)

    def __iter__(self) -> Iterator[Any]:
        if self.passes and self._clock() >= self.deadline:
            raise TrainingBudgetSpent(
                f"training budget of {self.seconds:g} s spent after {self.passes} epoch(s)"
            )
        self.passes += 1
        return iter(self._train_data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._train_data, name)
