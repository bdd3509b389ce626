"""Base class of this plugin's transformer recommenders (LinRec, EASRec's compact net, DSL).

Embedding, scoring and losses follow RecBole's SASRec: item + position embedding → LayerNorm →
dropout → transformer stack → the output at the last real position → scores against the item
embedding table (``loss_type: CE``, cross-entropy over all items, EASRec eq. 12–14; ``sampled_ce``,
the target against K sampled negatives, :mod:`~recbole_easrec.model.sampled_softmax`; ``auto``, CE
up to ``sampled_ce_above_items`` items and ``sampled_ce`` above; or ``BPR``).
Subclasses build the stack (:meth:`build_encoder`) and may override :meth:`encode`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.model.loss import BPRLoss
from recbole.utils import InputType
from torch import Tensor, nn

from recbole_easrec.defaults import fill_missing_defaults
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.attention import (
    ATTENTION_TYPES,
    LINEAR_VARIANTS,
    attention_name,
    get_attention_kind,
)
from recbole_easrec.model.layers import (
    HIDDEN_ACTIVATIONS,
    TransformerStack,
    init_transformer_weights,
)
from recbole_easrec.model.sampled_softmax import (
    build_sampled_softmax,
    resolve_loss_type,
    validate_sampled_softmax,
)
from recbole_easrec.training_modes import TARGETS_FIELD, TRAIN_MODES
from recbole_easrec.validation import (
    require_choice,
    require_divisible,
    require_positive_int,
    require_probability,
)

LOSS_TYPES = ("auto", "CE", "sampled_ce", "BPR")


def validate_transformer_config(config: Any) -> None:
    """One-line :class:`~recbole_easrec.errors.ConfigError` for any invalid transformer setting."""
    require_positive_int(
        config, "n_layers", "n_heads", "hidden_size", "inner_size", "MAX_ITEM_LIST_LENGTH"
    )
    require_probability(config, "hidden_dropout_prob", "attn_dropout_prob")
    require_divisible(config, "hidden_size", "n_heads")
    require_choice(config, "attention_type", ATTENTION_TYPES)
    require_choice(config, "linear_variant", LINEAR_VARIANTS)
    kind = get_attention_kind(attention_name(config["attention_type"], config["linear_variant"]))
    if kind.causal_only and not is_causal(config):
        raise ConfigError(
            f"linear_variant {kind.name} runs forward in time and needs causal attention: set"
            " train_mode: autoregressive or causal_attention: True, or pick another variant"
        )
    require_choice(config, "hidden_act", sorted(HIDDEN_ACTIVATIONS))
    require_choice(config, "loss_type", LOSS_TYPES)
    validate_sampled_softmax(config)
    require_choice(config, "train_mode", TRAIN_MODES)


def is_causal(config: Any) -> bool:
    """Whether position t may read only positions ≤ t: ``causal_attention``, or forced by
    ``train_mode: autoregressive`` (a loss at every position must not see its own target)."""
    return bool(config["causal_attention"]) or config["train_mode"] == "autoregressive"


def layer_settings(config: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`~recbole_easrec.model.layers.TransformerLayer` read from
    ``config`` (widths, heads, attention kind, dropout, activation, causality)."""
    return {
        "hidden_size": config["hidden_size"],
        "inner_size": config["inner_size"],
        "n_heads": config["n_heads"],
        "attention_type": config["attention_type"],
        "linear_variant": config["linear_variant"],
        "hidden_dropout_prob": config["hidden_dropout_prob"],
        "attn_dropout_prob": config["attn_dropout_prob"],
        "hidden_act": config["hidden_act"],
        "layer_norm_eps": config["layer_norm_eps"],
        "causal": is_causal(config),
    }


def autoregressive_cross_entropy(hidden: Tensor, targets: Tensor, item_table: Tensor) -> Tensor:
    """Mean cross-entropy over every real position of ``hidden`` ``[batch, length, d]`` against all
    items (``targets`` ``[batch, length]``, 0 = padding, ignored)."""
    real = targets > 0
    return F.cross_entropy(hidden[real] @ item_table.t(), targets[real])


def sequence_output_once(model: nn.Module, item_seq: Tensor, lengths: Tensor) -> Tensor:
    """``model.forward(item_seq, lengths)``; in eval mode computed once per distinct sequence.

    RecBole's sampled evaluation (``uni100``, ``pop100``) repeats each user's sequence once per
    candidate item (101 rows a user), so sharing the representation gives the same scores ~100×
    cheaper. In training mode (dropout) every row keeps its own forward pass.
    """
    if model.training:
        return model.forward(item_seq, lengths)
    rows = torch.cat([item_seq, lengths[:, None]], dim=1)
    distinct, inverse = torch.unique(rows, dim=0, return_inverse=True)
    return model.forward(distinct[:, :-1], distinct[:, -1])[inverse]


