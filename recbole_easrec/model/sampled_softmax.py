"""``loss_type: sampled_ce``: a softmax over the target and K shared negatives (issue 11, item 4).

Full cross-entropy (``loss_type: CE``, EASRec eq. 14) scores every training position against the
whole catalogue: ``2·|I|·d`` multiply-adds a position forward, three times that with backward. At
165 k items that is the whole cost of an epoch. The sampled softmax of Jean et al. (2015) scores the
target against ``K`` negatives shared by the batch instead:

    loss = −log softmax([s_t, s_1 − log Q(1), …, s_K − log Q(K)])₀

where ``s_j = h·e_j`` is the usual score and ``Q(j)`` the expected number of times item ``j`` is
drawn (the **log-Q correction**: ``Σ_k exp(s_k)/Q(k)`` is an importance-sampling estimate of the
full softmax's ``Σ_{j≠t} exp(s_j)``, so the loss tends to full cross-entropy as K grows, whatever
the sampling distribution; Bengio & Senécal 2008, Yi et al. 2019). The target is always a
candidate, not a sample, so its score is not corrected. Negatives are drawn with replacement from

- ``negative_distribution: uniform``: every item but padding alike, ``Q(j) = K/(|I|−1)``, or
- ``popularity``: in proportion to the item's number of training targets, ``Q(j) = K·p(j)`` (an
  item with no training target gets one pseudo-count so that it can be drawn).

``in_batch_negatives: True`` adds the batch's targets as negatives as well (their ``Q(j) = B·p(j)``
for B targets in the batch), the cheap negatives of two-tower retrieval. A sampled negative, or
another row's target, that *is* the row's target ("accidental hit") is masked out.

Only training uses it: validation, test and serving score every item exactly
(:meth:`~recbole_easrec.model.base.TransformerRecommender.full_sort_predict`).
``loss_type: auto`` (the default of our models) is full ``CE`` up to ``sampled_ce_above_items``
items and ``sampled_ce`` above (:func:`resolve_loss_type`). The default threshold, 50,000 items,
rests on two measurements. Cost (``benchmarks/results/step_time.md``): a sampled step (K = 1,000)
costs the same at any catalogue size, a full-CE step grows with it — 1.4× the sampled step at
ML-1M's 3,707 items, 3.1× at 10 k, 11× at 50 k; above 50 k full CE is most of an epoch.
Accuracy (``benchmarks/results/sampled_ce_ml1m.md``, LinRec on ML-1M to convergence, 3 paired
seeds): full-ranking NDCG@10 0.1106 sampled against 0.1178 CE (Δ −0.0072, p = 0.20; no seed
gains), pop100 equal; so below the threshold, where full CE is affordable, ``auto`` keeps it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recbole_easrec.errors import ConfigError
from recbole_easrec.validation import require_bool, require_choice, require_positive_int

NEGATIVE_DISTRIBUTIONS = ("uniform", "popularity")


def resolve_loss_type(config: Any, n_items: int) -> str:
    """``loss_type`` as the model will train: ``auto`` becomes ``CE`` or ``sampled_ce``."""
    loss_type = config["loss_type"]
    if loss_type != "auto":
        return loss_type
    threshold = config["sampled_ce_above_items"]
    return "sampled_ce" if threshold is not None and n_items > threshold else "CE"


def validate_sampled_softmax(config: Any) -> None:
    """One-line :class:`ConfigError` for invalid sampled-softmax settings."""
    require_positive_int(config, "sampled_negatives")
    require_choice(config, "negative_distribution", NEGATIVE_DISTRIBUTIONS)
    require_bool(config, "in_batch_negatives")
    threshold = config["sampled_ce_above_items"]
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0
    ):
        raise ConfigError(
            f"sampled_ce_above_items must be a number of items or ~ (never), got {threshold!r}"
        )


def target_popularity(dataset: Any, n_items: int) -> Tensor:
    """p(j): the share of training targets that are item j (padding 0 has none), float32."""
    counts = torch.zeros(n_items, dtype=torch.float64)
    inter_feat = getattr(dataset, "inter_feat", None)
    if inter_feat is not None and dataset.iid_field in inter_feat:
        items = torch.as_tensor(inter_feat[dataset.iid_field]).long().flatten()
        counts += torch.bincount(items, minlength=n_items)[:n_items].double()
    counts[1:] += 1.0  # one pseudo-count: every real item can be drawn
    counts[0] = 0.0
    return (counts / counts.sum()).float()


class SampledSoftmaxLoss(nn.Module):
    """The sampled softmax above; ``forward(hidden [n, d], targets [n], item_table [|I|, d])``."""

    def __init__(
        self,
        popularity: Tensor,
        negatives: int,
        distribution: str = "popularity",
        in_batch: bool = False,
    ) -> None:
        super().__init__()
        if distribution not in NEGATIVE_DISTRIBUTIONS:
            raise ConfigError(
                f"negative_distribution must be uniform or popularity: {distribution}"
            )
        self.negatives = negatives
        self.in_batch = in_batch
        uniform = torch.ones_like(popularity)
        uniform[0] = 0.0
        sampling = popularity if distribution == "popularity" else uniform / uniform.sum()
        # buffers move with the model (.to(device)) but are not weights: not in the state dict
        self.register_buffer("sampling", sampling, persistent=False)
        self.register_buffer("log_popularity", popularity.clamp_min(1e-30).log(), persistent=False)

    def draw_negatives(self) -> Tensor:
        """K item ids drawn with replacement from the sampling distribution (never padding)."""
        return torch.multinomial(self.sampling, self.negatives, replacement=True)

    def forward(self, hidden: Tensor, targets: Tensor, item_table: Tensor) -> Tensor:
        positive = (hidden * item_table[targets]).sum(-1, keepdim=True)
        negatives = self.draw_negatives()
        log_q = (self.sampling[negatives] * self.negatives).log()
        sampled = hidden @ item_table[negatives].t() - log_q
        parts = [positive, sampled.masked_fill(negatives[None, :] == targets[:, None], -math.inf)]
        if self.in_batch:
            batch = hidden @ item_table[targets].t() - (
                self.log_popularity[targets] + math.log(len(targets))
            )
            parts.append(batch.masked_fill(targets[None, :] == targets[:, None], -math.inf))
        logits = torch.cat(parts, dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))


def build_sampled_softmax(config: Any, dataset: Any, n_items: int) -> SampledSoftmaxLoss:
    """The loss from ``config`` (``sampled_negatives``, ``negative_distribution``,
    ``in_batch_negatives``) and the training targets of ``dataset``."""
    return SampledSoftmaxLoss(
        target_popularity(dataset, n_items),
        config["sampled_negatives"],
        config["negative_distribution"],
        config["in_batch_negatives"],
    )
