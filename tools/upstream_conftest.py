"""pytest ``conftest.py`` for running RecBole 1.2.1's own test suite under our compatibility layer.

``tools/test_upstream.sh`` copies RecBole's ``tests/`` into a temporary folder and this file next to
it as ``conftest.py``. pytest imports it before any test module, so:

1. ``import recbole_easrec`` applies :mod:`recbole_easrec.compat` before RecBole is used;
2. models whose defaults mean long pretraining get short settings (:data:`SHORT_SETTINGS`), passed
   through RecBole's public ``recbole.quick_start.objective_function``, which every model test calls.
   A setting the test itself passes wins.
"""

from __future__ import annotations

import importlib
from typing import Any

import recbole_easrec  # noqa: F401  (applies the compatibility layer, before RecBole is used)

recbole_quick_start = importlib.import_module("recbole.quick_start")

#: Per-model settings that keep the run short on a CPU (S3Rec pretrains for 500 epochs by default).
SHORT_SETTINGS: dict[str, dict[str, Any]] = {"S3Rec": {"pretrain_epochs": 1}}

_objective_function = recbole_quick_start.objective_function


def objective_function(
    config_dict: dict[str, Any] | None = None,
    config_file_list: list[str] | None = None,
    saved: bool = True,
) -> dict[str, Any]:
    """RecBole's ``objective_function`` with :data:`SHORT_SETTINGS` under the test's settings."""
    settings = dict(config_dict or {})
    settings = {**SHORT_SETTINGS.get(str(settings.get("model")), {}), **settings}
    return _objective_function(config_dict=settings, config_file_list=config_file_list, saved=saved)


recbole_quick_start.objective_function = objective_function
