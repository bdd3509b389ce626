"""Retraining that keeps what the supernet learned: in-place knowledge distillation (issue 28).

EASRec retrains the reconstructed network with cross-entropy alone (eq. 18). Once-for-all and
BigNAS train small subnetworks against the largest one's predictions instead ("in-place
distillation"): the teacher's soft scores over all items carry what the big network learned about
which other items are plausible. With ``retrain_distill: True`` the retraining loss is

    L = L_CE(student) + w · T² · KL(softmax(z_teacher / T) ‖ softmax(z_student / T))

at every position the CE loss scores (every real position in autoregressive training, the last one
in the prefix protocol), with ``w = retrain_distill_weight`` and ``T = retrain_distill_temperature``
(Hinton et al. 2015: the T² keeps the gradient scale independent of T). The teacher is frozen,
in eval mode (no dropout), evaluated without gradients on the same batch: the searched supernet on
its largest path (``retrain_teacher: largest``), or a trained full network
(``retrain_teacher: <the folder of a finished run on the same dataset>``, e.g. SASRec's; the
teacher of classic knowledge distillation, which issue 28 item 4 names beside in-place
distillation).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from recbole_easrec.errors import CheckpointError, ConfigError
from recbole_easrec.saving import DESCRIPTION_FILE, load_model, read_description
from recbole_easrec.validation import (
    require_bool,
    require_non_negative,
    require_positive_number,
)

LARGEST = "largest"  # retrain_teacher: the supernet's largest path; else a trained run's folder


def validate_distill_config(config: Any) -> None:
    """One-line ConfigError for a bad ``retrain_distill*`` setting."""
    require_bool(config, "retrain_distill")
    require_non_negative(config, "retrain_distill_weight")
    require_positive_number(config, "retrain_distill_temperature")
    teacher = config["retrain_teacher"]
    if teacher != LARGEST and not (
        isinstance(teacher, str) and (Path(teacher) / DESCRIPTION_FILE).is_file()
    ):
        raise ConfigError(
            f"retrain_teacher must be {LARGEST} (the supernet's largest path) or the folder of a"
            f" finished run (its {DESCRIPTION_FILE}), got {teacher!r}"
        )
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


def check_teacher(config: Any, n_items: int) -> None:
    """A trained teacher (``retrain_teacher: <folder>``) must score this dataset's items: a
    one-line ConfigError before the search if its run had another dataset or item count."""
    if not config["retrain_distill"] or config["retrain_teacher"] == LARGEST:
        return
    folder = Path(config["retrain_teacher"])
    try:
        saved = read_description(folder / DESCRIPTION_FILE)
    except CheckpointError as error:
        raise ConfigError(f"retrain_teacher: {error}") from None
    dataset, items = saved["config"].get("dataset"), saved["counts"].get("item_id")
    if (dataset, items) != (config["dataset"], n_items):
        raise ConfigError(
            f"retrain_teacher: {folder} was trained on {dataset} with {items} item ids, this run"
            f" has {config['dataset']} with {n_items}: train the teacher on the same data"
        )
    mode = saved["config"].get("train_mode", "prefix")
    if config["train_mode"] == "autoregressive" and mode != "autoregressive":
        raise ConfigError(  # only autoregressive training makes every model causal (tested)
            f"retrain_teacher: {folder} was trained with train_mode {mode}: its scores at a"
            " position may read later items, the targets of this autoregressive retraining;"
            " train the teacher with train_mode: autoregressive"
        )


def teacher_of(config: Any, supernet: Any, largest: Any) -> tuple[Any, Callable[[], Any]]:
    """The frozen teacher and the context that selects its path (module doc)."""
    if config["retrain_teacher"] == LARGEST:
        teacher, context = supernet, lambda: supernet.using(largest)
    else:
        try:
            teacher = load_model(config["retrain_teacher"], device=str(config["device"]))
        except CheckpointError as error:
            raise ConfigError(f"retrain_teacher: {error}") from None
        context = nullcontext
    for param in teacher.parameters():
        param.requires_grad_(False)
    return teacher, context


def retraining_loss(config: Any, compact: Any, supernet: Any, largest: Any) -> Any:
    """EASRec's retraining loss: :func:`distillation_loss` from the frozen teacher
    (``retrain_teacher``: ``supernet`` on its ``largest`` path, or a trained run) with
    ``retrain_distill``, else None (the compact network's own loss)."""
    if not config["retrain_distill"]:
        return None
    teacher, context = teacher_of(config, supernet, largest)
    return distillation_loss(
        compact,
        teacher,
        context,
        float(config["retrain_distill_weight"]),
        float(config["retrain_distill_temperature"]),
    )
