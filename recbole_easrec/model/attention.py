"""Attention kinds: how a layer mixes positions, and what that costs in FLOPs, side by side.

Every kind maps per-head queries, keys and values ``[batch, heads, length, head_dim]`` to the
context ``[batch, heads, length, head_dim]``. The transformer stack
(:class:`~recbole_easrec.model.layers.MultiHeadAttention`) and EASRec's supernet (on sliced
weights) call the same kind, and the cost model (:mod:`recbole_easrec.search.resource`) reads each
kind's FLOPs from here, so adding a kind is one class and one entry in :data:`ATTENTION_KINDS`.

Config: ``attention_type: softmax`` is scaled dot-product attention; ``attention_type: linear``
picks a linear kind with ``linear_variant`` (:func:`attention_name`):

* ``linrec`` — LinRec eq. 5 (EASRec eq. 5), the papers' form: ``ℓ2(elu(Q)) (ℓ2(elu(K))ᵀ V) / √d_h``
  (the norm over each token's head dimension, as LinRec's official code). Causal, it has no
  normaliser: ``q_t Σ_{s≤t} k_sᵀ v_s`` grows with t.
* ``count`` — the same products divided by the number of attended (real) positions, so the causal
  output is an average whatever t is.
* ``elu1`` — Katharopoulos et al. 2020: ``φ = elu + 1`` and the denominator ``φ(q_t)·Σ_{s≤t} φ(k_s)``.
* ``norm`` — TransNormer (Qin et al. 2022): LinRec's numerator followed by an RMS normalisation of
  each head's output instead of a denominator.
* ``conv`` — ``elu1`` plus a short causal depth-wise convolution of V over positions (FLatten, Han
  et al. 2023; RecGRELA), kernel :data:`VALUE_CONV_KERNEL`, one kernel per channel.
* ``decay`` — RetNet (Sun et al. 2023): ``Σ_{s≤t} γ_h^{t−s} (q_t·k_s) v_s`` with LinRec's feature map
  and a fixed decay per head ``γ_h = 1 − 2^{−5−h}``, RMS-normalised per head. Causal only.

Padding: keys and values at padding positions are zeroed (linear kinds) or masked (softmax), so
they never reach a real position. Causal linear forms are computed in chunks (an exact quadratic
form inside a chunk, the carried ``Σ kᵀv`` state across chunks): memory O(N·c + d_h²) per head.

FLOPs count matrix products only, a multiply-add as 2, exactly as ``torch.utils.flop_counter``
(with the CPU fused-attention formula of :mod:`recbole_easrec.efficiency`) counts a forward pass;
element-wise work (feature maps, normalisation, masks) is not counted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

CAUSAL_CHUNK_SIZE = 64
VALUE_CONV_KERNEL = 3
LINEAR_VARIANTS = ("linrec", "count", "elu1", "norm", "conv", "decay")
ATTENTION_TYPES = ("linear", "softmax")
_EPS = 1e-6


def attention_name(attention_type: str, linear_variant: str = "linrec") -> str:
    """The kind a layer runs: ``softmax``, or the ``linear_variant`` of linear attention."""
    return "softmax" if attention_type == "softmax" else linear_variant


# --- shared pieces ------------------------------------------------------------------------------


def l2_elu(x: Tensor) -> Tensor:
    """LinRec's feature map: elu, then the L2 norm over the head dimension."""
    return F.normalize(F.elu(x), dim=-1)


def elu_plus_one(x: Tensor) -> Tensor:
    """Katharopoulos et al.'s positive feature map ``elu(x) + 1``."""
    return F.elu(x) + 1.0


def zero_padding(key: Tensor, value: Tensor, key_padding_mask: Tensor | None) -> tuple:
    """Keys and values with padding positions (``key_padding_mask`` False) set to zero."""
    if key_padding_mask is None:
        return key, value
    keep = key_padding_mask[:, None, :, None].to(key.dtype)
    return key * keep, value * keep


def head_decays(heads: int, device: torch.device | None = None) -> Tensor:
    """RetNet's fixed per-head decay ``γ_h = 1 − 2^{−5−h}``: ``[heads]``."""
    return 1.0 - 2.0 ** (-5.0 - torch.arange(heads, dtype=torch.float32, device=device))


