"""Export a saved run's model for serving: ONNX (``model.onnx``) or TorchScript.

The exported graph is :class:`ScoringModule` around the run's model (this plugin's LinRec, DSL
with its dense weights, EASRec's compact network, or RecBole's SASRec …, see
:func:`recbole_easrec.recommend.load_run`):

- inputs ``item_seq`` (int64 ``[batch, length]``: internal item ids, left-aligned, padded with 0,
  ``length`` ≤ ``MAX_ITEM_LIST_LENGTH``) and ``item_seq_len`` (int64 ``[batch]``), batch size
  and length both dynamic;
- output ``scores`` (float32 ``[batch, n_items]``), or with ``k`` the top-k ``top_scores`` and
  ``top_items`` (int64 ids), best first. Item 0 (padding) scores ``-inf``, and so do the input
  items unless ``exclude_history=False``.

Beside the model file, ``<file>.json`` describes inputs and outputs and holds ``item_tokens`` (the
dataset token of every internal id), so a serving stack maps tokens to ids and back without
RecBole. ONNX export needs the ``onnx`` package and running the file ``onnxruntime`` (the ``onnx``
extra: ``pip install 'recbole-easrec[onnx]'``); TorchScript needs torch alone.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recbole_easrec.artifacts import atomic_target, write_json_atomic
from recbole_easrec.errors import ConfigError, UserError
from recbole_easrec.recommend import load_run, run_folder

EXPORT_FILES = {"onnx": "model.onnx", "torchscript": "model_torchscript.pt"}
EXPORT_FORMATS = tuple(EXPORT_FILES)
INPUT_NAMES = ["item_seq", "item_seq_len"]
ONNX_OPSET = 17


class ScoringModule(nn.Module):
    """``(item_seq, item_seq_len)`` → scores over all items, or the top-k (module docstring)."""

    def __init__(self, model: nn.Module, k: int | None = None, exclude_history: bool = True):
        super().__init__()
        self.model = model
        self.k = k
        self.exclude_history = exclude_history
        padding = torch.zeros(int(model.n_items), dtype=torch.bool)
        padding[0] = True
        self.register_buffer("padding", padding, persistent=False)

    def forward(self, item_seq: Tensor, item_seq_len: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        interaction = {self.model.ITEM_SEQ: item_seq, self.model.ITEM_SEQ_LEN: item_seq_len}
        scores = self.model.full_sort_predict(interaction).float()
        scores = scores.masked_fill(self.padding, -math.inf)
        if self.exclude_history:
            scores = scores.scatter(1, item_seq, -math.inf)
        if self.k is None:
            return scores
        top_scores, top_items = torch.topk(scores, self.k, dim=1)
        return top_scores, top_items


def output_names(k: int | None) -> list[str]:
    return ["scores"] if k is None else ["top_scores", "top_items"]


def example_inputs(n_items: int, max_length: int, batch: int = 2) -> tuple[Tensor, Tensor]:
    """A batch of ``batch`` random sequences, the first full and the others shorter (padded)."""
    generator = torch.Generator().manual_seed(0)
    item_seq = torch.randint(1, max(n_items, 2), (batch, max_length), generator=generator)
    lengths = torch.tensor(
        [max(1, max_length - row * (max_length // batch)) for row in range(batch)]
    )
    positions = torch.arange(max_length)[None, :]
    return item_seq.masked_fill(positions >= lengths[:, None], 0), lengths


def prepare_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the CPU in eval mode with frozen weights and dense scoring (DSL's
    CSR path cannot be traced); ``model`` itself is left as it was."""
    model = copy.deepcopy(model).cpu().eval().requires_grad_(False)
    if getattr(model, "sparse_inference", False):
        model.sparse_inference = False
    return model


def export_module(
    model: nn.Module,
    path: str | os.PathLike[str],
    fmt: str = "onnx",
    max_length: int | None = None,
    k: int | None = None,
    exclude_history: bool = True,
) -> Path:
    """Write ``model`` wrapped in :class:`ScoringModule` to ``path`` (atomically) as ``fmt``."""
    fmt = check_format(fmt)
    if fmt == "onnx":
        require_onnx()
    module = ScoringModule(prepare_model(model), k, exclude_history).eval()
    max_length = int(max_length or model.max_seq_length)
    inputs = example_inputs(int(model.n_items), max_length)
    with atomic_target(path) as temp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notices of torch's exporters
        if fmt == "onnx":
            write_onnx(module, inputs, temp, output_names(k))
        else:
            torch.jit.save(torch.jit.trace(module, inputs, check_trace=False), str(temp))
    return Path(path)


