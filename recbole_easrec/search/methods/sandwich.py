"""``search_method: sandwich`` — the sandwich rule of slimmable networks / BigNAS (not in the paper).

Every training batch updates W with the summed cross-entropy of the largest path, the smallest path
and ``sandwich_random_paths`` paths drawn uniformly
(:func:`~recbole_easrec.search.space.sandwich_paths`); α and β are not trained. Validation (early
stopping, the best checkpoint) scores the largest path. The choice: every architecture scored on
the shared weights, the cheapest within ``flops_budget`` whose score is within
``selection_tolerance`` of the best one there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.search.methods.base import SearchMethod
from recbole_easrec.search.space import sandwich_paths


class SharedWeightSearch(SearchMethod):
    """A one-shot search: W trained along chosen paths, α and β untouched, the choice by
    shared-weight validation scores; validation during the search scores the largest path."""

    chooses_by_scores = True

    def validation_path(self) -> Architecture:
        return self.space.largest


class SandwichSearch(SharedWeightSearch):
    """The sandwich rule (module docstring)."""

    name = "sandwich"
    settings: ClassVar[tuple[str, ...]] = ("sandwich_random_paths",)

    @classmethod
    def validate(cls, config: Any) -> None:
        paths = config["sandwich_random_paths"]
        if isinstance(paths, bool) or not isinstance(paths, int) or paths < 0:
            raise ConfigError(f"sandwich_random_paths must be an integer >= 0, got {paths!r}")

    def weight_losses(self, interaction: Any) -> Iterator[Tensor]:
        paths = sandwich_paths(
            self.space.fractions,
            self.trainer.path_generator,
            self.config["sandwich_random_paths"],
        )
        for arch in paths:
            yield self.supernet.recommendation_loss(interaction, arch)
