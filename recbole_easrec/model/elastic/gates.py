"""EASRec's data-aware gates (EASRec §II-E, eq. 6–9).

Each candidate transformer of each layer owns two gates, G_1 (output width: the candidate's hidden
size h) and G_2 (output width: its inner size I). A gate reads the input batch X — the embedded
sequence E of the candidate's width — and returns ``δ = γ · sigmoid(·)`` with γ = 2, one δ per
position. What position t perceives of E (``gate_input``) reads positions ≤ t only, so that a model
trained with a loss at every position (``train_mode: autoregressive``) never sees its own target:

* ``token`` — E_t itself (EASRec's official code, DNS-Rec: the gates run per token);
* ``causal_mean`` — the mean of E over the real positions ≤ t (the paper's "perceive the input
  batch", made causal; at the last real position it is the mean of the whole sequence).

An earlier version fed every position the mean over the whole sequence, which in autoregressive
training let position t read items t+1…N, its own target among them (issue 27).

Gate networks:

* ``gate_layers: 2`` — Linear → ReLU → Linear → γ·sigmoid (eq. 6–7, the paper's gates);
* ``gate_layers: 1`` — Linear → γ·sigmoid (Table V's one-layer ablation);
* ``gate_layers: 0`` — no gate (δ ≡ 1, Table V's "no gates").

δ1 scales the attention output S before the first FFN dense layer, δ2 the FFN activation before the
second (eq. 9), position by position. The first layer's hidden width equals its input width
(our choice; the paper does not state it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

GATE_SCALE = 2.0
GATE_LAYER_CHOICES = (0, 1, 2)
GATE_INPUTS = ("token", "causal_mean")


def causal_mean(x: Tensor, key_padding_mask: Tensor) -> Tensor:
    """Mean of ``x`` ``[B, N, w]`` over the real positions ≤ t, at every t: ``[B, N, w]``."""
    keep = key_padding_mask.unsqueeze(-1).to(x.dtype)
    return (x * keep).cumsum(1) / keep.cumsum(1).clamp(min=1.0)


def gate_signal(x: Tensor, key_padding_mask: Tensor, gate_input: str) -> Tensor:
    """What the gates read at each position (``gate_input``, module doc): ``[B, N, w]``."""
    if gate_input == "token":
        return x
    if gate_input == "causal_mean":
        return causal_mean(x, key_padding_mask)
    raise ValueError(f"gate_input must be one of {GATE_INPUTS}, got {gate_input!r}")


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

    def forward(self, signal: Tensor) -> Tensor:
        """``signal`` ``[B, N, in]`` → δ ``[B, N, out]`` in (0, γ), position by position."""
        return GATE_SCALE * torch.sigmoid(self.net(signal))


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

    def forward(self, signal: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(δ1, δ2) for the gate signal ``[B, N, hidden]``; ``(None, None)`` without gates."""
        if not self.gate_layers:
            return None, None
        return self.input_gate(signal), self.inner_gate(signal)
