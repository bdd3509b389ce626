"""Retraining that keeps what the supernet learned: in-place knowledge distillation (issue 28).

EASRec retrains the reconstructed network with cross-entropy alone (eq. 18). Once-for-all and
BigNAS train small subnetworks against the largest one's predictions instead ("in-place
distillation"): the teacher's soft scores over all items carry what the big network learned about
which other items are plausible. With ``retrain_distill: True`` the retraining loss is

    L = L_CE(student) + w · T² · KL(softmax(z_teacher / T) ‖ softmax(z_student / T))

at every position the CE loss scores (every real position in autoregressive training, the last one
in the prefix protocol), with ``w = retrain_distill_weight`` and ``T = retrain_distill_temperature``
(Hinton et al. 2015: the T² keeps the gradient scale independent of T). The teacher is the
searched supernet on its largest path (``retrain_teacher: largest``), frozen, in eval mode (no
dropout), evaluated without gradients on the same batch.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.validation import (
    require_bool,
    require_choice,
    require_non_negative,
    require_positive_number,
)

TEACHERS = ("largest",)


def validate_distill_config(config: Any) -> None:
    """One-line ConfigError for a bad ``retrain_distill*`` setting."""
    require_bool(config, "retrain_distill")
    require_non_negative(config, "retrain_distill_weight")
    require_positive_number(config, "retrain_distill_temperature")
    require_choice(config, "retrain_teacher", TEACHERS)
    if config["retrain_distill"] and config["loss_type"] == "BPR":
        raise ConfigError(
            "retrain_distill needs a softmax loss (loss_type CE, sampled_ce or auto), not BPR"
        )


def distillation_term(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T² · KL(softmax(teacher / T) ‖ softmax(student / T))``, averaged over positions."""
    student = F.log_softmax(student_logits / temperature, dim=-1)
    teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    kl = F.kl_div(student, teacher, log_target=True, reduction="batchmean")
    return kl * temperature**2


def distillation_loss(
    student: Any,
    teacher: Any,
    teacher_context: Callable[[], AbstractContextManager[Any]],
    weight: float,
    temperature: float,
) -> Callable[[Any], Tensor]:
    """The retraining loss of the module doc as a RecBole ``loss_func(interaction)``.

    ``teacher_context()`` selects the teacher's path (e.g. ``supernet.using(largest)``)."""
    teacher.eval()

    def loss(interaction: Any) -> Tensor:
        hidden, targets = student.scored_positions(interaction)  # one pass for both terms
        ce = student.next_item_loss(hidden, targets)
        with torch.no_grad(), teacher_context():
            taught, _ = teacher.scored_positions(interaction)
            teacher_logits = taught @ teacher.item_embeddings().t()
        student_logits = hidden @ student.item_embeddings().t()
        return ce + weight * distillation_term(student_logits, teacher_logits, temperature)

    return loss


def retraining_loss(config: Any, compact: Any, supernet: Any, largest: Any) -> Any:
    """EASRec's retraining loss: :func:`distillation_loss` from ``supernet`` on its ``largest``
    path (frozen) with ``retrain_distill``, else None (the compact network's own loss)."""
    if not config["retrain_distill"]:
        return None
    for param in supernet.parameters():
        param.requires_grad_(False)
    return distillation_loss(
        compact,
        supernet,
        lambda: supernet.using(largest),
        float(config["retrain_distill_weight"]),
        float(config["retrain_distill_temperature"]),
    )
