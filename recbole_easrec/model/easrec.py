"""EASRec: Elastic Architecture Search for efficient sequential recommenders (arXiv 2402.00390).

The model searched in the first stage (EASRec §II): a :class:`SuperNet` of ``n_layers`` layers with
one width candidate per entry of ``hidden_prune_ratios`` / ``inner_prune_ratios`` (candidate i keeps
``(1−γ_i)·d`` hidden and ``(1−γ'_i)·D`` inner dims), data-aware gates per candidate and layer
(eq. 6–9), a transformer controller α and a depth controller β (eq. 10–11).

* Training mode: p, q are Gumbel-softmax samples at ``τ_t = max(0.01, 1 − 0.00005·t)``, t =
  :attr:`EASRec.search_step` (set by :class:`~recbole_easrec.trainer.easrec.EASRecTrainer`).
* Eval mode: the hard selection (argmax α, argmax β) — only the selected path runs, and it computes
  what the reconstructed :class:`~recbole_easrec.model.easrec_compact.EASRecCompact` computes.
* Loss (eq. 16): ``L = L_CE + λ·L_RC`` with the resource term of eq. 15
  (:mod:`recbole_easrec.search.resource`, ``resource_constraint``).
* A fixed path: with :attr:`EASRec.path` set to an
  :class:`~recbole_easrec.search.space.Architecture`, p and q are that path's one-hot weights in
  both modes (the sandwich search's weight steps, shared-weight scoring of every architecture).

The second stage (reconstruction, retraining) is driven by the trainer.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.attention import attention_name
from recbole_easrec.model.base import (
    TransformerRecommender,
    layer_settings,
    validate_transformer_config,
)
from recbole_easrec.model.easrec_compact import require_gate_layers
from recbole_easrec.search.arch_data import validate_arch_data
from recbole_easrec.search.controllers import gumbel_temperature
from recbole_easrec.search.proxyless import BinaryGates
from recbole_easrec.search.resource import (
    RESOURCE_CONSTRAINTS,
    candidate_costs,
    inference_flops,
    resource_loss,
)
from recbole_easrec.search.space import (
    Architecture,
    flops_fractions,
    validate_selection,
    within_budget,
)
from recbole_easrec.search.supernet import SuperNet, kept_width
from recbole_easrec.validation import require_choice, require_positive_int


def _require_ratio_list(config: Any, key: str) -> list[float]:
    ratios = config[key]
    if not isinstance(ratios, (list, tuple)) or not ratios:
        raise ConfigError(
            f"{key} must be a non-empty list of pruning ratios in [0, 1), got {ratios!r}"
        )
    for ratio in ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
            raise ConfigError(f"{key} entries must be numbers in [0, 1), got {ratio!r}")
    return [float(r) for r in ratios]


def _require_non_negative(config: Any, key: str, integer: bool = False) -> None:
    value = config[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{key} must be {kind} >= 0, got {value!r}")


def candidate_widths(config: Any) -> list[tuple[int, int]]:
    """``(h_i, I_i)`` of every candidate, checked: h_i divisible by n_heads, I_i ≥ 1."""
    hidden = _require_ratio_list(config, "hidden_prune_ratios")
    inner = _require_ratio_list(config, "inner_prune_ratios")
    if len(hidden) != len(inner):
        raise ConfigError(
            f"hidden_prune_ratios ({len(hidden)}) and inner_prune_ratios ({len(inner)}) must list"
            " the same number of candidates"
        )
    widths = []
    for gamma, gamma_inner in zip(hidden, inner):
        width = kept_width(config["hidden_size"], gamma)
        inner_width = kept_width(config["inner_size"], gamma_inner)
        if width < 1 or width % config["n_heads"] or inner_width < 1:
            raise ConfigError(
                f"pruning ratio {gamma} keeps hidden {width}, inner {inner_width}: the kept hidden"
                f" size must be a positive multiple of n_heads ({config['n_heads']}); change the"
                " ratios or hidden_size"
            )
        widths.append((width, inner_width))
    return widths


def validate_easrec_config(config: Any) -> None:
    """One-line ConfigError for any invalid supernet or search setting."""
    validate_transformer_config(config)
    candidate_widths(config)
    require_gate_layers(config)
    validate_selection(config)
    require_choice(config, "resource_constraint", RESOURCE_CONSTRAINTS)
    _require_non_negative(config, "resource_lambda")
    _require_non_negative(config, "gumbel_tau_decay")
    require_positive_int(config, "arch_update_freq", "search_stopping_step")
    validate_arch_data(config)
    rate = config["arch_learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
        raise ConfigError(f"arch_learning_rate must be a positive number, got {rate!r}")
    _require_non_negative(config, "arch_warmup_epochs", integer=True)
    epochs = config["epochs"]
    if isinstance(epochs, int) and 0 < epochs <= config["arch_warmup_epochs"]:
        raise ConfigError(
            f"arch_warmup_epochs ({config['arch_warmup_epochs']}) must be smaller than epochs "
            f"({epochs}): the search needs epochs that update α and β"
        )
    if config["retrain_epochs"] is not None:
        _require_non_negative(config, "retrain_epochs", integer=True)
    for key in ("retrain_batch_size", "arch_batch_size"):
        if config[key] is not None:
            require_positive_int(config, key)


class EASRec(TransformerRecommender):
    """EASRec's supernet (see module docstring)."""

    validate_config = staticmethod(validate_easrec_config)

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.resource_lambda = float(config["resource_lambda"])
        self.resource_constraint: str = config["resource_constraint"]
        self.search_step = 0
        self.attention_kind = attention_name(config["attention_type"], config["linear_variant"])
        self.tau_decay = float(config["gumbel_tau_decay"])
        costs = candidate_costs(
            self.encoder.widths,
            self.max_seq_length,
            config["n_heads"],
            self.attention_kind,
            self.gate_layers,
        )
        self.register_buffer("candidate_costs", costs, persistent=False)
        self.flops_fraction: dict[Architecture, float] = flops_fractions(
            self.encoder.widths,
            config["n_layers"],
            self.max_seq_length,
            config["n_heads"],
            self.attention_kind,
            self.gate_layers,
            self.n_items,
            self.causal,
        )
        within_budget(self.flops_fraction, config["flops_budget"])  # a budget nothing meets
        largest = max(self.flops_fraction, key=lambda arch: (self.flops_fraction[arch], arch))
        self.largest_flops = inference_flops(
            largest.depth,
            self.max_seq_length,
            *self.encoder.widths[largest.candidate],
            config["n_heads"],
            self.attention_kind,
            self.gate_layers,
            self.n_items,
            self.causal,
        )
        self.path: Architecture | None = None
        self.binary_gates: BinaryGates | None = None  # set by ProxylessNAS' architecture step
        self.temperature_override: float | None = None  # set by search_method: recnas
        self._last_weights: tuple[Tensor, Tensor] | None = None

    def build_encoder(self, config: Any) -> nn.Module:
        self.gate_layers = int(config["gate_layers"])
        return SuperNet(
            config["n_layers"],
            candidate_widths(config),
            self.gate_layers,
            config["gate_input"],
            **layer_settings(config),
        )

    # --- parameters -------------------------------------------------------------------------------

    @property
    def controller(self) -> nn.Module:
        return self.encoder.controller

    def architecture_parameters(self) -> list[nn.Parameter]:
        """α and β (updated on validation batches only)."""
        return list(self.controller.parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every network weight W (updated on training batches only)."""
        arch = {id(p) for p in self.architecture_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    @property
    def temperature(self) -> float:
        """τ of the Gumbel-softmax: the paper's schedule, or the search method's own."""
        if self.temperature_override is not None:
            return self.temperature_override
        return gumbel_temperature(self.search_step, self.tau_decay)

    # --- forward ----------------------------------------------------------------------------------

    def embed_width(self, item_seq: Tensor, width: int) -> Tensor:
        """The embedded sequence E restricted to the first ``width`` dims (LayerNorm over them)."""
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = F.embedding(item_seq, self.item_embedding.weight[:, :width])
        x = x + self.position_embedding.weight[positions, :width]
        norm = self.layer_norm
        x = F.layer_norm(x, (width,), norm.weight[:width], norm.bias[:width], norm.eps)
        return self.dropout(x)

    def path_weights(self, arch: Architecture) -> tuple[Tensor, Tensor]:
        """One-hot (p, q) of one architecture."""
        alpha = self.controller.alpha
        p = F.one_hot(torch.tensor(arch.candidate), alpha.numel()).to(alpha)
        q = F.one_hot(torch.tensor(arch.depth - 1), self.controller.beta.numel()).to(alpha)
        return p, q

    def selection_weights(self) -> tuple[Tensor, Tensor]:
        """(p, q): the fixed :attr:`path` if set; else Gumbel-softmax samples in training mode and
        the hard selection in eval mode."""
        if self.path is not None:
            return self.path_weights(self.path)
        if self.training:
            return self.controller.sample(self.temperature)
        return self.controller.hard()

    def encode(self, item_seq: Tensor) -> Tensor:
        embed = lambda width: self.embed_width(item_seq, width)  # noqa: E731
        gates = self.binary_gates
        if gates is not None:  # search/proxyless.py: both paths of each pair, one gate open
            return self.encoder(
                embed, item_seq > 0, gates.p, gates.q, gates.candidates, gates.exits
            )
        p, q = self.selection_weights()
        self._last_weights = (p, q)
        return self.encoder(embed, item_seq > 0, p, q)

    # --- losses -----------------------------------------------------------------------------------

    def recommendation_loss(self, interaction: Any) -> Tensor:
        """L_CE of eq. 14 alone (the sandwich search's weight steps)."""
        return super().calculate_loss(interaction)

    def loss_parts(self, interaction: Any) -> tuple[Tensor, Tensor]:
        """(L_CE, L_RC) of eq. 16 for one batch (L_RC with the batch's own p, q)."""
        rec_loss = self.recommendation_loss(interaction)
        p, q = self._last_weights
        cost = resource_loss(
            p,
            q,
            self.candidate_costs,
            self.resource_constraint,
            chosen_depth=self.controller.chosen_depth(),
        )
        return rec_loss, cost

    def calculate_loss(self, interaction: Any) -> Tensor:
        """Eq. 16: ``L_CE + λ·L_RC``."""
        rec_loss, cost = self.loss_parts(interaction)
        return rec_loss + self.resource_lambda * cost
