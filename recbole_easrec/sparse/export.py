"""Compressed export of a masked model: per masked tensor the smallest of three formats.

Formats (chosen per tensor by :func:`choose_format`, recorded as the entry's ``format``):

* ``csr`` — indices + values: ``crow`` (row pointers, ``rows + 1``), ``col`` (column of each active
  weight) and ``values``, both index tensors in the smallest integer dtype that holds them
  (uint8, int16, int32, int64). A tensor of more than two dimensions is taken as
  ``(shape[0], rest)``, a 1-D one as ``(1, n)``. Smallest at low density.
* ``bitmask`` — the mask packed 8 positions per byte (``bits``, uint8, row-major, LSB first, zero
  padding) + ``values`` of the active positions. ``numel / 8`` bytes of mask: smallest at middle
  and high density (flat int32 indices + values would exceed dense above density 0.5).
* ``dense`` — the tensor as is, only for an all-active mask (the mask is then implied); a tensor
  with any inactive position needs its mask, and dense + bitmask is never smallest.

Active weights are those of the mask, even if their value is exactly 0 (regrown weights start at
0), so masks round-trip exactly. Unmasked tensors (biases, LayerNorm) are stored dense.

File layout (``torch.save`` of tensors, strings and dicts only: loadable with
``weights_only=True``)::

    {"version": 2,
     "masked": {name: {"format": str, "shape": int64[ndim], ...format tensors...}},
     "dense": {name: tensor}}

:func:`import_sparse` checks every entry (format, dtypes, lengths, index ranges, padding, counts)
and raises a one-line :class:`~recbole_easrec.errors.CheckpointError` naming the tensor for a
corrupt or modified export. Mask buffers are not stored; the importer rebuilds them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from recbole_easrec.errors import CheckpointError

SPARSE_FILE = "model_sparse.pt"
EXPORT_VERSION = 2
FORMATS = ("csr", "bitmask", "dense")
INDEX_DTYPES = (torch.uint8, torch.int16, torch.int32, torch.int64)
_BIT_WEIGHTS = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8)


# --- sizes and the choice of format -----------------------------------------------------------


def index_dtype(max_value: int) -> torch.dtype:
    """The smallest integer dtype of :data:`INDEX_DTYPES` that holds ``0..max_value``."""
    for dtype in INDEX_DTYPES:
        if max_value <= torch.iinfo(dtype).max:
            return dtype
    raise ValueError(f"index {max_value} does not fit in int64")


def matrix_shape(shape: torch.Size | tuple[int, ...]) -> tuple[int, int]:
    """``(rows, cols)`` of a tensor as the CSR format stores it."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return 1, int(shape[0])
    return int(shape[0]), math.prod(int(s) for s in shape[1:])


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


def format_sizes(
    shape: torch.Size | tuple[int, ...], active: int, element_size: int
) -> dict[str, float]:
    """Bytes of each format for a tensor of ``shape`` with ``active`` active weights."""
    numel = math.prod(int(s) for s in shape)
    rows, cols = matrix_shape(shape)
    csr = (rows + 1) * _itemsize(index_dtype(active))
    csr += active * (_itemsize(index_dtype(max(cols - 1, 0))) + element_size)
    return {
        "csr": float(csr),
        "bitmask": float(math.ceil(numel / 8) + active * element_size),
        "dense": float(numel * element_size) if active == numel else math.inf,
    }


def choose_format(shape: torch.Size | tuple[int, ...], active: int, element_size: int) -> str:
    """The smallest format (ties: the earlier of ``dense``, ``bitmask``, ``csr``)."""
    sizes = format_sizes(shape, active, element_size)
    return min(("dense", "bitmask", "csr"), key=lambda name: sizes[name])


# --- bit packing --------------------------------------------------------------------------------


def pack_bits(mask: Tensor) -> Tensor:
    """A boolean tensor packed row-major into uint8, 8 positions per byte, LSB first."""
    flat = mask.detach().reshape(-1).to("cpu", torch.uint8)
    padded = torch.zeros(math.ceil(flat.numel() / 8) * 8, dtype=torch.uint8)
    padded[: flat.numel()] = flat
    return (padded.view(-1, 8) * _BIT_WEIGHTS).sum(1, dtype=torch.uint8)


