"""Trainer of :class:`recbole_easrec.model.dsl.DSL`: sparse training under a fixed budget.

Hooks on the optimiser (so RecBole's training loop is reused unchanged):

* before each step: at an update step, keep the dense gradients of masked tensors (regrowth
  scores); then zero the gradients at masked-out positions;
* after each step: re-apply the masks (masked weights exactly 0) and zero Adam's moments at
  masked-out positions; every ``update_interval`` steps while ``step < stop_update_ratio · T``,
  prune/regrow a fraction ζ_t of each tensor's active weights (:mod:`recbole_easrec.sparse`)
  and clear the moments at pruned and regrown positions. ``dsl_static: True`` never updates.

Each update appends an entry to ``<checkpoint_dir>/dsl_trace.json``. The run folder's weights are
the compressed export (``model_sparse.pt``, written by :func:`recbole_easrec.saving.save_model`
through :meth:`DSL.compressed_state`; per tensor the smallest of CSR, bitmask + values and dense),
reloaded by :func:`recbole_easrec.load_model`. ``sparsity.export_bytes`` is its tensor bytes and
``sparsity.export_formats`` the format chosen for each masked tensor.

Devices: masks are buffers on the model's device; every tensor the update path creates
(:func:`~recbole_easrec.sparse.prune_regrow.prune_regrow`, Adam-state clearing) is made on the
device of the mask or parameter it belongs to, so the trainer runs on CUDA as on the CPU.

MACs (reported in ``result.json`` under ``sparsity``): the dense MACs of one full-length sequence's
full-ranking forward (``torch.utils.flop_counter``, as :mod:`recbole_easrec.efficiency`; 1 MAC =
2 FLOPs), where every product with a masked weight (each ``nn.Linear`` and the scoring against the
item table) is scaled by that tensor's density. Products of two activations (``QKᵀ``, ``KᵀV``) and
embedding lookups are not scaled. This is the ideal count of a sparse kernel that skips zeros, not
what dense PyTorch kernels execute. Training MACs per sample ≈ 3 × inference MACs (forward +
backward for activations and weights); the dense gradient DSL needs at an update step is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from recbole.data.interaction import Interaction
from torch.utils.flop_counter import FlopCounterMode

from recbole_easrec.artifacts import write_json_atomic
from recbole_easrec.efficiency import CUSTOM_FLOP_FORMULAS, count_parameters
from recbole_easrec.sparse.export import export_bytes, export_formats
from recbole_easrec.sparse.prune_regrow import clear_adam_state, prune_regrow
from recbole_easrec.sparse.schedule import update_fraction
from recbole_easrec.trainer.base import EasRecBaseTrainer

TRACE_FILE = "dsl_trace.json"


class DSLTrainer(EasRecBaseTrainer):
    """RecBole's trainer with DSL's masking and dynamic exploration (see module docstring)."""

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        self.dsl_step = 0
        self.total_steps = 0
        self.trace: list[dict[str, Any]] = []
        self.initial_active = self.active_count()
        self._dense_grads: dict[str, torch.Tensor] = {}
        self.optimizer.register_step_pre_hook(self._before_step)
        self.optimizer.register_step_post_hook(self._after_step)

    # --- budget bookkeeping -----------------------------------------------------------------------

    def active_count(self) -> int:
        """Active (unmasked) weights over all masked tensors."""
        return sum(int(mask.sum()) for _, _, mask in self.model.masked_parameters())

    def layer_densities(self) -> dict[str, float]:
        """Actual density of each masked tensor."""
        return {
            name: float(mask.float().mean()) for name, _, mask in self.model.masked_parameters()
        }

    def update_due(self, step: int) -> bool:
        """Whether optimiser step number ``step`` (1-based) prunes/regrows."""
        if self.config["dsl_static"] or step % self.config["update_interval"] != 0:
            return False
        return self.fraction(step) > 0

    def fraction(self, step: int) -> float:
        return update_fraction(
            step,
            self.total_steps,
            self.config["update_fraction"],
            self.config["stop_update_ratio"],
        )

    # --- optimiser hooks ------------------------------------------------------------------------

    @torch.no_grad()
    def _before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        keep = self.update_due(self.dsl_step + 1)
        self._dense_grads = {}
        for name, param, mask in self.model.masked_parameters():
            if param.grad is None:
                continue
            if keep:
                self._dense_grads[name] = param.grad.detach().clone()
            param.grad.mul_(mask)

    @torch.no_grad()
    def _after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.dsl_step += 1
        self.model.apply_masks()
        if self._dense_grads:
            self.explore(self.fraction(self.dsl_step))
            self._dense_grads = {}
        for _, param, mask in self.model.masked_parameters():
            clear_adam_state(self.optimizer.state.get(param, {}), mask)

    @torch.no_grad()
    def explore(self, fraction: float) -> None:
        """Prune/regrow every masked tensor by ``fraction`` and log a trace entry."""
        pruned_total = regrown_total = 0
        for name, param, mask in self.model.masked_parameters():
            grad = self._dense_grads.get(name)
            if grad is None:
                continue
            pruned, regrown = prune_regrow(param, mask, grad, fraction)
            clear_adam_state(self.optimizer.state.get(param, {}), mask, regrown)
            state = self.optimizer.state.get(param, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in state and pruned.numel():
                    state[key].view(-1)[pruned] = 0
            pruned_total += int(pruned.numel())
            regrown_total += int(regrown.numel())
        self.trace.append(
            {
                "step": self.dsl_step,
                "fraction": fraction,
                "active": self.active_count(),
                "pruned": pruned_total,
                "regrown": regrown_total,
                "layer_density": self.layer_densities(),
            }
        )

    # --- training loop ------------------------------------------------------------------------

    def run_epoch(self, train_data: Any, epoch_idx: int, *args: Any, **kwargs: Any) -> Any:
        self.total_steps = self.epochs * len(train_data)
        loss = super().run_epoch(train_data, epoch_idx, *args, **kwargs)
        self.write_trace()
        return loss

    def resume_state(self, epoch: int, finished: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """The base state plus DSL's step count, trace and initial active count (the masks are
        buffers of the model's state dict, Adam's cleared moments are in the optimiser's)."""
        tensors, meta = super().resume_state(epoch, finished)
        meta["dsl"] = {
            "step": self.dsl_step,
            "trace": self.trace,
            "initial_active": self.initial_active,
        }
        return tensors, meta

    def restore_state(self, state: dict[str, Any]) -> None:
        dsl = state["dsl"]
        self.dsl_step = int(dsl["step"])
        self.trace = list(dsl["trace"])
        self.initial_active = int(dsl["initial_active"])
        super().restore_state(state)

    def write_trace(self) -> Path:
        """Write ``dsl_trace.json`` to the checkpoint folder."""
        return write_json_atomic(Path(self.config["checkpoint_dir"]) / TRACE_FILE, self.trace)

    # --- results ---------------------------------------------------------------------------------

    def result_extras(self) -> dict[str, Any]:
        """``sparsity`` for result.json (the export itself is written by ``save_model``)."""
        self.write_trace()
        model = self.model
        masks = model.mask_dict()
        exported = model.compressed_state()
        dense_masked = sum(int(m.numel()) for m in masks.values())
        active = self.active_count()
        dense_params = count_parameters(model)
        inference = sparse_inference_macs(model)
        return {
            "sparsity": {
                "target_density": float(self.config["density"]),
                "actual_density": active / dense_masked,
                "static": bool(self.config["dsl_static"]),
                "dsl_init": self.config["dsl_init"],
                "masked_params_dense": dense_masked,
                "masked_params_active": active,
                "initial_active": self.initial_active,
                "dense_params": dense_params,
                "active_params": dense_params - dense_masked + active,
                "inference_macs_dense": inference["dense"],
                "inference_macs": inference["sparse"],
                "training_macs_per_sample_dense": 3 * inference["dense"],
                "training_macs_per_sample": 3 * inference["sparse"],
                "export_bytes": export_bytes(exported),
                "export_formats": export_formats(exported),
                "dense_bytes": sum(
                    t.numel() * t.element_size()
                    for k, t in model.state_dict().items()
                    if k not in model.mask_buffer_names()
                ),
                "updates": len(self.trace),
                "layer_density": self.layer_densities(),
            }
        }


