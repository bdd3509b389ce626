"""Reconstruction of the compact network from the searched supernet (EASRec §II-G, eq. 18).

The compact network keeps candidate ``k1 = argmax α`` in every layer and the first
``L_o = argmax β + 1`` layers (or the path the search chose by other means, e.g. a FLOPs budget). Its weights are the top-left slices of the supernet's weights
(the slices candidate k1 used, :mod:`recbole_easrec.model.elastic.supernet`), its embeddings the first
``h`` columns of the supernet's, and its gates the selected candidate's gates. Every tensor of the
compact model is the leading block (``t[:s0, :s1, …]``) of the supernet tensor of the same role,
so one generic prefix copy does the transfer; the hard path of the supernet and the compact network
then compute the same outputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from recbole_easrec.model.easrec_compact import EASRecCompact
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.saving import DatasetInfo, SavedConfig


def copy_prefix(source: nn.Module, target: nn.Module) -> None:
    """Copy into every tensor of ``target`` the leading block of the same-named ``source`` tensor."""
    source_state = source.state_dict()
    with torch.no_grad():
        for name, tensor in target.state_dict().items():
            block = source_state[name][tuple(slice(0, size) for size in tensor.shape)]
            tensor.copy_(block)


def compact_settings(supernet_model: Any, arch: Architecture | None = None) -> dict[str, Any]:
    """Hidden, inner, layers, attention kind and the gates setting of ``arch`` (default: the
    controllers' choice, argmax α and argmax β)."""
    if arch is None:
        arch = supernet_model.encoder.controller.chosen()
    candidate = arch.candidate
    hidden, inner = supernet_model.encoder.widths[candidate]
    kind = supernet_model.encoder.kinds[candidate]
    attention = (
        {"attention_type": "softmax"}
        if kind == "softmax"
        else {
            "attention_type": "linear",
            "linear_variant": kind,
        }
    )
    return {
        "hidden_size": hidden,
        "inner_size": inner,
        "n_layers": arch.depth,
        **attention,
        "gate_layers": supernet_model.gate_layers,
        "candidate": candidate,
    }


def transfer_weights(supernet_model: Any, compact: Any, candidate: int) -> None:
    """Eq. 18: embeddings, the selected path's layers and gates into ``compact`` (in place)."""
    for name in ("item_embedding", "position_embedding", "layer_norm"):
        copy_prefix(getattr(supernet_model, name), getattr(compact, name))
    for depth, layer in enumerate(compact.encoder.layers):
        copy_prefix(supernet_model.encoder.layers[depth], layer)
        copy_prefix(supernet_model.encoder.gates[depth][candidate], compact.encoder.gates[depth])


def compact_config(config: Any, settings: dict[str, Any]) -> Any:
    """A config for :class:`EASRecCompact`: the search config with the chosen architecture."""
    resolved = SavedConfig(dict(getattr(config, "final_config_dict", config)))
    resolved.update({key: value for key, value in settings.items() if key != "candidate"})
    resolved["model"] = "EASRecCompact"
    return resolved


def reconstruct(supernet_model: Any, config: Any, arch: Architecture | None = None) -> Any:
    """The physically smaller :class:`EASRecCompact` initialised from the path ``arch`` (default:
    the controllers' choice), eq. 18.

    Returns the compact model (same device as the supernet, in the supernet's train/eval mode).
    """
    settings = compact_settings(supernet_model, arch)
    device = supernet_model.item_embedding.weight.device
    compact = EASRecCompact(
        compact_config(config, settings),
        DatasetInfo({supernet_model.ITEM_ID: supernet_model.n_items}),
    ).to(device)
    transfer_weights(supernet_model, compact, settings["candidate"])
    return compact.train(supernet_model.training)


def architecture_record(
    supernet_model: Any,
    config: Any,
    settings: dict[str, Any],
    fraction: float,
    holdout_users: int | None = None,
) -> dict[str, Any]:
    """``result.json``'s ``architecture``: the chosen network (``settings`` of
    :func:`compact_settings`), how the search got there (``holdout_users``: how many users trained
    α, β with ``arch_data: holdout``) and its FLOPs ``fraction``."""
    candidate = settings["candidate"]
    width_option = candidate % len(config["hidden_prune_ratios"])  # candidates: kind-major
    alpha, beta = supernet_model.encoder.controller.probabilities()
    return {
        "hidden_size": settings["hidden_size"],
        "inner_size": settings["inner_size"],
        "n_layers": settings["n_layers"],
        "candidate": candidate,
        "attention": supernet_model.encoder.kinds[candidate],
        "attention_type": settings["attention_type"],
        "hidden_prune_ratio": float(config["hidden_prune_ratios"][width_option]),
        "inner_prune_ratio": float(config["inner_prune_ratios"][width_option]),
        "gate_layers": settings["gate_layers"],
        "arch_data": config["arch_data"],
        "arch_holdout_users": holdout_users,
        "alpha": alpha,
        "beta": beta,
        "search_method": config["search_method"],
        "flops_budget": config["flops_budget"],
        "flops_fraction": fraction,
    }
