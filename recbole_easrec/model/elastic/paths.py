"""Which path of the supernet a forward pass computes: the explicit selection of the elastic model.

The supernet (:class:`~recbole_easrec.model.elastic.supernet.SuperNet`) mixes its width candidates
with weights ``p`` and its exits with weights ``q`` (EASRec eq. 11). A caller names what it wants:

* an :class:`Architecture` — one width candidate in one exit depth, i.e. one-hot ``p`` and ``q``
  (the hard path: what the reconstructed compact network computes, eq. 18);
* a :class:`Mixture` — any ``p``, ``q``, e.g. the Gumbel-softmax samples of eq. 10 or
  ProxylessNAS' binary gates, optionally with the candidates and exits to evaluate even where their
  weight is 0 (so that the loss has a gradient with respect to a closed gate).

``EASRec.encode(seq, path)`` takes one; ``None`` means the controllers' choice (argmax α, argmax β).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True, order=True)
class Architecture:
    """Width candidate ``candidate`` (index into the prune-ratio lists) in ``depth`` layers."""

    candidate: int
    depth: int


@dataclass(frozen=True, eq=False)
class Mixture:
    """Candidate weights ``p`` ``[m]`` and exit weights ``q`` ``[L]`` (eq. 11); ``candidates`` /
    ``exits`` (0-based) are those to evaluate, by default every one with a non-zero weight."""

    p: Tensor
    q: Tensor
    candidates: tuple[int, ...] | None = None
    exits: tuple[int, ...] | None = None


Path = Architecture | Mixture
