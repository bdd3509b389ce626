"""``compile: True``: run the transformer stack through ``torch.compile`` (issue 6).

Only the encoder's ``forward`` is replaced (an instance attribute), so the module tree, parameter
names and saved state dicts are unchanged. If compilation fails when first called (no C compiler,
an unsupported platform), the model falls back to eager execution for good and logs one warning;
training never breaks because of this option.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class CompiledOrEager:
    """Call ``torch.compile(function)``; on the first failure switch to ``function`` for good."""

    def __init__(self, function: Callable[..., Any], **options: Any) -> None:
        self.eager = function
        self.compiled: Callable[..., Any] | None = torch.compile(function, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - any backend failure means: run eagerly
                logging.getLogger(__name__).warning(
                    "torch.compile failed (%s); running eagerly", str(error).splitlines()[0]
                )
                self.compiled = None
        return self.eager(*args, **kwargs)


def compile_encoder(model: nn.Module, dynamic: bool = True) -> bool:
    """Compile ``model.encoder``'s forward in place; False where torch.compile is unavailable."""
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(torch, "compile"):
        return False
    encoder.forward = CompiledOrEager(encoder.forward, dynamic=dynamic)
    return True
