"""EASRec's transformer controller α and depth controller β (EASRec §II-C, eq. 10–11).

α holds one logit per candidate (shared by every layer, so that all layers keep the same widths);
β one logit per depth ("exit after layer l", l = 1..L). During the search both are relaxed with
Gumbel-softmax (eq. 10) at a temperature the search chooses
(:mod:`recbole_easrec.search.controllers`); the hard selection is ``argmax α`` and ``argmax β``.
Eq. 10 writes the Gumbel-softmax over ``log α_i`` with positive weights α_i; we learn those
log-weights directly as unconstrained logits (the same distribution, no positivity constraint to
maintain); the ``alpha``/``beta`` lists in ``search_trace.json`` and ``result.json`` are the
softmax of the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recbole_easrec.model.elastic.paths import Architecture, Mixture


class ArchitectureController(nn.Module):
    """α (``n_candidates``) and β (``n_layers``) logits, initialised to zero (uniform choice)."""

    def __init__(self, n_candidates: int, n_layers: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(n_candidates))
        self.beta = nn.Parameter(torch.zeros(n_layers))

    def sample(self, tau: float) -> Mixture:
        """Soft Gumbel-softmax weights (p, q) over candidates and depths (eq. 10)."""
        return Mixture(F.gumbel_softmax(self.alpha, tau=tau), F.gumbel_softmax(self.beta, tau=tau))

    def hard(self) -> Mixture:
        """One-hot (p, q) at ``argmax α`` and ``argmax β``."""
        return self.one_hot(self.chosen())

    def one_hot(self, arch: Architecture) -> Mixture:
        """One-hot (p, q) of one architecture."""
        p = F.one_hot(torch.tensor(arch.candidate), self.alpha.numel()).to(self.alpha.dtype)
        q = F.one_hot(torch.tensor(arch.depth - 1), self.beta.numel()).to(self.alpha.dtype)
        return Mixture(p.to(self.alpha.device), q.to(self.alpha.device))

    def chosen(self) -> Architecture:
        """The controllers' choice: ``(argmax α, argmax β + 1)``."""
        return Architecture(self.chosen_candidate(), self.chosen_depth())

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