def unpack_bits(bits: Tensor, numel: int) -> Tensor:
    """The flat boolean mask of :func:`pack_bits` (``numel`` positions; padding dropped)."""
    expanded = bits.to(torch.uint8)[:, None] & _BIT_WEIGHTS
    return (expanded != 0).reshape(-1)[:numel]


# --- export -------------------------------------------------------------------------------------


def encode_tensor(tensor: Tensor, mask: Tensor) -> dict[str, Any]:
    """One masked tensor in its smallest format (see module docstring)."""
    tensor = tensor.detach().cpu()
    mask = mask.detach().cpu().bool()
    active = int(mask.sum())
    fmt = choose_format(tensor.shape, active, tensor.element_size())
    entry: dict[str, Any] = {
        "format": fmt,
        "shape": torch.tensor(list(tensor.shape), dtype=torch.long),
    }
    if fmt == "dense":
        entry["values"] = tensor.clone()
        return entry
    entry["values"] = tensor[mask].clone()  # row-major order of the active positions
    if fmt == "bitmask":
        entry["bits"] = pack_bits(mask)
        return entry
    rows, cols = matrix_shape(tensor.shape)
    matrix = mask.reshape(rows, cols)
    counts = matrix.sum(1)
    entry["crow"] = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).to(index_dtype(active))
    entry["col"] = matrix.nonzero()[:, 1].to(index_dtype(max(cols - 1, 0)))
    return entry


def export_sparse(
    state: dict[str, Tensor], masks: dict[str, Tensor], skip: set[str] | None = None
) -> dict[str, Any]:
    """The compressed form of ``state`` (a state dict) given boolean ``masks`` by parameter name.

    ``skip`` names entries to leave out (e.g. the mask buffers themselves).
    """
    skip = skip or set()
    masked: dict[str, dict[str, Any]] = {}
    dense: dict[str, Tensor] = {}
    for name, tensor in state.items():
        if name in skip:
            continue
        if name in masks:
            masked[name] = encode_tensor(tensor, masks[name])
        else:
            dense[name] = tensor.detach().cpu().clone()
    return {"version": EXPORT_VERSION, "masked": masked, "dense": dense}


def export_formats(exported: dict[str, Any]) -> dict[str, str]:
    """The format chosen for each masked tensor of an export."""
    return {name: entry["format"] for name, entry in exported["masked"].items()}


def export_bytes(exported: dict[str, Any]) -> int:
    """Bytes of the tensors in an export (index, mask and value tensors, dense tensors): the
    compressed parameter memory. Shapes and file overhead are not counted."""
    total = sum(t.numel() * t.element_size() for t in exported["dense"].values())
    for entry in exported["masked"].values():
        total += sum(
            entry[key].numel() * entry[key].element_size()
            for key in ("values", "bits", "crow", "col")
            if key in entry
        )
    return total


# --- import and its checks ----------------------------------------------------------------------


class _Corrupt(Exception):
    """A problem found in one entry (becomes a CheckpointError naming the tensor)."""


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise _Corrupt(problem)


def _tensor(entry: dict[str, Any], key: str, integer: bool) -> Tensor:
    value = entry.get(key)
    _require(isinstance(value, Tensor), f"'{key}' is missing or not a tensor")
    _require(value.dim() == 1 or key == "values", f"'{key}' is not one-dimensional")
    if integer:
        _require(value.dtype in INDEX_DTYPES, f"'{key}' has dtype {value.dtype}, not an index type")
    else:
        _require(value.is_floating_point(), f"'{key}' has dtype {value.dtype}, not floating")
    return value


def _shape(entry: dict[str, Any]) -> list[int]:
    shape = _tensor(entry, "shape", integer=True)
    _require(bool((shape >= 0).all()), "negative size in 'shape'")
    return [int(s) for s in shape]


