"""LinSASRecF: RecBole's SASRecF with LinRec's linear attention (the EASRec paper's "w LinRec" row).

SASRecF (RecBole) concatenates each item's embedding with its feature embeddings, projects the
concatenation to ``hidden_size``, adds the position embedding and runs a SASRec transformer. Here
the transformer is this plugin's :class:`~recbole_easrec.model.layers.TransformerStack` with
``attention_type: linear`` (LinRec eq. 5; EASRec eq. 5), behind :class:`RecBoleEncoderAdapter`,
which accepts RecBole's ``TransformerEncoder`` call signature. Everything else (feature embedding,
concatenation, scoring, losses) is RecBole's SASRecF, inherited unchanged.

Causality follows ``causal_attention`` as in :class:`~recbole_easrec.model.linrec.LinRec`
(default non-causal, which is leak-free under RecBole's prefix protocol); padding never reaches
real positions. Because the linear attention needs only the padding of each key, the models ask
RecBole for the ``[batch, 1, 1, length]`` padding mask instead of the ``[batch, 1, length, length]``
causal one, so no quadratic tensor is built.
"""

from __future__ import annotations

from typing import Any

from recbole.model.sequential_recommender.sasrecf import SASRecF
from torch import Tensor

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.base import validate_transformer_config
from recbole_easrec.model.layers import TransformerStack


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
    return RecBoleEncoderAdapter(
        config["n_layers"],
        hidden_size=config["hidden_size"],
        inner_size=config["inner_size"],
        n_heads=config["n_heads"],
        attention_type=config["attention_type"],
        hidden_dropout_prob=config["hidden_dropout_prob"],
        attn_dropout_prob=config["attn_dropout_prob"],
        hidden_act=config["hidden_act"],
        layer_norm_eps=config["layer_norm_eps"],
        causal=bool(config["causal_attention"]),
    )


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
