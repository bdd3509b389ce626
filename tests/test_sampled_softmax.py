"""``loss_type: sampled_ce``: the target against K shared, log-Q corrected negatives."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.sampled_softmax import (
    SampledSoftmaxLoss,
    resolve_loss_type,
    target_popularity,
)
from recbole_easrec.quick_start import run_recbole_easrec

N_ITEMS = 12


def full_ce_without_padding(hidden, targets, table):
    """Cross-entropy over items 1 … |I|−1 (the sampled softmax never draws padding)."""
    return F.cross_entropy((hidden @ table.t())[:, 1:], targets - 1)


def popularity(n_items: int = N_ITEMS) -> torch.Tensor:
    weights = torch.arange(n_items, dtype=torch.float32)  # item 0 (padding) has none
    return weights / weights.sum()


def fixed_negatives(loss: SampledSoftmaxLoss, items: torch.Tensor) -> None:
    loss.negatives = len(items)
    loss.draw_negatives = lambda: items


def test_every_item_once_uniform_is_full_cross_entropy() -> None:
    """K = |I| − 1 uniform draws: Q = 1 for every item, the target's own draw is masked, so the
    candidates are exactly the catalogue."""
    torch.manual_seed(0)
    hidden, table = torch.randn(5, 4), torch.randn(N_ITEMS, 4)
    targets = torch.tensor([1, 3, 3, 7, 11])
    loss = SampledSoftmaxLoss(popularity(), negatives=1, distribution="uniform")
    fixed_negatives(loss, torch.arange(1, N_ITEMS))
    full = full_ce_without_padding(hidden, targets, table)
    assert torch.allclose(loss(hidden, targets, table), full, atol=1e-6)


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_many_negatives_converge_to_full_cross_entropy(distribution) -> None:
    """Σ_k exp(s_k)/Q(k) estimates the full partition function: the log-Q corrected loss tends
    to full CE as K grows; without the correction a popularity sampler would not."""
    torch.manual_seed(1)
    hidden, table = torch.randn(6, 4) * 2, torch.randn(N_ITEMS, 4)
    targets = torch.tensor([2, 5, 5, 8, 10, 11])
    full = full_ce_without_padding(hidden, targets, table)
    loss = SampledSoftmaxLoss(popularity(), 200_000, distribution)
    assert torch.allclose(loss(hidden, targets, table), full, rtol=0.02)


def test_log_q_correction_matters_for_popularity_sampling() -> None:
    """The same popularity-drawn negatives with a uniform (constant) correction miss full CE."""
    torch.manual_seed(2)
    hidden, table = torch.randn(6, 4) * 2, torch.randn(N_ITEMS, 4)
    targets = torch.tensor([2, 5, 5, 8, 10, 11])
    full = full_ce_without_padding(hidden, targets, table)
    loss = SampledSoftmaxLoss(popularity(), 200_000, "popularity")
    negatives = loss.draw_negatives()
    fixed_negatives(loss, negatives)
    corrected = loss(hidden, targets, table)
    positive = (hidden * table[targets]).sum(-1, keepdim=True)
    sampled = hidden @ table[negatives].t() - math.log(len(negatives) / (N_ITEMS - 1))
    sampled = sampled.masked_fill(negatives[None, :] == targets[:, None], -math.inf)
    naive = F.cross_entropy(torch.cat([positive, sampled], 1), torch.zeros_like(targets))
    assert abs(corrected - full) < 0.02 * full
    assert abs(naive - full) > 5 * abs(corrected - full)


def test_accidental_hits_are_masked() -> None:
    hidden, table = torch.randn(3, 4), torch.randn(N_ITEMS, 4)
    targets = torch.tensor([4, 4, 4])
    loss = SampledSoftmaxLoss(popularity(), 1, "popularity")
    fixed_negatives(loss, torch.tensor([4, 4, 4, 4]))  # only the target itself was drawn
    assert loss(hidden, targets, table).item() == pytest.approx(0.0, abs=1e-7)


def test_in_batch_negatives_match_a_direct_computation() -> None:
    torch.manual_seed(3)
    hidden, table = torch.randn(4, 4), torch.randn(N_ITEMS, 4)
    targets = torch.tensor([3, 6, 6, 9])
    p = popularity()
    loss = SampledSoftmaxLoss(p, 1, "popularity", in_batch=True)
    fixed_negatives(loss, torch.tensor([2, 9]))
    value = loss(hidden, targets, table)
    expected = 0.0
    for row, target in enumerate(targets.tolist()):
        logits = [float(hidden[row] @ table[target])]  # the target, not corrected
        for item in (2, 9):  # sampled: Q = K·p
            if item != target:
                logits.append(float(hidden[row] @ table[item]) - math.log(2 * p[item]))
        for item in targets.tolist():  # the batch's targets: Q = B·p, own item masked
            if item != target:
                logits.append(float(hidden[row] @ table[item]) - math.log(4 * p[item]))
        expected += -torch.log_softmax(torch.tensor(logits), 0)[0].item() / 4
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_popularity_sampler_follows_target_counts_and_never_draws_padding() -> None:
    torch.manual_seed(4)
    dataset = SimpleNamespace(
        iid_field="item_id", inter_feat={"item_id": torch.tensor([1] * 90 + [2] * 10)}
    )
    p = target_popularity(dataset, 5)
    assert p[0] == 0 and p.sum().item() == pytest.approx(1.0)
    assert p[1] / p[2] == pytest.approx(91 / 11)  # one pseudo-count each
    assert p[3] > 0 and p[4] > 0  # never a target, still drawable
    loss = SampledSoftmaxLoss(p, 20_000, "popularity")
    draws = torch.bincount(loss.draw_negatives(), minlength=5).float() / 20_000
    assert draws[0] == 0
    assert torch.allclose(draws, p, atol=0.01)


def test_resolve_loss_type() -> None:
    config = {"loss_type": "auto", "sampled_ce_above_items": 100}
    assert resolve_loss_type(config, 100) == "CE"
    assert resolve_loss_type(config, 101) == "sampled_ce"
    assert resolve_loss_type({**config, "sampled_ce_above_items": None}, 10**6) == "CE"
    assert resolve_loss_type({**config, "loss_type": "CE"}, 10**6) == "CE"
    assert resolve_loss_type({**config, "loss_type": "sampled_ce"}, 5) == "sampled_ce"


@pytest.fixture
def sampled_softmax_calls(monkeypatch) -> list[int]:
    """The number of rows of every sampled-softmax loss computed while the test runs."""
    calls: list[int] = []
    original = SampledSoftmaxLoss.forward

    def counting(self, hidden, targets, table):
        calls.append(hidden.shape[0])
        return original(self, hidden, targets, table)

    monkeypatch.setattr(SampledSoftmaxLoss, "forward", counting)
    return calls


@pytest.mark.parametrize("model", ["LinRec", "EASRec"])
@pytest.mark.parametrize("train_mode", ["autoregressive", "prefix"])
def test_models_train_with_sampled_ce_and_rank_exactly(
    tiny_run_config, sampled_softmax_calls, model, train_mode
):
    """Both training modes, EASRec's weight and α/β steps included; evaluation is full ranking."""
    settings = {"loss_type": "sampled_ce", "sampled_negatives": 8, "train_mode": train_mode}
    result = run_recbole_easrec(model, "tiny", config_dict=tiny_run_config(**settings))
    assert sampled_softmax_calls, "the sampled softmax was never used"
    assert all(math.isfinite(value) for value in result["test_result"].values())


def test_auto_switches_above_the_threshold(tiny_run_config, sampled_softmax_calls):
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(loss_type="auto"))
    assert not sampled_softmax_calls  # the tiny catalogue is far below the default threshold
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(sampled_ce_above_items=2))
    assert sampled_softmax_calls


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sampled_negatives", 0, "sampled_negatives must be a positive integer"),
        ("sampled_negatives", "many", "sampled_negatives must be a positive integer"),
        ("negative_distribution", "zipf", "negative_distribution must be one of"),
        ("in_batch_negatives", "yes", "in_batch_negatives must be True or False"),
        ("sampled_ce_above_items", -1, "sampled_ce_above_items must be"),
        ("loss_type", "sampled", "loss_type"),
    ],
)
def test_invalid_settings_are_one_line_errors(tiny_run_config, key, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(**{key: value}))
    assert "\n" not in str(error.value)
