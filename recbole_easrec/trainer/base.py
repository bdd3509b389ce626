"""The trainer every plugin model uses unless it names its own (``<Model>Trainer``)."""

from __future__ import annotations

from typing import Any

from recbole.trainer import Trainer

from recbole_easrec.compiling import compile_encoder
from recbole_easrec.training_modes import AutoregressiveLoader


class EasRecBaseTrainer(Trainer):
    """RecBole's ``Trainer`` plus ``train_mode: autoregressive`` (see :mod:`training_modes`) and
    ``compile: True`` (the encoder through ``torch.compile``, see :mod:`compiling`)."""

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        if config["compile"]:
            compile_encoder(self.model)

    def fit(self, train_data: Any, valid_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self.config["train_mode"] == "autoregressive":
            train_data = AutoregressiveLoader(
                train_data, self.config["train_batch_size"], seed=self.config["seed"] or 0
            )
        return super().fit(train_data, valid_data, *args, **kwargs)
