"""RecNAS-style annealing and progressive pruning on EASRec's supernet (``search_method: recnas``).

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

import torch
from torch import Tensor

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
