"""EASRec's data-aware gates (EASRec §II-E, eq. 6–9).

Each candidate transformer of each layer owns two gates, G_1 (output width: the candidate's hidden
size h) and G_2 (output width: its inner size I). A gate reads the input batch X — the embedded
sequence E of the candidate's width, mean-pooled over the real (non-padding) positions, so that
one vector per sequence is perceived — and returns ``δ = γ · sigmoid(·)`` with γ = 2:

* ``gate_layers: 2`` — Linear → ReLU → Linear → γ·sigmoid (eq. 6–7, the paper's gates);
* ``gate_layers: 1`` — Linear → γ·sigmoid (Table V's one-layer ablation);
* ``gate_layers: 0`` — no gate (δ ≡ 1, Table V's "no gates").

δ1 scales the attention output S before the first FFN dense layer, δ2 the FFN activation before the
second (eq. 9); both broadcast over positions. The first layer's hidden width equals its input width
(our choice; the paper does not state it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

GATE_SCALE = 2.0
GATE_LAYER_CHOICES = (0, 1, 2)


def masked_mean(x: Tensor, key_padding_mask: Tensor) -> Tensor:
    """Mean of ``x`` ``[B, N, w]`` over real positions (``key_padding_mask`` True): ``[B, w]``."""
    keep = key_padding_mask.unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1).clamp(min=1.0)


class DataAwareGate(nn.Module):
    """One gate: ``γ·sigmoid(W2 ReLU(W1 x + b1) + b2)`` (eq. 6–7), or ``γ·sigmoid(W x + b)``."""

    def __init__(self, in_features: int, out_features: int, layers: int = 2) -> None:
        super().__init__()
        if layers not in (1, 2):
            raise ValueError(f"a gate has 1 or 2 layers, got {layers}")
        modules: list[nn.Module] = []
        if layers == 2:
            modules += [nn.Linear(in_features, in_features), nn.ReLU()]
        modules.append(nn.Linear(in_features, out_features))
        self.net = nn.Sequential(*modules)

    def forward(self, pooled: Tensor) -> Tensor:
        """``pooled`` ``[B, in]`` → δ ``[B, 1, out]`` in (0, γ), broadcastable over positions."""
        return (GATE_SCALE * torch.sigmoid(self.net(pooled))).unsqueeze(1)


class CandidateGates(nn.Module):
    """The two gates G_1 (width ``hidden``) and G_2 (width ``inner``) of one candidate and layer."""

    def __init__(self, hidden: int, inner: int, gate_layers: int = 2) -> None:
        super().__init__()
        if gate_layers not in GATE_LAYER_CHOICES:
            raise ValueError(f"gate_layers must be one of {GATE_LAYER_CHOICES}, got {gate_layers}")
        self.gate_layers = gate_layers
        if gate_layers:
            self.input_gate = DataAwareGate(hidden, hidden, gate_layers)
            self.inner_gate = DataAwareGate(hidden, inner, gate_layers)

    def forward(self, pooled: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(δ1, δ2) for the pooled input ``[B, hidden]``; ``(None, None)`` without gates."""
        if not self.gate_layers:
            return None, None
        return self.input_gate(pooled), self.inner_gate(pooled)
