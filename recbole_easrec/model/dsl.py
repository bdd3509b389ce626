"""DSL: Dynamic Sparse Learning (Wang et al., arXiv 2402.02855) on the shared transformer.

A sequential DSL is new (the official code covers MultVAE, NeuMF, LightGCN only). The model is
SASRec (``dsl_backbone: SASRec``, softmax attention) or LinRec (``LinRec``, linear attention, eq. 5
of LinRec) whose 2-D parameters — item and position embedding tables and every linear weight — are
masked at a global ``density`` (:mod:`recbole_easrec.sparse.masks`). The masks are boolean buffers
(saved with the state dict). The model zeroes masked weights at construction; keeping them zero
during training and moving the masks (prune by magnitude, regrow by gradient) is the job of
:class:`recbole_easrec.trainer.dsl.DSLTrainer`. ``dsl_backbone`` overrides ``attention_type``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recbole_easrec.config import fill_missing_defaults, require_choice, require_positive_int
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.base import TransformerRecommender, validate_transformer_config
from recbole_easrec.sparse.masks import DSL_INITS, random_masks

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
    if not isinstance(config["dsl_static"], bool):
        raise ConfigError(f"dsl_static must be True or False, got {config['dsl_static']!r}")


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
