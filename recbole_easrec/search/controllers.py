"""EASRec's transformer controller α and depth controller β (EASRec §II-C, eq. 10–11).

α holds one logit per candidate (shared by every layer, so that all layers keep the same widths);
β one logit per depth ("exit after layer l", l = 1..L). During the search both are relaxed with
Gumbel-softmax (eq. 10) at temperature ``τ_t = max(0.01, 1 − 0.00005·t)`` (Table II), t = the
training iteration; the hard selection is ``argmax α`` and ``argmax β``. Eq. 10 writes the
Gumbel-softmax over ``log α_i`` with positive weights α_i; we learn those log-weights directly as
unconstrained logits (the same distribution, no positivity constraint to maintain); the
``alpha``/``beta`` lists in ``search_trace.json`` and ``result.json`` are the softmax of the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TAU_MIN = 0.01
TAU_DECAY = 0.00005


def gumbel_temperature(step: int, decay: float = TAU_DECAY) -> float:
    """τ_t = max(0.01, 1 − decay·t); the paper's decay is 0.00005 per iteration (EASRec Table II).

    The paper counts RecBole's prefix-protocol iterations (~480 an epoch on ML-1M: ~988 k prefixes
    at batch 2048); autoregressive training has ~95 (6,040 users at batch 64), so
    ``gumbel_tau_decay`` lets a run anneal over its own length."""
    return max(TAU_MIN, 1.0 - decay * step)


class ArchitectureController(nn.Module):
    """α (``n_candidates``) and β (``n_layers``) logits, initialised to zero (uniform choice)."""

    def __init__(self, n_candidates: int, n_layers: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(n_candidates))
        self.beta = nn.Parameter(torch.zeros(n_layers))

    def sample(self, tau: float) -> tuple[Tensor, Tensor]:
        """Soft Gumbel-softmax weights (p, q) over candidates and depths (eq. 10)."""
        return F.gumbel_softmax(self.alpha, tau=tau), F.gumbel_softmax(self.beta, tau=tau)

    def hard(self) -> tuple[Tensor, Tensor]:
        """One-hot (p, q) at ``argmax α`` and ``argmax β``."""
        p = F.one_hot(self.alpha.argmax(), self.alpha.numel()).to(self.alpha.dtype)
        q = F.one_hot(self.beta.argmax(), self.beta.numel()).to(self.beta.dtype)
        return p, q

    def chosen_candidate(self) -> int:
        return int(self.alpha.argmax())

    def chosen_depth(self) -> int:
        """L_t = argmax β + 1."""
        return int(self.beta.argmax()) + 1

    def probabilities(self) -> tuple[list[float], list[float]]:
        """softmax(α), softmax(β) as plain lists."""
        with torch.no_grad():
            return (
                torch.softmax(self.alpha, 0).tolist(),
                torch.softmax(self.beta, 0).tolist(),
            )
