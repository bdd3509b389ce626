"""``search_method: proxylessnas``: binary gates, the two-path estimator, the resource term."""

from __future__ import annotations

import pytest
import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic import Mixture
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.methods.proxylessnas import (
    binary_gate_gradient,
    binary_gates,
    expected_flops_fraction,
    keep_pair_mass,
    resource_loss,
    sample_pair,
)
from recbole_easrec.search.space import Architecture, enumerate_space
from recbole_easrec.trainer.easrec import EASRecTrainer
from tests.test_easrec import build_config_for, build_model, random_batch, snapshot, validate_easrec

pytestmark = pytest.mark.usefixtures("one_thread")


def expected_loss(logits: torch.Tensor, path_losses: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(logits, 0) * path_losses).sum()


@pytest.mark.parametrize("size", [2, 3, 5])
def test_estimator_is_the_gradient_of_the_expected_loss_when_linear_in_the_gates(size) -> None:
    """For L = Σ_j g_j L_j, ∂L/∂g_j = L_j whatever gate is open, and the estimator must equal
    the finite-difference gradient of E[L] = Σ_j softmax(α)_j L_j."""
    generator = torch.Generator().manual_seed(size)
    logits = torch.randn(size, generator=generator, dtype=torch.float64)
    path_losses = torch.rand(size, generator=generator, dtype=torch.float64) * 3
    estimate = binary_gate_gradient(logits, path_losses)
    step = 1e-6
    for i in range(size):
        shift = torch.zeros(size, dtype=torch.float64)
        shift[i] = step
        numeric = (
            expected_loss(logits + shift, path_losses) - expected_loss(logits - shift, path_losses)
        ) / (2 * step)
        assert estimate[i].item() == pytest.approx(numeric.item(), rel=1e-6, abs=1e-9)


def test_sampled_pairs_are_distinct_follow_the_probabilities_and_open_one_of_them() -> None:
    logits = torch.tensor([2.0, 0.0, -2.0])
    generator = torch.Generator().manual_seed(0)
    opened = torch.zeros(3)
    for _ in range(3000):
        pair, gate = sample_pair(logits, generator)
        assert len(set(pair)) == 2 and gate in pair
        opened[gate] += 1
    assert opened[0] > opened[1] > opened[2]
    assert sample_pair(torch.zeros(1), generator) == ([0], 0)


def test_keeping_the_pair_mass_leaves_unsampled_probabilities_alone() -> None:
    logits = torch.tensor([0.3, -0.2, 1.0, 0.5])
    before_probs = torch.softmax(logits, 0)
    pair = [0, 2]
    before = logits[pair].clone()
    logits[pair] += torch.tensor([0.7, -0.4])  # an optimiser step on the pair
    keep_pair_mass(logits, pair, before)
    after = torch.softmax(logits, 0)
    assert torch.allclose(after[[1, 3]], before_probs[[1, 3]], atol=1e-6)
    assert after[0] / after[2] > before_probs[0] / before_probs[2]  # the step still counts


def test_resource_terms_are_neutral_at_the_target_and_grow_with_flops() -> None:
    ce = torch.tensor(2.0)
    for form in ("add", "mul_log"):
        at_target = resource_loss(ce, torch.tensor(0.4), 0.4, 10**6, form, 0.2, 0.2, 0.3)
        neutral = ce if form == "add" else 0.2 * ce
        assert at_target.item() == pytest.approx(neutral.item())
        above = resource_loss(ce, torch.tensor(0.8), 0.4, 10**6, form, 0.2, 0.2, 0.3)
        assert above > at_target
    fractions = {Architecture(c, d): (c + 1) * d / 6 for c, d in [(0, 1), (0, 2), (1, 1), (1, 2)]}
    alpha = torch.zeros(2, requires_grad=True)
    beta = torch.zeros(2, requires_grad=True)
    expected = expected_flops_fraction(alpha, beta, fractions)
    assert expected.item() == pytest.approx(sum(fractions.values()) / 4)
    expected.backward()
    assert alpha.grad[1] > 0 > alpha.grad[0] and beta.grad[1] > 0  # wider, deeper cost more


