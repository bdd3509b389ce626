"""``search_method: oneshot`` — NASRec's paradigm (Zhang et al., WWW 2023): single-path one-shot
training (Guo et al., 2020), then the choice by shared-weight validation.

Every training batch updates W along one path drawn uniformly
(:func:`~recbole_easrec.search.space.uniform_path`); α and β are not trained and validation scores
the largest path. The choice is the sandwich search's; a space larger than
``evolution_population`` is searched by regularised evolution on shared-weight validation scores
(:mod:`recbole_easrec.search.evolution`, ``evolution_sample``, ``evolution_cycles``) instead of
being scored exhaustively; ``shared_weight_scores`` then holds the architectures it scored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.search.evolution import architecture_mutation, regularized_evolution
from recbole_easrec.search.methods.sandwich import SharedWeightSearch
from recbole_easrec.search.space import uniform_path


class OneShotSearch(SharedWeightSearch):
    """Single-path one-shot training and, on a large space, regularised evolution."""

    name = "oneshot"
    reselectable = False  # scores (and evolves) only the architectures within flops_budget
    settings: ClassVar[tuple[str, ...]] = (
        "evolution_population",
        "evolution_sample",
        "evolution_cycles",
    )

    @classmethod
    def validate(cls, config: Any) -> None:
        bounds = {"evolution_population": 1, "evolution_sample": 1, "evolution_cycles": 0}
        for key, bound in bounds.items():
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < bound:
                raise ConfigError(f"{key} must be an integer >= {bound}, got {value!r}")
        if config["evolution_sample"] > config["evolution_population"]:
            raise ConfigError(
                "evolution_sample (the tournament) must not exceed evolution_population, got"
                f" {config['evolution_sample']} > {config['evolution_population']}"
            )

    def weight_losses(self, interaction: Any) -> Iterator[Tensor]:
        arch = uniform_path(self.space.fractions, self.trainer.path_generator)
        yield self.supernet.recommendation_loss(interaction, arch)

    def evolves(self) -> bool:
        """A space larger than ``evolution_population``: evolution instead of scoring every one."""
        return len(self.space.fractions) > int(self.config["evolution_population"])

    def score(self, valid_data: Any, show_progress: bool) -> None:
        if self.evolves():
            self.evolve(valid_data, show_progress)
        else:
            super().score(valid_data, show_progress)

    def evolve(self, valid_data: Any, show_progress: bool) -> list[dict]:
        """Regularised evolution on shared-weight validation scores within ``flops_budget``; every
        architecture it scored is recorded in the trainer's ``shared_weight_scores``, so the
        choice sees exactly those."""
        trainer, config = self.trainer, self.config
        space = self.space.within(config["flops_budget"])
        records: dict[Architecture, dict] = {}

        def fitness(arch: Architecture) -> float:
            if arch not in self.space.fractions or arch not in space:
                return -float("inf")  # outside the budget: never chosen
            records[arch] = trainer.score_architecture(arch, valid_data, show_progress)
            logging.getLogger().info("evolution: %d architectures scored (%s)", len(records), arch)
            return records[arch]["valid_score"]

        widths, layers = len(self.supernet.encoder.widths), len(self.supernet.encoder.layers)
        regularized_evolution(
            space,
            fitness,
            architecture_mutation(widths, layers),
            int(config["evolution_population"]),
            int(config["evolution_sample"]),
            int(config["evolution_cycles"]),
            trainer.path_generator,
        )
        trainer.shared_weight_scores = list(records.values())
        return trainer.shared_weight_scores
