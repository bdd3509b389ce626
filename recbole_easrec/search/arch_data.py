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

from dataclasses import dataclass
from typing import Any

import torch
from recbole.data.dataloader import TrainDataLoader
from torch import Tensor

from recbole_easrec.errors import ConfigError

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