def linear_products(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    causal: bool,
    decay: Tensor | None = None,
    chunk_size: int = CAUSAL_CHUNK_SIZE,
) -> Tensor:
    """``Q (Kᵀ V)`` (non-causal) or ``out_t = Σ_{s≤t} γ^{t−s} (q_t·k_s) v_s`` (causal; γ = 1 without
    ``decay`` ``[heads]``), chunk by chunk (module doc). No scale, no normalisation."""
    if not causal:
        return query @ (key.transpose(-2, -1) @ value)
    length = query.shape[-2]
    state = query.new_zeros(*query.shape[:-2], query.shape[-1], value.shape[-1])
    outputs = []
    for start in range(0, length, chunk_size):
        stop = min(start + chunk_size, length)
        q, k, v = query[..., start:stop, :], key[..., start:stop, :], value[..., start:stop, :]
        scores = q @ k.transpose(-2, -1)
        if decay is None:
            outputs.append(torch.tril(scores) @ v + q @ state)
            state = state + k.transpose(-2, -1) @ v
            continue
        steps = torch.arange(stop - start, device=q.device, dtype=q.dtype)
        gamma = decay.to(q.dtype)[:, None, None]  # [heads, 1, 1]
        lag = steps[:, None] - steps[None, :]
        within = torch.where(lag >= 0, gamma ** lag.clamp(min=0), torch.zeros_like(lag))
        carried = gamma ** (steps[:, None] + 1)  # decay of the state seen at each step
        outputs.append((scores * within) @ v + (q @ state) * carried)
        to_end = gamma ** (stop - start - 1 - steps)[:, None]  # [heads, c, 1]
        state = state * gamma ** (stop - start) + (k * to_end).transpose(-2, -1) @ v
    return torch.cat(outputs, dim=-2)


def real_counts(key_padding_mask: Tensor | None, length: int, causal: bool, like: Tensor) -> Tensor:
    """Real positions among ``length`` keys attended by each query (causal: by position t),
    ``[batch or 1, 1, length or 1, 1]``, at least 1."""
    if key_padding_mask is None:
        real = like.new_ones(1, length)
    else:
        real = key_padding_mask.to(like.dtype)
    counts = real.cumsum(-1) if causal else real.sum(-1, keepdim=True)
    return counts.clamp(min=1.0)[:, None, :, None]


def rms_norm(x: Tensor) -> Tensor:
    """RMS normalisation over the head dimension, no learned scale."""
    return F.rms_norm(x, (x.shape[-1],), eps=_EPS)


def causal_value_conv(value: Tensor, weight: Tensor) -> Tensor:
    """Causal depth-wise convolution of ``value`` ``[B, H, N, d_h]`` over positions: channel
    ``h·d_h + j`` uses kernel ``weight[h·d_h + j]`` (``[H·d_h, kernel]``), position t reads t−k+1…t."""
    batch, heads, length, head_dim = value.shape
    channels = value.transpose(1, 2).reshape(batch, length, heads * head_dim).transpose(1, 2)
    padded = F.pad(channels, (weight.shape[-1] - 1, 0))
    mixed = F.conv1d(padded, weight[:, None, :], groups=weight.shape[0])
    return mixed.transpose(1, 2).reshape(batch, length, heads, head_dim).transpose(1, 2)


def gather_positions(x: Tensor, index: Tensor) -> Tensor:
    """``x[b, :, index[b]]`` for ``x`` ``[B, H, N, d]``: ``[B, H, 1, d]``."""
    return x[torch.arange(x.shape[0], device=x.device), :, index].unsqueeze(2)


def _chunk_lengths(length: int, chunk_size: int = CAUSAL_CHUNK_SIZE) -> list[int]:
    return [min(chunk_size, length - start) for start in range(0, length, chunk_size)]


def linear_flops(length: int, hidden: int, heads: int, causal: bool, value_extra: int = 0) -> int:
    """FLOPs of :func:`linear_products` over all heads; values carry ``value_extra`` more columns
    per head (``elu1``'s denominator column)."""
    head_dim = hidden // heads
    value_dim = head_dim + value_extra
    flops = 2 * 2 * length * heads * head_dim * value_dim  # Kᵀ V and Q (Kᵀ V) / Q·state
    if causal:  # q kᵀ and its masked product with v inside every chunk
        flops += 2 * heads * (head_dim + value_dim) * sum(c * c for c in _chunk_lengths(length))
    return flops


