"""The transformer stack shared by LinRec, EASRec and DSL.

One post-LayerNorm transformer layer as in SASRec (Kang & McAuley, 2018) and RecBole's
``TransformerEncoder``, with the attention kind as an option (:mod:`recbole_easrec.model.attention`: ``softmax``,
O(N² d) per layer, or one of the linear kinds, O(N d²), LinRec's eq. 5 by default).

Padding: RecBole right-pads sequences with item 0. Padding positions never influence real
positions (each attention kind keeps them out).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbole_easrec.model.attention import (
    ATTENTION_TYPES,
    LINEAR_VARIANTS,
    VALUE_CONV_KERNEL,
    attention_name,
    get_attention_kind,
    init_value_conv,
)

HIDDEN_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "relu": F.relu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with residual connection and LayerNorm (post-LN, as SASRec)."""

    def __init__(
        self,
        hidden_size: int,
        n_heads: int,
        attention_type: str = "linear",
        hidden_dropout_prob: float = 0.0,
        attn_dropout_prob: float = 0.0,
        layer_norm_eps: float = 1e-12,
        causal: bool = False,
        linear_variant: str = "linrec",
        value_conv: bool | None = None,
    ) -> None:
        """``value_conv``: hold a depth-wise kernel on V (default: if the kind uses one; EASRec's
        supernet asks for it when any of its candidates' kinds does)."""
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"attention_type must be one of {ATTENTION_TYPES}, got {attention_type!r}"
            )
        if attention_type == "linear" and linear_variant not in LINEAR_VARIANTS:
            raise ValueError(
                f"linear_variant must be one of {LINEAR_VARIANTS}, got {linear_variant!r}"
            )
        self.n_heads = n_heads
        self.attention_type = attention_type
        self.kind = get_attention_kind(attention_name(attention_type, linear_variant))
        if self.kind.causal_only and not causal:
            raise ValueError(f"attention kind {self.kind.name!r} needs causal attention")
        self.causal = causal
        self.attn_dropout_prob = attn_dropout_prob
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.value_conv = None
        if self.kind.value_conv if value_conv is None else value_conv:  # one kernel per channel
            self.value_conv = nn.Parameter(torch.empty(hidden_size, VALUE_CONV_KERNEL))
            init_value_conv(self.value_conv)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_dropout = nn.Dropout(hidden_dropout_prob)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.n_heads, width // self.n_heads).transpose(1, 2)

    @property
    def dropout(self) -> float:
        """Attention-weight dropout now (softmax only; 0 in eval mode)."""
        return self.attn_dropout_prob if self.training else 0.0

    def attend(self, x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """The attention output S before the output projection: ``[batch, length, hidden]``."""
        q, k, v = (self._split_heads(layer(x)) for layer in (self.query, self.key, self.value))
        context = self.kind.context(
            q, k, v, key_padding_mask, self.causal, self.dropout, self.value_conv
        )
        return context.transpose(1, 2).reshape(x.shape)

    def attend_one(self, x: Tensor, key_padding_mask: Tensor | None, query_index: Tensor) -> Tensor:
        """Attention output at one query position per sequence, ``[batch, 1, hidden]``.

        ``query_index`` must be each sequence's last real position: every real key is then at or
        before it, so the causal and non-causal forms coincide and only padding is masked.
        """
        batch = x.shape[0]
        x_query = x[torch.arange(batch, device=x.device), query_index].unsqueeze(1)
        q = self._split_heads(self.query(x_query))
        k, v = (self._split_heads(layer(x)) for layer in (self.key, self.value))
        context = self.kind.context_at(
            q, k, v, key_padding_mask, query_index, self.dropout, self.value_conv
        )
        return context.transpose(1, 2).reshape(x_query.shape)

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        query_index: Tensor | None = None,
    ) -> Tensor:
        """Self-attention block; with ``query_index`` only that position's output, ``[B, 1, d]``."""
        if query_index is None:
            residual, context = x, self.attend(x, key_padding_mask)
        else:
            residual = x[torch.arange(x.shape[0], device=x.device), query_index].unsqueeze(1)
            context = self.attend_one(x, key_padding_mask, query_index)
        return self.layer_norm(self.out_dropout(self.dense(context)) + residual)