def decode_bitmask(entry: dict[str, Any], shape: list[int]) -> tuple[Tensor, Tensor]:
    """``(tensor, mask)`` of a ``bitmask`` entry."""
    numel = math.prod(shape)
    bits = _tensor(entry, "bits", integer=True)
    values = _tensor(entry, "values", integer=False)
    _require(bits.dtype == torch.uint8, "'bits' is not uint8")
    _require(bits.numel() == math.ceil(numel / 8), "'bits' has the wrong length")
    full = unpack_bits(bits, math.ceil(numel / 8) * 8)
    _require(not bool(full[numel:].any()), "padding bits are set")
    mask = full[:numel]
    _require(int(mask.sum()) == values.numel(), "mask and values disagree in count")
    flat = torch.zeros(numel, dtype=values.dtype)
    flat[mask] = values.reshape(-1)
    return flat.view(shape), mask.view(shape)


def decode_csr(entry: dict[str, Any], shape: list[int]) -> tuple[Tensor, Tensor]:
    """``(tensor, mask)`` of a ``csr`` entry."""
    rows, cols = matrix_shape(tuple(shape))
    crow = _tensor(entry, "crow", integer=True).long()
    col = _tensor(entry, "col", integer=True).long()
    values = _tensor(entry, "values", integer=False).reshape(-1)
    _require(crow.numel() == rows + 1, "'crow' has the wrong length")
    _require(int(crow[0]) == 0 and bool((crow[1:] >= crow[:-1]).all()), "'crow' is not a pointer")
    _require(int(crow[-1]) == col.numel() == values.numel(), "'crow', 'col', 'values' disagree")
    _require(bool(((col >= 0) & (col < cols)).all()), "column index out of range")
    row = torch.repeat_interleave(torch.arange(rows), crow[1:] - crow[:-1])
    flat_index = row * cols + col
    mask = torch.zeros(rows * cols, dtype=torch.bool)
    mask[flat_index] = True
    _require(int(mask.sum()) == values.numel(), "repeated positions")
    flat = torch.zeros(rows * cols, dtype=values.dtype)
    flat[flat_index] = values
    return flat.view(shape), mask.view(shape)


def decode_tensor(entry: Any) -> tuple[Tensor, Tensor]:
    """``(tensor, mask)`` of one masked entry; raises ``_Corrupt``."""
    _require(isinstance(entry, dict), "entry is not a dict")
    fmt = entry.get("format")
    _require(fmt in FORMATS, f"unknown format {fmt!r}")
    shape = _shape(entry)
    if fmt == "bitmask":
        return decode_bitmask(entry, shape)
    if fmt == "csr":
        return decode_csr(entry, shape)
    values = _tensor(entry, "values", integer=False)
    _require(list(values.shape) == shape, "'values' does not have the stored shape")
    return values.clone(), torch.ones(shape, dtype=torch.bool)


def import_sparse(exported: Any) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(state, masks)``: the dense state dict and boolean masks rebuilt from an export.

    Raises:
        CheckpointError: the export is malformed (one line naming the tensor and the problem).
    """
    if not isinstance(exported, dict) or exported.get("version") != EXPORT_VERSION:
        raise CheckpointError(
            f"not a sparse export of version {EXPORT_VERSION}; the file is corrupt or was modified"
        )
    masked, dense = exported.get("masked"), exported.get("dense")
    if not isinstance(masked, dict) or not isinstance(dense, dict):
        raise CheckpointError("sparse export lacks 'masked' or 'dense'; the file is corrupt")
    state: dict[str, Tensor] = {}
    for name, tensor in dense.items():
        if not isinstance(tensor, Tensor):
            raise CheckpointError(f"sparse export: dense entry {name} is not a tensor")
        state[name] = tensor
    masks: dict[str, Tensor] = {}
    for name, entry in masked.items():
        try:
            state[name], masks[name] = decode_tensor(entry)
        except _Corrupt as exc:
            raise CheckpointError(
                f"sparse export: tensor {name}: {exc}; the file is corrupt or was modified"
            ) from None
    return state, masks


# --- files --------------------------------------------------------------------------------------


def save_export(exported: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write an export atomically."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    torch.save(exported, temp)
    os.replace(temp, path)
    return path


def load_export(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an export (``weights_only=True``; not checked: see :func:`import_sparse`)."""
    return torch.load(path, map_location="cpu", weights_only=True)