def test_a_closed_gate_still_has_the_gradient_of_opening_it(tiny_run_config, tmp_path) -> None:
    """Both paths of a pair are evaluated: ∂L/∂g of the closed gate matches a finite difference."""
    torch.manual_seed(0)
    model, _ = build_model(tiny_run_config, tmp_path, n_layers=2)
    model.eval()  # no dropout: L is a deterministic function of the gates
    batch = random_batch(model, 1)

    def loss(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return model.recommendation_loss(batch, Mixture(p, q, (0, 2), (0, 1)))

    p = torch.tensor([1.0, 0.0, 0.0]).requires_grad_()
    q = torch.tensor([0.0, 1.0]).requires_grad_()
    loss(p, q).backward()
    step = 1e-2
    with torch.no_grad():
        opened = loss(torch.tensor([1.0, 0.0, step]), torch.tensor([0.0, 1.0]))
        closed = loss(torch.tensor([1.0, 0.0, -step]), torch.tensor([0.0, 1.0]))
    numeric = (opened - closed) / (2 * step)
    assert p.grad[2].item() == pytest.approx(numeric.item(), rel=2e-2, abs=1e-4)
    assert p.grad[1].item() == 0.0  # not in the pair: never evaluated
    assert q.grad[0].item() != 0.0  # the closed exit after layer 1 too


def test_architecture_step_moves_alpha_beta_only(tiny_run_config, tmp_path) -> None:
    model, config = build_model(tiny_run_config, tmp_path, search_method="proxylessnas")
    trainer = EASRecTrainer(config, model)
    weights_before = snapshot(model.weight_parameters())
    arch_before = snapshot(model.architecture_parameters())
    entry = trainer.method.arch_step(random_batch(model, 0))
    assert 0 < entry["expected_flops_fraction"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(arch_before, model.architecture_parameters()))
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.weight_parameters()))
    loss = trainer.weight_step(random_batch(model, 1))
    assert loss > 0


def test_binary_gates_open_one_candidate_and_one_exit() -> None:
    gates = binary_gates(torch.zeros(3), torch.zeros(4), torch.Generator().manual_seed(0))
    assert gates.p.sum() == 1 and gates.q.sum() == 1 and gates.p.requires_grad
    assert int(gates.p.argmax()) in gates.candidates and int(gates.q.argmax()) in gates.exits
    assert len(gates.candidates) == len(gates.exits) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"proxyless_loss": "mul"},
        {"proxyless_target": 0},
        {"proxyless_target": 1.0},
        {"proxyless_lambda": -1},
        {"proxyless_beta": "x"},
    ],
)
def test_invalid_proxyless_settings_are_one_line_errors(tiny_run_config, tmp_path, overrides):
    config = build_config_for(tiny_run_config, tmp_path, search_method="proxylessnas", **overrides)
    with pytest.raises(ConfigError) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("form", ["mul_log", "add"])
def test_proxylessnas_end_to_end_picks_the_most_probable_path(tiny_run_config, form) -> None:
    config_dict = tiny_run_config(
        epochs=2,
        retrain_epochs=1,
        n_layers=2,
        search_method="proxylessnas",
        proxyless_loss=form,
        train_batch_size=16,
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    arch = result["architecture"]
    assert arch["search_method"] == "proxylessnas" and result["search_iterations"] > 0
    alpha, beta = arch["alpha"], arch["beta"]
    assert alpha != [1 / 3] * 3  # the architecture steps moved α
    best = max(enumerate_space(3, 2), key=lambda a: alpha[a.candidate] * beta[a.depth - 1])
    assert (arch["candidate"], arch["n_layers"]) == (best.candidate, best.depth)
