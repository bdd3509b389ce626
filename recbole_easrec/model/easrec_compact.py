"""EASRec's compact network: the searched architecture as a physically smaller model (eq. 18).

A SASRec-style :class:`TransformerRecommender` of hidden size ``hidden_size``, inner size
``inner_size`` and ``n_layers`` layers whose layers take the data-aware gates of the selected
candidate (EASRec eq. 6–9, ``gate_layers``, read causally: ``gate_input``). The architecture is read from the ordinary config keys,
so :func:`recbole_easrec.saving.load_model` rebuilds it from ``model.json``. Built by
:func:`recbole_easrec.search.reconstruct.reconstruct` from a searched :class:`EASRec`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.base import (
    TransformerRecommender,
    layer_settings,
    validate_transformer_config,
)
from recbole_easrec.model.elastic.gates import (
    GATE_INPUTS,
    GATE_LAYER_CHOICES,
    CandidateGates,
    gate_signal,
)
from recbole_easrec.model.layers import TransformerLayer
from recbole_easrec.validation import require_choice


def require_gate_layers(config: Any) -> None:
    """``gate_layers`` must be 0, 1 or 2 and ``gate_input`` one of :data:`GATE_INPUTS`."""
    value = config["gate_layers"]
    if isinstance(value, bool) or value not in GATE_LAYER_CHOICES:
        raise ConfigError(
            f"gate_layers must be 0, 1 or 2 (layers per data-aware gate), got {value!r}"
        )
    require_choice(config, "gate_input", GATE_INPUTS)


def validate_compact_config(config: Any) -> None:
    """Transformer settings plus ``gate_layers`` in {0, 1, 2} and ``gate_input``."""
    validate_transformer_config(config)
    require_gate_layers(config)


def at_positions(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, index[b]]`` for ``x`` ``[B, N, w]``: ``[B, 1, w]``."""
    return x[torch.arange(x.shape[0], device=x.device), index].unsqueeze(1)


class CompactEncoder(nn.Module):
    """``n_layers`` transformer layers and each layer's pair of data-aware gates."""

    def __init__(
        self, n_layers: int, gate_layers: int, gate_input: str = "token", **layer_kwargs: Any
    ) -> None:
        super().__init__()
        self.gate_input = gate_input
        self.layers = nn.ModuleList(TransformerLayer(**layer_kwargs) for _ in range(n_layers))
        self.gates = nn.ModuleList(
            CandidateGates(layer_kwargs["hidden_size"], layer_kwargs["inner_size"], gate_layers)
            for _ in range(n_layers)
        )

    def forward(
        self, x: Tensor, key_padding_mask: Tensor, last_index: Tensor | None = None
    ) -> Tensor:
        """Hidden states ``[B, N, h]``; with ``last_index`` the final layer runs at that position
        only (``[B, 1, h]``). The gates read the embedded sequence ``x`` causally (``gate_input``,
        :mod:`~recbole_easrec.model.elastic.gates`), position by position (eq. 6–9)."""
        signal = gate_signal(x, key_padding_mask, self.gate_input)
        for depth, (layer, gates) in enumerate(zip(self.layers, self.gates)):
            final = depth == len(self.layers) - 1
            query_index = last_index if final else None
            here = signal if query_index is None else at_positions(signal, query_index)
            input_gate, inner_gate = gates(here)
            x = layer(x, key_padding_mask, input_gate, inner_gate, query_index)
        return x


class EASRecCompact(TransformerRecommender):
    """The retrained network of EASRec (see module docstring)."""

    validate_config = staticmethod(validate_compact_config)

    def build_encoder(self, config: Any) -> nn.Module:
        self.gate_layers = int(config["gate_layers"])
        return CompactEncoder(
            config["n_layers"], self.gate_layers, config["gate_input"], **layer_settings(config)
        )

    def encode(self, item_seq: Tensor) -> Tensor:
        return self.encoder(self.embed(item_seq), item_seq > 0)

    def forward(self, item_seq: Tensor, item_seq_len: Tensor) -> Tensor:
        """Hidden state at the last real item; the last layer computes that position only."""
        return self.encoder(self.embed(item_seq), item_seq > 0, item_seq_len - 1)[:, 0]
