"""EASRec's supernet (EASRec §II-C/D, eq. 8–11) with width pruning by weight slicing.

Every layer l holds one full-size :class:`~recbole_easrec.model.layers.TransformerLayer`
(hidden d, inner D). Candidate i of that layer is the same layer restricted to its first
``h_i = (1−γ_i)·d`` hidden and ``I_i = (1−γ'_i)·D`` inner dimensions: it reads the first h_i
features of its input, uses the top-left slices of every weight matrix, splits the kept width over
the same number of heads (head size h_i/n), normalises over the kept dimensions only (LayerNorm
weights sliced too) and writes h_i features. The "zero mask" of the paper is therefore applied to
the input, the weights and the output alike, which makes candidate i compute *exactly* what a
physically smaller ``TransformerLayer(h_i, I_i)`` holding those slices computes — the basis of the
lossless reconstruction of eq. 18 (:mod:`recbole_easrec.search.reconstruct`), and the
once-for-all idea: the elastic layer is the full layer slicing its own weights.

The attention is the candidate's kind (:mod:`recbole_easrec.model.attention`; the layer's own
unless ``attention_candidates`` makes it searchable, when candidates of several kinds share the
same weights) called on the sliced queries, keys and values (and the first h_i channels of a value
kernel), so the supernet and the stack share one implementation. The first layer's candidate i reads the embedded sequence at its own width (item and position
embeddings sliced, embedding LayerNorm over h_i dims), so that the compact network's embedding is
the slice too. Mixture (eq. 11): ``T^(l) = Σ_i p_i pad_d(T_i^(l))`` (zero-padded to d) and
``Y = Σ_l q_l T^(l)``. Candidates with ``p_i = 0`` and layers after the last ``q_l ≠ 0`` are not
computed, so the hard selection (one-hot p, q) runs only the selected path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from recbole_easrec.model.attention import AttentionKind, attention_name, get_attention_kind
from recbole_easrec.model.elastic.controllers import ArchitectureController
from recbole_easrec.model.elastic.gates import CandidateGates, gate_signal
from recbole_easrec.model.layers import TransformerLayer


def kept_width(size: int, prune_ratio: float) -> int:
    """The width a candidate keeps: ``round((1 − γ)·size)``."""
    return int(round(size * (1.0 - prune_ratio)))


def _sliced_linear(module: nn.Linear, x: Tensor, out_features: int, in_features: int) -> Tensor:
    bias = None if module.bias is None else module.bias[:out_features]
    return F.linear(x, module.weight[:out_features, :in_features], bias)


def _sliced_layer_norm(module: nn.LayerNorm, x: Tensor, width: int) -> Tensor:
    return F.layer_norm(x, (width,), module.weight[:width], module.bias[:width], module.eps)


def sliced_layer_forward(
    layer: TransformerLayer,
    x: Tensor,
    width: int,
    inner: int,
    key_padding_mask: Tensor | None,
    input_gate: Tensor | None = None,
    inner_gate: Tensor | None = None,
    kind: AttentionKind | None = None,
) -> Tensor:
    """``layer`` restricted to its first ``width`` hidden and ``inner`` FFN dims (eq. 9), mixing
    positions with ``kind`` (default the layer's own attention kind).

    Args:
        x: ``[B, N, width]``, the kept part of the layer's input.
        input_gate, inner_gate: δ1 ``[B, N, width]`` and δ2 ``[B, N, inner]`` (or None).

    Returns:
        ``[B, N, width]``, equal to ``TransformerLayer(width, inner)`` holding the weight slices.
    """
    attention, ffn = layer.attention, layer.feed_forward
    batch, length, _ = x.shape
    heads = attention.n_heads

    def split(t: Tensor) -> Tensor:
        return t.view(batch, length, heads, width // heads).transpose(1, 2)

    q, k, v = (
        split(_sliced_linear(m, x, width, width))
        for m in (attention.query, attention.key, attention.value)
    )
    kind = kind or attention.kind
    conv = attention.value_conv[:width] if kind.value_conv else None
    context = kind.context(q, k, v, key_padding_mask, attention.causal, attention.dropout, conv)
    context = context.transpose(1, 2).reshape(batch, length, width)
    projected = F.dropout(
        _sliced_linear(attention.dense, context, width, width),
        attention.out_dropout.p,
        layer.training,
    )
    attended = _sliced_layer_norm(attention.layer_norm, projected + x, width)
    gated = attended if input_gate is None else attended * input_gate
    hidden = ffn.activation(_sliced_linear(ffn.dense_1, gated, inner, width))
    if inner_gate is not None:
        hidden = hidden * inner_gate
    out = F.dropout(
        _sliced_linear(ffn.dense_2, hidden, width, inner), ffn.dropout.p, layer.training
    )
    return _sliced_layer_norm(ffn.layer_norm, out + attended, width)


class SuperNet(nn.Module):
    """L full-size layers, m width candidates per layer with their gates, and the controllers."""

    def __init__(
        self,
        n_layers: int,
        widths: Sequence[tuple[int, int]],
        gate_layers: int,
        gate_input: str,
        hidden_size: int,
        inner_size: int,
        kinds: Sequence[str] | None = None,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.gate_input = gate_input
        self.widths = [tuple(w) for w in widths]
        own = attention_name(layer_kwargs["attention_type"], layer_kwargs["linear_variant"])
        self.kinds = list(kinds or [own] * len(self.widths))  # each candidate's attention kind
        self.attention_kinds = [get_attention_kind(kind) for kind in self.kinds]
        value_conv = any(kind.value_conv for kind in self.attention_kinds)
        self.layers = nn.ModuleList(
            TransformerLayer(
                hidden_size=hidden_size,
                inner_size=inner_size,
                value_conv=value_conv,
                **layer_kwargs,
            )
            for _ in range(n_layers)
        )
        self.gates = nn.ModuleList(
            nn.ModuleList(CandidateGates(h, i, gate_layers) for h, i in self.widths)
            for _ in range(n_layers)
        )
        self.controller = ArchitectureController(len(self.widths), n_layers)

    def forward(
        self,
        embed: Callable[[int], Tensor],
        key_padding_mask: Tensor,
        p: Tensor,
        q: Tensor,
        candidates: Sequence[int] | None = None,
        exits: Sequence[int] | None = None,
    ) -> Tensor:
        """Y = Σ_l q_l Σ_i p_i pad(T_i^(l)) (eq. 11): ``[B, N, d]``.

        Args:
            embed: ``embed(width)`` → the embedded sequence E at that width, ``[B, N, width]``.
            key_padding_mask: ``[B, N]``, True at real items.
            p, q: candidate weights ``[m]`` and depth weights ``[L]`` (soft or one-hot).
            candidates, exits: the candidates and exits (0-based) to evaluate; default those with
                a non-zero weight. ProxylessNAS' binary gates evaluate a gate that is closed (weight
                0) too, so that the loss has a gradient with respect to it.
        """
        if candidates is None:
            candidates = [i for i, weight in enumerate(p.detach().tolist()) if weight != 0.0]
        if exits is None:
            exits = [d for d, weight in enumerate(q.detach().tolist()) if weight != 0.0]
        active, exit_layers = list(candidates), set(exits)
        depth = max(exit_layers) + 1
        inputs = {i: embed(self.widths[i][0]) for i in active}
        signals = {i: gate_signal(inputs[i], key_padding_mask, self.gate_input) for i in active}
        state: Tensor | None = None
        output: Tensor | float = 0.0
        for layer in range(depth):
            mixture: Tensor | float = 0.0
            for i in active:
                width, inner = self.widths[i]
                x = inputs[i] if state is None else state[..., :width]
                input_gate, inner_gate = self.gates[layer][i](signals[i])
                out = sliced_layer_forward(
                    self.layers[layer],
                    x,
                    width,
                    inner,
                    key_padding_mask,
                    input_gate,
                    inner_gate,
                    self.attention_kinds[i],
                )
                mixture = mixture + p[i] * F.pad(out, (0, self.hidden_size - width))
            state = mixture
            if layer in exit_layers:
                output = output + q[layer] * state
        return output
