"""Find models and trainers by name: this plugin's first, then RecBole's built-ins.

RecBole's ``get_model`` only knows RecBole's own models; like RecBole-GNN we look in our package
first and fall back to RecBole, so one entry point serves plugin models and baselines alike.
"""

from __future__ import annotations

import importlib

from recbole.trainer import Trainer as RecBoleTrainer
from recbole.utils import get_model as recbole_get_model
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_easrec.errors import ConfigError


def plugin_model_names() -> list[str]:
    """Names of the models this plugin registers (``recbole_easrec.model.__all__``)."""
    return list(importlib.import_module("recbole_easrec.model").__all__)


def resolve_model(name: str) -> type:
    """The model class called ``name``: ours, else RecBole's; unknown names are a ConfigError."""
    if name in plugin_model_names():
        return getattr(importlib.import_module("recbole_easrec.model"), name)
    try:
        return recbole_get_model(name)
    except (ValueError, ImportError, AttributeError):
        ours = ", ".join(plugin_model_names())
        raise ConfigError(
            f"unknown model {name!r}: use one of this plugin's ({ours}) or a RecBole model name"
            " such as SASRec, BERT4Rec, GRU4Rec"
        ) from None


def resolve_trainer(model_type: object, model_name: str) -> type:
    """``<Model>Trainer`` from ``recbole_easrec.trainer`` if it exists, else RecBole's choice.

    Plugin models without a trainer of their own, and RecBole models whose trainer is RecBole's
    plain ``Trainer``, get :class:`~recbole_easrec.trainer.base.EasRecBaseTrainer` (the same
    training loop, plus ``max_train_seconds`` and without autograd anomaly detection); RecBole
    models with a special trainer (KG, two-tower, …) keep it.
    """
    trainers = importlib.import_module("recbole_easrec.trainer")
    trainer = getattr(trainers, f"{model_name}Trainer", None)
    if trainer is not None:
        return trainer
    if model_name in plugin_model_names():
        return trainers.EasRecBaseTrainer
    recbole_trainer = recbole_get_trainer(model_type, model_name)
    if recbole_trainer is RecBoleTrainer:
        return trainers.EasRecBaseTrainer
    return recbole_trainer
