"""Find models by name: this plugin's first, then RecBole's built-ins.

RecBole's ``get_model`` only knows RecBole's own models; like RecBole-GNN we look in our package
first and fall back to RecBole, so one entry point serves plugin models and baselines alike.
Trainers are found by :func:`recbole_easrec.trainer.resolve_trainer`, above the models in the
package's dependency order (entry point → quick_start → trainer → search → model →
config/defaults/validation/errors), so that no import, not even a deferred one, loops back.
"""

from __future__ import annotations

from recbole.utils import get_model as recbole_get_model

from recbole_easrec import model as plugin_models
from recbole_easrec.errors import ConfigError


def plugin_model_names() -> list[str]:
    """Names of the models this plugin registers (``recbole_easrec.model.__all__``)."""
    return list(plugin_models.__all__)


def resolve_model(name: str) -> type:
    """The model class called ``name``: ours, else RecBole's; unknown names are a ConfigError."""
    if name in plugin_model_names():
        return getattr(plugin_models, name)
    try:
        return recbole_get_model(name)
    except (ValueError, ImportError, AttributeError):
        ours = ", ".join(plugin_model_names())
        raise ConfigError(
            f"unknown model {name!r}: use one of this plugin's ({ours}) or a RecBole model name"
            " such as SASRec, BERT4Rec, GRU4Rec"
        ) from None