class FeedForward(nn.Module):
    """Position-wise feed-forward block with residual connection and LayerNorm (post-LN)."""

    def __init__(
        self,
        hidden_size: int,
        inner_size: int,
        hidden_dropout_prob: float = 0.0,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if hidden_act not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"hidden_act must be one of {sorted(HIDDEN_ACTIVATIONS)}, got {hidden_act!r}"
            )
        self.dense_1 = nn.Linear(hidden_size, inner_size)
        self.dense_2 = nn.Linear(inner_size, hidden_size)
        self.activation = HIDDEN_ACTIVATIONS[hidden_act]
        self.dropout = nn.Dropout(hidden_dropout_prob)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def forward(
        self, x: Tensor, input_gate: Tensor | None = None, inner_gate: Tensor | None = None
    ) -> Tensor:
        """Apply the block; the optional gates scale element-wise (EASRec eq. 9).

        Args:
            x: ``[batch, length, hidden]``.
            input_gate: broadcastable to ``x``; scales the input of the first dense layer (δ1).
            inner_gate: broadcastable to ``[batch, length, inner]``; scales the hidden activation
                before the second dense layer (δ2).
        """
        inner = self.activation(self.dense_1(x if input_gate is None else x * input_gate))
        if inner_gate is not None:
            inner = inner * inner_gate
        return self.layer_norm(self.dropout(self.dense_2(inner)) + x)


class TransformerLayer(nn.Module):
    """Attention block followed by feed-forward block (SASRec's layer)."""

    def __init__(
        self,
        hidden_size: int,
        inner_size: int,
        n_heads: int,
        attention_type: str = "linear",
        hidden_dropout_prob: float = 0.0,
        attn_dropout_prob: float = 0.0,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        causal: bool = False,
        linear_variant: str = "linrec",
        value_conv: bool | None = None,
    ) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(
            hidden_size,
            n_heads,
            attention_type,
            hidden_dropout_prob,
            attn_dropout_prob,
            layer_norm_eps,
            causal,
            linear_variant,
            value_conv,
        )
        self.feed_forward = FeedForward(
            hidden_size, inner_size, hidden_dropout_prob, hidden_act, layer_norm_eps
        )

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        input_gate: Tensor | None = None,
        inner_gate: Tensor | None = None,
        query_index: Tensor | None = None,
    ) -> Tensor:
        attended = self.attention(x, key_padding_mask, query_index)
        return self.feed_forward(attended, input_gate, inner_gate)


class TransformerStack(nn.Module):
    """``n_layers`` transformer layers applied in order; returns every layer's output."""

    def __init__(self, n_layers: int, **layer_kwargs: object) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(**layer_kwargs) for _ in range(n_layers))

    def forward(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None = None,
        last_index: Tensor | None = None,
    ) -> list[Tensor]:
        """Every layer's output. With ``last_index`` (each sequence's last real position) the final
        layer computes only that position (``[B, 1, d]``): its queries, output projection and
        feed-forward block run on one token instead of N, which is all a next-item score needs."""
        outputs = []
        for depth, layer in enumerate(self.layers):
            final = depth == len(self.layers) - 1
            x = layer(x, key_padding_mask, query_index=last_index if final else None)
            outputs.append(x)
        return outputs


def init_transformer_weights(module: nn.Module, initializer_range: float) -> None:
    """SASRec's initialisation: normal(0, initializer_range) weights, zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        module.weight.data.normal_(mean=0.0, std=initializer_range)
    elif isinstance(module, nn.LayerNorm):
        module.bias.data.zero_()
        module.weight.data.fill_(1.0)
    if isinstance(module, nn.Linear) and module.bias is not None:
        module.bias.data.zero_()


__all__ = [
    "ATTENTION_TYPES",
    "FeedForward",
    "MultiHeadAttention",
    "TransformerLayer",
    "TransformerStack",
    "init_transformer_weights",
]
