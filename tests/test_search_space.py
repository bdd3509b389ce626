"""EASRec's search space: FLOPs budget, choice, sandwich rule, shared-weight scoring, and the
filtered full-ranking protocol (``eval_exclude_history``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_easrec.efficiency import count_flops
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.attention import ATTENTION_KINDS
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.saving import load_model
from recbole_easrec.search.reconstruct import reconstruct
from recbole_easrec.search.space import (
    Architecture,
    SearchSpace,
    choose,
    enumerate_space,
    flops_fractions,
    sandwich_paths,
    within_budget,
)
from recbole_easrec.trainer.easrec import EASRecTrainer
from tests.test_easrec import (
    N_ITEMS,
    build_config_for,
    build_model,
    random_batch,
    snapshot,
    validate_easrec,
)

WIDTHS = [(16, 32), (12, 24), (8, 16)]


pytestmark = pytest.mark.usefixtures("one_thread")


def fractions_of_default_space() -> dict[Architecture, float]:
    return flops_fractions(WIDTHS, 3, 10, 2, "linrec", 2, n_items=31)


# --- the space and its cost ---------------------------------------------------------------------


def test_space_fractions_grow_with_width_and_depth() -> None:
    fractions = fractions_of_default_space()
    assert sorted(fractions) == enumerate_space(3, 3) and len(fractions) == 9
    assert fractions[Architecture(0, 3)] == 1.0
    for candidate in range(3):
        depths = [fractions[Architecture(candidate, d)] for d in (1, 2, 3)]
        assert depths == sorted(depths) and depths[2] - depths[1] == pytest.approx(
            depths[1] - depths[0]
        )
    assert (
        fractions[Architecture(2, 1)]
        < fractions[Architecture(1, 1)]
        < fractions[Architecture(0, 1)]
    )


def test_budget_filters_and_an_impossible_budget_names_the_smallest() -> None:
    fractions = fractions_of_default_space()
    kept = within_budget(fractions, 0.3)
    assert kept and all(fractions[arch] <= 0.3 for arch in kept)
    assert set(kept) == {arch for arch, f in fractions.items() if f <= 0.3}
    assert within_budget(fractions, None) == sorted(fractions)
    smallest = min(fractions.values())
    with pytest.raises(ConfigError, match=f"{smallest:.4f}") as error:
        within_budget(fractions, smallest / 2)
    assert "\n" not in str(error.value)


def test_choose_respects_budget_and_tolerance() -> None:
    fractions = fractions_of_default_space()
    scores = {arch: fractions[arch] for arch in fractions}  # bigger is better here
    assert choose(scores, fractions) == Architecture(0, 3)
    chosen = choose(scores, fractions, budget=0.3)
    assert fractions[chosen] <= 0.3
    assert chosen == max(within_budget(fractions, 0.3), key=lambda a: fractions[a])
    # within 100 % of the best every architecture qualifies: the cheapest wins
    cheapest = min(fractions, key=fractions.get)
    assert choose(scores, fractions, tolerance=0.999) == cheapest
    flat = {arch: 0.5 for arch in fractions}
    flat[Architecture(1, 2)] = 0.504  # within 1 % of it, cheaper ones exist
    assert choose(flat, fractions, tolerance=0.01) == cheapest
    assert choose(flat, fractions, tolerance=0.0) == Architecture(1, 2)


def test_sandwich_always_holds_largest_and_smallest() -> None:
    fractions = fractions_of_default_space()
    generator = torch.Generator().manual_seed(0)
    largest, smallest = Architecture(0, 3), Architecture(2, 1)
    drawn = set()
    for _ in range(50):
        paths = sandwich_paths(fractions, generator, n_random=2)
        assert paths[:2] == [largest, smallest] and len(paths) == 4
        drawn.update(paths[2:])
    assert len(drawn) >= 6  # uniform draws cover most of the 9 architectures


@pytest.mark.parametrize(
    "overrides",
    [
        {"search_method": "evolution"},
        {"flops_budget": 0.0},
        {"flops_budget": 1.5},
        {"flops_budget": "small"},
        {"selection_tolerance": -0.1},
        {"selection_tolerance": 1.0},
        {"sandwich_random_paths": -1},
    ],
)
def test_invalid_selection_settings_are_one_line_errors(tiny_run_config, tmp_path, overrides):
    config = build_config_for(tiny_run_config, tmp_path, n_layers=3, **overrides)
    with pytest.raises(ConfigError) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


def test_a_budget_no_architecture_meets_is_refused_by_the_search(tiny_run_config, tmp_path):
    model, config = build_model(tiny_run_config, tmp_path, flops_budget=0.01)
    with pytest.raises(ConfigError, match="smallest possible is") as error:
        EASRecTrainer(config, model)
    assert "\n" not in str(error.value)


FLOPS_CASES = [
    (kind, train_mode)
    for kind in ATTENTION_KINDS
    for train_mode in ("prefix", "autoregressive")
    if train_mode == "autoregressive" or not ATTENTION_KINDS[kind].causal_only
]


@pytest.mark.parametrize("kind,train_mode", FLOPS_CASES)
def test_inference_flops_equal_the_counted_flops_of_every_compact_network(
    tiny_run_config, tmp_path, kind, train_mode
) -> None:
    """``flops_fraction`` is built on the count ``result.json`` reports (efficiency.flops), causal
    attention (autoregressive training) included, for every attention kind of the registry."""
    attention = (
        {"attention_type": "softmax"}
        if kind == "softmax"
        else {"attention_type": "linear", "linear_variant": kind}
    )
    model, config = build_model(tiny_run_config, tmp_path, train_mode=train_mode, **attention)
    model.eval()
    seq = torch.randint(1, N_ITEMS, (1, model.max_seq_length))
    lengths = torch.tensor([model.max_seq_length])
    counted = {}
    fractions = SearchSpace.of(model, config).fractions
    for arch in sorted(fractions):
        compact = reconstruct(model, config, arch).eval()
        batch = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: lengths})
        counted[arch] = count_flops(lambda c=compact, b=batch: c.full_sort_predict(b))
    largest = max(counted.values())
    for arch, fraction in fractions.items():
        assert counted[arch] / largest == pytest.approx(fraction, rel=1e-6)


# --- the supernet on a fixed path ----------------------------------------------------------------


def test_fixed_path_equals_the_reconstructed_network(tiny_run_config, tmp_path) -> None:
    """A fixed path (as shared-weight scoring names it, ``model.using(arch)``, or passed to
    ``encode``) computes what the compact network does."""
    torch.manual_seed(0)
    model, config = build_model(tiny_run_config, tmp_path)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "controller" not in name:
                param.add_(torch.randn_like(param) * 0.1)
    model.eval()
    batch = random_batch(model, 3)
    for arch in (Architecture(1, 2), Architecture(2, 3), Architecture(0, 1)):
        compact = reconstruct(model, config, arch).eval()
        assert compact.hidden_size == model.encoder.widths[arch.candidate][0]
        assert len(compact.encoder.layers) == arch.depth
        with torch.no_grad(), model.using(arch):
            expected = model.full_sort_predict(batch)
        with torch.no_grad():
            actual = compact.full_sort_predict(batch)
            explicit = model.encode(batch[model.ITEM_SEQ], arch)
        assert torch.allclose(expected, actual, atol=1e-5, rtol=1e-4)
        hidden = compact.encode(batch[model.ITEM_SEQ])
        assert torch.allclose(explicit[..., : hidden.shape[-1]], hidden, atol=1e-5, rtol=1e-4)
    # outside the block the supernet computes the controllers' choice again
    assert model.mixture().p.tolist() == model.controller.hard().p.tolist()


def test_sandwich_step_trains_weights_only(tiny_run_config, tmp_path):
    model, config = build_model(tiny_run_config, tmp_path, search_method="sandwich", gate_layers=2)
    trainer = EASRecTrainer(config, model)
    arch_before = snapshot(model.architecture_parameters())
    weights_before = snapshot(model.weight_parameters())
    loss = trainer.weight_step(random_batch(model, 0))
    assert loss > 0
    assert all(torch.equal(a, b) for a, b in zip(arch_before, model.architecture_parameters()))
    changed = [not torch.equal(a, b) for a, b in zip(weights_before, model.weight_parameters())]
    assert sum(changed) > len(changed) // 2
    # the narrowest candidate's gates were trained: the smallest path is in every step
    narrow_gate = model.encoder.gates[0][2].input_gate.net[0].weight
    assert narrow_gate.grad is not None and narrow_gate.grad.abs().sum() > 0


# --- end to end ----------------------------------------------------------------------------------


def read_result(config_dict: dict) -> dict:
    return json.loads((Path(config_dict["output_dir"]) / "result.json").read_text())


def test_sandwich_search_scores_every_architecture_and_keeps_the_budget(tiny_run_config):
    config_dict = tiny_run_config(
        epochs=2, retrain_epochs=1, n_layers=2, search_method="sandwich", flops_budget=0.4
    )
    run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    result = read_result(config_dict)
    scores = result["shared_weight_scores"]
    assert len(scores) == 6  # 3 candidates × 2 depths
    assert {(s["candidate"], s["n_layers"]) for s in scores} == {
        (c, d) for c in range(3) for d in (1, 2)
    }
    assert all(0 <= s["valid_score"] <= 1 and "ndcg@10" in s["valid_result"] for s in scores)
    architecture = result["architecture"]
    assert architecture["search_method"] == "sandwich"
    assert architecture["flops_fraction"] <= 0.4
    eligible = [s for s in scores if s["flops_fraction"] <= 0.4]
    best = max(s["valid_score"] for s in eligible)
    chosen = next(
        s
        for s in scores
        if (s["candidate"], s["n_layers"]) == (architecture["candidate"], architecture["n_layers"])
    )
    assert chosen["valid_score"] == best  # selection_tolerance 0: the best within the budget
    # shared-weight score of the chosen path = the transferred compact network's (before retraining)
    assert result["search_valid_result"]["ndcg@10"] == pytest.approx(
        chosen["valid_result"]["ndcg@10"], abs=1e-6
    )
    model = load_model(Path(config_dict["output_dir"]))
    assert len(model.encoder.layers) == architecture["n_layers"]


def test_paper_search_with_a_budget_picks_the_most_probable_path_under_it(tiny_run_config):
    config_dict = tiny_run_config(
        epochs=1, retrain_epochs=0, n_layers=2, flops_budget=0.3, search_method="paper"
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    architecture = result["architecture"]
    assert architecture["search_method"] == "paper" and architecture["flops_fraction"] <= 0.3
    alpha, beta = architecture["alpha"], architecture["beta"]
    eligible = [s for s in result["shared_weight_scores"] if s["flops_fraction"] <= 0.3]
    probability = {
        (s["candidate"], s["n_layers"]): alpha[s["candidate"]] * beta[s["n_layers"] - 1]
        for s in eligible
    }
    assert probability[(architecture["candidate"], architecture["n_layers"])] == max(
        probability.values()
    )


def test_history_exclusion_removes_seen_items_from_the_ranking(tiny_run_config) -> None:
    """On the cycle dataset the next item never repeats within the input window, so filtering can
    only raise the target's rank; and it changes the ranking of an untrained-enough model."""
    plain = tiny_run_config(epochs=1)
    filtered = {**plain, "output_dir": plain["output_dir"] + "-filtered"}
    filtered["eval_exclude_history"] = True
    a = run_recbole_easrec("LinRec", "tiny", config_dict=plain)
    b = run_recbole_easrec("LinRec", "tiny", config_dict=filtered)
    for metric in ("recall@10", "ndcg@10", "mrr@10"):
        assert b["test_result"][metric] >= a["test_result"][metric] - 1e-9
    assert b["test_result"] != a["test_result"]


