"""Training modes: RecBole's one-sample-per-prefix protocol, or one sequence per user.

* ``train_mode: prefix`` (RecBole's protocol and the papers'; the default of RecBole's own models):
  every prefix of a user's history is its own sample, the loss is taken at its last position.
* ``train_mode: autoregressive`` (the default of this plugin's models, their YAMLs): one sample per user per epoch, the user's longest training
  prefix (already truncated by RecBole to the last ``MAX_ITEM_LIST_LENGTH`` items) with a loss at
  every real position, the target at position t being item t+1 and, at the last position, RecBole's
  training target. Attention must then be causal (position t may not see item t+1); the models
  force it. A user whose training history is longer than ``MAX_ITEM_LIST_LENGTH + 1`` items
  contributes only its last ``MAX_ITEM_LIST_LENGTH + 1`` items per epoch (prefix mode also sees the
  earlier windows). Validation and test stay RecBole's prefix evaluation, unchanged.

The per-user set is chosen once from RecBole's own training dataloader, so RecBole's filtering and
leave-one-out split are untouched; ``train_batch_size`` then counts users. Each batch reads its rows
through the dataset (``dataset[rows]``), so with :class:`~recbole_easrec.data.sequences.LazySequentialDataset`
(the dataset of this mode, see :func:`~recbole_easrec.data.sequences.uses_lazy_sequences`) the padded
sequences exist one batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from recbole.data.interaction import Interaction

from recbole_easrec.distributed import global_rank, is_distributed, shard

TRAIN_MODES = ("prefix", "autoregressive")
TARGETS_FIELD = "autoregressive_targets"


def longest_prefix_rows(user_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Row index of each user's latest, longest prefix.

    Rows are sorted stably by (user, length); RecBole generates a user's prefixes in time order, so
    among prefixes truncated to the same length the last one is the latest.
    """
    order = torch.argsort(user_ids * (int(lengths.max()) + 1) + lengths, stable=True)
    sorted_users = user_ids[order]
    last_of_user = torch.ones_like(sorted_users, dtype=torch.bool)
    last_of_user[:-1] = sorted_users[1:] != sorted_users[:-1]
    return order[last_of_user]


def shifted_targets(
    item_seq: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Next-item targets per position: ``item_seq[t+1]``, then ``target`` at the last real position,
    0 (ignored) at padding."""
    targets = torch.zeros_like(item_seq)
    targets[:, :-1] = item_seq[:, 1:]
    rows = torch.arange(item_seq.shape[0])
    targets[rows, lengths - 1] = target
    positions = torch.arange(item_seq.shape[1])[None, :]
    return torch.where(positions < lengths[:, None], targets, torch.zeros_like(targets))


class AutoregressiveLoader:
    """Batches of one sequence per user, shuffled every epoch (an iterable of ``Interaction``).

    In a run of ``world_size`` processes each reads its :func:`~recbole_easrec.distributed.shard`
    of the same shuffled order (the generator is seeded alike on every rank) in batches of
    ``batch_size // world_size`` users, as RecBole's own dataloaders split a batch.
    """

    shuffle = False  # it shuffles itself; RecBole's trainer must not call a sampler's set_epoch

    def __init__(
        self, train_data: Any, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        dataset = train_data._dataset
        features = dataset.inter_feat
        self.item_seq_field = dataset.item_id_list_field
        self.length_field = dataset.item_list_length_field
        self.rows = longest_prefix_rows(features[dataset.uid_field], features[self.length_field])
        self.batch_size = max(1, batch_size // world_size)
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self._dataset = dataset

    def __len__(self) -> int:
        rows = -(-len(self.rows) // self.world_size)
        return (rows + self.batch_size - 1) // self.batch_size

    def batch(self, rows: torch.Tensor) -> Interaction:
        """The sequences, lengths and per-position targets of the users at ``rows``."""
        data = self._dataset.__getitem__(rows, join=False)
        item_seq, lengths = data[self.item_seq_field], data[self.length_field]
        targets = shifted_targets(item_seq, lengths, data[self._dataset.iid_field])
        return Interaction(
            {self.item_seq_field: item_seq, self.length_field: lengths, TARGETS_FIELD: targets}
        )

    def __iter__(self) -> Iterator[Interaction]:
        order = self.rows[torch.randperm(len(self.rows), generator=self.generator)]
        order = shard(order, self.rank, self.world_size)
        for start in range(0, len(order), self.batch_size):
            yield self.batch(order[start : start + self.batch_size])


def autoregressive_loader(
    train_data: Any, config: Any, batch_size: int | None = None
) -> AutoregressiveLoader:
    """The run's :class:`AutoregressiveLoader` over ``train_data``: ``batch_size`` users a batch
    (None: ``train_batch_size``), seeded with ``seed``, this process's shard in a distributed
    run."""
    size = config["train_batch_size"] if batch_size is None else batch_size
    rank, world_size = 0, 1
    if is_distributed(config):
        rank, world_size = global_rank(config), int(config["world_size"])
    return AutoregressiveLoader(
        train_data, size, seed=config["seed"] or 0, rank=rank, world_size=world_size
    )