class TransformerRecommender(SequentialRecommender):
    """SASRec-style next-item recommender over a configurable :class:`TransformerStack`.

    ``train_mode: autoregressive`` (:mod:`recbole_easrec.training_modes`) puts a loss at every
    position, so it **forces causal attention** (``self.causal`` is True whatever
    ``causal_attention`` says): otherwise position t would see its own target, item t+1. The
    model's evaluation is unchanged by the mode except for that causal mask (scores still come
    from the last real position). An unknown ``train_mode`` is a one-line ``ConfigError``
    (:func:`validate_transformer_config`).
    """

    input_type = InputType.POINTWISE
    validate_config = staticmethod(validate_transformer_config)
    supports_autoregressive = True  # reads TARGETS_FIELD in calculate_loss

    def __init__(self, config: Any, dataset: Any) -> None:
        fill_missing_defaults(config, type(self))
        self.validate_config(config)
        super().__init__(config, dataset)
        self.hidden_size: int = config["hidden_size"]
        self.loss_type: str = resolve_loss_type(config, self.n_items)
        self.initializer_range: float = config["initializer_range"]
        # autoregressive training puts a loss at every position: position t must not see t+1
        self.causal: bool = is_causal(config)

        self.item_embedding = nn.Embedding(self.n_items, self.hidden_size, padding_idx=0)
        self.position_embedding = nn.Embedding(self.max_seq_length, self.hidden_size)
        self.layer_norm = nn.LayerNorm(self.hidden_size, eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.encoder = self.build_encoder(config)
        self.loss_fct = BPRLoss() if self.loss_type == "BPR" else nn.CrossEntropyLoss()
        if self.loss_type == "sampled_ce":
            self.sampled_softmax = build_sampled_softmax(config, dataset, self.n_items)
        self.initialise()

    # --- construction ---------------------------------------------------------------------------

    def build_encoder(self, config: Any) -> nn.Module:
        """The transformer stack; it maps ``(x, key_padding_mask)`` to a list of layer outputs."""
        return TransformerStack(config["n_layers"], **layer_settings(config))

    def _init_weights(self, module: nn.Module) -> None:
        init_transformer_weights(module, self.initializer_range)

    def initialise(self) -> None:
        """Every weight drawn afresh (normal, std ``initializer_range``; LayerNorm 1 and 0)."""
        self.apply(self._init_weights)

    # --- forward --------------------------------------------------------------------------------

    def embed(self, item_seq: Tensor) -> Tensor:
        """Item + position embedding, LayerNorm and dropout: the input E of the stack."""
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = self.item_embedding(item_seq) + self.position_embedding(positions)
        return self.dropout(self.layer_norm(x))

    def encode(self, item_seq: Tensor) -> Tensor:
        """Hidden states at every position: ``[batch, length, hidden]``."""
        return self.encoder(self.embed(item_seq), item_seq > 0)[-1]

    def forward(self, item_seq: Tensor, item_seq_len: Tensor) -> Tensor:
        """The sequence representation: the hidden state at the last real item, ``[batch, hidden]``.

        With the shared stack the last layer runs at that position only (same result, less work);
        a subclass with another encoder gets the hidden state gathered from :meth:`encode`.
        """
        if type(self).encode is TransformerRecommender.encode and isinstance(
            self.encoder, TransformerStack
        ):
            last = self.encoder(self.embed(item_seq), item_seq > 0, item_seq_len - 1)[-1]
            return last[:, 0]
        return self.gather_indexes(self.encode(item_seq), item_seq_len - 1)

    def item_embeddings(self) -> Tensor:
        """The table that scores items (shared with the input embedding, as in SASRec)."""
        return self.item_embedding.weight

    # --- RecBole interface ----------------------------------------------------------------------

    def next_item_loss(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Mean loss of representations ``hidden`` ``[n, d]`` predicting ``targets`` ``[n]``:
        cross-entropy over every item, or the sampled softmax (``loss_type: sampled_ce``)."""
        if self.loss_type == "sampled_ce":
            return self.sampled_softmax(hidden, targets, self.item_embeddings())
        return self.loss_fct(hidden @ self.item_embeddings().t(), targets)

    def scored_positions(self, interaction: Any) -> tuple[Tensor, Tensor]:
        """The hidden states ``[n, d]`` at the positions the training loss scores and their target
        items ``[n]``: every real position (``train_mode: autoregressive``,
        :mod:`recbole_easrec.training_modes`) or each sequence's last one (prefix)."""
        if TARGETS_FIELD in interaction:
            targets = interaction[TARGETS_FIELD]
            real = targets > 0
            return self.encode(interaction[self.ITEM_SEQ])[real], targets[real]
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return seq_output, interaction[self.POS_ITEM_ID]

    def calculate_loss(self, interaction: Any) -> Tensor:
        hidden, targets = self.scored_positions(interaction)
        if self.loss_type == "BPR" and TARGETS_FIELD not in interaction:
            neg_items = interaction[self.NEG_ITEM_ID]
            pos_score = (hidden * self.item_embedding(targets)).sum(-1)
            neg_score = (hidden * self.item_embedding(neg_items)).sum(-1)
            return self.loss_fct(pos_score, neg_score)
        return self.next_item_loss(hidden, targets)

    def predict(self, interaction: Any) -> Tensor:
        """Scores of (sequence, item) pairs (the encoder once per distinct sequence in eval mode,
        :func:`sequence_output_once`)."""
        seq_output = sequence_output_once(
            self, interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        )
        return (seq_output * self.item_embedding(interaction[self.ITEM_ID])).sum(-1)

    def full_sort_predict(self, interaction: Any) -> Tensor:
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return seq_output @ self.item_embeddings().t()
