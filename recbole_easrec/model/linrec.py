"""LinRec: SASRec with LinRec's L2-normalised linear attention.

Liu et al., "LinRec: Linear Attention Mechanism for Long-term Sequential Recommender Systems",
SIGIR 2023, eq. 5 (also EASRec eq. 5): ``Attention(Q, K, V) = ℓ2(elu(Q)) (ℓ2(elu(K))ᵀ V) / sqrt(d_h)``,
which costs O(N d²) per layer instead of softmax attention's O(N² d).

Causality. LinRec's official code applies no mask, i.e. non-causal attention, and so does our
default (``causal_attention: False``). That is correct under RecBole's training protocol
(``train_mode: prefix``): every prefix of a user's history is its own sample, the target item is never
inside ``item_id_list``, and only the output at the last real position is scored, so no position can
see the item it predicts. Padding positions are still kept out (their keys and values are zeroed).
With ``causal_attention: True`` position t sees only positions ≤ t (a running prefix sum of
``k_sᵀ v_s``); a loss at every position (autoregressive training) requires it.
"""

from __future__ import annotations

from recbole_easrec.model.base import TransformerRecommender


class LinRec(TransformerRecommender):
    """SASRec architecture with ``attention_type: linear`` by default (see module docstring)."""
