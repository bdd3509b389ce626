"""EASRec's architecture search (EASRec §II): the algorithms, on the elastic model of
:mod:`recbole_easrec.model.elastic`.

* :mod:`.methods` — the search methods, one file each, and the ``search_method`` registry;
* :mod:`.space` — the architectures, their FLOPs fractions, the budget and the choice;
* :mod:`.resource` — the cost model (inference FLOPs, eq. 15's resource term);
* :mod:`.controllers` — the Gumbel temperature schedule (Table II);
* :mod:`.arch_data` — where the architecture batches come from (``arch_data``);
* :mod:`.evolution` — regularised evolution (``oneshot`` on a large space);
* :mod:`.reconstruct` — the compact network from a path (eq. 18);
* :mod:`.trace` — ``search_trace.json`` / ``.png``.
"""

from recbole_easrec.search.arch_data import HoldoutSplit, holdout_users, split_holdout
from recbole_easrec.search.controllers import gumbel_temperature
from recbole_easrec.search.methods import SEARCH_METHODS, SearchMethod, validate_search_config
from recbole_easrec.search.reconstruct import compact_settings, copy_prefix, reconstruct
from recbole_easrec.search.resource import candidate_costs, layer_flops, resource_loss
from recbole_easrec.search.space import Architecture, SearchSpace, choose, enumerate_space

__all__ = [
    "SEARCH_METHODS",
    "Architecture",
    "HoldoutSplit",
    "SearchMethod",
    "SearchSpace",
    "candidate_costs",
    "choose",
    "compact_settings",
    "copy_prefix",
    "enumerate_space",
    "gumbel_temperature",
    "holdout_users",
    "layer_flops",
    "reconstruct",
    "resource_loss",
    "split_holdout",
    "validate_search_config",
]
