"""Dynamic Sparse Learning (DSL, Wang et al., arXiv 2402.02855): masks, schedule, prune/regrow,
sparse export. Used by :class:`recbole_easrec.model.dsl.DSL` and its trainer."""

from recbole_easrec.sparse.export import export_bytes, export_sparse, import_sparse
from recbole_easrec.sparse.masks import DSL_INITS, layer_densities, random_masks
from recbole_easrec.sparse.prune_regrow import clear_adam_state, prune_regrow
from recbole_easrec.sparse.schedule import update_fraction

__all__ = [
    "DSL_INITS",
    "clear_adam_state",
    "export_bytes",
    "export_sparse",
    "import_sparse",
    "layer_densities",
    "prune_regrow",
    "random_masks",
    "update_fraction",
]
