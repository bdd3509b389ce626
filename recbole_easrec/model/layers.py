"""The transformer stack shared by LinRec, EASRec and DSL.

One post-LayerNorm transformer layer as in SASRec (Kang & McAuley, 2018) and RecBole's
``TransformerEncoder``, with the attention kind as an option:

* ``softmax`` — scaled dot-product attention, O(N² d) per layer;
* ``linear`` — LinRec's L2-normalised linear attention (LinRec, Liu et al. 2023, eq. 5;
  EASRec §II-B), O(N d²) per layer.

Padding: RecBole right-pads sequences with item 0. Padding positions never influence real
positions: linear attention zeroes keys and values at padding, softmax attention masks padding keys
(non-causal) or relies on the causal mask (padding is always after the last real item).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ATTENTION_TYPES = ("linear", "softmax")
HIDDEN_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "relu": F.relu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def linear_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None = None,
    causal: bool = False,
    chunk_size: int = 64,
) -> Tensor:
    """LinRec's linear attention (LinRec eq. 5; EASRec eq. 5).

    ``Q' = ℓ2(elu(Q))``, ``K' = ℓ2(elu(K))`` with the L2 norm taken over each token's head
    dimension (as LinRec's official code does), then ``Q' (K'ᵀ V) / sqrt(d_h)``.

    Args:
        query, key, value: ``[batch, heads, length, head_dim]``.
        key_padding_mask: ``[batch, length]``, True at real items; keys and values at padding
            positions are zeroed so that they add nothing to ``K'ᵀ V``.
        causal: if True, position t only attends to positions ≤ t. Because the normalisation is
            per token, the causal form is a running prefix sum of ``k_sᵀ v_s``; it is computed in
            chunks (exact quadratic form inside a chunk, carried ``K'ᵀ V`` state across chunks)
            so that memory stays O(N·chunk + d_h²) per head.
        chunk_size: chunk length for the causal form.

    Returns:
        ``[batch, heads, length, head_dim]``.
    """
    scale = query.shape[-1] ** -0.5
    query = F.normalize(F.elu(query), dim=-1)
    key = F.normalize(F.elu(key), dim=-1)
    if key_padding_mask is not None:
        keep = key_padding_mask[:, None, :, None].to(key.dtype)
        key = key * keep
        value = value * keep
    if not causal:
        return (query @ (key.transpose(-2, -1) @ value)) * scale
    return _causal_linear_attention(query, key, value, chunk_size) * scale


def _causal_linear_attention(query: Tensor, key: Tensor, value: Tensor, chunk_size: int) -> Tensor:
    """``out_t = q_t Σ_{s≤t} k_sᵀ v_s`` computed chunk by chunk (no scale, no normalisation)."""
    length = query.shape[-2]
    state = query.new_zeros(*query.shape[:-2], query.shape[-1], value.shape[-1])
    outputs = []
    for start in range(0, length, chunk_size):
        stop = min(start + chunk_size, length)
        q, k, v = query[..., start:stop, :], key[..., start:stop, :], value[..., start:stop, :]
        within = torch.tril(q @ k.transpose(-2, -1)) @ v
        outputs.append(within + q @ state)
        state = state + k.transpose(-2, -1) @ v
    return torch.cat(outputs, dim=-2)


def softmax_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None = None,
    causal: bool = False,
    dropout: float = 0.0,
) -> Tensor:
    """Scaled dot-product attention (Vaswani et al. 2017) through PyTorch's fused kernel.

    With ``causal`` the causal mask alone keeps padding out of real positions, because RecBole
    pads on the right; without it, padding keys are masked.
    """
    if causal:
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout, is_causal=True)
    mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout)


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
    ) -> None:
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"attention_type must be one of {ATTENTION_TYPES}, got {attention_type!r}"
            )
        self.n_heads = n_heads
        self.attention_type = attention_type
        self.causal = causal
        self.attn_dropout_prob = attn_dropout_prob
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_dropout = nn.Dropout(hidden_dropout_prob)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.n_heads, width // self.n_heads).transpose(1, 2)

    def attend(self, x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        """The attention output S before the output projection: ``[batch, length, hidden]``."""
        q, k, v = (self._split_heads(layer(x)) for layer in (self.query, self.key, self.value))
        if self.attention_type == "linear":
            context = linear_attention(q, k, v, key_padding_mask, self.causal)
        else:
            dropout = self.attn_dropout_prob if self.training else 0.0
            context = softmax_attention(q, k, v, key_padding_mask, self.causal, dropout)
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
        if self.attention_type == "linear":
            context = linear_attention(q, k, v, key_padding_mask, causal=False)
        else:
            dropout = self.attn_dropout_prob if self.training else 0.0
            context = softmax_attention(q, k, v, key_padding_mask, False, dropout)
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
    "linear_attention",
    "softmax_attention",
]
