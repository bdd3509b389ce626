"""Models this plugin registers with RecBole (importable as ``from recbole_easrec.model import X``).

The model classes are imported lazily (PEP 562 module ``__getattr__``): importing a submodule such
as :mod:`recbole_easrec.model.layers` does not import every model (DSL's sparse training, the
feature-aware models). ``model/`` imports nothing from :mod:`recbole_easrec.search`
(docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recbole_easrec.model.dsl import DSL
    from recbole_easrec.model.easrec import EASRec
    from recbole_easrec.model.easrec_compact import EASRecCompact
    from recbole_easrec.model.lin_fdsa import LinFDSA
    from recbole_easrec.model.lin_sasrecf import LinSASRecF
    from recbole_easrec.model.linrec import LinRec

# model class name -> submodule defining it
_MODEL_MODULES = {
    "DSL": "dsl",
    "EASRec": "easrec",
    "EASRecCompact": "easrec_compact",
    "LinRec": "linrec",
    "LinFDSA": "lin_fdsa",
    "LinSASRecF": "lin_sasrecf",
}

__all__ = ["DSL", "EASRec", "EASRecCompact", "LinRec", "LinFDSA", "LinSASRecF"]


def __getattr__(name: str) -> Any:
    """Import the model class ``name`` on first access (and cache it in the module)."""
    if name not in _MODEL_MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODEL_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