@torch.no_grad()
def sparse_inference_macs(model: Any) -> dict[str, float]:
    """Dense and density-scaled MACs of one full-length sequence's full ranking (module doc)."""
    device = next(model.parameters()).device
    length = model.max_seq_length
    generator = torch.Generator(device="cpu").manual_seed(0)
    items = torch.randint(1, model.n_items, (1, length), generator=generator, device="cpu")
    row = Interaction(
        {
            model.ITEM_SEQ: items.to(device),
            model.ITEM_SEQ_LEN: torch.tensor([length], device=device),
        }
    )
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOP_FORMULAS)
    try:
        with counter:
            model.full_sort_predict(row)
    finally:
        model.train(was_training)
    counts = counter.get_flop_counts()
    dense = counter.get_total_flops() / 2
    saved = 0.0
    for name, _, mask in model.masked_parameters():
        module_path = name.rsplit(".", 1)[0]
        density = float(mask.float().mean())
        if name == "item_embedding.weight":
            flops = 2 * model.hidden_size * model.n_items
        else:
            flops = module_flops(model, counts, module_path)
        saved += (1 - density) * flops / 2
    return {"dense": dense, "sparse": dense - saved}


def module_flops(model: Any, counts: dict[str, dict[Any, int]], module_path: str) -> int:
    """FLOPs that ``FlopCounterMode`` booked under the submodule ``module_path`` of ``model``.

    The counter names modules from the outermost module *called* (``full_sort_predict`` calls
    ``encoder`` directly, so keys read ``TransformerStack.layers.0…``, or ``DSL.encoder…`` when
    the model itself is called); both spellings are matched.
    """
    head, _, tail = module_path.partition(".")
    child = getattr(model, head, None)
    candidates = {f"{type(model).__name__}.{module_path}"}
    if child is not None:
        candidates.add(f"{type(child).__name__}.{tail}" if tail else type(child).__name__)
    return sum(sum(counts[key].values()) for key in candidates if key in counts)
