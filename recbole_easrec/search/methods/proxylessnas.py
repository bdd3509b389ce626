"""``search_method: proxylessnas`` — ProxylessNAS on EASRec's supernet (Cai, Zhu & Han, ICLR 2019).

Path-level binarisation instead of a soft mixture:

* **Weight step**: one path (candidate, exit) drawn from ``softmax(α)``, ``softmax(β)``; only its
  weights are trained (memory of one path, as the paper's point).
* **Architecture step**, the two-path estimator of the official code: two distinct candidates are
  drawn from ``softmax(α)`` (and two exits from ``softmax(β)``), a binary gate ``g`` opens one of
  each pair with their renormalised probabilities ``r``, and the loss is computed through the
  gated pair (:func:`binary_gates`, a :class:`~recbole_easrec.model.elastic.paths.Mixture`: both paths are evaluated, ``g`` weights them, so ``∂L/∂g_j``
  exists for both). The BinaryConnect-style gradient (paper eq. 4, over the pair) is
  ``∂L/∂α_i = Σ_j ∂L/∂g_j · r_j (δ_ij − r_i) = r_i (∂L/∂g_i − Σ_j r_j ∂L/∂g_j)``
  (:func:`binary_gate_gradient`); it is the exact gradient of the expected loss whenever the loss
  is linear in the gates (tested against finite differences). After the step the pair's logits
  are shifted so that their summed probability is unchanged, which leaves every unsampled path's
  probability where it was (the official code's rescaling).
* **Resource term**: the expected inference FLOPs ``E[F] = Σ p_i q_l F(i, l)`` (differentiable in
  α, β), against a target ``T`` = ``proxyless_target`` × the largest path's FLOPs, either additive
  ``L_CE + λ (E[F] − T) / T`` (``proxyless_loss: add``, λ = ``proxyless_lambda``) or the official
  code's multiplicative log form ``a · L_CE · (log E[F] / log T)^b`` (``mul_log``, a =
  ``proxyless_alpha``, b = ``proxyless_beta``). Defaults are our reading of the official code
  (``mul#log`` with a = 0.2, b = 0.3; ``add#linear`` λ = 0.2) and should be checked against it.
* **Warm-up**: ``arch_warmup_epochs`` weight-only epochs first (the paper warms the weights up
  before architecture updates; its ImageNet run used 40 epochs).

The choice is Algorithm 1's: the most probable path (argmax α, argmax β) within ``flops_budget``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from recbole_easrec.distributed import average_gradients, is_distributed
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture, Mixture
from recbole_easrec.search.methods.base import SearchMethod

PROXYLESS_LOSSES = ("mul_log", "add")


def sample_pair(logits: Tensor, generator: torch.Generator) -> tuple[list[int], int]:
    """Two distinct indices drawn from ``softmax(logits)`` without replacement (one if there is
    only one), and the one the binary gate opens, drawn from their renormalised probabilities."""
    probs = torch.softmax(logits.detach().float(), 0)
    if probs.numel() == 1:
        return [0], 0
    pair = torch.multinomial(probs, 2, replacement=False, generator=generator).tolist()
    pair_probs = torch.softmax(logits.detach().float()[pair], 0)
    opened = pair[int(torch.multinomial(pair_probs, 1, generator=generator))]
    return pair, opened


def binary_gates(alpha: Tensor, beta: Tensor, generator: torch.Generator) -> Mixture:
    """The gates of one architecture step (module docstring): one-hot ``p``, ``q`` as leaf tensors
    that collect ``∂L/∂g``, and the sampled pairs of candidates and exits, both evaluated."""
    candidates, candidate = sample_pair(alpha, generator)
    exits, exit_layer = sample_pair(beta, generator)
    p = torch.zeros_like(alpha.detach())
    q = torch.zeros_like(beta.detach())
    p[candidate], q[exit_layer] = 1.0, 1.0
    return Mixture(p.requires_grad_(), q.requires_grad_(), tuple(candidates), tuple(exits))


def sample_path(alpha: Tensor, beta: Tensor, generator: torch.Generator) -> Architecture:
    """One path from ``softmax(α)``, ``softmax(β)`` (the weight step's)."""
    candidate = int(torch.multinomial(torch.softmax(alpha.detach(), 0), 1, generator=generator))
    depth = int(torch.multinomial(torch.softmax(beta.detach(), 0), 1, generator=generator)) + 1
    return Architecture(candidate, depth)


def binary_gate_gradient(pair_logits: Tensor, gate_grads: Tensor) -> Tensor:
    """``∂L/∂α_i = r_i (∂L/∂g_i − Σ_j r_j ∂L/∂g_j)`` with ``r = softmax(pair_logits)``."""
    r = torch.softmax(pair_logits.detach(), 0)
    return r * (gate_grads - (r * gate_grads).sum())


def keep_pair_mass(logits: Tensor, pair: list[int], before: Tensor) -> None:
    """Shift ``logits[pair]`` (in place) so that ``logsumexp`` over the pair equals its value
    ``before`` the update: the unsampled entries' probabilities do not change."""
    with torch.no_grad():
        offset = torch.logsumexp(before, 0) - torch.logsumexp(logits[pair], 0)
        logits[pair] += offset


def expected_flops_fraction(
    alpha: Tensor, beta: Tensor, fractions: Mapping[Architecture, float]
) -> Tensor:
    """``E[F] / F_max = Σ softmax(α)_i softmax(β)_l · fraction(i, l)``, differentiable."""
    p, q = torch.softmax(alpha, 0), torch.softmax(beta, 0)
    return sum(p[arch.candidate] * q[arch.depth - 1] * share for arch, share in fractions.items())


def resource_loss(
    ce: Tensor,
    expected_fraction: Tensor,
    target_fraction: float,
    largest_flops: int,
    form: str = "mul_log",
    lam: float = 0.2,
    scale: float = 0.2,
    power: float = 0.3,
) -> Tensor:
    """The architecture step's loss with ProxylessNAS' resource term (module docstring)."""
    if form == "add":
        return ce + lam * (expected_fraction - target_fraction) / target_fraction
    expected = torch.log(expected_fraction * largest_flops)
    ratio = expected / math.log(target_fraction * largest_flops)
    return scale * ce * ratio**power


class ProxylessNASSearch(SearchMethod):
    """Binarised paths, the two-path estimator and the expected-FLOPs term (module docstring)."""

    name = "proxylessnas"
    bilevel = True
    settings: ClassVar[tuple[str, ...]] = (
        "proxyless_target",
        "proxyless_loss",
        "proxyless_lambda",
        "proxyless_alpha",
        "proxyless_beta",
    )

    @classmethod
    def validate(cls, config: Any) -> None:
        form = config["proxyless_loss"]
        if form not in PROXYLESS_LOSSES:
            raise ConfigError(f"proxyless_loss must be mul_log or add, got {form!r}")
        target = config["proxyless_target"]
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
            raise ConfigError(
                "proxyless_target must be a fraction in (0, 1) of the largest path's FLOPs,"
                f" got {target!r}"
            )
        for key in ("proxyless_lambda", "proxyless_alpha", "proxyless_beta"):
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{key} must be a number >= 0, got {value!r}")

    def weight_losses(self, interaction: Any) -> Iterator[Tensor]:
        """W along one path drawn from softmax(α), softmax(β)."""
        controller = self.supernet.controller
        arch = sample_path(controller.alpha, controller.beta, self.trainer.path_generator)
        yield self.supernet.recommendation_loss(interaction, arch)

    def arch_step(self, interaction: Any) -> dict[str, Any]:
        """α, β by the two-path binary-gate estimator and the expected-FLOPs resource term; W
        untouched."""
        trainer, model, config = self.trainer, self.supernet, self.config
        model.train()
        controller = model.controller
        gates = binary_gates(controller.alpha, controller.beta, trainer.path_generator)
        candidates, exits = list(gates.candidates), list(gates.exits)
        before = (
            controller.alpha.detach()[candidates].clone(),
            controller.beta.detach()[exits].clone(),
        )
        ce = model.recommendation_loss(interaction, gates)
        expected = expected_flops_fraction(controller.alpha, controller.beta, self.space.fractions)
        loss = resource_loss(
            ce,
            expected,
            float(config["proxyless_target"]),
            self.space.largest_flops,
            config["proxyless_loss"],
            float(config["proxyless_lambda"]),
            float(config["proxyless_alpha"]),
            float(config["proxyless_beta"]),
        )
        trainer.arch_optimizer.zero_grad()
        trainer.backward(loss)
        if is_distributed(config):
            average_gradients([gates.p, gates.q])
        with torch.no_grad():
            for logits, gate, pair in (
                (controller.alpha, gates.p, candidates),
                (controller.beta, gates.q, exits),
            ):
                logits.grad[pair] += binary_gate_gradient(logits[pair], gate.grad[pair])
        trainer.arch_optimizer.step()
        keep_pair_mass(controller.alpha, candidates, before[0])
        keep_pair_mass(controller.beta, exits, before[1])
        trainer.drop_weight_gradients()
        alpha, beta = controller.probabilities()
        return trainer.record_arch_step(
            {
                "alpha": alpha,
                "beta": beta,
                "L_t": controller.chosen_depth(),
                "candidate": controller.chosen_candidate(),
                "ce_loss": float(ce.item()),
                "expected_flops_fraction": float(expected.item()),
                "loss": float(loss.item()),
            }
        )
