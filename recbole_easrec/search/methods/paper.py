"""``search_method: paper`` — EASRec's Algorithm 1 (the default).

Every training batch updates W along a Gumbel-softmax mixture of the paths (eq. 10–11) at the
temperature ``τ_t = max(0.01, 1 − gumbel_tau_decay·t)``; every ``arch_update_freq`` iterations one
architecture batch updates α and β (W untouched) by eq. 16, ``L = L_CE + λ·L_RC``, with the resource
term of eq. 15 (:func:`recbole_easrec.search.resource.resource_loss`, ``resource_constraint``,
``resource_lambda``) computed on that step's own mixture. The choice is the most probable path
within ``flops_budget`` (argmax α, argmax β without one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from torch import Tensor

from recbole_easrec.model.elastic.paths import Mixture
from recbole_easrec.search.controllers import gumbel_temperature
from recbole_easrec.search.methods.base import SearchMethod
from recbole_easrec.search.resource import RESOURCE_CONSTRAINTS, resource_loss
from recbole_easrec.validation import require_choice, require_non_negative


class PaperSearch(SearchMethod):
    """Algorithm 1: bilevel α/β steps on a Gumbel-softmax mixture (module docstring)."""

    name = "paper"
    bilevel = True
    settings: ClassVar[tuple[str, ...]] = (
        "gumbel_tau_decay",
        "resource_constraint",
        "resource_lambda",
    )

    @classmethod
    def validate(cls, config: Any) -> None:
        require_choice(config, "resource_constraint", RESOURCE_CONSTRAINTS)
        require_non_negative(config, "resource_lambda")
        require_non_negative(config, "gumbel_tau_decay")

    def temperature(self) -> float:
        """τ_t of the current search iteration (EASRec Table II's schedule)."""
        return gumbel_temperature(self.trainer.iteration, float(self.config["gumbel_tau_decay"]))

    def resource_cost(self, mixture: Mixture) -> Tensor:
        """L_RC of eq. 15 for the mixture's (p, q)."""
        return resource_loss(
            mixture.p,
            mixture.q,
            self.space.candidate_costs,
            self.config["resource_constraint"],
            chosen_depth=self.supernet.controller.chosen_depth(),
        )

    def losses(self, interaction: Any) -> tuple[Tensor, Tensor]:
        """(L_CE, L_RC) of eq. 16 on one batch, along one Gumbel-softmax sample of the paths."""
        mixture = self.supernet.controller.sample(self.temperature())
        return self.supernet.recommendation_loss(interaction, mixture), self.resource_cost(mixture)

    def weight_losses(self, interaction: Any) -> Iterator[Tensor]:
        rec_loss, cost = self.losses(interaction)
        yield rec_loss + float(self.config["resource_lambda"]) * cost  # no gradient in W

    def arch_step(self, interaction: Any) -> dict[str, Any]:
        """One update of α, β by eq. 16 on an architecture batch (W untouched)."""
        trainer, controller = self.trainer, self.supernet.controller
        self.supernet.train()
        tau = self.temperature()
        trainer.arch_optimizer.zero_grad()
        rec_loss, cost = self.losses(interaction)
        loss = rec_loss + float(self.config["resource_lambda"]) * cost
        trainer.backward(loss)
        trainer.arch_optimizer.step()
        trainer.drop_weight_gradients()
        alpha, beta = controller.probabilities()
        return trainer.record_arch_step(
            {
                "tau": tau,
                "alpha": alpha,
                "beta": beta,
                "L_t": controller.chosen_depth(),
                "candidate": controller.chosen_candidate(),
                "ce_loss": float(rec_loss.item()),
                "resource_loss": float(cost.item()),
                "loss": float(loss.item()),
            }
        )
