"""LinFDSA: RecBole's FDSA with LinRec's linear attention (the EASRec paper's "w LinRec" row).

FDSA (Zhang et al., IJCAI 2019) runs two transformers, one over the item sequence and one over the
attention-pooled item-feature sequence, and concatenates their last outputs. Both transformers are
replaced by this plugin's :class:`~recbole_easrec.model.layers.TransformerStack` with
``attention_type: linear`` (LinRec eq. 5; EASRec eq. 5) through
:class:`~recbole_easrec.model.lin_sasrecf.RecBoleEncoderAdapter`; the rest of RecBole's FDSA is
inherited unchanged. Causality and padding: see :mod:`recbole_easrec.model.lin_sasrecf`.
"""

from __future__ import annotations

from typing import Any

from recbole.model.sequential_recommender.fdsa import FDSA
from torch import Tensor

from recbole_easrec.model.lin_sasrecf import (
    build_linear_encoder,
    check_features_loaded,
    validate_feature_config,
)


class LinFDSA(FDSA):
    """FDSA whose item and feature transformers are the shared linear-attention stack."""

    validate_config = staticmethod(validate_feature_config)

    def __init__(self, config: Any, dataset: Any) -> None:
        self.validate_config(config)
        check_features_loaded(config, dataset)
        super().__init__(config, dataset)
        self.item_trm_encoder = build_linear_encoder(config)
        self.feature_trm_encoder = build_linear_encoder(config)
        self.item_trm_encoder.apply(self._init_weights)
        self.feature_trm_encoder.apply(self._init_weights)
        # The feature tables are rebuilt from the dataset at construction; keeping them out of the
        # checkpoint leaves it tensors only, loadable with torch.load(weights_only=True).
        self.other_parameter_name = []

    def get_attention_mask(self, item_seq: Tensor, bidirectional: bool = False) -> Tensor:
        """RecBole's padding-only mask; causality is the encoders' ``causal_attention`` setting."""
        return super().get_attention_mask(item_seq, bidirectional=True)
