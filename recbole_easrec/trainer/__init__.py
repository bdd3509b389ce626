"""Trainers for this plugin's models (found by name ``<Model>Trainer`` in this package)."""

from __future__ import annotations

from recbole.trainer import Trainer as RecBoleTrainer
from recbole.utils import get_trainer as recbole_get_trainer

from recbole_easrec.registry import plugin_model_names
from recbole_easrec.trainer.base import EasRecBaseTrainer
from recbole_easrec.trainer.dsl import DSLTrainer
from recbole_easrec.trainer.easrec import EASRecTrainer

PLUGIN_TRAINERS: dict[str, type] = {"DSL": DSLTrainer, "EASRec": EASRecTrainer}

__all__ = [
    "DSLTrainer",
    "EASRecTrainer",
    "EasRecBaseTrainer",
    "resolve_trainer",
    "validate_trainer_config",
]


def validate_trainer_config(config: object) -> None:
    """The settings a plugin trainer owns (EASRec's search: ``EASRecTrainer.validate_config``), as
    one-line ConfigErrors, before any data is loaded (the model's own are checked by
    :func:`recbole_easrec.config.validate_run_config`)."""
    hook = getattr(PLUGIN_TRAINERS.get(config["model"]), "validate_config", None)
    if hook is not None:
        hook(config)


def resolve_trainer(model_type: object, model_name: str) -> type:
    """The trainer of ``model_name``: ours (``<Model>Trainer``) if it has one, else RecBole's choice.

    Plugin models without a trainer of their own, and RecBole models whose trainer is RecBole's
    plain ``Trainer``, get :class:`~recbole_easrec.trainer.base.EasRecBaseTrainer` (the same
    training loop, plus ``max_train_seconds`` and without autograd anomaly detection); RecBole
    models with a special trainer (KG, two-tower, …) keep it.
    """
    if model_name in PLUGIN_TRAINERS:
        return PLUGIN_TRAINERS[model_name]
    if model_name in plugin_model_names():
        return EasRecBaseTrainer
    recbole_trainer = recbole_get_trainer(model_type, model_name)
    if recbole_trainer is RecBoleTrainer:
        return EasRecBaseTrainer
    return recbole_trainer
