"""Sequential data without one materialised history per prefix (issue 11, item 2).

RecBole's ``SequentialDataset.data_augmentation`` turns every interaction (but each user's first)
into a row that carries its whole history as padded ``*_list`` fields: rows × ``MAX_ITEM_LIST_LENGTH``
cells per field, 6.5 GB and ~50 s for ML-1M at N = 200, almost all of it before training starts.

:class:`LazySequentialDataset` makes exactly the same rows — same order, same scalar fields (user,
target item, rating, timestamp, ``item_length``) — but without the list fields: each row only
remembers where its target sits in the user-and-time sorted interaction table. The list fields are
gathered from that table when rows are read (``dataset[index]``, which every RecBole dataloader
calls per batch), so memory grows with the number of interactions. Everything after the
augmentation is RecBole's own code on those rows: the time ordering and the leave-one-out split,
the negative samplers (their candidate lists and used ids read the same ``item_id`` column in the
same order, so ``uni100``/``pop100`` draw the same candidates with the same seed), the dataloaders
and the evaluators. ``tests/test_sequences.py`` checks the equality with RecBole's path.

It is used for ``train_mode: autoregressive`` (:func:`uses_lazy_sequences`); RecBole's prefix
protocol keeps RecBole's own dataset.

Full-ranking evaluation scores every item for every user of a batch; :func:`cap_full_sort_batches`
caps the users per batch so that a batch's score matrices stay within
:data:`EVAL_SCORES_BUDGET_BYTES` (for any training mode; on ML-1M the default ``eval_batch_size``
already fits, on a 165 k-item catalogue a batch holds ~270 users).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction
from recbole.utils import ModelType

# Row field: position of the row's target in the (user, time) sorted interaction table.
TARGET_POSITION_FIELD = "__target_position"
# Full-ranking evaluation holds [rows, items] float32 scores and, in RecBole's collector, an int32
# matrix of the same shape; rows per batch are capped so that three such matrices fit the budget.
EVAL_SCORES_BUDGET_BYTES = 512 * 2**20
SCORE_MATRICES = 3


def uses_lazy_sequences(config: Any) -> bool:
    """Whether the run's data goes through :class:`LazySequentialDataset`: sequential models in
    ``train_mode: autoregressive`` (without RecBole's pre-split ``benchmark_filename`` files)."""
    return (
        config["MODEL_TYPE"] == ModelType.SEQUENTIAL
        and config["train_mode"] == "autoregressive"
        and config["benchmark_filename"] is None
    )


def augmentation_rows(user_ids: np.ndarray, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """RecBole's augmentation rows of a (user, time) sorted table, as positions into it.

    Returns ``(targets, lengths)``: every position but each user's first, and the length of its
    history, ``min(position − user's first position, max_length)`` (RecBole's sliding window).
    """
    count = len(user_ids)
    first = np.ones(count, dtype=bool)
    first[1:] = user_ids[1:] != user_ids[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(count), 0))
    targets = np.flatnonzero(~first)
    lengths = np.minimum(targets - starts[targets], max_length)
    return targets, lengths.astype(np.int64)


def gather_windows(
    values: torch.Tensor, ends: torch.Tensor, lengths: torch.Tensor, width: int
) -> torch.Tensor:
    """``values[end − length : end]`` for every row, left-aligned and zero-padded to ``width``.

    ``values`` is ``[n, ...]``; the result is ``[rows, width, ...]`` with ``values``' dtype.
    """
    positions = torch.arange(width)
    index = ends[:, None] - lengths[:, None] + positions[None, :]
    real = positions[None, :] < lengths[:, None]
    gathered = values[torch.where(real, index, torch.zeros_like(index))]
    mask = real.reshape(real.shape + (1,) * (values.dim() - 1))
    return torch.where(mask, gathered, torch.zeros((), dtype=values.dtype))


class LazySequentialDataset(SequentialDataset):
    """RecBole's ``SequentialDataset`` whose ``*_list`` fields are gathered per read (module doc)."""

    def data_augmentation(self) -> None:
        """RecBole's augmentation rows without their list fields (see :func:`augmentation_rows`)."""
        self.logger.debug("data_augmentation (lazy lists)")
        self._aug_presets()
        self._check_field("uid_field", "time_field")
        self.sort(by=[self.uid_field, self.time_field], ascending=True)
        table = self.inter_feat
        targets, lengths = augmentation_rows(
            table[self.uid_field].numpy(), self.config["MAX_ITEM_LIST_LENGTH"]
        )
        targets_tensor = torch.from_numpy(targets)
        rows = table[targets_tensor]
        rows.update(
            Interaction(
                {
                    self.item_list_length_field: torch.from_numpy(lengths),
                    TARGET_POSITION_FIELD: targets_tensor,
                }
            )
        )
        self.sequence_table = {
            getattr(self, f"{field}_list_field"): table[field]
            for field in table.columns
            if field != self.uid_field
        }
        self.inter_feat = rows

    def with_lists(self, rows: Interaction) -> Interaction:
        """``rows`` (a slice of :attr:`inter_feat`) with RecBole's list fields filled in and the
        internal target position removed."""
        data = {key: value for key, value in rows.interaction.items()}
        ends = data.pop(TARGET_POSITION_FIELD)
        lengths = data[self.item_list_length_field]
        for list_field, values in self.sequence_table.items():
            width = self.field2seqlen[list_field]
            width = width if isinstance(width, int) else width[0]
            data[list_field] = gather_windows(values, ends, lengths, width)
        return Interaction(data)

    def __getitem__(self, index: Any, join: bool = True) -> Interaction:
        rows = self.with_lists(self.inter_feat[index])
        return self.join(rows) if join else rows

    def history_item_ids(self) -> torch.Tensor:
        """Every item id that occurs in a row's history (what RecBole's ``item_id_list`` holds)."""
        lengths = self.inter_feat[self.item_list_length_field]
        ends = self.inter_feat[TARGET_POSITION_FIELD]
        covered = torch.zeros(
            len(self.sequence_table[self.item_id_list_field]) + 1, dtype=torch.int
        )
        covered.index_add_(0, ends - lengths, torch.ones_like(ends, dtype=torch.int))
        covered.index_add_(0, ends, -torch.ones_like(ends, dtype=torch.int))
        inside = torch.cumsum(covered, 0)[:-1] > 0
        return torch.unique(self.sequence_table[self.item_id_list_field][inside])


def full_sort_rows(n_items: int, budget_bytes: int = EVAL_SCORES_BUDGET_BYTES) -> int:
    """Most users per full-ranking batch whose score matrices fit ``budget_bytes``."""
    return max(1, budget_bytes // (SCORE_MATRICES * 4 * max(n_items, 1)))


def cap_full_sort_batches(
    config: Any, loaders: tuple[Any, ...], budget_bytes: int = EVAL_SCORES_BUDGET_BYTES
) -> tuple[Any, ...]:
    """``loaders`` with each sequential full-ranking loader whose ``eval_batch_size`` users would
    exceed ``budget_bytes`` of score matrices rebuilt with :func:`full_sort_rows` users a batch.

    Rows are ranked independently, so the metrics are those of the uncapped loader; sampled
    (``uni100``/``pop100``) loaders are left alone (their batches decide the sampler's draws).
    """
    from recbole.data.dataloader import FullSortEvalDataLoader

    capped = []
    for loader in loaders:
        if (
            type(loader) is FullSortEvalDataLoader
            and loader.is_sequential
            and loader.step > full_sort_rows(loader._dataset.item_num, budget_bytes)
        ):
            loader = rebuilt_full_sort(config, loader, budget_bytes)
        capped.append(loader)
    return tuple(capped)


def rebuilt_full_sort(config: Any, loader: Any, budget_bytes: int) -> Any:
    """A new ``FullSortEvalDataLoader`` on ``loader``'s dataset at :func:`full_sort_rows` users."""
    original = config["eval_batch_size"]
    config["eval_batch_size"] = full_sort_rows(loader._dataset.item_num, budget_bytes)
    try:
        return type(loader)(config, loader._dataset, loader._sampler, shuffle=False)
    finally:
        config["eval_batch_size"] = original


def create_sequence_dataset(config: Any) -> SequentialDataset:
    """The run's dataset: :class:`LazySequentialDataset` where :func:`uses_lazy_sequences`, else
    RecBole's own choice (``recbole.data.create_dataset``)."""
    if uses_lazy_sequences(config):
        return LazySequentialDataset(config)
    from recbole.data import create_dataset

    return create_dataset(config)
