"""How the search drives the controllers α, β (:mod:`recbole_easrec.model.elastic.controllers`):
the Gumbel temperature of eq. 10.

τ_t = max(0.01, 1 − 0.00005·t) (EASRec Table II), t = the search iteration.
"""

from __future__ import annotations

TAU_MIN = 0.01
TAU_DECAY = 0.00005


def gumbel_temperature(step: int, decay: float = TAU_DECAY) -> float:
    """τ_t = max(0.01, 1 − decay·t); the paper's decay is 0.00005 per iteration (EASRec Table II).

    The paper counts RecBole's prefix-protocol iterations (~480 an epoch on ML-1M: ~988 k prefixes
    at batch 2048); autoregressive training has ~95 (6,040 users at batch 64), so
    ``gumbel_tau_decay`` lets a run anneal over its own length."""
    return max(TAU_MIN, 1.0 - decay * step)
