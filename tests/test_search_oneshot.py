"""``search_method: oneshot``: single-path weight steps, regularised evolution, the choice."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from recbole_easrec.errors import ConfigError
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.evolution import architecture_mutation, regularized_evolution
from recbole_easrec.search.methods import SEARCH_METHODS
from recbole_easrec.search.space import Architecture, enumerate_space, uniform_path
from recbole_easrec.trainer.easrec import EASRecTrainer
from tests.test_easrec import build_config_for, build_model, random_batch, snapshot, validate_easrec

pytestmark = pytest.mark.usefixtures("one_thread")


def toy_fitness(arch: Architecture) -> float:
    """One peak at candidate 3, depth 4, falling off with the distance to it."""
    return -float((arch.candidate - 3) ** 2 + (arch.depth - 4) ** 2)


def test_evolution_finds_the_peak_of_a_toy_fitness_and_scores_each_architecture_once() -> None:
    space = enumerate_space(6, 8)  # 48 architectures
    calls: Counter[Architecture] = Counter()

    def fitness(arch: Architecture) -> float:
        calls[arch] += 1
        return toy_fitness(arch)

    result = regularized_evolution(
        space, fitness, architecture_mutation(6, 8), 8, 4, 60, torch.Generator().manual_seed(0)
    )
    assert result.best == Architecture(3, 4) and result.fitness == 0.0
    assert max(calls.values()) == 1  # cached: a validation pass per distinct architecture
    assert len(result.scored) == len(calls) < len(space)  # it did not need the whole space


def test_evolution_without_cycles_keeps_the_best_of_the_initial_population() -> None:
    space = enumerate_space(6, 8)
    result = regularized_evolution(
        space, toy_fitness, architecture_mutation(6, 8), 5, 2, 0, torch.Generator().manual_seed(1)
    )
    assert len(result.scored) <= 5
    assert result.fitness == max(score for _, score in result.scored)


def test_aging_removes_the_oldest_not_the_worst() -> None:
    """With a tournament of the whole population, the child of the best member is appended and the
    oldest member — here the best itself — is dropped, so the population forgets the best."""
    space = [Architecture(0, 1), Architecture(0, 2)]
    fitness = {Architecture(0, 1): 1.0, Architecture(0, 2): 0.0}
    seen = []

    def mutate(arch: Architecture, _: torch.Generator) -> Architecture:
        seen.append(arch)
        return Architecture(0, 2)

    generator = torch.Generator().manual_seed(0)
    result = regularized_evolution([space[0]], fitness.__getitem__, mutate, 1, 1, 3, generator)
    assert result.best == Architecture(0, 1)  # the fittest ever scored, though no longer alive
    assert seen == [Architecture(0, 1), Architecture(0, 2), Architecture(0, 2)]


def test_mutation_changes_exactly_one_gene_within_the_space() -> None:
    mutate, generator = architecture_mutation(3, 4), torch.Generator().manual_seed(0)
    genes = Counter()
    for arch in enumerate_space(3, 4):
        for _ in range(20):
            child = mutate(arch, generator)
            assert 0 <= child.candidate < 3 and 1 <= child.depth <= 4
            changed = (child.candidate != arch.candidate, child.depth != arch.depth)
            assert sum(changed) == 1
            genes[changed] += 1
    assert len(genes) == 2  # both genes mutate
    assert architecture_mutation(1, 1)(Architecture(0, 1), generator) == Architecture(0, 1)


def test_invalid_tournament_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        regularized_evolution([Architecture(0, 1)], toy_fitness, lambda a, g: a, 2, 3, 1, None)


def test_uniform_path_draws_every_architecture_about_equally() -> None:
    fractions = {arch: 1.0 for arch in enumerate_space(3, 4)}
    generator = torch.Generator().manual_seed(0)
    counts = Counter(uniform_path(fractions, generator) for _ in range(2400))
    assert set(counts) == set(fractions)
    assert max(counts.values()) < 1.3 * 200 and min(counts.values()) > 0.7 * 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"evolution_population": 0},
        {"evolution_sample": 0},
        {"evolution_cycles": -1},
        {"evolution_population": 4, "evolution_sample": 5},
        {"evolution_cycles": "many"},
        {"random_samples": 0},
    ],
)
def test_invalid_evolution_settings_are_one_line_errors(tiny_run_config, tmp_path, overrides):
    config = build_config_for(tiny_run_config, tmp_path, search_method="oneshot", **overrides)
    with pytest.raises(ConfigError) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


def test_oneshot_step_trains_one_path_and_leaves_alpha_beta(tiny_run_config, tmp_path) -> None:
    model, config = build_model(tiny_run_config, tmp_path, search_method="oneshot", gate_layers=2)
    trainer = EASRecTrainer(config, model)
    arch_before = snapshot(model.architecture_parameters())
    weights_before = snapshot(model.weight_parameters())
    loss = trainer.weight_step(random_batch(model, 0))
    assert loss > 0 and trainer.iteration == 1
    assert all(torch.equal(a, b) for a, b in zip(arch_before, model.architecture_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, model.weight_parameters()))
    # one path: the gates of exactly one width candidate got gradients in the first layer
    graded = [
        any(p.grad is not None and p.grad.abs().sum() > 0 for p in gate.parameters())
        for gate in model.encoder.gates[0]
    ]
    assert sum(graded) == 1


def chosen_record(result: dict) -> dict:
    arch = result["architecture"]
    return next(
        s
        for s in result["shared_weight_scores"]
        if (s["candidate"], s["n_layers"]) == (arch["candidate"], arch["n_layers"])
    )


def test_oneshot_end_to_end_scores_the_space_and_keeps_the_best(tiny_run_config) -> None:
    config_dict = tiny_run_config(
        epochs=2, retrain_epochs=1, n_layers=2, search_method="oneshot", flops_budget=0.5
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    scores = result["shared_weight_scores"]
    assert len(scores) == 6  # 6 <= evolution_population: every architecture scored
    assert result["architecture"]["search_method"] == "oneshot"
    eligible = [s["valid_score"] for s in scores if s["flops_fraction"] <= 0.5]
    assert chosen_record(result)["valid_score"] == max(eligible)
    assert result["architecture"]["flops_fraction"] <= 0.5


def test_oneshot_evolves_when_the_space_exceeds_the_population(tiny_run_config) -> None:
    config_dict = tiny_run_config(
        epochs=1,
        retrain_epochs=0,
        n_layers=3,
        search_method="oneshot",
        evolution_population=2,
        evolution_sample=1,
        evolution_cycles=2,
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    scores = result["shared_weight_scores"]
    assert 1 <= len(scores) <= 4 < 9  # at most the population plus one child a cycle
    assert len({(s["candidate"], s["n_layers"]) for s in scores}) == len(scores)
    assert chosen_record(result)["valid_score"] == max(s["valid_score"] for s in scores)


def test_random_search_trains_distinct_candidates_from_scratch_and_keeps_the_best(
    tiny_run_config,
) -> None:
    config_dict = tiny_run_config(
        epochs=4, retrain_epochs=1, n_layers=2, search_method="random", random_samples=3
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    scores = result["shared_weight_scores"]
    assert len(scores) == 3 and all(s["epochs"] == 1 for s in scores)  # 4 // 3 epochs each
    assert len({(s["candidate"], s["n_layers"]) for s in scores}) == 3
    assert all(s["valid_score"] > 0 for s in scores)  # each candidate learned something
    assert result["architecture"]["search_method"] == "random"
    assert chosen_record(result)["valid_score"] == max(s["valid_score"] for s in scores)
    assert result["search_iterations"] == 0  # the supernet itself is never trained


def test_random_search_draws_no_more_than_the_budget_allows(tiny_run_config) -> None:
    config_dict = tiny_run_config(
        epochs=2,
        retrain_epochs=0,
        n_layers=2,
        search_method="random",
        random_samples=10,
        flops_budget=0.3,
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    scores = result["shared_weight_scores"]
    assert 1 <= len(scores) < 6 and all(s["flops_fraction"] <= 0.3 for s in scores)


@pytest.mark.parametrize(
    ("setting", "method", "n_items", "scores"),
    [
        ("auto", "paper", 3_707, True),  # ML-1M: the diagnostic is cheap
        ("auto", "paper", 165_001, False),  # Gowalla: 12 full-ranking passes, skipped
        ("auto", "proxylessnas", 165_001, False),
        ("auto", "oneshot", 165_001, True),  # its choice reads the scores
        ("auto", "sandwich", 165_001, True),
        (True, "paper", 165_001, True),
        (False, "sandwich", 100, False),
    ],
)
def test_score_architectures_setting(setting, method, n_items, scores) -> None:
    from types import SimpleNamespace

    trainer = SimpleNamespace(
        config={"score_architectures": setting},
        supernet=SimpleNamespace(n_items=n_items),
        space=None,
    )
    assert SEARCH_METHODS[method](trainer).scores_architectures() is scores


def test_search_without_scoring_still_chooses_by_alpha_beta(tiny_run_config) -> None:
    config_dict = tiny_run_config(epochs=1, retrain_epochs=1, n_layers=2, score_architectures=False)
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    assert result["shared_weight_scores"] == []
    assert result["architecture"]["n_layers"] in (1, 2)


def test_bad_score_architectures_is_a_config_error(tiny_run_config) -> None:
    config_dict = tiny_run_config(epochs=1, score_architectures="sometimes")
    with pytest.raises(ConfigError, match="score_architectures must be auto, True or False"):
        run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
