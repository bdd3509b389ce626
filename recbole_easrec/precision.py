"""``precision``: the number format of training (issue 11, item 5).

``fp32`` (default) trains in float32. ``bf16`` runs every training forward pass and its loss under
``torch.autocast(device, dtype=torch.bfloat16)``: matrix products and linear layers in bfloat16,
the cross-entropy in float32 (autocast's own op lists; on a CPU, softmax and LayerNorm then run
in bfloat16 too, on a GPU in float32), the weights and the optimiser's state in float32. Backward
ops run in the format autocast chose for their forward op. No gradient scaler is needed: bfloat16
has float32's exponent range.

Evaluation, the efficiency measurement and serving stay float32 whatever ``precision`` says:
bfloat16 keeps 8 bits of mantissa, so item scores that differ in the third significant digit tie,
and a full ranking over thousands of items would change with the format, not with the model.

Whether ``bf16`` is faster depends on the hardware: GPUs with bfloat16 tensor cores (A100, H100)
and CPUs with AMX are built for it (not measured here); on a CPU with AVX512-BF16 only, PyTorch's
bfloat16 matrix products are *slower* than float32: a LinRec training step runs at 0.52–0.67× of
fp32's speed with full CE and 0.62–0.80× with the sampled softmax, from 3,707 to 50,000 items
(``benchmarks/results/step_time.md``, alternating medians in one run), which is why ``fp32`` is
the default. At convergence bf16 trains LinRec as accurately as fp32 (ml-100k, 3 paired seeds: test
NDCG@10 0.0574 against 0.0575, ``benchmarks/results/precision_ml100k.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.validation import require_choice

PRECISIONS = ("fp32", "bf16")


def validate_precision(config: Any) -> None:
    """``precision`` is fp32 or bf16, and bf16 is available on the device the run will use."""
    require_choice(config, "precision", PRECISIONS)
    precision = config["precision"]
    device = torch.device(config["device"] or "cpu")
    if (
        precision == "bf16"
        and device.type == "cuda"
        and torch.cuda.is_available()
        and not torch.cuda.is_bf16_supported()
    ):
        raise ConfigError(
            "precision: bf16 needs a GPU with bfloat16 support (Ampere or newer); use fp32"
        )


@contextlib.contextmanager
def training_precision(precision: str, device: torch.device) -> Iterator[None]:
    """The context a training epoch runs in: bfloat16 autocast for ``bf16``, nothing for ``fp32``.

    RecBole's own training loop opens ``torch.autocast(enabled=enable_amp)`` inside it; with
    ``enable_amp: True`` that inner context keeps the outer one's bfloat16 (the trainer sets it).
    """
    if precision != "bf16":
        yield
        return
    # cache_enabled=False: autocast keeps each weight's bfloat16 copy until its *outermost* region
    # exits, and this region spans a whole epoch of optimiser steps, so a cached copy would go
    # stale after the first step (training on the epoch's first weights: NDCG@10 0.025 against
    # fp32's 0.057 on ml-100k). RecBole's inner per-step autocast inherits the setting.
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=False):
        yield
