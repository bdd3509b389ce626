"""Trainer of :class:`recbole_easrec.model.easrec.EASRec`: the phases of EASRec (Algorithm 1, then
eq. 18), each asking the search method (:mod:`recbole_easrec.search.methods`, ``search_method``).

1. **Search** (``epochs`` epochs, early stopping after ``search_stopping_step`` epochs without a
   better validation score; :meth:`SearchMethod.search`). Every training batch is one weight step:
   the method yields the losses of the paths it trains (:meth:`SearchMethod.weight_losses`), the
   weight optimiser (W only, never α or β) steps once. A ``bilevel`` method also gets one
   architecture batch every ``arch_update_freq`` iterations (:meth:`SearchMethod.arch_step`, α and
   β with a second Adam, ``arch_learning_rate``), after ``arch_warmup_epochs`` weight-only epochs.
   The architecture batches come from the validation split (``arch_data: valid``, Algorithm 1) or
   from held-out training users (``holdout``; :mod:`recbole_easrec.search.arch_data`). Validation
   scores :meth:`SearchMethod.validation_path` (default the hard choice, argmax α, argmax β), so
   the best checkpoint is the best such path with its weights; afterwards the method may score
   every architecture on the shared weights (``shared_weight_scores`` in ``result.json``).
2. **Choice and reconstruction**: the path :meth:`SearchMethod.choose` returns is rebuilt as a
   physically smaller :class:`EASRecCompact` with the supernet's weights (eq. 18,
   :func:`recbole_easrec.search.reconstruct.reconstruct`) and evaluated as transferred:
   ``search_valid_result`` (equal to the supernet's hard-path score).
3. **Retraining** (``retrain_epochs``; 0 = none) of the compact network: fresh optimiser, the whole
   training split, ``retrain_batch_size``, early stopping, ``checkpoint_compact.pth``, optionally
   distilled from the supernet's largest path (``retrain_distill``, :mod:`.distill`). The
   transferred network is the starting best: ``best_valid_result`` is never worse on validation.

``self.model`` is the compact network afterwards (saved by ``save_model``); ``search_trace.json`` /
``.png`` hold one entry per architecture update (:mod:`recbole_easrec.search.trace`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils import clip_grad_norm_

from recbole_easrec.efficiency import count_parameters
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.progress import progress_bar
from recbole_easrec.resume import loader_generators
from recbole_easrec.saving import save_model
from recbole_easrec.search.arch_data import ArchitectureBatches, search_loaders
from recbole_easrec.search.methods import search_method, validate_search_config
from recbole_easrec.search.reconstruct import architecture_record, compact_settings, reconstruct
from recbole_easrec.search.searched import load_search, save_search
from recbole_easrec.search.space import SearchSpace
from recbole_easrec.search.trace import plot_trace, write_trace
from recbole_easrec.trainer.base import EasRecBaseTrainer
from recbole_easrec.trainer.distill import check_teacher, retraining_loss, validate_distill_config
from recbole_easrec.validation import require_choice

COMPACT_CHECKPOINT = "checkpoint_compact.pth"


def validate_easrec_trainer_config(config: Any) -> None:
    """The search's settings and the retraining's (its start, distillation)."""
    validate_search_config(config)
    require_choice(config, "retrain_from", ("supernet", "scratch"))
    validate_distill_config(config)


class EASRecTrainer(EasRecBaseTrainer):
    """Search, choice, reconstruction and retraining (see module docstring)."""

    saves_model = True
    validate_config = staticmethod(validate_easrec_trainer_config)

    def __init__(self, config: Any, model: Any) -> None:
        validate_easrec_trainer_config(config)
        check_teacher(config, model.n_items)  # before the search, not after it
        super().__init__(config, model)
        self.supernet = model
        self.space = SearchSpace.of(model, config)
        self.iteration = 0
        self.arch_optimizer = torch.optim.Adam(
            model.architecture_parameters(), lr=config["arch_learning_rate"]
        )
        self.trace: list[dict[str, Any]] = []
        self.architecture: dict[str, Any] | None = None
        self.search_valid_result: dict[str, Any] | None = None
        self.arch_batches: ArchitectureBatches | None = None
        self.holdout_users: torch.Tensor | None = None  # internal user ids (arch_data: holdout)
        self.path_generator = torch.Generator().manual_seed(int(config["seed"] or 0))
        self.shared_weight_scores: list[dict[str, Any]] = []
        self.phase = "search"
        self.method = search_method(config)(self)
        self.retrain_loss: Any = None  # retrain_distill: trainer/distill.py
        self.searched_extras: dict[str, Any] | None = None  # the method's, with search_from

    def _build_optimizer(self, **kwargs: Any) -> Any:
        """The weight optimiser: W only (α, β belong to :attr:`arch_optimizer`)."""
        if "params" not in kwargs and hasattr(self.model, "weight_parameters"):
            kwargs["params"] = self.model.weight_parameters()
        return super()._build_optimizer(**kwargs)

    # --- the steps the search method asks for ----------------------------------------------------

    def weight_step(self, interaction: Any) -> float:
        """One update of W on a training batch along the method's paths (α, β untouched)."""
        model = self.supernet
        model.train()
        self.optimizer.zero_grad()
        total = 0.0
        for loss in self.method.weight_losses(interaction):
            self._check_nan(loss)
            self.backward(loss)
            total += float(loss.item())
        if self.clip_grad_norm:
            clip_grad_norm_(model.weight_parameters(), **self.clip_grad_norm)
        self.optimizer.step()
        self.iteration += 1
        return total

    def drop_weight_gradients(self) -> None:
        """Forget W's gradients of an architecture step (its backward reaches W too)."""
        for param in self.supernet.weight_parameters():
            param.grad = None

    def record_arch_step(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append one architecture update to the trace (with the iteration count); returns it."""
        entry = {"iteration": self.iteration, **entry}
        self.trace.append(entry)
        return entry

    def run_epoch(
        self, train_data: Any, epoch_idx: int, loss_func: Any = None, show_progress: bool = False
    ) -> Any:
        if self.model is not self.supernet:  # retraining, or a network trained from scratch
            loss_func = loss_func or (self.retrain_loss if self.phase == "retrain" else None)
            return super().run_epoch(train_data, epoch_idx, loss_func, show_progress)
        self.shuffle_shards(train_data, epoch_idx)
        batches = train_data
        if show_progress:
            batches = progress_bar(train_data, len(train_data), f"Search {epoch_idx:>4}")
        method = self.method
        warming_up = method.bilevel and self.warming_up(epoch_idx)
        method.on_epoch_start(epoch_idx)
        frequency, total = self.config["arch_update_freq"], 0.0
        for interaction in batches:
            total += self.weight_step(interaction.to(self.device))
            arch_due = self.arch_batches is not None and self.iteration % frequency == 0
            if method.bilevel and not warming_up and arch_due:
                method.arch_step(self.arch_batches.next())
        if method.bilevel:
            if not warming_up:
                method.on_epoch_end(epoch_idx)
            write_trace(self.run_dir(), self.trace)
        return total

    def warming_up(self, epoch_idx: int) -> bool:
        """Whether search epoch ``epoch_idx`` only trains W (``arch_warmup_epochs``; not in the
        paper, whose α/β steps start at iteration 1).

        Until α and β move, validation scores the argmax of all-zero logits — the first candidate
        and the first exit — so warm-up epochs must not choose the checkpoint: early stopping's
        patience is held at zero while warming up, and the best score is forgotten at the first
        search epoch, whose validation then replaces the warm-up checkpoint.
        """
        warmup = int(self.config["arch_warmup_epochs"])
        if epoch_idx < warmup:
            self.cur_step = 0
            return True
        if epoch_idx == warmup and warmup > 0:
            self.best_valid_score = -float("inf") if self.valid_metric_bigger else float("inf")
            self.cur_step = 0
        return False

    def _valid_epoch(self, valid_data: Any, show_progress: bool = False) -> Any:
        """Validation; while searching, of the method's :meth:`validation_path`."""
        if self.model is not self.supernet:
            return super()._valid_epoch(valid_data, show_progress=show_progress)
        with self.supernet.using(self.method.validation_path()):
            return super()._valid_epoch(valid_data, show_progress=show_progress)

    # --- the phases -------------------------------------------------------------------------------

    def fit(
        self,
        train_data: Any,
        valid_data: Any = None,
        verbose: bool = True,
        saved: bool = True,
        show_progress: bool = False,
        callback_fn: Any = None,
    ) -> tuple[float, dict[str, Any] | None]:
        weight_data, arch_data, self.holdout_users = search_loaders(
            train_data, valid_data, self.config
        )
        size = self.config["arch_batch_size"] or self.config["train_batch_size"]
        self.arch_batches = (
            None if arch_data is None else ArchitectureBatches(arch_data, size, self.device)
        )
        retraining = self.checkpointer is not None and self.checkpointer.peek_phase() == "retrain"
        fit = {"verbose": verbose, "saved": saved, "show_progress": show_progress}
        if retraining:  # a resumed run that was killed while retraining: the search is done
            arch = self.restore_search(self.checkpointer.pending)
        else:
            self.phase = "search"
            self.stopping_step = self.config["search_stopping_step"]
            if self.config["search_from"]:  # a finished search, re-picked under this run's budget
                self.searched_extras = load_search(self)
            else:
                self.method.search(weight_data, valid_data, callback_fn=callback_fn, **fit)
                save_search(self.run_dir(), self)
            arch = self.method.choose()
        compact = self.reconstruct_compact(arch)
        return self.retrain(
            compact, train_data, valid_data, **fit, callback_fn=callback_fn, resumed=retraining
        )

    def train_supernet(
        self,
        weight_data: Any,
        valid_data: Any,
        verbose: bool,
        saved: bool,
        show_progress: bool,
        callback_fn: Any,
    ) -> None:
        """The search epochs (RecBole's loop over :meth:`run_epoch`); the supernet ends with the
        best epoch's weights."""
        super().fit(weight_data, valid_data, verbose, saved, show_progress, callback_fn)
        if saved:
            self.load_best(self.supernet)
        write_trace(self.run_dir(), self.trace)

    def score_architecture(self, arch: Architecture, valid_data: Any, show_progress: bool) -> dict:
        """Validation metrics of ``arch`` on the supernet's shared weights (its hard path, so the
        score equals that of the reconstructed, not yet retrained, network)."""
        with self.supernet.using(arch):
            score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
        return {
            **self.space.describe(arch),
            "valid_score": float(score),
            "valid_result": {key: float(value) for key, value in result.items()},
        }

    def train_from_scratch(
        self, network: Any, train_data: Any, valid_data: Any, epochs: int
    ) -> tuple[float, dict[str, Any] | None]:
        """Train ``network`` ``epochs`` epochs with early stopping, without checkpoints or resume
        state (e.g. a random-search candidate); its best validation score and metrics."""
        checkpointer, self.checkpointer = self.checkpointer, None
        self.model = network
        self.optimizer = self._build_optimizer(params=network.parameters())
        self.epochs, self.start_epoch, self.cur_step = epochs, 0, 0
        self.eval_step = min(self.config["eval_step"], epochs)
        self.best_valid_score, self.best_valid_result = self.worst_score(), None
        try:
            super().fit(train_data, valid_data, verbose=False, saved=False)
        finally:
            self.checkpointer, self.model = checkpointer, self.supernet
        return self.best_valid_score, self.best_valid_result

    def reconstruct_compact(self, arch: Architecture | None = None) -> Any:
        """Eq. 18 from the current supernet along ``arch`` (default: argmax α, argmax β); records
        :attr:`architecture`."""
        settings = compact_settings(self.supernet, arch)
        chosen = Architecture(settings["candidate"], settings["n_layers"])
        holdout = None if self.holdout_users is None else len(self.holdout_users)
        self.architecture = architecture_record(
            self.supernet, self.config, settings, self.space.fractions[chosen], holdout
        )
        logging.getLogger().info(
            "%s search chose d=%d, D=%d, L=%d (%.1f %% of the full network's FLOPs); retraining it",
            self.method.name,
            settings["hidden_size"],
            settings["inner_size"],
            settings["n_layers"],
            100 * self.architecture["flops_fraction"],
        )
        return reconstruct(self.supernet, self.config, arch)

    def full_network(self) -> Any:
        """The supernet's largest path, physically built (eval mode): the run summary's reference
        for FLOPs and inference time, measured the same way as the selected network."""
        return reconstruct(self.supernet, self.config, self.space.largest).eval()

    def retrain(
        self,
        compact: Any,
        train_data: Any,
        valid_data: Any,
        verbose: bool,
        saved: bool,
        show_progress: bool,
        callback_fn: Any = None,
        resumed: bool = False,
    ) -> tuple[float, dict[str, Any] | None]:
        """Evaluate the transferred compact net, then retrain it (module docstring, phase 3).

        ``callback_fn`` is RecBole's per-validation hook; it keeps being called during retraining
        (epochs count from 0 again), so a Tune trial reports through both phases. ``resumed``: the
        retraining state is pending in the checkpointer (the transferred net was evaluated and
        saved before the kill)."""
        self.phase = "retrain"
        self.model = compact
        self.optimizer = self._build_optimizer(params=compact.parameters())
        self.retrain_loss = retraining_loss(self.config, compact, self.supernet, self.space.largest)
        self.saved_model_file = str(Path(self.saved_model_file).with_name(COMPACT_CHECKPOINT))
        self.stopping_step = self.config["stopping_step"]
        self.start_epoch, self.cur_step = 0, 0
        if valid_data is not None and not resumed:  # the transferred network's score
            score, result = self._valid_epoch(valid_data, show_progress=show_progress)
            self.search_valid_result = dict(result)
            self.best_valid_score, self.best_valid_result = score, result
        if self.config["retrain_from"] == "scratch" and not resumed:  # no bar from the transfer
            compact.initialise()
            self.best_valid_score, self.best_valid_result = self.worst_score(), None
        if saved and not resumed:
            self._save_checkpoint(-1, verbose=verbose)
        epochs = self.config["retrain_epochs"]
        self.epochs = self.config["epochs"] if epochs is None else int(epochs)
        self.eval_step = min(self.config["eval_step"], self.epochs) if self.epochs else 0
        if self.epochs > 0:
            loader = self.loader_at_batch_size(train_data, self.config["retrain_batch_size"])
            super().fit(loader, valid_data, verbose, saved, show_progress, callback_fn)
            if saved:
                self.load_best(self.model)
        self.save_compact()
        plot_trace(self.run_dir(), self.trace)
        return self.best_valid_score, self.best_valid_result

    # --- state for --resume ----------------------------------------------------------------------

    def generators(self) -> list[torch.Generator]:
        """The base loaders' generators, the architecture batches' and the search's paths'."""
        arch_loader = None if self.arch_batches is None else self.arch_batches.loader
        return loader_generators(*self._loaders, arch_loader) + [self.path_generator]

    def resume_state(self, epoch: int, finished: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The base state plus α/β's optimiser, the iteration count (the Gumbel temperature
        follows it), the trace, where the architecture batches are; while retraining also the
        searched supernet and the chosen architecture."""
        tensors, meta = super().resume_state(epoch, finished)
        tensors["arch_optimizer"] = self.arch_optimizer.state_dict()
        batches = self.arch_batches
        if batches is not None and batches.cycle_start is not None:
            tensors["arch_cycle_start"] = batches.cycle_start
        arch = self.architecture
        meta["easrec"] = {
            "iteration": self.iteration,
            "temperature": self.method.temperature(),
            "trace": self.trace,
            "arch_taken": 0 if batches is None else batches.taken,
            "shared_weight_scores": self.shared_weight_scores,
            "search_valid_result": self.search_valid_result,
            "architecture": None if arch is None else [arch["candidate"], arch["n_layers"]],
            "searched_extras": self.searched_extras,
        }
        if self.phase == "retrain":
            tensors["supernet"] = self.supernet.state_dict()
        return tensors, meta

    def restore_state(self, state: dict[str, Any]) -> None:
        easrec = state["easrec"]
        self.iteration = int(easrec["iteration"])
        self.trace = list(easrec["trace"])
        self.arch_optimizer.load_state_dict(state["tensors"]["arch_optimizer"])
        if self.phase == "search" and self.arch_batches is not None:
            cycle_start = state["tensors"].get("arch_cycle_start")
            self.arch_batches.replay(cycle_start, int(easrec["arch_taken"]))
        super().restore_state(state)

    def restore_search(self, state: dict[str, Any]) -> Architecture:
        """The search's outcome from a retraining state (the supernet's best weights, scores,
        trace); returns the chosen architecture."""
        easrec = state["easrec"]
        self.supernet.load_state_dict(state["tensors"]["supernet"])
        self.iteration = int(easrec["iteration"])
        self.trace = list(easrec["trace"])
        self.shared_weight_scores = list(easrec["shared_weight_scores"])
        self.search_valid_result = easrec["search_valid_result"]
        self.searched_extras = easrec.get("searched_extras")  # a re-pick's (search_from)
        candidate, depth = easrec["architecture"]
        return Architecture(int(candidate), int(depth))

    # --- artifacts --------------------------------------------------------------------------------

    def run_dir(self) -> Path:
        return Path(self.config["checkpoint_dir"])

    def save_compact(self) -> Path:
        """``model.pt`` + ``model.json`` of the compact network (rebuilt by ``load_model``)."""
        keys = ("hidden_size", "inner_size", "n_layers", "gate_layers")
        settings = {key: self.architecture[key] for key in keys}
        settings["model"] = "EASRecCompact"
        return save_model(self.run_dir(), self.model, self.config, settings=settings)

    def result_extras(self) -> dict[str, Any]:
        """``architecture`` and ``search_valid_result`` for result.json."""
        return {
            "architecture": self.architecture,
            "search_valid_result": self.search_valid_result,
            "search_iterations": self.iteration,
            "supernet_params": count_parameters(self.supernet),
            "architecture_updates": len(self.trace),
            "shared_weight_scores": self.shared_weight_scores,
            **(self.searched_extras or self.method.extras()),
        }
