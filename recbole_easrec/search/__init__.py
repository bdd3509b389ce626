"""EASRec's architecture search (EASRec §II): gates, controllers, resource cost, supernet, reconstruction."""

from recbole_easrec.search.arch_data import HoldoutSplit, holdout_users, split_holdout
from recbole_easrec.search.controllers import ArchitectureController, gumbel_temperature
from recbole_easrec.search.gates import CandidateGates, DataAwareGate, causal_mean, gate_signal
from recbole_easrec.search.reconstruct import compact_settings, copy_prefix, reconstruct
from recbole_easrec.search.resource import candidate_costs, layer_flops, resource_loss
from recbole_easrec.search.space import Architecture, choose, enumerate_space, sandwich_paths
from recbole_easrec.search.supernet import SuperNet, kept_width, sliced_layer_forward

__all__ = [
    "Architecture",
    "ArchitectureController",
    "choose",
    "enumerate_space",
    "sandwich_paths",
    "CandidateGates",
    "HoldoutSplit",
    "DataAwareGate",
    "SuperNet",
    "candidate_costs",
    "gumbel_temperature",
    "holdout_users",
    "kept_width",
    "layer_flops",
    "causal_mean",
    "gate_signal",
    "resource_loss",
    "sliced_layer_forward",
    "split_holdout",
    "compact_settings",
    "copy_prefix",
    "reconstruct",
]
