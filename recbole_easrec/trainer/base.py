"""The trainer every plugin model uses unless it names its own (``<Model>Trainer``)."""

from __future__ import annotations

from recbole.trainer import Trainer


class EasRecBaseTrainer(Trainer):
    """RecBole's ``Trainer``; the shared place for training-mode extensions of our models."""
