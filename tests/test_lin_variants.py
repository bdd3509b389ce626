"""LinFDSA and LinSASRecF: RecBole's feature-aware models with the shared linear attention."""

from __future__ import annotations

import pytest
import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.layers import TransformerStack
from recbole_easrec.model.lin_sasrecf import RecBoleEncoderAdapter
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset

FEATURES = {
    "load_col": {
        "inter": ["user_id", "item_id", "timestamp"],
        "item": ["item_id", "category", "tags"],
    },
    "selected_features": ["category", "tags"],  # a token and a token_seq feature
}


@pytest.fixture
def feature_data(tmp_path):
    return write_cycle_dataset(tmp_path / "data", with_item_features=True)


@pytest.mark.parametrize("model", ["LinFDSA", "LinSASRecF"])
def test_lin_variant_trains_and_uses_linear_attention(model, feature_data, tmp_path):
    config = tiny_config(feature_data, tmp_path / model, epochs=2, **FEATURES)
    result = run_recbole_easrec(model, "tiny", config_dict=config)
    assert result["config"]["attention_type"] == "linear"
    assert 0 < result["test_result"]["ndcg@10"] <= 1
    assert result["efficiency"]["params"] > 0


def test_adapter_matches_stack_and_ignores_padding():
    torch.manual_seed(0)
    kwargs = dict(hidden_size=8, inner_size=16, n_heads=2, attention_type="linear")
    adapter = RecBoleEncoderAdapter(2, **kwargs).eval()
    stack = TransformerStack(2, **kwargs).eval()
    stack.load_state_dict(adapter.state_dict())
    x = torch.randn(2, 5, 8)
    real = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    # RecBole's causal additive mask: 0 where allowed, -10000 elsewhere.
    causal = torch.tril(real[:, None, None, :].expand(-1, 1, 5, -1))
    additive = torch.where(causal, 0.0, -10000.0)
    with torch.no_grad():
        ours = adapter(x, additive)
        expected = stack(x, real)
        changed = x.clone()
        changed[0, 3:] = torch.randn(2, 8)
        padded_changed = adapter(changed, additive)[-1]
    assert len(ours) == 2 and torch.allclose(ours[-1], expected[-1])
    assert torch.allclose(padded_changed[0, :3], ours[-1][0, :3], atol=1e-6)
    assert len(adapter(x, additive, output_all_encoded_layers=False)) == 1


def test_lin_variant_swaps_encoder_and_keeps_recbole_parts(feature_data, tmp_path):
    from recbole_easrec.config import build_config
    from recbole_easrec.model import LinFDSA
    from recbole_easrec.quick_start import load_data

    config = build_config("LinFDSA", "tiny", None, tiny_config(feature_data, **FEATURES))
    model = LinFDSA(config, load_data(config)[0]._dataset)
    assert isinstance(model.item_trm_encoder, RecBoleEncoderAdapter)
    assert isinstance(model.feature_trm_encoder, RecBoleEncoderAdapter)
    assert model.item_trm_encoder is not model.feature_trm_encoder
    attention = model.item_trm_encoder.layers[0].attention
    assert attention.attention_type == "linear"


def test_missing_feature_column_is_a_one_line_error(feature_data, tmp_path):
    config = tiny_config(
        feature_data, tmp_path / "bad", selected_features=["colour"], load_col=FEATURES["load_col"]
    )
    with pytest.raises(ConfigError, match="selected_features .*colour.* load_col"):
        run_recbole_easrec("LinSASRecF", "tiny", config_dict=config)


def build_lin_sasrecf(feature_data, **overrides):
    from recbole_easrec.config import build_config
    from recbole_easrec.model import LinSASRecF
    from recbole_easrec.quick_start import load_data

    config = build_config(
        "LinSASRecF", "tiny", None, tiny_config(feature_data, **FEATURES, **overrides)
    )
    train_data = load_data(config)[0]
    return LinSASRecF(config, train_data._dataset).eval(), next(iter(train_data))


def test_lin_sasrecf_forward_is_recbole_sasrecf_forward(feature_data):
    from recbole.model.sequential_recommender.sasrecf import SASRecF

    torch.manual_seed(0)
    model, batch = build_lin_sasrecf(feature_data)
    item_seq, lengths = batch[model.ITEM_SEQ], batch[model.ITEM_SEQ_LEN]
    with torch.no_grad():
        ours = model.forward(item_seq, lengths)
        recbole = SASRecF.forward(model, item_seq, lengths)
    assert torch.allclose(ours, recbole, atol=1e-6)


def test_lin_sasrecf_autoregressive_loss_and_causality(feature_data):
    from recbole_easrec.training_modes import TARGETS_FIELD

    torch.manual_seed(0)
    model, batch = build_lin_sasrecf(feature_data, train_mode="autoregressive")
    item_seq, lengths = batch[model.ITEM_SEQ], batch[model.ITEM_SEQ_LEN]
    with torch.no_grad():
        hidden = model.encode(item_seq)
        changed = item_seq.clone()
        changed[:, -1] = 1  # a later item must not reach earlier positions
        assert torch.allclose(model.encode(changed)[:, :-1], hidden[:, :-1], atol=1e-6)
        # targets only at each last real position = RecBole's prefix loss on the same batch
        targets = torch.zeros_like(item_seq)
        targets[torch.arange(len(lengths)), lengths - 1] = batch[model.POS_ITEM_ID]
        batch.update(type(batch)({TARGETS_FIELD: targets}))
        autoregressive = model.calculate_loss(batch)
        del batch.interaction[TARGETS_FIELD]
        prefix = model.calculate_loss(batch)
    assert torch.allclose(autoregressive, prefix, atol=1e-5)


def test_lin_sasrecf_trains_autoregressively_and_lin_fdsa_refuses(feature_data, tmp_path):
    config = tiny_config(feature_data, tmp_path / "ar", train_mode="autoregressive", **FEATURES)
    result = run_recbole_easrec("LinSASRecF", "tiny", config_dict=config)
    assert 0 < result["test_result"]["ndcg@10"] <= 1
    with pytest.raises(ConfigError, match="autoregressive is not available for LinFDSA"):
        run_recbole_easrec("LinFDSA", "tiny", config_dict=config)


def test_lin_sasrecf_sampled_predict_shares_the_encoder(feature_data):
    from recbole.data.interaction import Interaction
    from recbole.model.sequential_recommender.sasrecf import SASRecF

    torch.manual_seed(0)
    model, batch = build_lin_sasrecf(feature_data)
    repeat = 4  # RecBole's sampled evaluation: one row per (user, candidate item)
    item_seq = batch[model.ITEM_SEQ][:3].repeat_interleave(repeat, dim=0)
    rows = Interaction(
        {
            model.ITEM_SEQ: item_seq,
            model.ITEM_SEQ_LEN: batch[model.ITEM_SEQ_LEN][:3].repeat_interleave(repeat),
            model.ITEM_ID: torch.randint(1, model.n_items, (len(item_seq),)),
        }
    )
    with torch.no_grad():
        assert torch.allclose(model.predict(rows), SASRecF.predict(model, rows), atol=1e-6)
