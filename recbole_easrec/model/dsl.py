"""DSL: Dynamic Sparse Learning (Wang et al., arXiv 2402.02855) on the shared transformer.

A sequential DSL is new (the official code covers MultVAE, NeuMF, LightGCN only). The model is
SASRec (``dsl_backbone: SASRec``, softmax attention) or LinRec (``LinRec``, linear attention, eq. 5
of LinRec) whose 2-D parameters — item and position embedding tables and every linear weight — are
masked at a global ``density`` (:mod:`recbole_easrec.sparse.masks`). The masks are boolean buffers
(saved with the state dict). The model zeroes masked weights at construction; keeping them zero
during training and moving the masks (prune by magnitude, regrow by gradient) is the job of
:class:`recbole_easrec.trainer.dsl.DSLTrainer`. ``dsl_backbone`` overrides ``attention_type``.

Saving: :meth:`DSL.compressed_state` / :meth:`DSL.load_compressed_state` are the compressed export
(:mod:`recbole_easrec.sparse.export`, per tensor the smallest of CSR, bitmask + values, dense);
:func:`recbole_easrec.saving.save_model` writes it as ``model_sparse.pt`` instead of a dense
``model.pt`` and :func:`recbole_easrec.load_model` reads it back.

``dsl_sparse_inference: True`` (default False) scores full rankings on the CPU against the item
table as a ``torch.sparse_csr`` matrix (cached until the weights change) instead of a dense
matmul. Measured on 1 CPU thread (``benchmarks/results/dsl_sparse_inference.md``), the scoring
product alone runs 0.57-1.07x the dense time at density 0.1, 0.85-1.36x at 0.2 and 1.6-4.2x at
0.5 and above; the whole ``full_sort_predict`` (dominated by the dense encoder) 0.98-0.99x at
0.1: no real end-to-end speed-up, hence off by default. Training, and devices
other than the CPU, always use the dense product. Scores equal the dense ones up to float
rounding (the summation order differs).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from recbole_easrec.defaults import fill_missing_defaults
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.base import TransformerRecommender, validate_transformer_config
from recbole_easrec.sparse.export import export_sparse, import_sparse
from recbole_easrec.sparse.masks import DSL_INITS, random_masks
from recbole_easrec.validation import require_bool, require_choice, require_positive_int

BACKBONES = {"SASRec": "softmax", "LinRec": "linear"}


def _require_number(config: Any, key: str, low: float, high: float, low_open: bool) -> None:
    value = config[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{key} must be a number in {bracket}{low}, {high}], got {value!r}")


def validate_dsl_config(config: Any) -> None:
    """One-line ConfigError for any invalid transformer or DSL setting."""
    validate_transformer_config(config)
    _require_number(config, "density", 0, 1, low_open=True)
    _require_number(config, "update_fraction", 0, 1, low_open=False)
    _require_number(config, "stop_update_ratio", 0, 1, low_open=False)
    require_positive_int(config, "update_interval")
    require_choice(config, "dsl_init", DSL_INITS)
    require_choice(config, "dsl_backbone", BACKBONES)
    require_bool(config, "dsl_static", "dsl_sparse_inference")


def mask_buffer_name(param_name: str) -> str:
    """Buffer name (no dots allowed) of the mask of a parameter."""
    return param_name.replace(".", "__")


class DSL(TransformerRecommender):
    """Transformer recommender trained sparse from scratch under a fixed budget (module doc)."""

    validate_config = staticmethod(validate_dsl_config)

    def __init__(self, config: Any, dataset: Any) -> None:
        fill_missing_defaults(config, type(self))
        require_choice(config, "dsl_backbone", BACKBONES)
        config["attention_type"] = BACKBONES[config["dsl_backbone"]]
        super().__init__(config, dataset)
        self.density: float = float(config["density"])
        self.sparse_inference: bool = bool(config["dsl_sparse_inference"])
        self._sparse_table: tuple[tuple[Any, ...], Tensor] | None = None
        self.masks = nn.Module()
        seed = int(config["seed"] or 0)
        for name, mask in random_masks(self, self.density, config["dsl_init"], seed).items():
            self.masks.register_buffer(mask_buffer_name(name), mask)
        self.apply_masks()

    def masked_parameters(self) -> list[tuple[str, nn.Parameter, Tensor]]:
        """``(name, parameter, mask)`` for every masked parameter."""
        params = dict(self.named_parameters())
        return [
            (name, params[name], getattr(self.masks, mask_buffer_name(name)))
            for name in params
            if hasattr(self.masks, mask_buffer_name(name))
        ]

    def mask_dict(self) -> dict[str, Tensor]:
        """Masks by parameter name."""
        return {name: mask for name, _, mask in self.masked_parameters()}

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero every masked-out weight (in place)."""
        for _, param, mask in self.masked_parameters():
            param.mul_(mask)

    def mask_buffer_names(self) -> set[str]:
        """State-dict keys of the mask buffers."""
        return {f"masks.{name}" for name, _ in self.masks.named_buffers()}

    # --- compressed export ----------------------------------------------------------------------

    def compressed_state(self) -> dict[str, Any]:
        """The compressed export of the weights (:func:`~recbole_easrec.sparse.export_sparse`)."""
        return export_sparse(self.state_dict(), self.mask_dict(), skip=self.mask_buffer_names())

    def load_compressed_state(self, exported: Any) -> None:
        """Load weights and masks from :meth:`compressed_state`'s export (strictly: every key).

        Raises:
            CheckpointError: the export is malformed.
            RuntimeError: it does not match this model (keys or shapes).
        """
        state, masks = import_sparse(exported)
        for name, mask in masks.items():
            state[f"masks.{mask_buffer_name(name)}"] = mask
        self.load_state_dict(state, strict=True)

    # --- sparse CPU inference -------------------------------------------------------------------

    def sparse_item_table(self) -> Tensor:
        """The scoring table as a CSR tensor, rebuilt only when the weights or mask changed."""
        weight = self.item_embeddings()
        key = (weight.data_ptr(), weight._version, weight.device, weight.shape)
        if self._sparse_table is None or self._sparse_table[0] != key:
            with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
                self._sparse_table = (key, weight.detach().to_sparse_csr())
        return self._sparse_table[1]

    def train(self, mode: bool = True) -> DSL:
        """Switch mode; also drops the cached CSR table (the weights may change in training)."""
        self._sparse_table = None
        return super().train(mode)

    def full_sort_predict(self, interaction: Any) -> Tensor:
        """Scores of every item; with ``dsl_sparse_inference`` on the CPU in eval mode, through
        the CSR item table (module docstring), else the dense product."""
        weight = self.item_embeddings()
        if not (self.sparse_inference and not self.training and weight.device.type == "cpu"):
            return super().full_sort_predict(interaction)
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return (self.sparse_item_table() @ seq_output.t()).t().contiguous()
