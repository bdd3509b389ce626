"""EASRec's resource constraint (EASRec §II-F, eq. 15).

FLOPs of one candidate layer are computed analytically from its real (kept) widths — hidden h,
inner I, n heads, at the configured sequence length N (``MAX_ITEM_LIST_LENGTH``), counting a
multiply-add as 2 FLOPs exactly as ``torch.utils.flop_counter`` does (matrix products only):

* Q, K, V and output projections: ``4 · 2·N·h²``;
* attention: the kind's own count (:mod:`recbole_easrec.model.attention`, e.g. LinRec's eq. 5
  ``2 · 2·N·h·(h/n)``, softmax ``2 · 2·N²·h``; causal linear forms add their chunks' products —
  inference FLOPs only; eq. 15's costs stay non-causal);
* feed-forward: ``2 · 2·N·h·I``;
* data-aware gates, per position (they read each position causally, ``gate_input``): 2-layer
  ``2(h² + h²) + 2(h² + h·I)``, 1-layer ``2h² + 2h·I``, none 0.

The attention kind is named as :func:`recbole_easrec.model.attention.attention_name` names it
(``softmax``, ``linrec``, ``count``, …).

Our reading of eq. 15: the cost of exiting after layer l with candidate i is the cost of the l
layers run up to it, ``cost(l, i) = l · FLOPs_i / max_j FLOPs_j`` (normalised by the largest
candidate so that λ does not depend on the dataset or widths), and

    L_RC = (L_t / L) · Σ_l Σ_i p_i q_l cost(l, i),  L_t = argmax β + 1   (``dynamic``)
    L_RC = Σ_l Σ_i p_i q_l cost(l, i)                                    (``static``)
    L_RC = 0                                                              (``none``)

L_t is a hard (non-differentiable) scale: gradients reach α and β through p and q.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from recbole_easrec.model.attention import get_attention_kind

RESOURCE_CONSTRAINTS = ("dynamic", "static", "none")


def gate_flops(hidden: int, inner: int, gate_layers: int) -> int:
    """FLOPs of a candidate's two gates at one position."""
    if gate_layers == 2:
        return 2 * (hidden * hidden + hidden * hidden) + 2 * (hidden * hidden + hidden * inner)
    if gate_layers == 1:
        return 2 * hidden * hidden + 2 * hidden * inner
    return 0


def layer_flops(
    length: int,
    hidden: int,
    inner: int,
    n_heads: int,
    attention: str = "linrec",
    gate_layers: int = 2,
    causal: bool = False,
) -> int:
    """FLOPs of one transformer layer at every one of ``length`` positions (module doc)."""
    projections = 4 * 2 * length * hidden * hidden
    mixing = get_attention_kind(attention).flops(length, hidden, n_heads, causal)
    feed_forward = 2 * 2 * length * hidden * inner
    return projections + mixing + feed_forward + length * gate_flops(hidden, inner, gate_layers)


def last_layer_flops(
    length: int,
    hidden: int,
    inner: int,
    n_heads: int,
    attention: str = "linrec",
    gate_layers: int = 2,
) -> int:
    """FLOPs of a final layer evaluated at the last position only (what inference runs): keys and
    values at all ``length`` positions, the query, output projection, gates and feed-forward at
    one."""
    keys_values = 2 * 2 * length * hidden * hidden
    query_output = 2 * 2 * hidden * hidden
    mixing = get_attention_kind(attention).query_flops(length, hidden, n_heads)
    gates = gate_flops(hidden, inner, gate_layers)
    return keys_values + query_output + mixing + gates + 2 * 2 * hidden * inner


def inference_flops(
    depth: int,
    length: int,
    hidden: int,
    inner: int,
    n_heads: int,
    attention: str = "linrec",
    gate_layers: int = 2,
    n_items: int = 0,
    causal: bool = False,
) -> int:
    """FLOPs of one full-ranking forward of one sequence of ``length`` items through ``depth``
    layers (the count ``efficiency.flops`` of ``result.json`` measures): ``depth − 1`` layers at
    every position, the last at the last position only, and the scores against ``n_items`` item
    embeddings; ``causal``: the layers before the last are causal (``train_mode:
    autoregressive``)."""
    full = layer_flops(length, hidden, inner, n_heads, attention, gate_layers, causal)
    last = last_layer_flops(length, hidden, inner, n_heads, attention, gate_layers)
    return (depth - 1) * full + last + 2 * hidden * n_items


def per_candidate(attention: str | Sequence[str], n_candidates: int) -> list[str]:
    """Every candidate's attention kind: ``attention`` as given per candidate, or one kind for
    all ``n_candidates``."""
    return [attention] * n_candidates if isinstance(attention, str) else list(attention)


def candidate_costs(
    widths: Sequence[tuple[int, int]],
    length: int,
    n_heads: int,
    attention: str | Sequence[str] = "linrec",
    gate_layers: int = 2,
) -> Tensor:
    """Per-candidate layer FLOPs normalised by the largest: ``[m]`` in (0, 1]; ``attention``: the
    kind of every candidate, or one kind for all."""
    kinds = per_candidate(attention, len(widths))
    flops = torch.tensor(
        [
            float(layer_flops(length, h, i, n_heads, kind, gate_layers))
            for (h, i), kind in zip(widths, kinds)
        ]
    )
    return flops / flops.max()


def resource_loss(
    p: Tensor,
    q: Tensor,
    costs: Tensor,
    constraint: str = "dynamic",
    chosen_depth: int | None = None,
) -> Tensor:
    """L_RC of eq. 15 (module doc) for candidate weights ``p`` [m] and depth weights ``q`` [L];
    ``chosen_depth`` is L_t = argmax β + 1 (default: argmax q + 1)."""
    if constraint == "none":
        return p.new_zeros(())
    n_layers = q.numel()
    depths = torch.arange(1, n_layers + 1, device=q.device, dtype=q.dtype)
    expected = (p * costs.to(p)).sum() * (q * depths).sum()
    if constraint == "static":
        return expected
    if chosen_depth is None:
        chosen_depth = int(q.detach().argmax()) + 1
    return expected * (chosen_depth / n_layers)
