"""Dynamic exploration (DSL step 3): prune by magnitude, regrow by gradient magnitude.

Per masked tensor with ``a`` active weights and fraction ζ: ``k = round(ζ · a)`` (capped by the
inactive count). Drop the k active weights of smallest |w|; activate the k weights, among those
inactive *before* this update, with the largest |∂L/∂w| (the dense gradient of the last batch, as in
DSL's official code and RigL); regrown weights start at 0. Excluding just-pruned weights from
regrowth makes every update swap exactly k positions, so the active count never changes.
Adam's moments (``exp_avg``, ``exp_avg_sq``) are cleared at every inactive position and at the
regrown positions, so no stale momentum moves a weight that was dead (no ghost updates).
"""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def prune_regrow(
    weight: Tensor, mask: Tensor, grad: Tensor, fraction: float
) -> tuple[Tensor, Tensor]:
    """Update ``mask`` (bool, same shape as ``weight``) and ``weight`` in place.

    Returns:
        ``(pruned, regrown)``: flat indices of the positions switched off and on.
    """
    flat_mask = mask.view(-1)
    active = int(flat_mask.sum())
    k = min(round(fraction * active), active, flat_mask.numel() - active)
    empty = torch.empty(0, dtype=torch.long, device=mask.device)
    if k <= 0:
        return empty, empty
    magnitude = weight.detach().abs().view(-1).float().masked_fill(~flat_mask, float("inf"))
    pruned = torch.topk(magnitude, k, largest=False).indices
    growth = grad.detach().abs().view(-1).float().masked_fill(flat_mask, -1.0)
    regrown = torch.topk(growth, k, largest=True).indices
    flat_mask[pruned] = False
    flat_mask[regrown] = True
    flat_weight = weight.data.view(-1)
    flat_weight[pruned] = 0
    flat_weight[regrown] = 0
    return pruned, regrown


@torch.no_grad()
def clear_adam_state(state: dict, mask: Tensor, regrown: Tensor | None = None) -> None:
    """Zero the optimiser moments at inactive positions of ``mask`` and at ``regrown``."""
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer"):
        buffer = state.get(key)
        if buffer is None or buffer.shape != mask.shape:
            continue
        buffer.masked_fill_(~mask, 0)
        if regrown is not None and regrown.numel():
            buffer.view(-1)[regrown] = 0
