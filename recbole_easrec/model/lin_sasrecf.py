"""LinSASRecF: RecBole's SASRecF with LinRec's linear attention (the EASRec paper's "w LinRec" row).

SASRecF (RecBole) concatenates each item's embedding with its feature embeddings, projects the
concatenation to ``hidden_size``, adds the position embedding and runs a SASRec transformer. Here
the transformer is this plugin's :class:`~recbole_easrec.model.layers.TransformerStack` with
``attention_type: linear`` (LinRec eq. 5; EASRec eq. 5), behind :class:`RecBoleEncoderAdapter`,
which accepts RecBole's ``TransformerEncoder`` call signature. Everything else (feature embedding,
concatenation, scoring, losses) is RecBole's SASRecF, inherited unchanged.

Causality follows ``causal_attention`` as in :class:`~recbole_easrec.model.linrec.LinRec`
(default non-causal, which is leak-free under RecBole's prefix protocol; ``train_mode:
autoregressive`` forces it on, as the loss is then taken at every position); padding never reaches
real positions. Because the linear attention needs only the padding of each key, the models ask
RecBole for the ``[batch, 1, 1, length]`` padding mask instead of the ``[batch, 1, length, length]``
causal one, so no quadratic tensor is built.
"""

from __future__ import annotations

from typing import Any

import torch
from recbole.model.sequential_recommender.sasrecf import SASRecF
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.base import (
    autoregressive_cross_entropy,
    layer_settings,
    sequence_output_once,
    validate_transformer_config,
)
from recbole_easrec.model.layers import TransformerStack
from recbole_easrec.training_modes import TARGETS_FIELD


class RecBoleEncoderAdapter(TransformerStack):
    """:class:`TransformerStack` called like RecBole's ``TransformerEncoder``.

    ``forward(hidden_states, attention_mask, output_all_encoded_layers=True)``: the additive mask
    (0 where attending is allowed, a large negative value elsewhere; ``[batch, 1, 1 or length,
    length]``) is turned into the key padding mask from its last query row, which in both RecBole
    masks (causal and bidirectional) allows exactly the real items.
    """

    def forward(  # type: ignore[override]
        self, hidden_states: Tensor, attention_mask: Tensor, output_all_encoded_layers: bool = True
    ) -> list[Tensor]:
        key_padding_mask = attention_mask[:, 0, -1, :] >= 0
        outputs = super().forward(hidden_states, key_padding_mask)
        return outputs if output_all_encoded_layers else outputs[-1:]


def build_linear_encoder(config: Any) -> RecBoleEncoderAdapter:
    """The shared transformer stack with the attention kind and causality read from ``config``."""
    return RecBoleEncoderAdapter(config["n_layers"], **layer_settings(config))


def validate_feature_config(config: Any) -> None:
    """Transformer settings plus a non-empty ``selected_features`` list and a known pooling mode."""
    validate_transformer_config(config)
    features = config["selected_features"]
    if not isinstance(features, list) or not features:
        raise ConfigError(
            f"selected_features must be a non-empty list of item feature names, got {features!r}"
        )
    if config["pooling_mode"] not in ("mean", "max", "sum"):
        raise ConfigError(
            f"pooling_mode must be one of mean, max, sum; got {config['pooling_mode']!r}"
        )


def check_features_loaded(config: Any, dataset: Any) -> None:
    """Each selected feature must be a loaded item field (RecBole fails with a KeyError otherwise)."""
    missing = [name for name in config["selected_features"] if name not in dataset.field2type]
    if missing:
        raise ConfigError(
            f"selected_features {missing} are not loaded: add them to load_col, e.g."
            f" load_col: {{inter: [user_id, item_id, timestamp], item: [item_id, {missing[0]}]}}"
        )


class LinSASRecF(SASRecF):
    """SASRecF whose ``trm_encoder`` is the shared linear-attention stack (see module docstring)."""

    validate_config = staticmethod(validate_feature_config)
    supports_autoregressive = True  # reads TARGETS_FIELD in calculate_loss

    def __init__(self, config: Any, dataset: Any) -> None:
        self.validate_config(config)
        check_features_loaded(config, dataset)
        super().__init__(config, dataset)
        self.trm_encoder = build_linear_encoder(config)
        self.trm_encoder.apply(self._init_weights)
        # The feature tables are rebuilt from the dataset at construction; keeping them out of the
        # checkpoint leaves it tensors only, loadable with torch.load(weights_only=True).
        self.other_parameter_name = []

    def get_attention_mask(self, item_seq: Tensor, bidirectional: bool = False) -> Tensor:
        """RecBole's padding-only mask; causality is the encoder's ``causal_attention`` setting."""
        return super().get_attention_mask(item_seq, bidirectional=True)

    def embed(self, item_seq: Tensor) -> Tensor:
        """SASRecF's fused input: [item embedding ‖ feature embeddings] projected to
        ``hidden_size``, plus the position embedding, then LayerNorm and dropout."""
        sparse, dense = self.feature_embed_layer(None, item_seq)
        tables = [table for table in (sparse["item"], dense["item"]) if table is not None]
        features = torch.cat(tables, dim=-2).flatten(start_dim=-2)  # [batch, length, fields·d]
        fused = self.concat_layer(torch.cat((self.item_embedding(item_seq), features), dim=-1))
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        return self.dropout(self.LayerNorm(fused + self.position_embedding(positions)))

    def encode(self, item_seq: Tensor) -> Tensor:
        """The last layer's output at every position: ``[batch, length, hidden]``."""
        return self.trm_encoder(self.embed(item_seq), self.get_attention_mask(item_seq))[-1]

    def forward(self, item_seq: Tensor, item_seq_len: Tensor) -> Tensor:
        """The sequence representation at the last real position (as RecBole's SASRecF)."""
        return self.gather_indexes(self.encode(item_seq), item_seq_len - 1)

    def calculate_loss(self, interaction: Any) -> Tensor:
        """RecBole's SASRecF loss, or with ``train_mode: autoregressive`` cross-entropy at every
        real position (:mod:`recbole_easrec.training_modes`)."""
        if TARGETS_FIELD in interaction:
            hidden = self.encode(interaction[self.ITEM_SEQ])
            return autoregressive_cross_entropy(
                hidden, interaction[TARGETS_FIELD], self.item_embedding.weight
            )
        return super().calculate_loss(interaction)

    def predict(self, interaction: Any) -> Tensor:
        """RecBole's SASRecF scores of (sequence, item) pairs, with the encoder run once per
        distinct sequence in eval mode (:func:`~recbole_easrec.model.base.sequence_output_once`)."""
        seq_output = sequence_output_once(
            self, interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        )
        return (seq_output * self.item_embedding(interaction[self.ITEM_ID])).sum(-1)
