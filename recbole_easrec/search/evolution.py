"""Regularised (aging) evolution over architectures (Real et al., AAAI 2019), as NASRec searches
its trained supernet (Zhang et al., WWW 2023; ``search_method: oneshot``).

A population of ``population_size`` architectures starts uniformly at random. Each cycle draws
``sample_size`` members uniformly (a tournament), mutates the fittest of them into a child, scores
the child and appends it, and removes the *oldest* member (not the worst: aging is the
regularisation). The result is the fittest architecture ever scored. Fitness is evaluated once per
distinct architecture (cached), because on a supernet it is a validation pass on shared weights.

Settings (EASRec.yaml): ``evolution_population`` 128, ``evolution_sample`` 64, ``evolution_cycles``
240, our reading of NASRec's search settings. A space no larger than the population is scored
exhaustively instead — the same answer at the same cost or less.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from recbole_easrec.search.space import Architecture

Arch = TypeVar("Arch")


@dataclass(frozen=True)
class EvolutionResult:
    """The fittest architecture, its fitness, and every distinct architecture scored, in order."""

    best: object
    fitness: float
    scored: list[tuple[object, float]]


def regularized_evolution(
    space: Sequence[Arch],
    fitness: Callable[[Arch], float],
    mutate: Callable[[Arch, torch.Generator], Arch],
    population_size: int,
    sample_size: int,
    cycles: int,
    generator: torch.Generator,
) -> EvolutionResult:
    """Aging evolution (module docstring); higher fitness is better."""
    if not 1 <= sample_size <= population_size:
        raise ValueError(f"need 1 <= sample_size <= population_size, got {sample_size}")
    cache: dict[Arch, float] = {}

    def score(arch: Arch) -> float:
        if arch not in cache:
            cache[arch] = float(fitness(arch))
        return cache[arch]

    population: deque[Arch] = deque()
    for index in torch.randint(len(space), (population_size,), generator=generator).tolist():
        population.append(space[index])
        score(space[index])
    for _ in range(cycles):
        picks = torch.randint(len(population), (sample_size,), generator=generator).tolist()
        parent = max((population[i] for i in picks), key=score)
        child = mutate(parent, generator)
        score(child)
        population.append(child)
        population.popleft()
    best = max(cache, key=lambda arch: cache[arch])
    return EvolutionResult(best, cache[best], list(cache.items()))


def architecture_mutation(
    n_candidates: int, n_layers: int
) -> Callable[[Architecture, torch.Generator], Architecture]:
    """A mutation of :class:`Architecture`: one gene — the width candidate or the depth — changed
    to a different value drawn uniformly (a space with one value of a gene never mutates it)."""

    def mutate(arch: Architecture, generator: torch.Generator) -> Architecture:
        genes = [
            name for name, size in (("candidate", n_candidates), ("depth", n_layers)) if size > 1
        ]
        if not genes:
            return arch
        gene = genes[int(torch.randint(len(genes), (1,), generator=generator))]
        if gene == "candidate":
            shift = 1 + int(torch.randint(n_candidates - 1, (1,), generator=generator))
            return Architecture((arch.candidate + shift) % n_candidates, arch.depth)
        shift = 1 + int(torch.randint(n_layers - 1, (1,), generator=generator))
        return Architecture(arch.candidate, (arch.depth - 1 + shift) % n_layers + 1)

    return mutate
