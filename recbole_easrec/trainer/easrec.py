"""Trainer of :class:`recbole_easrec.model.easrec.EASRec`: Algorithm 1 of EASRec, then eq. 18.

``fit`` runs three phases:

1. **Search** (``epochs`` epochs, early stopping after ``search_stopping_step`` epochs without a
   better validation score): every training batch updates the network weights W with the weight
   optimiser (which holds W only, never α or β); every ``arch_update_freq`` iterations one
   architecture batch updates α and β only, with a second Adam (``arch_learning_rate``),
   minimising eq. 16 on that batch's target. ``arch_data: valid`` (Algorithm 1): the batches
   come from the *validation* dataloader (RecBole's full-sort validation batches are tuples whose
   first element carries the target item). ``arch_data: holdout``: the weight steps use the
   training samples of all but a held-out ``arch_holdout_ratio`` of the training users and the
   architecture batches cycle through the held-out users' samples
   (:mod:`recbole_easrec.search.arch_data`), so the validation item only selects the epoch. The
   Gumbel temperature follows the iteration count (:func:`gumbel_temperature`). Validation in eval
   mode scores the hard selection (argmax α, argmax β), so the best checkpoint is the best hard
   architecture with its weights. ``arch_warmup_epochs`` (default 0, the paper's Algorithm 1) first
   trains W alone for that many epochs, paths sampled from the uniform α, β
   (:meth:`EASRecTrainer.warming_up`).
   ``search_method: sandwich`` (not in the paper; the default, see README) replaces the bilevel
   steps by the sandwich rule of slimmable networks / BigNAS: every training batch updates W with
   the summed cross-entropy of the largest path, the smallest path and ``sandwich_random_paths``
   uniformly drawn paths (:func:`~recbole_easrec.search.space.sandwich_paths`); α, β are not used
   and validation (early stopping, best checkpoint) scores the largest path.
   ``search_method: oneshot`` (NASRec's paradigm, Zhang et al. WWW 2023; single-path one-shot,
   Guo et al. 2020): every training batch updates W along one path drawn uniformly
   (:func:`~recbole_easrec.search.space.uniform_path`); α, β are not used and validation scores
   the largest path.
   ``search_method: random`` (the baseline every NAS method must beat) trains ``random_samples``
   architectures from scratch instead, ``epochs // random_samples`` epochs each
   (:meth:`EASRecTrainer.random_search`); their validation scores stand in for shared-weight ones.
   ``search_method: proxylessnas`` (Cai et al., ICLR 2019; :mod:`recbole_easrec.search.proxyless`)
   keeps the bilevel loop but binarises it: each weight step trains one path drawn from
   softmax(α), softmax(β); each architecture step updates α, β with the two-path binary-gate
   estimator and an expected-FLOPs resource term; the choice is the paper's.
   ``search_method: recnas`` (:mod:`recbole_easrec.search.recnas`) is Algorithm 1 with an
   epoch-wise annealed temperature and, after each epoch, the weakest width and exit pruned.
2. **Choice.** The best supernet checkpoint is reloaded and every architecture of the space is
   scored on its shared weights (validation split, hard path): ``shared_weight_scores`` in
   ``result.json`` (``oneshot`` on a space larger than ``evolution_population``: only the
   architectures regularised evolution scores, :mod:`recbole_easrec.search.evolution`).
   ``paper`` keeps the controllers' choice (the most probable path within
   ``flops_budget``: argmax α, argmax β without a budget); ``sandwich`` takes the cheapest
   architecture within ``flops_budget`` whose shared-weight score is within ``selection_tolerance``
   of the best one there (:func:`~recbole_easrec.search.space.choose`); so does ``oneshot``.
   **Reconstruction** (eq. 18): the compact network is built from the chosen path (:func:`recbole_easrec.search.reconstruct.reconstruct`). It is
   evaluated as transferred: ``search_valid_result`` (equal to the supernet's hard-path score).
3. **Retraining** (``retrain_epochs``, default ``epochs``; 0 = none) of the compact network with a
   fresh optimiser, on the whole training split (held-out users included), its own batch size
   (``retrain_batch_size``), RecBole's early stopping
   (``stopping_step``) and a new checkpoint file (``checkpoint_compact.pth``). The transferred
   network is the starting best, so ``best_valid_result`` is never worse than it on validation.

``self.model`` is the compact network afterwards. ``search_trace.json`` in the run folder has one
entry per architecture update (α, β probabilities, τ, L_t, losses), ``search_trace.png`` plots α
and β over iterations; the compact model is saved with
:func:`recbole_easrec.saving.save_model` (``saves_model = True``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from recbole.data.dataloader import TrainDataLoader
from torch.nn.utils import clip_grad_norm_

from recbole_easrec.artifacts import atomic_target, write_json_atomic
from recbole_easrec.distributed import average_gradients, is_distributed
from recbole_easrec.efficiency import count_parameters
from recbole_easrec.progress import EpochClock, progress_bar
from recbole_easrec.resume import generator_states, loader_generators, restore_generators
from recbole_easrec.saving import save_model
from recbole_easrec.search.arch_data import split_holdout
from recbole_easrec.search.evolution import architecture_mutation, regularized_evolution
from recbole_easrec.search.proxyless import (
    binary_gate_gradient,
    binary_gates,
    expected_flops_fraction,
    keep_pair_mass,
    sample_path,
)
from recbole_easrec.search.proxyless import resource_loss as proxyless_resource_loss
from recbole_easrec.search.recnas import alive, annealed_temperature, pin_pruned, weakest_candidate
from recbole_easrec.search.reconstruct import compact_settings, reconstruct
from recbole_easrec.search.space import (
    BILEVEL_METHODS,
    SHARED_WEIGHT_METHODS,
    Architecture,
    choose,
    sandwich_paths,
    uniform_path,
)
from recbole_easrec.trainer.base import EasRecBaseTrainer
from recbole_easrec.training_modes import autoregressive_loader

TRACE_FILE = "search_trace.json"
TRACE_PLOT = "search_trace.png"
COMPACT_CHECKPOINT = "checkpoint_compact.pth"


# score_architectures: auto scores on shared weights up to this catalogue size (a diagnostic for
# the α/β methods: one full-ranking validation pass per architecture, 12 in the default space).
SCORING_MAX_ITEMS = 50_000


class EASRecTrainer(EasRecBaseTrainer):
    """Bilevel search, reconstruction and retraining (see module docstring)."""

    saves_model = True

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        self.supernet = model
        self.searching = True
        self.iteration = 0
        self.arch_optimizer = torch.optim.Adam(
            model.architecture_parameters(), lr=config["arch_learning_rate"]
        )
        self.trace: list[dict[str, Any]] = []
        self.architecture: dict[str, Any] | None = None
        self.search_valid_result: dict[str, Any] | None = None
        self.arch_data: Any = None
        self._arch_iter: Iterator[Any] | None = None
        self.holdout_users: torch.Tensor | None = None  # internal user ids (arch_data: holdout)
        self.search_method: str = config["search_method"]
        self.path_generator = torch.Generator().manual_seed(int(config["seed"] or 0))
        self.shared_weight_scores: list[dict[str, Any]] = []
        self.pruned: list[dict[str, Any]] = []  # recnas: what was pruned, when
        self.phase = "search"
        # generator states when the current pass over arch_data began, and its batches taken
        self._arch_cycle_start: list[torch.Tensor] | None = None
        self._arch_taken = 0

    def _build_optimizer(self, **kwargs: Any) -> Any:
        """The weight optimiser: W only (α, β belong to :attr:`arch_optimizer`)."""
        if "params" not in kwargs and hasattr(self.model, "weight_parameters"):
            kwargs["params"] = self.model.weight_parameters()
        return super()._build_optimizer(**kwargs)

    # --- the two steps of Algorithm 1 -------------------------------------------------------------

    def weight_step(self, interaction: Any) -> float:
        """One update of W on a training batch (α, β untouched)."""
        model = self.model
        model.train()
        model.search_step = self.iteration
        self.optimizer.zero_grad()
        loss = model.calculate_loss(interaction)
        self._check_nan(loss)
        self.backward(loss)
        if self.clip_grad_norm:
            clip_grad_norm_(model.weight_parameters(), **self.clip_grad_norm)
        self.optimizer.step()
        self.iteration += 1
        return float(loss.item())

    def sandwich_step(self, interaction: Any) -> float:
        """One update of W with the summed cross-entropy of the sandwich paths (module doc)."""
        model = self.model
        model.train()
        self.optimizer.zero_grad()
        largest, total = model.path, 0.0
        paths = sandwich_paths(
            model.flops_fraction, self.path_generator, self.config["sandwich_random_paths"]
        )
        for arch in paths:
            model.path = arch
            loss = model.recommendation_loss(interaction)
            self._check_nan(loss)
            self.backward(loss)
            total += float(loss.item())
        model.path = largest
        if self.clip_grad_norm:
            clip_grad_norm_(model.weight_parameters(), **self.clip_grad_norm)
        self.optimizer.step()
        self.iteration += 1
        return total

    def path_step(self, interaction: Any, arch: Architecture) -> float:
        """One update of W along the single path ``arch`` (α, β untouched; the path restored)."""
        model = self.model
        model.train()
        self.optimizer.zero_grad()
        kept, model.path = model.path, arch
        try:
            loss = model.recommendation_loss(interaction)
            self._check_nan(loss)
            self.backward(loss)
        finally:
            model.path = kept
        if self.clip_grad_norm:
            clip_grad_norm_(model.weight_parameters(), **self.clip_grad_norm)
        self.optimizer.step()
        self.iteration += 1
        return float(loss.item())

    def oneshot_step(self, interaction: Any) -> float:
        """``oneshot``: W along one uniformly drawn path (single-path one-shot; module doc)."""
        return self.path_step(
            interaction, uniform_path(self.model.flops_fraction, self.path_generator)
        )

    def proxyless_weight_step(self, interaction: Any) -> float:
        """``proxylessnas``: W along one path drawn from softmax(α), softmax(β)."""
        controller = self.model.controller
        arch = sample_path(controller.alpha, controller.beta, self.path_generator)
        return self.path_step(interaction, arch)

    def proxyless_architecture_step(self, interaction: Any) -> dict[str, Any]:
        """``proxylessnas``: α, β by the two-path binary-gate estimator and the expected-FLOPs
        resource term (:mod:`recbole_easrec.search.proxyless`); W untouched."""
        model, config = self.model, self.config
        model.train()
        controller = model.controller
        gates = binary_gates(controller.alpha, controller.beta, self.path_generator)
        before = (
            controller.alpha.detach()[gates.candidates].clone(),
            controller.beta.detach()[gates.exits].clone(),
        )
        model.binary_gates = gates
        try:
            ce = model.recommendation_loss(interaction)
        finally:
            model.binary_gates = None
        expected = expected_flops_fraction(controller.alpha, controller.beta, model.flops_fraction)
        loss = proxyless_resource_loss(
            ce,
            expected,
            float(config["proxyless_target"]),
            model.largest_flops,
            config["proxyless_loss"],
            float(config["proxyless_lambda"]),
            float(config["proxyless_alpha"]),
            float(config["proxyless_beta"]),
        )
        self.arch_optimizer.zero_grad()
        self.backward(loss)
        if is_distributed(self.config):
            average_gradients([gates.p, gates.q])
        with torch.no_grad():
            for logits, gate, pair in (
                (controller.alpha, gates.p, gates.candidates),
                (controller.beta, gates.q, gates.exits),
            ):
                logits.grad[pair] += binary_gate_gradient(logits[pair], gate.grad[pair])
        self.arch_optimizer.step()
        keep_pair_mass(controller.alpha, gates.candidates, before[0])
        keep_pair_mass(controller.beta, gates.exits, before[1])
        for param in model.weight_parameters():
            param.grad = None
        alpha, beta = controller.probabilities()
        entry = {
            "iteration": self.iteration,
            "alpha": alpha,
            "beta": beta,
            "L_t": controller.chosen_depth(),
            "candidate": controller.chosen_candidate(),
            "ce_loss": float(ce.item()),
            "expected_flops_fraction": float(expected.item()),
            "loss": float(loss.item()),
        }
        self.trace.append(entry)
        return entry

    def architecture_step(self, interaction: Any) -> dict[str, Any]:
        """One update of α, β on an architecture batch (W untouched); returns the trace entry."""
        model = self.model
        model.train()
        model.search_step = self.iteration
        self.arch_optimizer.zero_grad()
        rec_loss, cost = model.loss_parts(interaction)
        loss = rec_loss + model.resource_lambda * cost
        self.backward(loss)
        self.arch_optimizer.step()
        for param in model.weight_parameters():
            param.grad = None
        alpha, beta = model.controller.probabilities()
        entry = {
            "iteration": self.iteration,
            "tau": model.temperature,
            "alpha": alpha,
            "beta": beta,
            "L_t": model.controller.chosen_depth(),
            "candidate": model.controller.chosen_candidate(),
            "ce_loss": float(rec_loss.item()),
            "resource_loss": float(cost.item()),
            "loss": float(loss.item()),
        }
        self.trace.append(entry)
        return entry

    def next_arch_interaction(self) -> Any:
        """The next architecture batch (cycling through :attr:`arch_data`), as an Interaction
        carrying the target item(s)."""
        try:
            interaction = next(self._arch_iter)
        except (StopIteration, TypeError):
            self._arch_cycle_start = generator_states(loader_generators(self.arch_data))
            self._arch_taken = 0
            self._arch_iter = self.arch_batches()
            interaction = next(self._arch_iter)
        self._arch_taken += 1
        return interaction.to(self.device)

    def replay_arch_batches(self, cycle_start: list[torch.Tensor] | None, taken: int) -> None:
        """Put the architecture-batch iterator back where it was (a resumed search): the same
        pass over :attr:`arch_data`, ``taken`` batches into it."""
        self._arch_iter, self._arch_cycle_start, self._arch_taken = None, cycle_start, 0
        if cycle_start is None:
            return
        restore_generators(loader_generators(self.arch_data), cycle_start)
        self._arch_iter = self.arch_batches()
        for _ in range(taken):
            next(self._arch_iter)
        self._arch_taken = taken

    def arch_batches(self) -> Iterator[Any]:
        """One pass over :attr:`arch_data` in batches of at most ``arch_batch_size`` rows.

        Validation loaders batch by ``eval_batch_size``, which is sized for inference without
        gradients; an architecture step back-propagates through every candidate of every layer,
        so it takes its own, smaller batch (default ``train_batch_size``).
        """
        size = self.config["arch_batch_size"] or self.config["train_batch_size"]
        for batch in self.arch_data:
            interaction = batch[0] if isinstance(batch, tuple) else batch
            for start in range(0, len(interaction), size):
                yield interaction[start : start + size]

    def run_epoch(
        self, train_data: Any, epoch_idx: int, loss_func: Any = None, show_progress: bool = False
    ) -> Any:
        if not self.searching:
            return super().run_epoch(train_data, epoch_idx, loss_func, show_progress)
        self.shuffle_shards(train_data, epoch_idx)
        batches = train_data
        if show_progress:
            batches = progress_bar(train_data, len(train_data), f"Search {epoch_idx:>4}")
        if self.search_method == "sandwich":
            return sum(self.sandwich_step(batch.to(self.device)) for batch in batches)
        if self.search_method == "oneshot":
            return sum(self.oneshot_step(batch.to(self.device)) for batch in batches)
        warming_up = self.warming_up(epoch_idx)
        if self.search_method == "recnas":
            self.model.temperature_override = annealed_temperature(
                epoch_idx, float(self.config["recnas_anneal"]), float(self.config["recnas_tau_min"])
            )
        total = 0.0
        frequency = self.config["arch_update_freq"]
        proxyless = self.search_method == "proxylessnas"
        weight_step = self.proxyless_weight_step if proxyless else self.weight_step
        arch_step = self.proxyless_architecture_step if proxyless else self.architecture_step
        for interaction in batches:
            total += weight_step(interaction.to(self.device))
            if not warming_up and self.arch_data is not None and self.iteration % frequency == 0:
                arch_step(self.next_arch_interaction())
                self.pin_pruned()
        if self.search_method == "recnas" and not warming_up:
            self.prune_weakest(epoch_idx)
        self.write_trace()
        return total

    def pin_pruned(self) -> None:
        """``recnas``: pruned α/β logits stay pruned after an optimiser step."""
        if self.search_method == "recnas":
            for logits in (self.model.controller.alpha, self.model.controller.beta):
                pin_pruned(logits, [i for i in range(logits.numel()) if i not in alive(logits)])

    def prune_weakest(self, epoch_idx: int) -> None:
        """``recnas``: prune the weakest width candidate and the weakest exit, if weak enough."""
        ratio = float(self.config["recnas_prune_ratio"])
        for group, logits in (
            ("width", self.model.controller.alpha),
            ("depth", self.model.controller.beta),
        ):
            index = weakest_candidate(logits, ratio)
            if index is None:
                continue
            pin_pruned(logits, [index])
            self.pruned.append({"epoch": epoch_idx, "group": group, "index": index})
            logging.getLogger().info(
                "recnas: pruned %s candidate %d after epoch %d", group, index, epoch_idx
            )

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

    # --- the three phases -------------------------------------------------------------------------

    def fit(
        self,
        train_data: Any,
        valid_data: Any = None,
        verbose: bool = True,
        saved: bool = True,
        show_progress: bool = False,
        callback_fn: Any = None,
    ) -> tuple[float, dict[str, Any] | None]:
        weight_data, self.arch_data = self.search_data(train_data, valid_data)
        self._arch_iter = None
        self.searching = True
        retraining = self.checkpointer is not None and self.checkpointer.peek_phase() == "retrain"
        if retraining:  # a resumed run that was killed while retraining: the search is done
            arch = self.restore_search(self.checkpointer.pending)
        else:
            self.search(weight_data, valid_data, verbose, saved, show_progress, callback_fn)
            arch = self.choose_architecture()
        return self.retrain(
            self.reconstruct_compact(arch),
            train_data,
            valid_data,
            verbose,
            saved,
            show_progress,
            callback_fn,
            resumed=retraining,
        )

    def search(
        self,
        weight_data: Any,
        valid_data: Any,
        verbose: bool,
        saved: bool,
        show_progress: bool,
        callback_fn: Any,
    ) -> None:
        """Phase 1 (and the shared-weight scores of phase 2); the supernet ends with the best
        epoch's weights."""
        self.phase = "search"
        self.stopping_step = self.config["search_stopping_step"]
        if self.search_method == "random":
            self.random_search(weight_data, valid_data, show_progress)
            return
        if self.search_method in SHARED_WEIGHT_METHODS:  # validation scores the largest path
            fractions = self.supernet.flops_fraction
            self.supernet.path = max(fractions, key=lambda arch: (fractions[arch], arch))
        super().fit(weight_data, valid_data, verbose, saved, show_progress, callback_fn)
        if saved:
            self.load_best(self.supernet)
        self.supernet.path = None
        self.write_trace()
        if valid_data is not None and self.evolves():
            self.evolve(valid_data, show_progress)
        elif valid_data is not None and self.scores_architectures():
            self.score_architectures(valid_data, show_progress)

    def scores_architectures(self) -> bool:
        """Whether the search ends by scoring every architecture on its shared weights
        (``score_architectures``). ``auto``: always for the methods that choose by those scores;
        for the α/β methods, whose choice does not read them (they are a diagnostic), only while a
        validation pass is cheap: up to :data:`SCORING_MAX_ITEMS` items."""
        setting = self.config["score_architectures"]
        if setting != "auto":
            return bool(setting)
        if self.search_method in SHARED_WEIGHT_METHODS:
            return True
        if self.supernet.n_items <= SCORING_MAX_ITEMS:
            return True
        logging.getLogger().info(
            "shared-weight scores of every architecture skipped: %d items > %d"
            " (score_architectures: auto; True scores them, one validation pass each)",
            self.supernet.n_items,
            SCORING_MAX_ITEMS,
        )
        return False

    def random_search(self, train_data: Any, valid_data: Any, show_progress: bool) -> list[dict]:
        """``search_method: random``: ``random_samples`` distinct architectures within
        ``flops_budget``, drawn uniformly, each trained from scratch (the supernet's initial
        weights along its path) for ``epochs // random_samples`` epochs (at least one) with early
        stopping; their best validation scores are the ``shared_weight_scores`` the choice reads.
        Equal epochs, not equal FLOPs: a compact network's epoch costs less than a supernet's, so
        the baseline gets less compute than the NAS methods it is compared with. Not resumable
        mid-search (a resumed run searches again); the supernet stays untrained."""
        fractions, budget = self.supernet.flops_fraction, self.config["flops_budget"]
        space = [arch for arch in sorted(fractions) if budget is None or fractions[arch] <= budget]
        count = min(int(self.config["random_samples"]), len(space))
        order = torch.randperm(len(space), generator=self.path_generator)[:count].tolist()
        epochs = max(1, int(self.config["epochs"]) // count)
        checkpointer, self.checkpointer = self.checkpointer, None
        self.searching, records = False, []
        try:
            for index in order:
                records.append(self.train_candidate(space[index], train_data, valid_data, epochs))
                logging.getLogger().info(
                    "random search: %d/%d architectures trained (%s, valid %.4f)",
                    len(records),
                    count,
                    space[index],
                    records[-1]["valid_score"],
                )
        finally:
            self.checkpointer, self.model, self.searching = checkpointer, self.supernet, True
        self.shared_weight_scores = records
        return records

    def train_candidate(
        self, arch: Architecture, train_data: Any, valid_data: Any, epochs: int
    ) -> dict:
        """One random-search candidate: ``arch`` from the untrained supernet, trained ``epochs``
        epochs without checkpoints; its best validation score and metrics."""
        self.model = reconstruct(self.supernet, self.config, arch)
        self.optimizer = self._build_optimizer(params=self.model.parameters())
        self.epochs, self.start_epoch, self.cur_step = epochs, 0, 0
        self.eval_step = min(self.config["eval_step"], epochs)
        self.best_valid_score = -float("inf") if self.valid_metric_bigger else float("inf")
        self.best_valid_result = None
        super().fit(train_data, valid_data, verbose=False, saved=False)
        hidden, inner = self.supernet.encoder.widths[arch.candidate]
        return {
            "candidate": arch.candidate,
            "hidden_size": hidden,
            "inner_size": inner,
            "n_layers": arch.depth,
            "flops_fraction": self.supernet.flops_fraction[arch],
            "valid_score": float(self.best_valid_score),
            "valid_result": {k: float(v) for k, v in (self.best_valid_result or {}).items()},
            "epochs": epochs,
        }

    # --- state for --resume ----------------------------------------------------------------------

    def generators(self) -> list[torch.Generator]:
        """The base loaders' generators, the architecture batches' and the sandwich paths'."""
        return loader_generators(*self._loaders, self.arch_data) + [self.path_generator]

    def resume_state(self, epoch: int, finished: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The base state plus α/β's optimiser, the iteration count (the Gumbel temperature
        follows it), the trace, where the architecture batches are; while retraining also the
        searched supernet and the chosen architecture."""
        tensors, meta = super().resume_state(epoch, finished)
        tensors["arch_optimizer"] = self.arch_optimizer.state_dict()
        if self._arch_cycle_start is not None:
            tensors["arch_cycle_start"] = self._arch_cycle_start
        arch = self.architecture
        meta["easrec"] = {
            "iteration": self.iteration,
            "temperature": self.supernet.temperature,
            "trace": self.trace,
            "arch_taken": self._arch_taken,
            "shared_weight_scores": self.shared_weight_scores,
            "search_valid_result": self.search_valid_result,
            "architecture": None if arch is None else [arch["candidate"], arch["n_layers"]],
        }
        if self.phase == "retrain":
            tensors["supernet"] = self.supernet.state_dict()
        return tensors, meta

    def restore_state(self, state: dict[str, Any]) -> None:
        easrec = state["easrec"]
        self.iteration = int(easrec["iteration"])
        self.supernet.search_step = self.iteration
        self.trace = list(easrec["trace"])
        self.arch_optimizer.load_state_dict(state["tensors"]["arch_optimizer"])
        if self.phase == "search":
            cycle_start = state["tensors"].get("arch_cycle_start")
            self.replay_arch_batches(cycle_start, int(easrec["arch_taken"]))
        super().restore_state(state)

    def restore_search(self, state: dict[str, Any]) -> Architecture:
        """The search's outcome from a retraining state (the supernet's best weights, scores,
        trace); returns the chosen architecture."""
        easrec = state["easrec"]
        self.supernet.load_state_dict(state["tensors"]["supernet"])
        self.supernet.path = None
        self.iteration = int(easrec["iteration"])
        self.supernet.search_step = self.iteration
        self.trace = list(easrec["trace"])
        self.shared_weight_scores = list(easrec["shared_weight_scores"])
        self.search_valid_result = easrec["search_valid_result"]
        candidate, depth = easrec["architecture"]
        return Architecture(int(candidate), int(depth))

    def search_data(self, train_data: Any, valid_data: Any) -> tuple[Any, Any]:
        """(weight-step loader, architecture-batch loader) of the search (``arch_data``).

        With ``holdout`` the weight loader is the training split without the held-out users (the
        base trainer wraps it for ``train_mode: autoregressive``); the architecture loader holds
        the held-out users' samples, wrapped here the same way so that both steps see one loss.
        """
        if self.config["arch_data"] != "holdout":
            return train_data, valid_data
        split = split_holdout(train_data, self.config)
        self.holdout_users = split.users
        arch_data: Any = split.arch_data
        if self.config["train_mode"] == "autoregressive":
            arch_data = autoregressive_loader(arch_data, self.config)
        return split.weight_data, arch_data

    def load_best(self, model: Any) -> None:
        """Load the current checkpoint file's weights into ``model`` (if the file exists)."""
        if Path(self.saved_model_file).is_file():
            checkpoint = torch.load(
                self.saved_model_file, map_location=self.device, weights_only=True
            )
            model.load_state_dict(checkpoint["state_dict"])

    def score_architecture(self, arch: Architecture, valid_data: Any, show_progress: bool) -> dict:
        """Validation metrics of ``arch`` on the supernet's shared weights (its hard path, so the
        score equals that of the reconstructed, not yet retrained, network)."""
        supernet = self.supernet
        supernet.path = arch
        try:
            score, result = self._valid_epoch(valid_data, show_progress=show_progress)
        finally:
            supernet.path = None
        hidden, inner = supernet.encoder.widths[arch.candidate]
        return {
            "candidate": arch.candidate,
            "hidden_size": hidden,
            "inner_size": inner,
            "n_layers": arch.depth,
            "flops_fraction": supernet.flops_fraction[arch],
            "valid_score": float(score),
            "valid_result": {key: float(value) for key, value in result.items()},
        }

    def score_architectures(self, valid_data: Any, show_progress: bool = False) -> list[dict]:
        """:meth:`score_architecture` for every architecture of the space."""
        space = sorted(self.supernet.flops_fraction)
        clock = EpochClock("scoring architectures on validation", len(space))
        records = []
        for arch in space:
            records.append(self.score_architecture(arch, valid_data, show_progress))
            logging.getLogger().info(
                "%s (%s)", clock.epoch_done().replace("epoch", "architecture"), arch
            )
        self.shared_weight_scores = records
        return records

    def evolves(self) -> bool:
        """``oneshot`` on a space larger than ``evolution_population``: regularised evolution
        instead of scoring every architecture."""
        population = int(self.config["evolution_population"])
        return self.search_method == "oneshot" and len(self.supernet.flops_fraction) > population

    def evolve(self, valid_data: Any, show_progress: bool = False) -> list[dict]:
        """Regularised evolution on shared-weight validation scores within ``flops_budget``
        (:mod:`recbole_easrec.search.evolution`); every architecture it scored is recorded in
        :attr:`shared_weight_scores`, so the choice below sees exactly those."""
        fractions, budget = self.supernet.flops_fraction, self.config["flops_budget"]
        space = [arch for arch in sorted(fractions) if budget is None or fractions[arch] <= budget]
        records: dict[Architecture, dict] = {}

        def fitness(arch: Architecture) -> float:
            if arch not in fractions or arch not in space:
                return -float("inf")  # outside the budget: never chosen
            records[arch] = self.score_architecture(arch, valid_data, show_progress)
            logging.getLogger().info("evolution: %d architectures scored (%s)", len(records), arch)
            return records[arch]["valid_score"]

        widths, layers = len(self.supernet.encoder.widths), len(self.supernet.encoder.layers)
        regularized_evolution(
            space,
            fitness,
            architecture_mutation(widths, layers),
            int(self.config["evolution_population"]),
            int(self.config["evolution_sample"]),
            int(self.config["evolution_cycles"]),
            self.path_generator,
        )
        self.shared_weight_scores = list(records.values())
        return self.shared_weight_scores

    def choose_architecture(self) -> Architecture:
        """The path to reconstruct (module docstring, phase 2)."""
        fractions = self.supernet.flops_fraction
        budget = self.config["flops_budget"]
        if self.search_method in BILEVEL_METHODS or not self.shared_weight_scores:
            alpha, beta = self.supernet.controller.probabilities()
            scores = {arch: alpha[arch.candidate] * beta[arch.depth - 1] for arch in fractions}
            return choose(scores, fractions, budget)
        scores = {
            Architecture(r["candidate"], r["n_layers"]): r["valid_score"]
            for r in self.shared_weight_scores
        }
        return choose(scores, fractions, budget, float(self.config["selection_tolerance"]))

    def reconstruct_compact(self, arch: Architecture | None = None) -> Any:
        """Eq. 18 from the current supernet along ``arch`` (default: argmax α, argmax β); records
        :attr:`architecture`."""
        supernet = self.supernet
        settings = compact_settings(supernet, arch)
        alpha, beta = supernet.controller.probabilities()
        candidate = settings["candidate"]
        self.architecture = {
            "hidden_size": settings["hidden_size"],
            "inner_size": settings["inner_size"],
            "n_layers": settings["n_layers"],
            "candidate": candidate,
            "hidden_prune_ratio": float(self.config["hidden_prune_ratios"][candidate]),
            "inner_prune_ratio": float(self.config["inner_prune_ratios"][candidate]),
            "gate_layers": settings["gate_layers"],
            "arch_data": self.config["arch_data"],
            "arch_holdout_users": None if self.holdout_users is None else len(self.holdout_users),
            "alpha": alpha,
            "beta": beta,
            "search_method": self.search_method,
            "flops_budget": self.config["flops_budget"],
            "flops_fraction": supernet.flops_fraction[
                Architecture(candidate, settings["n_layers"])
            ],
        }
        logging.getLogger().info(
            "%s search chose d=%d, D=%d, L=%d (%.1f %% of the full network's FLOPs); retraining it",
            self.search_method,
            settings["hidden_size"],
            settings["inner_size"],
            settings["n_layers"],
            100 * self.architecture["flops_fraction"],
        )
        return reconstruct(supernet, self.config, arch)

    def full_network(self) -> Any:
        """The supernet's largest path, physically built (eval mode): the run summary's reference
        for FLOPs and inference time, measured the same way as the selected network."""
        fractions = self.supernet.flops_fraction
        largest = max(fractions, key=lambda arch: (fractions[arch], arch))
        return reconstruct(self.supernet, self.config, largest).eval()

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
        self.searching = False
        self.phase = "retrain"
        self.model = compact
        self.optimizer = self._build_optimizer(params=compact.parameters())
        self.saved_model_file = str(Path(self.saved_model_file).with_name(COMPACT_CHECKPOINT))
        self.stopping_step = self.config["stopping_step"]
        self.start_epoch, self.cur_step = 0, 0
        if valid_data is not None and not resumed:
            score, result = self._valid_epoch(valid_data, show_progress=show_progress)
            self.search_valid_result = dict(result)
            self.best_valid_score, self.best_valid_result = score, result
        if saved and not resumed:
            self._save_checkpoint(-1, verbose=verbose)
        epochs = self.config["retrain_epochs"]
        self.epochs = self.config["epochs"] if epochs is None else int(epochs)
        self.eval_step = min(self.config["eval_step"], self.epochs) if self.epochs else 0
        if self.epochs > 0:
            super().fit(
                self.retrain_loader(train_data),
                valid_data,
                verbose,
                saved,
                show_progress,
                callback_fn,
            )
            if saved:
                self.load_best(self.model)
        self.save_compact()
        self.plot_trace()
        return self.best_valid_score, self.best_valid_result

    def retrain_loader(self, train_data: Any) -> Any:
        """``train_data`` at ``retrain_batch_size`` (a new loader on the same dataset)."""
        batch_size = self.config["retrain_batch_size"]
        if not batch_size or batch_size == self.config["train_batch_size"]:
            return train_data
        original = self.config["train_batch_size"]
        self.config["train_batch_size"] = batch_size
        try:
            return TrainDataLoader(
                self.config, train_data._dataset, train_data._sampler, shuffle=True
            )
        finally:
            self.config["train_batch_size"] = original

    # --- artifacts --------------------------------------------------------------------------------

    def run_dir(self) -> Path:
        return Path(self.config["checkpoint_dir"])

    def write_trace(self) -> Path:
        """``search_trace.json``: one entry per architecture update."""
        return write_json_atomic(self.run_dir() / TRACE_FILE, self.trace)

    def plot_trace(self) -> Path | None:
        """``search_trace.png``: softmax(α) and softmax(β) over iterations (None without updates)."""
        if not self.trace:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        iterations = [entry["iteration"] for entry in self.trace]
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        for key, axis, label in (("alpha", top, "candidate"), ("beta", bottom, "exit after layer")):
            for index in range(len(self.trace[0][key])):
                values = [entry[key][index] for entry in self.trace]
                axis.plot(iterations, values, label=f"{label} {index + (key == 'beta')}")
            axis.set_ylabel(f"softmax({key})")
            axis.legend(fontsize="small")
        bottom.set_xlabel("iteration")
        figure.tight_layout()
        path = self.run_dir() / TRACE_PLOT
        with atomic_target(path) as temp:
            figure.savefig(temp, dpi=100, format="png")
        plt.close(figure)
        return path

    def save_compact(self) -> Path:
        """``model.pt`` + ``model.json`` of the compact network (rebuilt by ``load_model``)."""
        settings = {
            key: self.architecture[key]
            for key in ("hidden_size", "inner_size", "n_layers", "gate_layers")
        }
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
            **({"recnas_pruned": self.pruned} if self.search_method == "recnas" else {}),
        }