def linear_query_flops(length: int, hidden: int, heads: int, value_extra: int = 0) -> int:
    """FLOPs of one query against the ``Kᵀ V`` of ``length`` keys (all heads)."""
    head_dim = hidden // heads
    return 2 * length * heads * head_dim * (head_dim + value_extra) + 2 * hidden * (
        head_dim + value_extra
    )


# --- the kinds ----------------------------------------------------------------------------------


class AttentionKind:
    """One way of mixing positions (see the module doc).

    Subclasses implement :meth:`context`, :meth:`context_at`, :meth:`flops` and
    :meth:`query_flops`; ``value_conv`` says whether a layer must hold a depth-wise kernel on V
    (``[hidden, VALUE_CONV_KERNEL]``), ``causal_only`` whether the kind has a non-causal form.
    """

    name = ""
    value_conv = False
    causal_only = False

    def context(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None,
        causal: bool,
        dropout: float = 0.0,
        conv: Tensor | None = None,
    ) -> Tensor:
        """The context at every position (causal: position t reads positions ≤ t only)."""
        raise NotImplementedError

    def context_at(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None,
        query_index: Tensor,
        dropout: float = 0.0,
        conv: Tensor | None = None,
    ) -> Tensor:
        """The context at one position per sequence (``query`` ``[B, H, 1, d_h]`` at
        ``query_index``, each sequence's last real position): equal to :meth:`context`'s row
        there, causal or not, since every real key is at or before it."""
        raise NotImplementedError

    def flops(self, length: int, hidden: int, heads: int, causal: bool) -> int:
        """FLOPs of :meth:`context` for one sequence of ``length`` positions."""
        raise NotImplementedError

    def query_flops(self, length: int, hidden: int, heads: int) -> int:
        """FLOPs of :meth:`context_at` for one sequence."""
        raise NotImplementedError


class SoftmaxAttention(AttentionKind):
    """Scaled dot-product attention (Vaswani et al. 2017) through PyTorch's fused kernel. Causal,
    the causal mask alone keeps right-padding away from real positions."""

    name = "softmax"

    def context(self, query, key, value, key_padding_mask, causal, dropout=0.0, conv=None):
        if causal:
            return F.scaled_dot_product_attention(
                query, key, value, dropout_p=dropout, is_causal=True
            )
        mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout)

    def context_at(self, query, key, value, key_padding_mask, query_index, dropout=0.0, conv=None):
        return self.context(query, key, value, key_padding_mask, False, dropout)

    def flops(self, length, hidden, heads, causal):
        return 2 * 2 * length * length * hidden

    def query_flops(self, length, hidden, heads):
        return 2 * 2 * length * hidden


class LinearAttention(AttentionKind):
    """Template of the linear kinds: a feature map on Q and K, padding zeroed, then
    :meth:`combine` of the products (each subclass's own normalisation)."""

    feature = staticmethod(l2_elu)
    value_extra = 0

    def combine(self, query, key, value, key_padding_mask, causal, conv) -> Tensor:
        raise NotImplementedError

    def combine_at(self, query, key, value, key_padding_mask, query_index, conv) -> Tensor:
        """One query (the last real position): by default the non-causal form of :meth:`combine`."""
        return self.combine(query, key, value, key_padding_mask, False, conv)

    def context(self, query, key, value, key_padding_mask, causal, dropout=0.0, conv=None):
        key, value = zero_padding(self.feature(key), value, key_padding_mask)
        return self.combine(self.feature(query), key, value, key_padding_mask, causal, conv)

    def context_at(self, query, key, value, key_padding_mask, query_index, dropout=0.0, conv=None):
        key, value = zero_padding(self.feature(key), value, key_padding_mask)
        query = self.feature(query)
        return self.combine_at(query, key, value, key_padding_mask, query_index, conv)

    def flops(self, length, hidden, heads, causal):
        return linear_flops(length, hidden, heads, causal, self.value_extra)

    def query_flops(self, length, hidden, heads):
        return linear_query_flops(length, hidden, heads, self.value_extra)


class LinRecAttention(LinearAttention):
    """LinRec eq. 5: ``ℓ2(elu(Q)) (ℓ2(elu(K))ᵀ V) / √d_h``."""

    name = "linrec"

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        return linear_products(query, key, value, causal) * query.shape[-1] ** -0.5


