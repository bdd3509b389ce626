"""The search methods, one file each, and the registry that maps ``search_method`` to them.

Adding a method (docs/architecture.md): a subclass of
:class:`~recbole_easrec.search.methods.base.SearchMethod` in its own file here, one line in
:data:`SEARCH_METHODS`, its keys in ``properties/model/EASRec.yaml`` and its tests.
"""

from __future__ import annotations

from typing import Any

from recbole_easrec.errors import ConfigError
from recbole_easrec.search.arch_data import validate_arch_data
from recbole_easrec.search.methods.base import SearchMethod
from recbole_easrec.search.methods.oneshot import OneShotSearch
from recbole_easrec.search.methods.paper import PaperSearch
from recbole_easrec.search.methods.proxylessnas import ProxylessNASSearch
from recbole_easrec.search.methods.random import RandomSearch
from recbole_easrec.search.methods.recnas import RecNASSearch
from recbole_easrec.search.methods.sandwich import SandwichSearch
from recbole_easrec.search.searched import validate_search_from
from recbole_easrec.search.space import validate_selection
from recbole_easrec.validation import (
    require_choice,
    require_non_negative,
    require_positive_int,
    require_positive_number,
)

SEARCH_METHODS: dict[str, type[SearchMethod]] = {
    "paper": PaperSearch,
    "sandwich": SandwichSearch,
    "oneshot": OneShotSearch,
    "random": RandomSearch,
    "proxylessnas": ProxylessNASSearch,
    "recnas": RecNASSearch,
}

__all__ = ["SEARCH_METHODS", "SearchMethod", "search_method", "validate_search_config"]


def search_method(config: Any) -> type[SearchMethod]:
    """The class of ``config["search_method"]``."""
    require_choice(config, "search_method", SEARCH_METHODS)
    return SEARCH_METHODS[config["search_method"]]


def validate_search_config(config: Any) -> None:
    """One-line ConfigError for any invalid search setting: the method's name, the choice
    (``flops_budget``, ``selection_tolerance``, ``score_architectures``), every method's own
    settings (so that a typo in EASRec.yaml is caught whichever method runs), the architecture
    batches and the phases' lengths."""
    validate_search_from(config, search_method(config).reselectable)
    validate_selection(config)
    for method in SEARCH_METHODS.values():
        method.validate(config)
    require_positive_int(config, "arch_update_freq", "search_stopping_step")
    validate_arch_data(config)
    require_positive_number(config, "arch_learning_rate")
    require_non_negative(config, "arch_warmup_epochs", integer=True)
    epochs = config["epochs"]
    if isinstance(epochs, int) and 0 < epochs <= config["arch_warmup_epochs"]:
        raise ConfigError(
            f"arch_warmup_epochs ({config['arch_warmup_epochs']}) must be smaller than epochs "
            f"({epochs}): the search needs epochs that update α and β"
        )
    if config["retrain_epochs"] is not None:
        require_non_negative(config, "retrain_epochs", integer=True)
    for key in ("retrain_batch_size", "arch_batch_size"):
        if config[key] is not None:
            require_positive_int(config, key)
