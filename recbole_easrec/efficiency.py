"""Efficiency measurements reported by every run: parameters, FLOPs, inference time, peak memory.

* Parameters: trainable parameter count.
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one forward pass of one sequence at the
  configured length (``MAX_ITEM_LIST_LENGTH``). Unlike ``thop`` (RecBole's ``get_flops``) it counts
  functional matrix products such as ``QKᵀ`` and ``KᵀV``. One multiply-add counts as 2 FLOPs.
  ``flops`` is the whole ``full_sort_predict`` (encoder + scoring against every item);
  ``encoder_flops`` is ``forward`` alone (the sequence representation), called with the sequence
  alone for models whose ``forward`` takes nothing else (BERT4Rec, CORE).
* Inference time: the median over repeats of a callable (RecBole's full-ranking evaluation of the
  test set in :mod:`recbole_easrec.quick_start`).
* Peak memory: the CUDA allocator's peak on GPU; the process's peak resident set size on CPU
  (whole process, data loading included).
"""

from __future__ import annotations

import inspect
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _cpu_sdpa_flops(
    query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any
) -> int:
    """FLOPs of PyTorch's fused CPU attention kernel, which ``FlopCounterMode`` does not know:
    ``QKᵀ`` and ``(softmax) V``, each ``2·B·H·N_q·N_k·d`` (causal masking not discounted)."""
    batch, heads, query_length, head_dim = query_shape
    key_length = key_shape[-2]
    value_dim = value_shape[-1]
    return 2 * batch * heads * query_length * key_length * (head_dim + value_dim)


CUSTOM_FLOP_FORMULAS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops,
}


def count_flops(function: Callable[[], Any]) -> int:
    """FLOPs of one call of ``function`` under ``FlopCounterMode`` (no gradient)."""
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOP_FORMULAS)
    with torch.no_grad(), counter:
        function()
    return int(counter.get_total_flops())


def single_sequence_interaction(model: Any, interaction: Any, length: int | None = None) -> Any:
    """One row of ``interaction`` with its item sequence replaced by a full-length sequence.

    ``length`` defaults to the model's ``max_seq_length``. Item ids are drawn from the real items
    (1 … n_items-1) so that every position is a real item.
    """
    length = length or model.max_seq_length
    row = interaction[:1]
    device = row[model.ITEM_SEQ].device
    generator = torch.Generator().manual_seed(0)
    items = torch.randint(1, model.n_items, (1, length), generator=generator).to(device)
    row.update(
        type(row)(
            {model.ITEM_SEQ: items, model.ITEM_SEQ_LEN: torch.tensor([length], device=device)}
        )
    )
    return row


def model_flops(model: Any, interaction: Any, length: int | None = None) -> dict[str, int]:
    """``flops`` (full-ranking forward) and ``encoder_flops`` of one sequence (see module doc)."""
    row = single_sequence_interaction(model, interaction, length)
    was_training = model.training
    model.eval()
    try:
        total = count_flops(lambda: model.full_sort_predict(row))
        encoder = count_flops(lambda: model.forward(*encoder_arguments(model, row)))
    finally:
        model.train(was_training)
    return {"flops": total, "encoder_flops": encoder}


def encoder_arguments(model: Any, row: Any) -> tuple[Any, ...]:
    """``(item_seq, item_seq_len)``, or ``(item_seq,)`` where ``model.forward`` requires one
    argument only (RecBole's BERT4Rec and CORE: ``forward(item_seq)``)."""
    required = [
        parameter
        for parameter in inspect.signature(model.forward).parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) == 1:
        return (row[model.ITEM_SEQ],)
    return row[model.ITEM_SEQ], row[model.ITEM_SEQ_LEN]


def median_seconds(function: Callable[[], Any], repeats: int = 3, warmup: int = 0) -> float:
    """Median wall-clock seconds of ``repeats`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    timings = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def peak_memory_bytes(device: torch.device | str | None = None) -> int:
    """Peak memory: CUDA allocator peak on a CUDA device, else the process's peak RSS."""
    device = torch.device(device or "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def reset_peak_memory(device: torch.device | str | None = None) -> None:
    """Reset the CUDA peak counter (process RSS peaks cannot be reset)."""
    device = torch.device(device or "cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)
