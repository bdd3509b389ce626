"""What a search method is: the small interface :class:`~recbole_easrec.trainer.easrec.EASRecTrainer`
asks at each point of its phases (search → choose → reconstruct → retrain).

Phase 1, the search (default: :meth:`SearchMethod.search` trains the supernet with the trainer's
loop, then scores the space): every training batch is one weight step of W along the paths
:meth:`~SearchMethod.weight_losses` yields (the trainer does the backward passes, clipping and the
optimiser step); a method with ``bilevel = True`` also gets one :meth:`~SearchMethod.arch_step`
on an architecture batch every ``arch_update_freq`` iterations (α, β only, Algorithm 1) and
``arch_warmup_epochs`` weight-only epochs first. :meth:`~SearchMethod.on_epoch_start` /
:meth:`~SearchMethod.on_epoch_end` bracket every search epoch; validation scores
:meth:`~SearchMethod.validation_path` (None: argmax α, argmax β).

Phase 2, the choice: :meth:`~SearchMethod.choose` returns the architecture to reconstruct —
by default the most probable path within ``flops_budget`` (``chooses_by_scores = False``), or the
cheapest within ``selection_tolerance`` of the best shared-weight validation score.
:meth:`~SearchMethod.extras` adds the method's own entries to ``result.json``.

Each method declares its own settings (``settings``: keys of ``EASRec.yaml``) and checks them
(:meth:`~SearchMethod.validate`); :mod:`recbole_easrec.search.methods` maps ``search_method``
names to the classes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from torch import Tensor

from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.progress import EpochClock
from recbole_easrec.search.space import choose

# score_architectures: auto scores on shared weights up to this catalogue size (a diagnostic for
# the α/β methods: one full-ranking validation pass per architecture, 12 in the default space).
SCORING_MAX_ITEMS = 50_000


class SearchMethod:
    """One search method (module docstring). ``trainer`` is the
    :class:`~recbole_easrec.trainer.easrec.EASRecTrainer` running it: its ``supernet``, ``space``
    (:class:`~recbole_easrec.search.space.SearchSpace`), ``config``, ``iteration``,
    ``path_generator``, ``arch_optimizer``, ``backward``, ``trace`` and scoring helpers."""

    name: ClassVar[str] = ""
    bilevel: ClassVar[bool] = False  # α/β steps on architecture batches (Algorithm 1's loop)
    chooses_by_scores: ClassVar[bool] = False  # the choice reads shared-weight validation scores
    reselectable: ClassVar[bool] = True  # the search ignores flops_budget (search_from may re-pick)
    settings: ClassVar[tuple[str, ...]] = ()  # its own keys in EASRec.yaml

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.config = trainer.config
        self.supernet = trainer.supernet
        self.space = trainer.space

    @classmethod
    def validate(cls, config: Any) -> None:
        """One-line ConfigError for an invalid value of one of :attr:`settings`."""

    # --- phase 1: the search ----------------------------------------------------------------------

    def search(self, weight_data: Any, valid_data: Any, **fit: Any) -> None:
        """Train the supernet (the trainer's loop asks :meth:`weight_losses`, :meth:`arch_step`),
        then score the space on its shared weights (:meth:`score`)."""
        self.trainer.train_supernet(weight_data, valid_data, **fit)
        if valid_data is not None:
            self.score(valid_data, fit.get("show_progress", False))

    def validation_path(self) -> Architecture | None:
        """The path that validation scores during the search (None: argmax α, argmax β)."""
        return None

    def on_epoch_start(self, epoch: int) -> None:
        """Called before the first weight step of search epoch ``epoch``."""

    def weight_losses(self, interaction: Any) -> Iterator[Tensor]:
        """The losses of one weight step, one per path trained (W only; the trainer back-propagates
        each as it comes, then steps the weight optimiser once)."""
        raise NotImplementedError

    def arch_step(self, interaction: Any) -> dict[str, Any]:
        """One update of α, β on an architecture batch (``bilevel`` methods); its trace entry."""
        raise NotImplementedError(f"{self.name} has no architecture step")

    def on_epoch_end(self, epoch: int) -> None:
        """Called after search epoch ``epoch`` (not after a warm-up epoch)."""

    def temperature(self) -> float | None:
        """The Gumbel temperature of the next step (None: the method samples no mixture)."""
        return None

    # --- phase 2: the choice ----------------------------------------------------------------------

    def score(self, valid_data: Any, show_progress: bool) -> None:
        """Score every architecture of the space on the shared weights
        (``trainer.score_architecture``) if :meth:`scores_architectures`."""
        if not self.scores_architectures():
            return
        space = sorted(self.space.fractions)
        clock = EpochClock("scoring architectures on validation", len(space))
        self.trainer.shared_weight_scores = []
        for arch in space:
            record = self.trainer.score_architecture(arch, valid_data, show_progress)
            self.trainer.shared_weight_scores.append(record)
            done = clock.epoch_done().replace("epoch", "architecture")
            logging.getLogger().info("%s (%s)", done, arch)

    def scores_architectures(self) -> bool:
        """``score_architectures``; ``auto``: always for the methods that choose by those scores;
        for the others, whose choice does not read them (a diagnostic), only while a validation
        pass is cheap: up to :data:`SCORING_MAX_ITEMS` items."""
        setting = self.config["score_architectures"]
        if setting != "auto":
            return bool(setting)
        if self.chooses_by_scores or self.supernet.n_items <= SCORING_MAX_ITEMS:
            return True
        logging.getLogger().info(
            "shared-weight scores of every architecture skipped: %d items > %d"
            " (score_architectures: auto; True scores them, one validation pass each)",
            self.supernet.n_items,
            SCORING_MAX_ITEMS,
        )
        return False

    def choose(self) -> Architecture:
        """The path to reconstruct: the cheapest architecture within ``flops_budget`` scoring within
        ``selection_tolerance`` of the best shared-weight score (``chooses_by_scores``, when scores
        exist), else the most probable path within the budget (argmax α, argmax β without one)."""
        fractions, budget = self.space.fractions, self.config["flops_budget"]
        records = self.trainer.shared_weight_scores
        if not self.chooses_by_scores or not records:
            alpha, beta = self.supernet.controller.probabilities()
            scores = {arch: alpha[arch.candidate] * beta[arch.depth - 1] for arch in fractions}
            return choose(scores, fractions, budget)
        scores = {Architecture(r["candidate"], r["n_layers"]): r["valid_score"] for r in records}
        return choose(scores, fractions, budget, float(self.config["selection_tolerance"]))

    def extras(self) -> dict[str, Any]:
        """The method's own entries of ``result.json``."""
        return {}
