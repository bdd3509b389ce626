"""``search_method: random`` — the baseline every NAS method must beat.

``random_samples`` distinct architectures within ``flops_budget``, drawn uniformly, each trained
from scratch (the supernet's initial weights along its path, eq. 18) for ``epochs //
random_samples`` epochs (at least one) with early stopping; their best validation scores stand in
for shared-weight ones, and the choice is the sandwich search's. Equal epochs, not equal FLOPs: a
compact network's epoch costs less than a supernet's, so the baseline gets less compute than the
NAS methods it is compared with. Not resumable mid-search (a resumed run searches again); the
supernet stays untrained.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.search.methods.base import SearchMethod
from recbole_easrec.search.reconstruct import reconstruct


class RandomSearch(SearchMethod):
    """Architectures trained from scratch, the best on validation (module docstring)."""

    name = "random"
    chooses_by_scores = True
    reselectable = False  # draws within flops_budget
    settings: ClassVar[tuple[str, ...]] = ("random_samples",)

    @classmethod
    def validate(cls, config: Any) -> None:
        value = config["random_samples"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"random_samples must be an integer >= 1, got {value!r}")

    def search(self, weight_data: Any, valid_data: Any, **fit: Any) -> None:
        trainer, config = self.trainer, self.config
        space = self.space.within(config["flops_budget"])
        count = min(int(config["random_samples"]), len(space))
        order = torch.randperm(len(space), generator=trainer.path_generator)[:count].tolist()
        epochs = max(1, int(config["epochs"]) // count)
        records = []
        for index in order:
            arch = space[index]
            network = reconstruct(self.supernet, config, arch)
            score, result = trainer.train_from_scratch(network, weight_data, valid_data, epochs)
            records.append(
                {
                    **self.space.describe(arch),
                    "valid_score": float(score),
                    "valid_result": {k: float(v) for k, v in (result or {}).items()},
                    "epochs": epochs,
                }
            )
            logging.getLogger().info(
                "random search: %d/%d architectures trained (%s, valid %.4f)",
                len(records),
                count,
                arch,
                records[-1]["valid_score"],
            )
        trainer.shared_weight_scores = records
