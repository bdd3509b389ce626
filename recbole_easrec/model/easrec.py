"""EASRec: Elastic Architecture Search for efficient sequential recommenders (arXiv 2402.00390).

The model searched in the first stage (EASRec §II): a :class:`SuperNet` of ``n_layers`` layers with
one width candidate per entry of ``hidden_prune_ratios`` / ``inner_prune_ratios`` (candidate i keeps
``(1−γ_i)·d`` hidden and ``(1−γ'_i)·D`` inner dims) and per attention kind of
``attention_candidates`` (default: the one configured kind; a list makes the kind searchable), data-aware gates per candidate and layer
(eq. 6–9), a transformer controller α and a depth controller β (eq. 10–11); its parts are in
:mod:`recbole_easrec.model.elastic`.

Every forward pass computes an explicit path (:mod:`recbole_easrec.model.elastic.paths`):
``encode(seq, path)`` / ``recommendation_loss(interaction, path)`` with an
:class:`~recbole_easrec.model.elastic.paths.Architecture` (one-hot p, q: the hard path, which
computes what the reconstructed :class:`~recbole_easrec.model.easrec_compact.EASRecCompact`
computes) or a :class:`~recbole_easrec.model.elastic.paths.Mixture` (e.g. the Gumbel-softmax
samples of eq. 10, ``model.controller.sample(τ)``). Without one, the path of the enclosing
``with model.using(path):`` block, else the controllers' choice (argmax α, argmax β) — what
RecBole's evaluation calls (``full_sort_predict``) compute.

The search itself (which paths to train, α/β updates, the resource term of eq. 15–16, the choice)
is :mod:`recbole_easrec.search`'s, driven by :class:`~recbole_easrec.trainer.easrec.EASRecTrainer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.attention import ATTENTION_KINDS, attention_name
from recbole_easrec.model.base import (
    TransformerRecommender,
    is_causal,
    layer_settings,
    validate_transformer_config,
)
from recbole_easrec.model.easrec_compact import require_gate_layers
from recbole_easrec.model.elastic.paths import Architecture, Mixture, Path
from recbole_easrec.model.elastic.supernet import SuperNet, kept_width


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


def candidate_attentions(config: Any) -> list[str]:
    """The attention kinds the search chooses among: ``attention_candidates`` (names of
    :data:`~recbole_easrec.model.attention.ATTENTION_KINDS`), by default only the kind
    ``attention_type`` / ``linear_variant`` names; one-line ConfigError for a bad list."""
    kinds = config["attention_candidates"]
    if kinds is None:
        return [attention_name(config["attention_type"], config["linear_variant"])]
    known = ", ".join(ATTENTION_KINDS)
    if not isinstance(kinds, (list, tuple)) or not kinds or len(set(kinds)) != len(kinds):
        raise ConfigError(
            f"attention_candidates must be ~ or a list of distinct attention kinds ({known}),"
            f" got {kinds!r}"
        )
    for kind in kinds:
        if kind not in ATTENTION_KINDS:
            raise ConfigError(f"attention_candidates: unknown kind {kind!r}; known: {known}")
        if ATTENTION_KINDS[kind].causal_only and not is_causal(config):
            raise ConfigError(
                f"attention_candidates: {kind} needs causal attention (train_mode: autoregressive"
                " or causal_attention: True)"
            )
    return list(kinds)


def supernet_candidates(config: Any) -> tuple[list[tuple[int, int]], list[str]]:
    """Every candidate's ``(h_i, I_i)`` and attention kind: each width option with each attention
    kind (kind-major), so the search chooses width and attention together (α over all of them)."""
    widths, kinds = candidate_widths(config), candidate_attentions(config)
    return [w for _ in kinds for w in widths], [k for k in kinds for _ in widths]


def validate_easrec_config(config: Any) -> None:
    """One-line ConfigError for an invalid supernet setting (the search's settings are checked by
    :func:`recbole_easrec.search.methods.validate_search_config`)."""
    validate_transformer_config(config)
    supernet_candidates(config)
    require_gate_layers(config)


class EASRec(TransformerRecommender):
    """EASRec's supernet (see module docstring)."""

    validate_config = staticmethod(validate_easrec_config)

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self._default_path: Path | None = None

    def build_encoder(self, config: Any) -> nn.Module:
        self.gate_layers = int(config["gate_layers"])
        widths, kinds = supernet_candidates(config)
        return SuperNet(
            config["n_layers"],
            widths,
            self.gate_layers,
            config["gate_input"],
            kinds=kinds,
            **layer_settings(config),
        )

    # --- parameters -------------------------------------------------------------------------------

    @property
    def controller(self) -> nn.Module:
        return self.encoder.controller

    def architecture_parameters(self) -> list[nn.Parameter]:
        """α and β (updated on architecture batches only)."""
        return list(self.controller.parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every network weight W (updated on training batches only)."""
        arch = {id(p) for p in self.architecture_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # --- the path ---------------------------------------------------------------------------------

    @contextmanager
    def using(self, path: Path | None) -> Iterator[None]:
        """Calls without an explicit path compute ``path`` inside the block (``None``: the
        controllers' choice), e.g. RecBole's validation of one architecture."""
        outer, self._default_path = self._default_path, path
        try:
            yield
        finally:
            self._default_path = outer

    def mixture(self, path: Path | None = None) -> Mixture:
        """The (p, q) of ``path``; ``None``: the enclosing :meth:`using` block's path, else the
        controllers' hard choice (argmax α, argmax β)."""
        path = self._default_path if path is None else path
        if path is None:
            return self.controller.hard()
        if isinstance(path, Architecture):
            return self.controller.one_hot(path)
        return path

    # --- forward ----------------------------------------------------------------------------------

    def embed_width(self, item_seq: Tensor, width: int) -> Tensor:
        """The embedded sequence E restricted to the first ``width`` dims (LayerNorm over them)."""
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = F.embedding(item_seq, self.item_embedding.weight[:, :width])
        x = x + self.position_embedding.weight[positions, :width]
        norm = self.layer_norm
        x = F.layer_norm(x, (width,), norm.weight[:width], norm.bias[:width], norm.eps)
        return self.dropout(x)

    def encode(self, item_seq: Tensor, path: Path | None = None) -> Tensor:
        """The supernet's output along ``path`` (eq. 11): ``[B, N, d]``."""
        mixture = self.mixture(path)
        return self.encoder(
            lambda width: self.embed_width(item_seq, width),
            item_seq > 0,
            mixture.p,
            mixture.q,
            mixture.candidates,
            mixture.exits,
        )

    # --- losses -----------------------------------------------------------------------------------

    def recommendation_loss(self, interaction: Any, path: Path | None = None) -> Tensor:
        """L_CE of eq. 14 along ``path`` (the resource term of eq. 15–16 is the search's)."""
        if path is None:
            return super().calculate_loss(interaction)
        with self.using(path):
            return super().calculate_loss(interaction)

    def calculate_loss(self, interaction: Any) -> Tensor:
        """L_CE along the current path (:meth:`mixture`)."""
        return self.recommendation_loss(interaction)