class CountNormalisedAttention(LinearAttention):
    """LinRec's products divided by the number of real positions each query attends to."""

    name = "count"

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        counts = real_counts(key_padding_mask, key.shape[-2], causal, query)
        return linear_products(query, key, value, causal) / counts


class Elu1Attention(LinearAttention):
    """``φ(q_t) Σ φ(k_s)ᵀ v_s / (φ(q_t)·Σ φ(k_s))`` with ``φ = elu + 1`` (Katharopoulos et al.)."""

    name = "elu1"
    feature = staticmethod(elu_plus_one)
    value_extra = 1

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        # one pass for numerator and denominator: a column of ones beside V (zero at padding,
        # because the feature-mapped keys there are zero)
        ones = value.new_ones(*value.shape[:-1], 1)
        products = linear_products(query, key, torch.cat([value, ones], dim=-1), causal)
        return products[..., :-1] / (products[..., -1:] + _EPS)


class ValueConvAttention(Elu1Attention):
    """``elu1`` plus a short causal depth-wise convolution of V (FLatten; RecGRELA)."""

    name = "conv"
    value_conv = True

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        attended = super().combine(query, key, value, key_padding_mask, causal, conv)
        return attended + causal_value_conv(value, conv)

    def combine_at(self, query, key, value, key_padding_mask, query_index, conv):
        attended = super().combine(query, key, value, key_padding_mask, False, conv)
        return attended + gather_positions(causal_value_conv(value, conv), query_index)

    def flops(self, length, hidden, heads, causal):
        return (
            super().flops(length, hidden, heads, causal) + 2 * length * hidden * VALUE_CONV_KERNEL
        )

    def query_flops(self, length, hidden, heads):
        conv = 2 * length * hidden * VALUE_CONV_KERNEL  # the convolution runs over the sequence
        return super().query_flops(length, hidden, heads) + conv


class OutputNormAttention(LinearAttention):
    """TransNormer: LinRec's numerator, then an RMS norm of each head's output."""

    name = "norm"

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        return rms_norm(linear_products(query, key, value, causal))


class DecayAttention(LinearAttention):
    """RetNet's retention with LinRec's feature map: ``Σ_{s≤t} γ_h^{t−s} (q_t·k_s) v_s``, RMS-normed
    per head. Causal only (the decay runs forward in time)."""

    name = "decay"
    causal_only = True

    def combine(self, query, key, value, key_padding_mask, causal, conv):
        decay = head_decays(query.shape[1], query.device)
        return rms_norm(linear_products(query, key, value, True, decay))

    def combine_at(self, query, key, value, key_padding_mask, query_index, conv):
        decay = head_decays(query.shape[1], query.device).to(query.dtype)
        positions = torch.arange(key.shape[-2], device=key.device)
        lag = (query_index[:, None] - positions[None, :]).to(query.dtype)[:, None, :]  # [B, 1, N]
        weights = torch.where(lag >= 0, decay[None, :, None] ** lag.clamp(min=0), 0.0)  # [B, H, N]
        state = (key * weights[..., None]).transpose(-2, -1) @ value
        return rms_norm(query @ state)


ATTENTION_KINDS: dict[str, AttentionKind] = {
    kind.name: kind
    for kind in (
        SoftmaxAttention(),
        LinRecAttention(),
        CountNormalisedAttention(),
        Elu1Attention(),
        OutputNormAttention(),
        ValueConvAttention(),
        DecayAttention(),
    )
}


def get_attention_kind(name: str) -> AttentionKind:
    """The kind called ``name``; an unknown name is a ``ValueError`` naming the known ones."""
    try:
        return ATTENTION_KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown attention kind {name!r}; known: {', '.join(ATTENTION_KINDS)}"
        ) from None


def init_value_conv(weight: Tensor, std: float = 0.02) -> None:
    """The value kernel starts small (normal, ``std``): the layer begins close to ``elu1``."""
    with torch.no_grad():
        weight.normal_(0.0, std)


__all__ = [
    "ATTENTION_KINDS",
    "ATTENTION_TYPES",
    "CAUSAL_CHUNK_SIZE",
    "LINEAR_VARIANTS",
    "VALUE_CONV_KERNEL",
    "AttentionKind",
    "attention_name",
    "get_attention_kind",
]
