"""Sparsity initialisation (DSL step 1): random masks at a target density.

Which tensors are masked: every 2-D parameter — the item embedding table, the position embedding
and every ``nn.Linear`` weight. Biases and LayerNorm parameters (1-D) stay dense; they are a tiny
share of the parameters and the budget counts only masked tensors.

Distribution of the density over tensors (``dsl_init``):

* ``uniform`` — every masked tensor keeps the same fraction ``density`` of its entries (what DSL's
  official code does).
* ``erk`` — Erdős–Rényi (Mocanu et al. 2018; Evci et al. 2020, RigL): tensor l of shape
  ``(n_out, n_in)`` gets density ``ε · (n_in + n_out) / (n_in · n_out)``, ε chosen so the total
  active count equals ``density`` × the total masked size; tensors whose density would exceed 1 are
  kept dense and ε is solved again over the rest. Small square matrices get denser, the large
  item table sparser.

Within a tensor the active positions are drawn uniformly at random (exactly
``round(density_l · numel)`` of them).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

DSL_INITS = ("uniform", "erk")


def maskable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The parameters DSL masks: every 2-D tensor (embedding tables and linear weights)."""
    return {name: p for name, p in model.named_parameters() if p.dim() == 2}


def layer_densities(shapes: dict[str, torch.Size], density: float, init: str) -> dict[str, float]:
    """Density of each tensor for a global ``density`` under ``init`` (see module docstring)."""
    if init == "uniform":
        return {name: float(density) for name in shapes}
    if init != "erk":
        raise ValueError(f"dsl_init must be one of {DSL_INITS}, got {init!r}")
    sizes = {name: shape.numel() for name, shape in shapes.items()}
    raw = {name: sum(shape) / shape.numel() for name, shape in shapes.items()}
    dense: set[str] = set()
    budget = density * sum(sizes.values())
    while True:
        rest = [name for name in shapes if name not in dense]
        remaining = budget - sum(sizes[name] for name in dense)
        epsilon = remaining / sum(raw[name] * sizes[name] for name in rest)
        too_dense = {name for name in rest if epsilon * raw[name] > 1}
        if not too_dense:
            break
        dense |= too_dense
    return {name: 1.0 if name in dense else epsilon * raw[name] for name in shapes}


def random_mask(shape: torch.Size, density: float, generator: torch.Generator) -> Tensor:
    """A boolean mask with exactly ``round(density · numel)`` (at least 1) True entries."""
    numel = shape.numel()
    active = min(numel, max(1, round(density * numel)))
    flat = torch.zeros(numel, dtype=torch.bool, device="cpu")
    flat[torch.randperm(numel, generator=generator, device="cpu")[:active]] = True
    return flat.view(shape)


def random_masks(
    model: nn.Module, density: float, init: str = "uniform", seed: int = 0
) -> dict[str, Tensor]:
    """Random boolean masks for every maskable parameter of ``model``, each on its parameter's
    device. They are drawn on the CPU (a CPU generator), so a seed gives the same masks whatever
    the device, even under a CUDA default device."""
    params = maskable_parameters(model)
    densities = layer_densities({n: p.shape for n, p in params.items()}, density, init)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return {
        name: random_mask(p.shape, densities[name], generator).to(p.device)
        for name, p in params.items()
    }
