"""Where the architecture batches of the bilevel search (EASRec eq. 17, Algorithm 1) come from.

* ``arch_data: valid`` (default, the paper's Algorithm 1): α, β are updated on batches of the
  validation split, and the same split drives early stopping and the choice of the best epoch.
* ``arch_data: holdout``: a fraction ``arch_holdout_ratio`` of the training *users*, drawn with the
  run seed, is held out with all their training samples. The weight steps see only the other users'
  samples; the architecture steps cycle through batches of the held-out samples (in
  ``train_mode: autoregressive`` one sequence per held-out user with a loss at every position, as
  the weight steps). The validation item is then never used to fit α, β. Retraining of the compact
  network uses the whole training split again.

Held-out users are split off RecBole's *augmented* training dataset (one row per prefix, each row
carrying its user id), so RecBole's filtering and leave-one-out split are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from recbole.data.dataloader import TrainDataLoader
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.resume import generator_states, loader_generators, restore_generators
from recbole_easrec.training_modes import autoregressive_loader

ARCH_DATA_CHOICES = ("valid", "holdout")


def validate_arch_data(config: Any) -> None:
    """``arch_data`` in {valid, holdout}; ``arch_holdout_ratio`` a number in (0, 1)."""
    value = config["arch_data"]
    if value not in ARCH_DATA_CHOICES:
        raise ConfigError(
            f"arch_data must be valid (α, β on validation batches) or holdout (on held-out"
            f" training users), got {value!r}"
        )
    ratio = config["arch_holdout_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise ConfigError(f"arch_holdout_ratio must be a number in (0, 1), got {ratio!r}")


def holdout_users(user_ids: Tensor, ratio: float, seed: int) -> Tensor:
    """The sorted ids of ``round(ratio · n_users)`` users (at least 1, at most n_users − 1) drawn
    from the distinct ``user_ids`` with a generator seeded by ``seed``."""
    users = torch.unique(user_ids)
    if len(users) < 2:
        raise ConfigError(
            f"arch_data: holdout needs at least 2 training users, the dataset has {len(users)};"
            " use arch_data: valid"
        )
    count = min(max(int(round(ratio * len(users))), 1), len(users) - 1)
    generator = torch.Generator().manual_seed(int(seed))
    chosen = torch.randperm(len(users), generator=generator)[:count]
    return torch.sort(users[chosen]).values


@dataclass
class HoldoutSplit:
    """The training loader split by users: weights on ``weight_data``, α, β on ``arch_data``."""

    weight_data: TrainDataLoader
    arch_data: TrainDataLoader
    users: Tensor


def _loader_on_rows(train_data: TrainDataLoader, config: Any, rows: Tensor) -> TrainDataLoader:
    """A shuffled ``TrainDataLoader`` on the rows ``rows`` of ``train_data``'s dataset."""
    dataset = train_data._dataset
    subset = dataset.copy(dataset.inter_feat[rows])
    return TrainDataLoader(config, subset, train_data._sampler, shuffle=True)


def split_holdout(train_data: TrainDataLoader, config: Any) -> HoldoutSplit:
    """Split ``train_data`` into the weight and architecture loaders (module docstring)."""
    dataset = train_data._dataset
    user_ids = dataset.inter_feat[dataset.uid_field]
    users = holdout_users(user_ids, config["arch_holdout_ratio"], config["seed"] or 0)
    held = torch.isin(user_ids, users)
    return HoldoutSplit(
        weight_data=_loader_on_rows(train_data, config, torch.nonzero(~held).squeeze(1)),
        arch_data=_loader_on_rows(train_data, config, torch.nonzero(held).squeeze(1)),
        users=users,
    )


def search_loaders(train_data: Any, valid_data: Any, config: Any) -> tuple[Any, Any, Tensor | None]:
    """(weight-step loader, architecture-batch loader, held-out users or None) (``arch_data``).

    With ``holdout`` the weight loader is the training split without the held-out users (the
    trainer wraps it for ``train_mode: autoregressive``); the architecture loader holds the
    held-out users' samples, wrapped here the same way so that both steps see one loss.
    """
    if config["arch_data"] != "holdout":
        return train_data, valid_data, None
    split = split_holdout(train_data, config)
    arch_data: Any = split.arch_data
    if config["train_mode"] == "autoregressive":
        arch_data = autoregressive_loader(arch_data, config)
    return split.weight_data, arch_data, split.users


class ArchitectureBatches:
    """The architecture batches of the bilevel search: passes over ``loader`` (validation
    batches, or held-out training users) in batches of at most ``size`` rows, one after the other.

    Validation loaders batch by ``eval_batch_size``, sized for inference without gradients; an
    architecture step back-propagates through every candidate of every layer, so it takes its own,
    smaller batch (``arch_batch_size``, default ``train_batch_size``). RecBole's full-sort
    validation batches are tuples whose first element carries the target item. ``cycle_start``
    (the loader's generator states when the current pass began) and ``taken`` (batches taken in
    it) let a resumed search continue where it was (:meth:`replay`).
    """

    def __init__(self, loader: Any, size: int, device: Any) -> None:
        self.loader, self.size, self.device = loader, size, device
        self.cycle_start: list[Tensor] | None = None
        self.taken = 0
        self._iterator: Iterator[Any] | None = None

    def next(self) -> Any:
        """The next architecture batch, on the device (a new pass when one ends)."""
        try:
            interaction = next(self._iterator)
        except (StopIteration, TypeError):
            self.cycle_start = generator_states(loader_generators(self.loader))
            self.taken = 0
            self._iterator = self.one_pass()
            interaction = next(self._iterator)
        self.taken += 1
        return interaction.to(self.device)

    def replay(self, cycle_start: list[Tensor] | None, taken: int) -> None:
        """Back where a killed search was: the same pass, ``taken`` batches into it."""
        self._iterator, self.cycle_start, self.taken = None, cycle_start, 0
        if cycle_start is None:
            return
        restore_generators(loader_generators(self.loader), cycle_start)
        self._iterator = self.one_pass()
        for _ in range(taken):
            next(self._iterator)
        self.taken = taken

    def one_pass(self) -> Iterator[Any]:
        """One pass over the loader in batches of at most :attr:`size` rows."""
        for batch in self.loader:
            interaction = batch[0] if isinstance(batch, tuple) else batch
            for start in range(0, len(interaction), self.size):
                yield interaction[start : start + self.size]