def require_onnx() -> None:
    """torch's ONNX exporter needs the ``onnx`` package; without it, a one-line error."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError(
            "ONNX export needs the onnx package: pip install 'recbole-easrec[onnx]' (onnx and"
            " onnxruntime), or export with --format=torchscript"
        ) from None


def write_onnx(module: nn.Module, inputs: tuple[Tensor, Tensor], path: Path, outputs: list[str]):
    """ONNX through torch's TorchScript-based exporter, batch and length dynamic."""
    dynamic_axes = {
        "item_seq": {0: "batch", 1: "length"},
        "item_seq_len": {0: "batch"},
        **{name: {0: "batch"} for name in outputs},
    }
    torch.onnx.export(
        module,
        inputs,
        str(path),
        input_names=INPUT_NAMES,
        output_names=outputs,
        dynamic_axes=dynamic_axes,
        opset_version=ONNX_OPSET,
        dynamo=False,
    )


def check_format(fmt: str) -> str:
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def check_export_k(k: Any, n_items: int) -> int | None:
    """``k`` of the exported top-k (``None``: all scores); else a one-line error."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or not 0 < k < n_items:
        raise ConfigError(f"k (--topk) must be a whole number in 1 … {n_items - 1}, got {k!r}")
    return k


def description_path(path: Path) -> Path:
    """``model.onnx`` → ``model.onnx.json`` (the exported file's description)."""
    return path.with_name(path.name + ".json")


def check_no_earlier_export(path: Path, overwrite: bool) -> None:
    """Without ``overwrite``, an earlier export at ``path`` (or its description) is kept: a
    one-line error that names ``--overwrite``.

    Raises:
        UserError: ``path`` or its description exists and ``overwrite`` is false.
    """
    earlier = [file for file in (path, description_path(path)) if file.exists()]
    if earlier and not overwrite:
        raise UserError(
            f"{earlier[0]} already exists (an earlier export); pass --overwrite to replace it"
            " (Python: overwrite=True), or move it away first"
        )


def export(
    run_dir: str | os.PathLike[str],
    fmt: str = "onnx",
    k: int | None = None,
    exclude_history: bool = True,
    config_dict: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Export the model saved in ``run_dir`` to ``run_dir/model.onnx`` (or
    ``model_torchscript.pt``) and its description ``<file>.json``; returns the model file.
    An earlier export there is kept unless ``overwrite`` (then both files are replaced).

    Raises:
        UserError: unknown format, bad ``k``, an earlier export without ``overwrite``, or a run
            that cannot be loaded (one line).
    """
    fmt = check_format(fmt)
    folder = run_folder(run_dir)
    check_no_earlier_export(folder / EXPORT_FILES[fmt], overwrite)
    config, model, dataset = load_run(folder, config_dict)
    k = check_export_k(k, int(model.n_items))
    path = export_module(model, folder / EXPORT_FILES[fmt], fmt, None, k, exclude_history)
    write_json_atomic(
        description_path(path), describe(config, model, dataset, fmt, k, exclude_history)
    )
    return path


def describe(
    config: Any, model: nn.Module, dataset: Any, fmt: str, k: int | None, exclude_history: bool
) -> dict[str, Any]:
    """The exported file's interface and vocabulary (``<file>.json``)."""
    return {
        "format": fmt,
        "model": str(config["model"]),
        "dataset": str(config["dataset"]),
        "inputs": {
            "item_seq": "int64 [batch, length], length <= max_length; left-aligned, 0 = padding",
            "item_seq_len": "int64 [batch]",
        },
        "outputs": output_names(k),
        "k": k,
        "exclude_history": exclude_history,
        "max_length": int(model.max_seq_length),
        "n_items": int(model.n_items),
        "item_tokens": [str(token) for token in dataset.field2id_token[dataset.iid_field]],
    }
