"""The trainer every plugin model uses unless it names its own (``<Model>Trainer``)."""

from __future__ import annotations

from typing import Any

import torch
from recbole.trainer import Trainer

from recbole_easrec.compiling import compile_encoder
from recbole_easrec.training_modes import AutoregressiveLoader


class EasRecBaseTrainer(Trainer):
    """RecBole's ``Trainer`` plus ``train_mode: autoregressive`` (see :mod:`training_modes`) and
    ``compile: True`` (the encoder through ``torch.compile``, see :mod:`compiling`).

    Training runs with autograd's anomaly detection **off** (issue 6). Importing RecBole's model
    package imports ``recbole/model/sequential_recommender/sine.py``, which switches it on for the
    whole process (``torch.autograd.set_detect_anomaly(True)`` at module level); every backward op
    is then followed by a NaN scan of its outputs (``aten::isnan`` → ``ne`` + ``any``), about half
    the CPU time of a step and a ~2× slower training step at the paper's settings
    (benchmarks/results/speed.md). Results are unchanged (anomaly detection only raises on NaN
    gradients; RecBole's own NaN-loss check stays). The previous mode is restored when ``fit``
    returns.
    """

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        if config["compile"]:
            compile_encoder(self.model)

    def fit(self, train_data: Any, valid_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.config["train_mode"] == "autoregressive":
            train_data = AutoregressiveLoader(
                train_data, self.config["train_batch_size"], seed=self.config["seed"] or 0
            )
        with torch.autograd.set_detect_anomaly(False):
            return super().fit(train_data, valid_data, *args, **kwargs)
