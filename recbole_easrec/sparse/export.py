"""Sparse export of a masked model: indices + values per masked tensor, the rest dense.

File layout (a ``torch.save``'d dict of tensors only, loadable with ``weights_only=True``):
``{"sparse": {name: {"shape": int64[ndim], "indices": int32[nnz], "values": float[nnz]}},
"dense": {name: tensor}}``. Indices are flat (row-major) positions of the active weights. Mask
buffers are not stored: :func:`import_sparse` rebuilds them from the indices.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

SPARSE_FILE = "model_sparse.pt"


def export_sparse(
    state: dict[str, Tensor], masks: dict[str, Tensor], skip: set[str] | None = None
) -> dict:
    """The sparse form of ``state`` (a state dict) given boolean ``masks`` by parameter name.

    ``skip`` names entries to leave out (e.g. the mask buffers themselves).
    """
    skip = skip or set()
    sparse: dict[str, dict[str, Tensor]] = {}
    dense: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if name in skip:
            continue
        if name in masks:
            indices = masks[name].reshape(-1).nonzero().squeeze(1)
            sparse[name] = {
                "shape": torch.tensor(list(tensor.shape), dtype=torch.long),
                "indices": indices.to(torch.int32).cpu(),
                "values": tensor.reshape(-1)[indices.to(tensor.device)].detach().cpu().clone(),
            }
        else:
            dense[name] = tensor.detach().cpu().clone()
    return {"sparse": sparse, "dense": dense}


def import_sparse(exported: dict) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(state, masks)``: the dense state dict and boolean masks rebuilt from an export."""
    state = dict(exported["dense"])
    masks: dict[str, Tensor] = {}
    for name, entry in exported["sparse"].items():
        shape = [int(s) for s in entry["shape"]]
        values = entry["values"]
        indices = entry["indices"].long()
        flat = torch.zeros(int(torch.tensor(shape).prod()), dtype=values.dtype)
        flat[indices] = values
        mask = torch.zeros(flat.numel(), dtype=torch.bool)
        mask[indices] = True
        state[name] = flat.view(shape)
        masks[name] = mask.view(shape)
    return state, masks


def export_bytes(exported: dict) -> int:
    """Bytes of the tensors in an export (indices, values, dense tensors): its parameter memory."""
    total = sum(t.numel() * t.element_size() for t in exported["dense"].values())
    for entry in exported["sparse"].values():
        total += sum(entry[k].numel() * entry[k].element_size() for k in ("indices", "values"))
    return total


def save_export(exported: dict, path: str | os.PathLike[str]) -> Path:
    """Write an export atomically."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    torch.save(exported, temp)
    os.replace(temp, path)
    return path


def load_export(path: str | os.PathLike[str]) -> dict:
    """Read an export (``weights_only=True``)."""
    return torch.load(path, map_location="cpu", weights_only=True)