def test_history_exclusion_masks_exactly_the_sequence_items(tiny_run_config, tmp_path) -> None:
    from recbole.data.interaction import Interaction

    from recbole_easrec.trainer.base import EasRecBaseTrainer

    model, config = build_model(tiny_run_config, tmp_path)
    config["eval_exclude_history"] = True
    trainer = EasRecBaseTrainer(config, model)
    trainer.tot_item_num = model.n_items
    seq = torch.tensor([[3, 5, 0, 0], [7, 7, 8, 0]])
    batch = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: torch.tensor([2, 3])})
    model.eval()
    _, scores, _, _ = trainer._full_sort_batch_eval((batch, None, None, None))
    masked = torch.isinf(scores)
    assert masked[0].nonzero().flatten().tolist() == [0, 3, 5]
    assert masked[1].nonzero().flatten().tolist() == [0, 7, 8]


def test_the_default_search_is_the_papers(tiny_run_config, tmp_path):
    """EASRec.yaml's defaults (chosen from benchmarks/results/space_truth_ml100k.md)."""
    model, config = build_model(tiny_run_config, tmp_path)
    assert config["search_method"] == "paper" and config["flops_budget"] is None
    assert config["selection_tolerance"] == 0.0


def test_the_registry_is_the_only_list_of_search_methods() -> None:
    """``search_method`` names map to one class each; the α/β methods listed for the benchmarks
    are exactly the registry's bilevel ones; every method's settings are keys of EASRec.yaml."""
    from recbole_easrec.defaults import PROPERTIES_DIR, read_yaml_file
    from recbole_easrec.search.methods import SEARCH_METHODS
    from recbole_easrec.search.space import BILEVEL_METHODS

    assert {name for name, method in SEARCH_METHODS.items() if method.bilevel} == set(
        BILEVEL_METHODS
    )
    assert all(method.name == name for name, method in SEARCH_METHODS.items())
    shipped = read_yaml_file(PROPERTIES_DIR / "model" / "EASRec.yaml")
    for method in SEARCH_METHODS.values():
        assert set(method.settings) <= set(shipped), method.name


def test_an_unknown_search_method_is_a_one_line_error(tiny_run_config, tmp_path) -> None:
    config = build_config_for(tiny_run_config, tmp_path, search_method="darts")
    with pytest.raises(ConfigError, match="search_method must be one of paper") as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)
