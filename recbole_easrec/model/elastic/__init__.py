"""The elastic parts of EASRec's supernet (EASRec §II-C–E): networks, not search algorithms.

* :mod:`.paths` — what a forward pass computes: an :class:`Architecture` or a :class:`Mixture`;
* :mod:`.supernet` — L full-size layers whose width candidates slice their own weights (eq. 8–11);
* :mod:`.gates` — the data-aware gates of each candidate (eq. 6–9), causal;
* :mod:`.controllers` — the α, β logits and their Gumbel-softmax / argmax selections (eq. 10–11).

How they are trained and chosen is :mod:`recbole_easrec.search`'s business.
"""

from recbole_easrec.model.elastic.controllers import ArchitectureController
from recbole_easrec.model.elastic.gates import (
    GATE_INPUTS,
    GATE_LAYER_CHOICES,
    CandidateGates,
    DataAwareGate,
    causal_mean,
    gate_signal,
)
from recbole_easrec.model.elastic.paths import Architecture, Mixture, Path
from recbole_easrec.model.elastic.supernet import SuperNet, kept_width, sliced_layer_forward

__all__ = [
    "GATE_INPUTS",
    "GATE_LAYER_CHOICES",
    "Architecture",
    "ArchitectureController",
    "CandidateGates",
    "DataAwareGate",
    "Mixture",
    "Path",
    "SuperNet",
    "causal_mean",
    "gate_signal",
    "kept_width",
    "sliced_layer_forward",
]
