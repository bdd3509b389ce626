"""EASRec's search space as a list of architectures, their cost, the FLOPs budget and the choice.

An architecture is one path through the supernet: width candidate ``i`` (the same in every layer,
since α is shared, EASRec §II-C) and exit depth ``l`` (β). With m candidates and L layers the space
has m·L architectures (3 × 4 = 12 by default), few enough to score every one of them on the
supernet's shared weights after the search (:meth:`SearchMethod.score`).
:class:`SearchSpace` holds a supernet's space with every architecture's cost.

Cost of an architecture: its inference FLOPs, :func:`resource.inference_flops` — one
full-ranking forward of one sequence of N items, the count that ``efficiency.flops`` of
``result.json`` measures with ``torch.utils.flop_counter`` (tested equal). ``flops_budget`` is a
fraction of the largest path's cost (widest candidate, all L layers). Training cost (the paper's
resource term, every position of every layer) is :func:`resource.candidate_costs`' business.

Choice (:func:`choose`): among the architectures within the budget, those whose score is within a
relative ``tolerance`` of the best score, and of those the cheapest. With tolerance 0 and no budget
this is the plain argmax of the scores; for the α/β methods (``paper``, …) the scores are the
controllers' probabilities ``softmax(α)_i · softmax(β)_l``, whose argmax is exactly Algorithm 1's
``(argmax α, argmax β)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.search.resource import candidate_costs, inference_flops, per_candidate

# the α/β methods (they choose the most probable path); benchmarks/space_truth.py reads it, the
# registry (recbole_easrec.search.methods) is the source and a test keeps the two equal
BILEVEL_METHODS = ("paper", "proxylessnas", "recnas")

__all__ = ["Architecture", "SearchSpace", "choose", "enumerate_space", "within_budget"]


def enumerate_space(n_candidates: int, n_layers: int) -> list[Architecture]:
    """Every (candidate, depth) pair, candidate-major."""
    return [Architecture(i, d) for i in range(n_candidates) for d in range(1, n_layers + 1)]


def flops_fractions(
    widths: Sequence[tuple[int, int]],
    n_layers: int,
    length: int,
    n_heads: int,
    attention: str | Sequence[str],
    gate_layers: int,
    n_items: int,
    causal: bool = False,
) -> dict[Architecture, float]:
    """Each architecture's inference FLOPs as a fraction of the largest path's; ``attention``:
    the kind of every candidate, or one kind for all."""
    kinds = per_candidate(attention, len(widths))
    space = enumerate_space(len(widths), n_layers)
    flops = {
        arch: inference_flops(
            arch.depth,
            length,
            *widths[arch.candidate],
            n_heads,
            kinds[arch.candidate],
            gate_layers,
            n_items,
            causal,
        )
        for arch in space
    }
    largest = max(flops.values())
    return {arch: value / largest for arch, value in flops.items()}


def within_budget(fractions: Mapping[Architecture, float], budget: float | None) -> list:
    """The architectures whose FLOPs fraction is at most ``budget`` (all of them for None).

    Raises:
        ConfigError: no architecture meets the budget (the message names the smallest possible).
    """
    if budget is None:
        return sorted(fractions)
    kept = sorted(arch for arch, fraction in fractions.items() if fraction <= budget + 1e-12)
    if not kept:
        smallest = min(fractions.values())
        raise ConfigError(
            f"flops_budget {budget:g} is below every architecture of the search space; the"
            f" smallest possible is {smallest:.4f} (the narrowest candidate with one layer)"
        )
    return kept


def choose(
    scores: Mapping[Architecture, float],
    fractions: Mapping[Architecture, float],
    budget: float | None = None,
    tolerance: float = 0.0,
) -> Architecture:
    """The cheapest architecture within ``budget`` whose score is at least ``(1 − tolerance)``
    times the best score within the budget (module docstring); ties go to the higher score."""
    allowed = [arch for arch in within_budget(fractions, budget) if arch in scores]
    best = max(scores[arch] for arch in allowed)
    good = [arch for arch in allowed if scores[arch] >= best * (1.0 - tolerance)]
    return min(good, key=lambda arch: (fractions[arch], -scores[arch], arch))


def sandwich_paths(
    fractions: Mapping[Architecture, float], generator: torch.Generator, n_random: int = 1
) -> list[Architecture]:
    """The sandwich rule (Yu & Huang, slimmable networks; BigNAS): the largest and the smallest
    architecture, then ``n_random`` drawn uniformly from the space, for one weight step."""
    space = sorted(fractions)
    largest = max(space, key=lambda arch: (fractions[arch], arch))
    smallest = min(space, key=lambda arch: (fractions[arch], arch))
    draws = torch.randint(len(space), (n_random,), generator=generator).tolist()
    return [largest, smallest] + [space[index] for index in draws]


def uniform_path(
    fractions: Mapping[Architecture, float], generator: torch.Generator
) -> Architecture:
    """One architecture drawn uniformly from the space: single-path one-shot training (Guo et al.,
    SPOS; NASRec's single-operator sampling) trains W along one such path per weight step."""
    space = sorted(fractions)
    return space[int(torch.randint(len(space), (1,), generator=generator))]


@dataclass(frozen=True)
class SearchSpace:
    """A supernet's architectures with their costs.

    ``fractions``: each architecture's inference FLOPs as a fraction of the largest path's (what
    ``flops_budget`` counts); ``largest_flops``: the largest path's FLOPs; ``candidate_costs``: the
    per-candidate layer FLOPs of eq. 15's resource term, normalised by the largest (``[m]``);
    ``widths``: ``(hidden, inner)`` of every candidate; ``kinds``: its attention kind.
    """

    fractions: dict[Architecture, float]
    largest_flops: int
    candidate_costs: Tensor
    widths: list[tuple[int, int]]
    kinds: list[str]

    @classmethod
    def of(cls, supernet: Any, config: Any) -> SearchSpace:
        """The space of an :class:`~recbole_easrec.model.easrec.EASRec` supernet built with
        ``config``. Raises ConfigError if no architecture meets ``flops_budget``."""
        widths, length = supernet.encoder.widths, supernet.max_seq_length
        kinds = supernet.encoder.kinds
        shape = (config["n_heads"], kinds, supernet.gate_layers)
        fractions = flops_fractions(
            widths, config["n_layers"], length, *shape, supernet.n_items, supernet.causal
        )
        within_budget(fractions, config["flops_budget"])  # a budget nothing meets
        largest = max(fractions, key=lambda arch: (fractions[arch], arch))
        largest_flops = inference_flops(
            largest.depth,
            length,
            *widths[largest.candidate],
            config["n_heads"],
            kinds[largest.candidate],
            supernet.gate_layers,
            supernet.n_items,
            supernet.causal,
        )
        costs = candidate_costs(widths, length, *shape)
        return cls(fractions, largest_flops, costs, list(widths), list(kinds))

    @property
    def largest(self) -> Architecture:
        """The widest candidate at full depth (ties to the larger architecture)."""
        return max(self.fractions, key=lambda arch: (self.fractions[arch], arch))

    def within(self, budget: float | None) -> list[Architecture]:
        """The architectures at or below ``budget`` (all for None), sorted."""
        fractions = self.fractions
        return [arch for arch in sorted(fractions) if budget is None or fractions[arch] <= budget]

    def describe(self, arch: Architecture) -> dict[str, Any]:
        """``arch``'s widths, depth and FLOPs fraction, as ``shared_weight_scores`` records it."""
        hidden, inner = self.widths[arch.candidate]
        return {
            "candidate": arch.candidate,
            "hidden_size": hidden,
            "inner_size": inner,
            "n_layers": arch.depth,
            "attention": self.kinds[arch.candidate],
            "flops_fraction": self.fractions[arch],
        }


def validate_selection(config: Any) -> None:
    """``flops_budget`` (None or in (0, 1]), ``selection_tolerance`` in [0, 1) and
    ``score_architectures`` as one-line errors. Whether some architecture meets the budget depends
    on the catalogue size; :meth:`SearchSpace.of` checks it (:func:`within_budget`)."""
    budget = config["flops_budget"]
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget <= 1:
            raise ConfigError(
                "flops_budget must be a fraction in (0, 1] of the largest architecture's FLOPs"
                f" (or ~ for none), got {budget!r}"
            )
    tolerance = config["selection_tolerance"]
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise ConfigError(f"selection_tolerance must be a number in [0, 1), got {tolerance!r}")
    if not 0 <= tolerance < 1:
        raise ConfigError(f"selection_tolerance must be a number in [0, 1), got {tolerance!r}")
    if config["score_architectures"] not in ("auto", True, False):
        raise ConfigError(
            f"score_architectures must be auto, True or False, got {config['score_architectures']!r}"
        )
