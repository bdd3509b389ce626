"""train_mode: autoregressive — causality, loss equivalence with prefix mode, end to end."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recbole_easrec.config import build_config
from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.saving import DatasetInfo
from recbole_easrec.training_modes import TARGETS_FIELD, longest_prefix_rows, shifted_targets

N_ITEMS = 20


def make_model(attention_type: str, train_mode: str = "autoregressive"):
    torch.manual_seed(0)
    settings = {
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 2,
        "n_heads": 2,
        "MAX_ITEM_LIST_LENGTH": 8,
        "attention_type": attention_type,
        "train_mode": train_mode,
        "hidden_dropout_prob": 0.0,
        "attn_dropout_prob": 0.0,
    }
    config = build_config("LinRec", "tiny", config_dict=settings)
    return config.model_class(config, DatasetInfo({"item_id": N_ITEMS})).eval()


@pytest.mark.parametrize("attention_type", ["linear", "softmax"])
def test_autoregressive_mode_is_causal(attention_type):
    model = make_model(attention_type)
    items = torch.tensor([[3, 5, 7, 9, 11, 13, 15, 17]])
    changed = items.clone()
    changed[0, 5:] = torch.tensor([1, 2, 4])
    with torch.no_grad():
        before, after = model.encode(items), model.encode(changed)
    assert torch.allclose(before[:, :5], after[:, :5], atol=1e-6)
    assert not torch.allclose(before[:, 5:], after[:, 5:], atol=1e-3)


@pytest.mark.parametrize("attention_type", ["linear", "softmax"])
def test_autoregressive_loss_equals_prefix_losses(attention_type):
    model = make_model(attention_type)
    items = torch.tensor([[3, 5, 7, 9, 11, 0, 0, 0], [2, 4, 6, 8, 10, 12, 14, 16]])
    lengths = torch.tensor([5, 8])
    final_targets = torch.tensor([13, 18])
    targets = shifted_targets(items, lengths, final_targets)
    prefix_losses = []
    with torch.no_grad():
        for row in range(2):
            for t in range(int(lengths[row])):
                prefix = torch.zeros(1, 8, dtype=torch.long)
                prefix[0, : t + 1] = items[row, : t + 1]
                seq_output = model.forward(prefix, torch.tensor([t + 1]))
                logits = seq_output @ model.item_embeddings().t()
                prefix_losses.append(F.cross_entropy(logits, targets[row, t : t + 1]))
        autoregressive = model.calculate_loss({model.ITEM_SEQ: items, TARGETS_FIELD: targets})
    assert autoregressive == pytest.approx(torch.stack(prefix_losses).mean().item(), rel=1e-5)


def test_longest_prefix_and_targets():
    users = torch.tensor([1, 1, 1, 2, 2, 1])
    lengths = torch.tensor([1, 2, 3, 1, 2, 3])  # user 1's last two prefixes truncated to 3
    assert longest_prefix_rows(users, lengths).tolist() == [5, 4]
    items = torch.tensor([[4, 5, 6, 0]])
    assert shifted_targets(items, torch.tensor([3]), torch.tensor([7])).tolist() == [[5, 6, 7, 0]]


def test_unknown_train_mode_rejected():
    with pytest.raises(ConfigError, match="train_mode must be one of prefix, autoregressive"):
        make_model("linear", train_mode="sliding")


def test_autoregressive_run_end_to_end(tiny_run_config):
    result = run_recbole_easrec(
        "LinRec",
        "tiny",
        config_dict=tiny_run_config(
            train_mode="autoregressive", epochs=30, learning_rate=0.01, hidden_dropout_prob=0.0
        ),
    )
    assert result["config"]["train_mode"] == "autoregressive"
    assert result["test_result"]["recall@10"] > 0.6  # popularity gives about 10/30
