"""The trainer every plugin model, and every RecBole model that uses RecBole's plain ``Trainer``,
runs with."""

from __future__ import annotations

import logging
from typing import Any

import torch
from recbole.trainer import Trainer

from recbole_easrec.budget import BudgetedLoader, TrainingBudgetSpent
from recbole_easrec.compiling import compile_encoder
from recbole_easrec.training_modes import AutoregressiveLoader


class EasRecBaseTrainer(Trainer):
    """RecBole's ``Trainer`` plus ``train_mode: autoregressive`` (see :mod:`training_modes`),
    ``compile: True`` (the encoder through ``torch.compile``, see :mod:`compiling`) and
    ``max_train_seconds`` (a wall-clock budget per ``fit``, see :mod:`recbole_easrec.budget`).

    Training runs with autograd's anomaly detection **off** (issue 6). Importing RecBole's model
    package imports ``recbole/model/sequential_recommender/sine.py``, which switches it on for the
    whole process (``torch.autograd.set_detect_anomaly(True)`` at module level); every backward op
    is then followed by a NaN scan of its outputs (``aten::isnan`` → ``ne`` + ``any``), about half
    the CPU time of a step and a ~2× slower training step at the paper's settings
    (benchmarks/results/speed.md). Results are unchanged (anomaly detection only raises on NaN
    gradients; RecBole's own NaN-loss check stays). The previous mode is restored when ``fit``
    returns. RecBole's own models whose trainer is RecBole's plain ``Trainer`` (SASRec, FDSA,
    SASRecF, BERT4Rec, GRU4Rec, …) run with this trainer too (:func:`recbole_easrec.trainer.resolve_trainer`),
    so baselines are measured without the anomaly scans as well.
    """

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        self.last_valid_result: dict[str, float] = {}
        if config["compile"]:
            compile_encoder(self.model)

    def _valid_epoch(self, valid_data: Any, show_progress: bool = False) -> Any:
        """RecBole's validation epoch; also keeps its metrics in :attr:`last_valid_result`, so that a
        ``fit`` callback (which RecBole calls with the score only) can report all of them."""
        score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
        self.last_valid_result = {key: float(value) for key, value in dict(result or {}).items()}
        return score, result

    def _full_sort_batch_eval(self, batched_data: Any) -> Any:
        """RecBole's full-ranking batch; with ``eval_exclude_history: True`` the items of each
        user's input sequence are not ranked (score −inf), the filtered protocol of the
        full-ranking literature. RecBole ranks them (its sequential loaders give no history)."""
        interaction, scores, positive_u, positive_i = super()._full_sort_batch_eval(batched_data)
        seq_field = self.config["ITEM_ID_FIELD"] + self.config["LIST_SUFFIX"]
        if self.config["eval_exclude_history"] and seq_field in interaction:
            history = interaction[seq_field].to(scores.device)
            rows = torch.arange(len(history), device=scores.device)[:, None].expand_as(history)
            scores[rows, history] = -torch.inf
        return interaction, scores, positive_u, positive_i

    def fit(self, train_data: Any, valid_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.config["train_mode"] == "autoregressive":
            train_data = AutoregressiveLoader(
                train_data, self.config["train_batch_size"], seed=self.config["seed"] or 0
            )
        if self.config["max_train_seconds"] is not None:
            train_data = BudgetedLoader(train_data, self.config["max_train_seconds"])
        with torch.autograd.set_detect_anomaly(False):
            try:
                return super().fit(train_data, valid_data, *args, **kwargs)
            except TrainingBudgetSpent as spent:
                logging.getLogger().info("%s: stopping with the best epoch so far", spent)
                return self.best_valid_score, self.best_valid_result
