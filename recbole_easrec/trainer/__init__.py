"""Trainers for this plugin's models (found by name ``<Model>Trainer`` in this package)."""

from recbole_easrec.trainer.base import EasRecBaseTrainer
from recbole_easrec.trainer.dsl import DSLTrainer
from recbole_easrec.trainer.easrec import EASRecTrainer

__all__ = ["DSLTrainer", "EASRecTrainer", "EasRecBaseTrainer"]
