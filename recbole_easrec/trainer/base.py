"""The trainer every plugin model, and every RecBole model that uses RecBole's plain ``Trainer``,
runs with."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.trainer import Trainer

from recbole_easrec.artifacts import save_torch_atomic
from recbole_easrec.budget import BudgetedLoader, TrainingBudgetSpent
from recbole_easrec.compiling import compile_encoder
from recbole_easrec.distributed import is_distributed, wrap_model
from recbole_easrec.precision import training_precision
from recbole_easrec.progress import EpochClock, ProgressLoader
from recbole_easrec.resume import (
    Checkpointer,
    generator_states,
    loader_generators,
    restore_generators,
    restore_rng,
    rng_state,
)
from recbole_easrec.training_modes import AutoregressiveLoader, autoregressive_loader


class EasRecBaseTrainer(Trainer):
    """RecBole's ``Trainer`` plus ``train_mode: autoregressive`` (see :mod:`training_modes`),
    ``compile: True`` (the encoder through ``torch.compile``, see :mod:`compiling`),
    ``precision: bf16`` (training epochs under bfloat16 autocast, :mod:`~recbole_easrec.precision`)
    and ``max_train_seconds`` (a wall-clock budget per ``fit``, see :mod:`recbole_easrec.budget`).

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
        self.checkpointer: Checkpointer | None = None  # set by quick_start: per-epoch state
        self._loaders: tuple[Any, ...] = ()
        self._budget: BudgetedLoader | None = None
        self._epoch_open: int | None = None
        self._clock: EpochClock | None = None
        # training seconds of the killed process(es) a resumed run continues (all phases)
        self.seconds_before_resume = 0.0
        self._started = time.monotonic()
        self.precision = config["precision"]
        if self.precision == "bf16":
            self.enable_amp = True  # RecBole's inner autocast then keeps our bfloat16
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

    # --- several processes (recbole_easrec.distributed) -------------------------------------------

    def set_reduce_hook(self) -> None:
        """RecBole's: arm the gradient all-reduce of the next backward, re-wrapping the model
        first if the trainer has switched to another network (EASRec's retraining, random
        search's candidates)."""
        if self.distributed_model.module is not self.model:
            self.distributed_model = wrap_model(self.model, self.config)
        super().set_reduce_hook()

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``; in a distributed run the gradients are averaged over the processes
        (RecBole's convention: every parameter takes part, through a zero-valued term)."""
        if is_distributed(self.config):
            self.set_reduce_hook()
            loss = loss + self.sync_grad_loss()
        loss.backward()

    def shuffle_shards(self, train_data: Any, epoch_idx: int) -> None:
        """A new shuffle of a distributed loader's shards each epoch (as RecBole's epochs do)."""
        if is_distributed(self.config) and getattr(train_data, "shuffle", False):
            train_data.sampler.set_epoch(epoch_idx)

    def loader_at_batch_size(self, train_data: Any, batch_size: int | None) -> Any:
        """``train_data`` at ``batch_size`` (a new loader on the same dataset; ``train_data``
        itself for None or its own batch size). In ``train_mode: autoregressive`` the loader is
        an :class:`~recbole_easrec.training_modes.AutoregressiveLoader` of ``batch_size`` users,
        which :meth:`fit` keeps (it wraps only RecBole's loaders)."""
        if not batch_size or batch_size == self.config["train_batch_size"]:
            return train_data
        if self.config["train_mode"] == "autoregressive":
            return autoregressive_loader(train_data, self.config, batch_size)
        original = self.config["train_batch_size"]
        self.config["train_batch_size"] = batch_size
        try:
            return TrainDataLoader(
                self.config, train_data._dataset, train_data._sampler, shuffle=True
            )
        finally:
            self.config["train_batch_size"] = original

    def worst_score(self) -> float:
        """The validation score any epoch beats (RecBole's starting best)."""
        return -float("inf") if self.valid_metric_bigger else float("inf")

    def load_best(self, model: Any) -> None:
        """Load the current checkpoint file's weights into ``model`` (if the file exists)."""
        if Path(self.saved_model_file).is_file():
            checkpoint = torch.load(
                self.saved_model_file, map_location=self.device, weights_only=True
            )
            model.load_state_dict(checkpoint["state_dict"])

    # --- the training loop: epochs, per-epoch state, progress ------------------------------------

    phase = "train"  # the name of the running phase (EASRec: search, retrain) in state and lines

    def fit(
        self,
        train_data: Any,
        valid_data: Any = None,
        verbose: bool = True,
        saved: bool = True,
        show_progress: bool = False,
        callback_fn: Any = None,
    ) -> Any:
        """RecBole's ``fit``, continuing from the checkpointer's state of this phase if it has one
        (a finished phase is not run again), writing the state after every epoch and a progress
        line with the ETA (see :mod:`recbole_easrec.resume`, :mod:`recbole_easrec.progress`)."""
        if self.config["train_mode"] == "autoregressive" and not isinstance(
            train_data, AutoregressiveLoader
        ):
            train_data = autoregressive_loader(train_data, self.config)
        self._budget = None
        if self.config["max_train_seconds"] is not None:
            train_data = self._budget = BudgetedLoader(train_data, self.config["max_train_seconds"])
        if not show_progress:
            train_data = ProgressLoader(train_data, f"{self.phase} epoch")
        self._loaders = (train_data, valid_data)
        self._epoch_open = None
        state = self.checkpointer.take(self.phase) if self.checkpointer else None
        self._clock = EpochClock(self.phase, self.epochs)
        if state is not None:
            self.restore_state(state)
            if state["finished"]:
                return self.best_valid_score, self.best_valid_result
        with torch.autograd.set_detect_anomaly(False):
            try:
                result = super().fit(
                    train_data, valid_data, verbose, saved, show_progress, callback_fn
                )
            except TrainingBudgetSpent as spent:
                logging.getLogger().info("%s: stopping with the best epoch so far", spent)
                self._epoch_open = None  # the refused epoch never ran
                result = self.best_valid_score, self.best_valid_result
        self.end_epoch(finished=True)
        return result

    def _train_epoch(
        self, train_data: Any, epoch_idx: int, loss_func: Any = None, show_progress: bool = False
    ) -> Any:
        """Close the previous epoch (:meth:`end_epoch`), then run epoch ``epoch_idx``."""
        self.end_epoch()
        self._epoch_open = epoch_idx
        with training_precision(self.precision, self.device):
            return self.run_epoch(train_data, epoch_idx, loss_func, show_progress)

    def run_epoch(
        self, train_data: Any, epoch_idx: int, loss_func: Any = None, show_progress: bool = False
    ) -> Any:
        """One training epoch (RecBole's); trainers with their own epochs override this."""
        return super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)

    def end_epoch(self, finished: bool = False) -> None:
        """The epoch under way is complete (with its validation and early-stopping update): log
        its progress line and write the state; ``finished``: the phase has ended."""
        epoch = self._epoch_open
        if epoch is None and not finished:
            return
        if epoch is not None and self._clock is not None:
            logging.getLogger().info(self._clock.epoch_done())
        if self.checkpointer is not None:
            last = self.start_epoch - 1 if epoch is None else epoch
            self.checkpointer.save(*self.resume_state(last, finished))
        self._epoch_open = None

    # --- state for --resume --------------------------------------------------------------------

    def generators(self) -> list[torch.Generator]:
        """Every ``torch.Generator`` the phase draws from besides the global ones."""
        return loader_generators(*self._loaders)

    def resume_state(self, epoch: int, finished: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """(tensors, JSON) of the trainer after ``epoch`` of the running phase."""
        rng_tensors, rng_meta = rng_state()
        tensors: dict[str, Any] = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_tensors,
            "generators": generator_states(self.generators()),
        }
        if Path(self.saved_model_file).is_file():  # the best epoch's checkpoint, to put back
            tensors["best_checkpoint"] = torch.load(
                self.saved_model_file, map_location="cpu", weights_only=True
            )
        meta = {
            "phase": self.phase,
            "epoch": int(epoch),
            "finished": bool(finished),
            "cur_step": int(self.cur_step),
            "best_valid_score": float(self.best_valid_score),
            "best_valid_result": None
            if self.best_valid_result is None
            else {k: float(v) for k, v in dict(self.best_valid_result).items()},
            "train_loss": {str(k): v for k, v in self.train_loss_dict.items()},
            "epochs_done": self._clock.done if self._clock else 0,
            "phase_seconds": self._clock.elapsed() if self._clock else 0.0,
            "run_seconds": self.seconds_before_resume + time.monotonic() - self._started,
            "rng": rng_meta,
        }
        return tensors, meta

    def restore_state(self, state: dict[str, Any]) -> None:
        """Put the trainer back into a state from :meth:`resume_state` (RNGs last)."""
        tensors = state["tensors"]
        self.model.load_state_dict(tensors["model"])
        self.optimizer.load_state_dict(tensors["optimizer"])
        if "best_checkpoint" in tensors:
            save_torch_atomic(tensors["best_checkpoint"], self.saved_model_file)
        self.start_epoch = int(state["epoch"]) + 1
        self.cur_step = int(state["cur_step"])
        self.best_valid_score = float(state["best_valid_score"])
        self.best_valid_result = state["best_valid_result"]
        self.train_loss_dict = {int(k): v for k, v in state["train_loss"].items()}
        seconds = float(state["phase_seconds"])
        self.seconds_before_resume = float(state.get("run_seconds", seconds))
        self._started = time.monotonic()
        self._clock = EpochClock(self.phase, self.epochs, int(state["epochs_done"]), seconds)
        if self._budget is not None:  # the budget counts the time before the kill
            self._budget.deadline -= seconds
            self._budget.passes = int(state["epochs_done"])
        restore_generators(self.generators(), tensors["generators"])
        restore_rng(tensors["rng"], state["rng"])
        logging.getLogger().info(
            "resumed %s after epoch %d (state %s)", self.phase, state["epoch"], state["sequence"]
        )
