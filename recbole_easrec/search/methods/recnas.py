"""``search_method: recnas`` — RecNAS-style annealing and progressive pruning on EASRec's supernet.

RecNAS (Chen et al., "Towards automated neural interaction discovery for click-through rate
prediction" / the EASRec paper's third NAS baseline) publishes no code; this is our reading of the
two ideas the EASRec paper names — temperature annealing towards one-hot and pruning of weak
candidates during the search — on the same width/depth supernet, so that only the search differs.
Every choice below is ours:

* the bilevel loop, the soft Gumbel-softmax mixture and eq. 16's resource term are Algorithm 1's;
* **annealing**: the Gumbel temperature of search epoch e is ``max(recnas_tau_min,
  recnas_anneal^e)`` for both groups (α: widths, β: exits) — an epoch-wise geometric schedule that
  reaches near one-hot samples within a short search, instead of the paper's per-iteration linear
  one (:func:`annealed_temperature`);
* **progressive pruning**: after every search epoch, in each group with more than one candidate
  left, the least probable one is pruned if its probability is below ``recnas_prune_ratio`` times
  the uniform share ``1 / alive`` (:func:`weakest_candidate`); a pruned logit is pinned at
  :data:`PRUNED_LOGIT`, so its Gumbel weight is exactly 0 and the supernet skips its path;
* **final choice**: the most probable path within ``flops_budget`` — with one width shared by every
  layer, the knapsack of widths under a FLOPs budget reduces to that choice over (width, depth)
  pairs (:func:`recbole_easrec.search.space.choose`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.search.methods.paper import PaperSearch

PRUNED_LOGIT = -1.0e4


def annealed_temperature(epoch: int, rate: float, floor: float) -> float:
    """``max(floor, rate**epoch)``: 1 at the first search epoch."""
    return max(floor, rate**epoch)


def alive(logits: Tensor) -> list[int]:
    """Indices not pruned."""
    return [i for i, value in enumerate(logits.detach().tolist()) if value > PRUNED_LOGIT / 2]


def weakest_candidate(logits: Tensor, ratio: float) -> int | None:
    """The alive index to prune now, or ``None`` (one left, or none weak enough)."""
    left = alive(logits)
    if len(left) <= 1:
        return None
    probs = torch.softmax(logits.detach(), 0)
    weakest = min(left, key=lambda i: (probs[i].item(), -i))
    return weakest if probs[weakest].item() < ratio / len(left) else None


def pin_pruned(logits: Tensor, pruned: list[int]) -> None:
    """Put the pruned logits back at :data:`PRUNED_LOGIT` (after an optimiser step moved them)."""
    if pruned:
        with torch.no_grad():
            logits[pruned] = PRUNED_LOGIT


class RecNASSearch(PaperSearch):
    """Algorithm 1 with an epoch-wise annealed temperature and progressive pruning (module doc)."""

    name = "recnas"
    settings: ClassVar[tuple[str, ...]] = ("recnas_anneal", "recnas_tau_min", "recnas_prune_ratio")

    @classmethod
    def validate(cls, config: Any) -> None:
        for key in cls.settings:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ConfigError(f"{key} must be a number in (0, 1], got {value!r}")

    def __init__(self, trainer: Any) -> None:
        super().__init__(trainer)
        self.pruned: list[dict[str, Any]] = []  # what was pruned, when
        self.epoch_temperature: float | None = None

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch_temperature = annealed_temperature(
            epoch, float(self.config["recnas_anneal"]), float(self.config["recnas_tau_min"])
        )

    def temperature(self) -> float:
        """The annealed temperature of the current epoch (the paper's schedule before the first)."""
        if self.epoch_temperature is None:
            return super().temperature()
        return self.epoch_temperature

    def arch_step(self, interaction: Any) -> dict[str, Any]:
        """Algorithm 1's α/β step; pruned logits stay pruned after it."""
        entry = super().arch_step(interaction)
        for logits in self.logits():
            pin_pruned(logits, [i for i in range(logits.numel()) if i not in alive(logits)])
        return entry

    def on_epoch_end(self, epoch: int) -> None:
        """Prune the weakest width candidate and the weakest exit, if weak enough."""
        ratio = float(self.config["recnas_prune_ratio"])
        for group, logits in zip(("width", "depth"), self.logits()):
            index = weakest_candidate(logits, ratio)
            if index is None:
                continue
            pin_pruned(logits, [index])
            self.pruned.append({"epoch": epoch, "group": group, "index": index})
            logging.getLogger().info(
                "recnas: pruned %s candidate %d after epoch %d", group, index, epoch
            )

    def logits(self) -> tuple[Tensor, Tensor]:
        """α (widths) and β (exits)."""
        return self.supernet.controller.alpha, self.supernet.controller.beta

    def extras(self) -> dict[str, Any]:
        return {"recnas_pruned": self.pruned}
