"""EASRec: gates, controllers, resource cost, supernet ↔ reconstruction, trainer, end to end."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from recbole.data.interaction import Interaction
from recbole.utils import init_seed

from recbole_easrec.config import build_config
from recbole_easrec.efficiency import count_flops, count_parameters
from recbole_easrec.errors import ConfigError
from recbole_easrec.model.easrec import EASRec
from recbole_easrec.model.elastic import ArchitectureController, CandidateGates
from recbole_easrec.quick_start import evaluate_saved_run, load_data, run_recbole_easrec
from recbole_easrec.saving import DatasetInfo, load_model
from recbole_easrec.search.arch_data import holdout_users
from recbole_easrec.search.controllers import gumbel_temperature
from recbole_easrec.search.methods.paper import PaperSearch
from recbole_easrec.search.reconstruct import compact_settings, reconstruct
from recbole_easrec.search.resource import layer_flops, resource_loss
from recbole_easrec.search.space import SearchSpace
from recbole_easrec.trainer.easrec import EASRecTrainer
from recbole_easrec.training_modes import TARGETS_FIELD, AutoregressiveLoader
from tests.conftest import tiny_config

N_ITEMS = 31
# Most tests here are about the paper's Algorithm 1 (α/β steps, λ, τ, warm-up): they ask for it
# explicitly, so that they keep testing it whatever EASRec.yaml's default search is.
PAPER_SEARCH = {"search_method": "paper", "flops_budget": None}


@pytest.fixture
def tiny_run_config(tiny_data: Path, tmp_path: Path):
    """conftest's factory with the paper's search unless a test overrides it."""

    def make(**overrides: object) -> dict:
        return tiny_config(tiny_data, tmp_path / "run", **{**PAPER_SEARCH, **overrides})

    return make


pytestmark = pytest.mark.usefixtures("one_thread")


def build_config_for(tiny_run_config, tmp_path: Path, **overrides):
    settings = tiny_run_config(checkpoint_dir=str(tmp_path / "ckpt"), **overrides)
    settings.pop("output_dir")
    return build_config("EASRec", "tiny", config_dict=settings)


def validate_easrec(config) -> None:
    """Every EASRec setting: the supernet's (the model) and the search's (the trainer)."""
    EASRec.validate_config(config)
    EASRecTrainer.validate_config(config)


def build_model(tiny_run_config, tmp_path: Path, **overrides) -> EASRec:
    defaults = {"n_layers": 3, "hidden_dropout_prob": 0.0, "attn_dropout_prob": 0.0}
    defaults.update(overrides)
    config = build_config_for(tiny_run_config, tmp_path, **defaults)
    return EASRec(config, DatasetInfo({"item_id": N_ITEMS})), config


def random_batch(model: EASRec, seed: int, batch: int = 8) -> Interaction:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 11, (batch,), generator=generator)
    seq = torch.randint(1, N_ITEMS, (batch, 10), generator=generator)
    seq[torch.arange(10)[None, :] >= lengths[:, None]] = 0
    return Interaction(
        {
            model.ITEM_SEQ: seq,
            model.ITEM_SEQ_LEN: lengths,
            model.POS_ITEM_ID: torch.randint(1, N_ITEMS, (batch,), generator=generator),
        }
    )


def perturb(model: EASRec) -> None:
    """Non-trivial LayerNorm and bias values: every weight but α, β moved by noise."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "controller" not in name:
                param.add_(torch.randn_like(param) * 0.1)


def set_choice(model: EASRec, candidate: int, depth: int) -> None:
    with torch.no_grad():
        model.controller.alpha.zero_()
        model.controller.alpha[candidate] = 1.0
        model.controller.beta.zero_()
        model.controller.beta[depth - 1] = 1.0


# --- parts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gate_layers", [2, 1, 0])
def test_gate_shapes_and_range(gate_layers: int) -> None:
    gates = CandidateGates(12, 24, gate_layers)
    delta_1, delta_2 = gates(torch.randn(5, 7, 12))
    if gate_layers == 0:
        assert delta_1 is None and delta_2 is None
        assert not list(gates.parameters())
        return
    assert delta_1.shape == (5, 7, 12) and delta_2.shape == (5, 7, 24)  # one δ per position
    for delta in (delta_1, delta_2):
        assert torch.all(delta > 0) and torch.all(delta < 2)


def test_controller_shapes_and_hard_selection() -> None:
    controller = ArchitectureController(3, 4)
    soft = controller.sample(0.5)
    p, q = soft.p, soft.q
    assert p.shape == (3,) and q.shape == (4,)
    assert torch.isclose(p.sum(), torch.tensor(1.0)) and torch.isclose(q.sum(), torch.tensor(1.0))
    with torch.no_grad():
        controller.alpha[2] = 3.0
        controller.beta[1] = 3.0
    hard = controller.hard()
    p, q = hard.p, hard.q
    assert p.tolist() == [0.0, 0.0, 1.0] and q.tolist() == [0.0, 1.0, 0.0, 0.0]
    assert controller.chosen_candidate() == 2 and controller.chosen_depth() == 2


def test_temperature_schedule() -> None:
    assert gumbel_temperature(0) == 1.0
    assert gumbel_temperature(10_000) == pytest.approx(0.5)
    assert gumbel_temperature(19_800) == pytest.approx(0.01)
    assert gumbel_temperature(10**7) == 0.01
    values = [gumbel_temperature(t) for t in range(0, 30_000, 1000)]
    assert values == sorted(values, reverse=True)


def test_resource_loss_prefers_small_and_shallow() -> None:
    costs = torch.tensor([1.0, 0.6, 0.3])
    q = torch.tensor([0.5, 0.5])
    big = resource_loss(torch.tensor([1.0, 0.0, 0.0]), q, costs, "static")
    small = resource_loss(torch.tensor([0.0, 0.0, 1.0]), q, costs, "static")
    assert small < big
    shallow = resource_loss(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 0.0]), costs)
    deep = resource_loss(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0]), costs)
    assert shallow < deep
    # dynamic = static · L_t / L
    dynamic = resource_loss(torch.tensor([1.0, 0.0, 0.0]), q, costs, "dynamic", chosen_depth=1)
    assert dynamic == pytest.approx(float(big) / 2)
    assert float(resource_loss(torch.ones(3) / 3, q, costs, "none")) == 0.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"hidden_prune_ratios": [0.0, 1.0, 0.5]},
        {"hidden_prune_ratios": [], "inner_prune_ratios": []},
        {"inner_prune_ratios": [0.0, -0.1, 0.5]},
        {"inner_prune_ratios": [0.0, 0.5]},
        {"n_layers": 0},
        {"gate_layers": 3},
        {"resource_constraint": "sometimes"},
        {"resource_lambda": -1},
        {"hidden_prune_ratios": [0.0, 0.3, 0.5]},  # keeps 11 dims, not divisible by 2 heads
        {"arch_data": "test"},
        {"arch_holdout_ratio": 0},
        {"arch_holdout_ratio": 1.0},
    ],
)
def test_invalid_search_configs_are_one_line_errors(tiny_run_config, tmp_path, overrides) -> None:
    config = build_config_for(tiny_run_config, tmp_path, **overrides)
    with pytest.raises(ConfigError) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


# --- supernet ↔ compact network -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "depth", "gate_layers", "attention_type"),
    [(1, 2, 2, "linear"), (2, 3, 1, "linear"), (0, 1, 0, "softmax"), (2, 2, 2, "softmax")],
)
def test_hard_path_equals_reconstructed_network(
    tiny_run_config, tmp_path, candidate, depth, gate_layers, attention_type
) -> None:
    torch.manual_seed(0)
    model, config = build_model(
        tiny_run_config, tmp_path, gate_layers=gate_layers, attention_type=attention_type
    )
    perturb(model)
    set_choice(model, candidate, depth)
    model.eval()
    compact = reconstruct(model, config).eval()
    settings = compact_settings(model)
    assert settings["candidate"] == candidate and settings["n_layers"] == depth
    hidden, inner = model.encoder.widths[candidate]
    assert compact.hidden_size == hidden and compact.item_embedding.weight.shape[1] == hidden
    assert len(compact.encoder.layers) == depth
    assert compact.encoder.layers[0].feed_forward.dense_1.out_features == inner
    batch = random_batch(model, 1)
    with torch.no_grad():
        expected = model.full_sort_predict(batch)
        actual = compact.full_sort_predict(batch)
        hidden_states = model.encode(batch[model.ITEM_SEQ])
    assert torch.allclose(expected, actual, atol=1e-5, rtol=1e-4)
    assert torch.all(hidden_states[..., hidden:] == 0)


def test_compact_flops_match_the_analytic_formula(tiny_run_config, tmp_path) -> None:
    model, config = build_model(tiny_run_config, tmp_path, attention_type="linear", gate_layers=2)
    set_choice(model, 1, 2)
    compact = reconstruct(model, config).eval()
    hidden, inner = model.encoder.widths[1]
    seq = torch.randint(1, N_ITEMS, (1, model.max_seq_length))
    counted = count_flops(lambda: compact.encode(seq))
    heads, causal = config["n_heads"], model.causal  # causal: the autoregressive default
    analytic = 2 * layer_flops(model.max_seq_length, hidden, inner, heads, "linrec", 2, causal)
    assert abs(counted - analytic) / analytic < 0.03
    costs = SearchSpace.of(model, config).candidate_costs
    assert costs[0] == 1.0 and costs[2] < costs[1]


# --- trainer ------------------------------------------------------------------------------------


def snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def test_weight_step_keeps_alpha_beta_and_arch_step_keeps_weights(tiny_run_config, tmp_path):
    model, config = build_model(tiny_run_config, tmp_path)
    trainer = EASRecTrainer(config, model)
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in model.architecture_parameters()}

    arch_before, weights_before = (
        snapshot(model.architecture_parameters()),
        snapshot(model.weight_parameters()),
    )
    trainer.weight_step(random_batch(model, 0))
    assert all(torch.equal(a, b) for a, b in zip(arch_before, model.architecture_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, model.weight_parameters()))

    arch_before, weights_before = (
        snapshot(model.architecture_parameters()),
        snapshot(model.weight_parameters()),
    )
    entry = trainer.method.arch_step(random_batch(model, 1))
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.weight_parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(arch_before, model.architecture_parameters()))
    assert entry["tau"] == gumbel_temperature(1) and len(entry["alpha"]) == 3
    assert entry["L_t"] == model.controller.chosen_depth()


def test_end_to_end_search_without_retraining(tiny_run_config) -> None:
    config_dict = tiny_run_config(epochs=2, retrain_epochs=0, n_layers=2)
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    run_dir = Path(config_dict["output_dir"])
    on_disk = json.loads((run_dir / "result.json").read_text())
    architecture = on_disk["architecture"]
    assert architecture["hidden_size"] in (16, 12, 8) and 1 <= architecture["n_layers"] <= 2
    assert sum(architecture["alpha"]) == pytest.approx(1.0)
    assert on_disk["search_valid_result"] == on_disk["best_valid_result"]
    trace = json.loads((run_dir / "search_trace.json").read_text())
    assert trace and {"alpha", "beta", "tau", "L_t", "ce_loss", "resource_loss"} <= trace[0].keys()
    assert (run_dir / "search_trace.png").stat().st_size > 0
    assert (
        on_disk["supernet_params"] > on_disk["efficiency"]["params"]
        or architecture["candidate"] == 0
    )

    model = load_model(run_dir)
    assert type(model).__name__ == "EASRecCompact"
    assert model.hidden_size == architecture["hidden_size"]
    assert len(model.encoder.layers) == architecture["n_layers"]
    assert model.encoder.gate_input == "token"  # EASRec.yaml's default, saved in model.json
    evaluated = evaluate_saved_run(run_dir)
    for metric, value in result["test_result"].items():
        assert evaluated["test_result"][metric] == pytest.approx(value, abs=1e-6)


def test_a_model_saved_with_the_old_sequence_gates_loads_with_causal_mean(
    tiny_run_config, caplog
) -> None:
    settings = tiny_run_config(epochs=1, retrain_epochs=1, gate_layers=2)
    run_dir = Path(settings["output_dir"])
    run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    description = json.loads((run_dir / "model.json").read_text())
    del description["config"]["gate_input"]  # as saved before issue 27
    (run_dir / "model.json").write_text(json.dumps(description))
    logging.getLogger().addHandler(caplog.handler)  # a run replaces the root logger's handlers
    with caplog.at_level("WARNING"):
        model = load_model(run_dir)
    assert model.encoder.gate_input == "causal_mean"
    assert "old whole-sequence gates" in caplog.text


def test_plain_darts_search_over_sasrec_blocks(tiny_run_config) -> None:
    """Table III's DARTS+SASRec: softmax attention, no gates, no resource term, then rebuild."""
    config_dict = tiny_run_config(
        epochs=1,
        retrain_epochs=0,
        n_layers=2,
        attention_type="softmax",
        gate_layers=0,
        resource_constraint="none",
    )
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    run_dir = Path(config_dict["output_dir"])
    trace = json.loads((run_dir / "search_trace.json").read_text())
    assert trace and all(entry["resource_loss"] == 0.0 for entry in trace)
    assert result["architecture"]["gate_layers"] == 0
    model = load_model(run_dir)
    assert {layer.attention.attention_type for layer in model.encoder.layers} == {"softmax"}
    assert not any("gate" in name for name, _ in model.named_parameters())


def test_end_to_end_with_retraining_replaces_the_model(tiny_run_config) -> None:
    config_dict = tiny_run_config(
        epochs=1, retrain_epochs=2, retrain_batch_size=32, n_layers=2, arch_update_freq=2
    )
    epochs: list[int] = []
    result = run_recbole_easrec(
        "EASRec",
        "tiny",
        config_dict=config_dict,
        epoch_callback=lambda epoch, score, metrics: epochs.append(epoch),
    )
    assert epochs == [0, 0, 1]  # one search epoch, then the two retraining epochs
    run_dir = Path(config_dict["output_dir"])
    assert (run_dir / "checkpoint_compact.pth").is_file()
    assert result["search_valid_result"] is not None
    valid_metric = "ndcg@10"
    assert result["best_valid_result"][valid_metric] >= result["search_valid_result"][valid_metric]
    assert result["efficiency"]["params"] == count_parameters(load_model(run_dir))
    evaluated = evaluate_saved_run(run_dir)  # the retrained compact net, reloaded, scores the same
    for metric, value in result["test_result"].items():
        assert evaluated["test_result"][metric] == pytest.approx(value, abs=1e-6)


def test_autoregressive_retraining_reads_retrain_batch_size(tiny_run_config, monkeypatch) -> None:
    """Searching at ``train_batch_size`` users a batch, retraining at ``retrain_batch_size``
    (the retraining loader was rewrapped at the search's size before, so the setting did nothing)."""
    sizes: list[int] = []
    batch = AutoregressiveLoader.batch

    def record(loader: AutoregressiveLoader, rows: torch.Tensor) -> Interaction:
        sizes.append(len(rows))
        return batch(loader, rows)

    monkeypatch.setattr(AutoregressiveLoader, "batch", record)
    config_dict = tiny_run_config(
        epochs=1,
        retrain_epochs=1,
        train_batch_size=32,
        retrain_batch_size=8,
        train_mode="autoregressive",
    )
    run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    users = 60
    search, retrain = sizes[:2], sizes[2:]  # 60 users: 32 + 28, then 7 × 8 + 4
    assert search == [32, users - 32]
    assert max(retrain) == 8 and sum(retrain) == users and len(retrain) == 8


# --- import order -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["recbole_easrec.trainer", "recbole_easrec.search.supernet"])
def test_package_imports_in_any_order(module: str) -> None:
    """Imported first in a fresh interpreter (no circular import between model/ and search/)."""
    code = f"import {module}; from recbole_easrec.model import EASRec; print(EASRec.__name__)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr.splitlines()[-1:]
    assert done.stdout.strip() == "EASRec"


# --- arch_data: holdout -------------------------------------------------------------------------


def test_holdout_users_are_seeded_and_proper() -> None:
    user_ids = torch.arange(1, 41).repeat_interleave(3)
    chosen = holdout_users(user_ids, 0.25, seed=7)
    assert len(chosen) == 10 and set(chosen.tolist()) <= set(range(1, 41))
    assert torch.equal(chosen, holdout_users(user_ids, 0.25, seed=7))
    assert not torch.equal(chosen, holdout_users(user_ids, 0.25, seed=8))
    assert len(holdout_users(user_ids, 0.001, seed=0)) == 1
    assert len(holdout_users(user_ids, 0.999, seed=0)) == 39
    with pytest.raises(ConfigError):
        holdout_users(torch.ones(5, dtype=torch.long), 0.5, seed=0)


def write_disjoint_dataset(folder: Path, n_users: int = 24, length: int = 10) -> Path:
    """Dataset ``disjoint``: user u's items are ``i{u}x0 … i{u}x{length-1}`` (no item shared), so
    every item id names its user."""
    dataset_dir = folder / "disjoint"
    dataset_dir.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(1, n_users + 1):
        lines += [f"u{user}\ti{user}x{step}\t{user * 100 + step}" for step in range(length)]
    (dataset_dir / "disjoint.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def users_of_batch(interaction: Interaction, item_tokens) -> list[str]:
    """The user of every row of a training batch, read off its items (one user per row)."""
    ids = [interaction["item_id_list"]]
    ids.append(
        interaction[TARGETS_FIELD]
        if TARGETS_FIELD in interaction
        else interaction["item_id"][:, None]
    )
    rows = torch.cat(ids, dim=1)
    users = []
    for row in rows.tolist():
        owners = {item_tokens[i].split("x")[0].replace("i", "u", 1) for i in row if i}
        assert len(owners) == 1
        users.append(owners.pop())
    return users


@pytest.mark.parametrize("train_mode", ["prefix", "autoregressive"])
def test_holdout_search_end_to_end(tmp_path, monkeypatch, train_mode: str) -> None:
    """Weight steps never see a held-out user, architecture steps see only held-out users; the
    run finishes in both train modes and records ``arch_data``."""
    batches: dict[str, list] = {"weight": [], "arch": []}
    seen: dict[str, object] = {}
    weight_step, architecture_step = EASRecTrainer.weight_step, PaperSearch.arch_step

    def record_weight(self, interaction):
        batches["weight"].append(interaction.to("cpu"))
        seen["trainer"] = self
        return weight_step(self, interaction)

    def record_arch(self, interaction):
        batches["arch"].append(interaction.to("cpu"))
        return architecture_step(self, interaction)

    monkeypatch.setattr(EASRecTrainer, "weight_step", record_weight)
    monkeypatch.setattr(PaperSearch, "arch_step", record_arch)
    config_dict = tiny_config(
        write_disjoint_dataset(tmp_path / "data"),
        tmp_path / "run",
        epochs=2,
        retrain_epochs=1,
        n_layers=2,
        train_batch_size=16,
        arch_data="holdout",
        arch_holdout_ratio=0.25,
        train_mode=train_mode,
        **PAPER_SEARCH,
    )
    result = run_recbole_easrec("EASRec", "disjoint", config_dict=config_dict)

    trainer = seen["trainer"]
    dataset = trainer.arch_batches.loader._dataset
    item_tokens = dataset.field2id_token["item_id"]
    held = set(dataset.field2id_token["user_id"][trainer.holdout_users.tolist()])
    assert len(held) == 6
    weight_users = {u for b in batches["weight"] for u in users_of_batch(b, item_tokens)}
    arch_users = {u for b in batches["arch"] for u in users_of_batch(b, item_tokens)}
    assert batches["arch"] and arch_users <= held
    assert weight_users and not weight_users & held
    assert len(weight_users) == 24 - 6  # every other user trains W
    architecture = json.loads((tmp_path / "run" / "result.json").read_text())["architecture"]
    assert architecture["arch_data"] == "holdout" and architecture["arch_holdout_users"] == 6
    assert result["best_valid_result"] and result["test_result"]


# --- λ ------------------------------------------------------------------------------------------


def search_flops(config, data, resource_lambda: float) -> tuple[int, dict]:
    """Search with ``resource_lambda`` (no retraining); FLOPs of the selected compact encoder."""
    train_data, valid_data, _ = data
    config["resource_lambda"] = resource_lambda
    init_seed(config["seed"], True)
    model = EASRec(config, train_data._dataset)
    trainer = EASRecTrainer(config, model)
    trainer.fit(train_data, valid_data, verbose=False, saved=False)
    compact = trainer.model.eval()
    seq = torch.randint(1, compact.n_items, (1, compact.max_seq_length))
    return count_flops(lambda: compact.encode(seq)), trainer.architecture


def test_bigger_lambda_never_selects_a_bigger_architecture(tiny_run_config, tmp_path) -> None:
    config = build_config_for(
        tiny_run_config, tmp_path, epochs=2, retrain_epochs=0, n_layers=2, arch_learning_rate=0.05
    )
    data = load_data(config)
    searched = [search_flops(config, data, value) for value in (0.0, 1.0, 50.0)]
    flops = [count for count, _ in searched]
    assert flops == sorted(flops, reverse=True)
    # λ = 0 keeps the full width here; a large λ drives the search to the cheapest architecture
    assert flops[0] > flops[-1]
    assert searched[-1][1]["candidate"] == 2 and searched[-1][1]["n_layers"] == 1


def test_architecture_batches_are_cut_to_arch_batch_size(tiny_run_config, monkeypatch) -> None:
    sizes: list[int] = []
    original = PaperSearch.arch_step

    def recording_step(self, interaction):
        sizes.append(len(interaction))
        return original(self, interaction)

    monkeypatch.setattr(PaperSearch, "arch_step", recording_step)
    config_dict = tiny_run_config(
        epochs=1, retrain_epochs=0, n_layers=1, eval_batch_size=64, arch_batch_size=7
    )
    run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    # one architecture step per weight step; validation batches of 60 users are cut into 7s
    assert sizes and max(sizes) == 7 and min(sizes) >= 1


def test_invalid_arch_batch_size_is_a_one_line_error(tiny_run_config) -> None:
    with pytest.raises(ConfigError, match="arch_batch_size must be a positive integer"):
        run_recbole_easrec("EASRec", "tiny", config_dict=tiny_run_config(arch_batch_size=0))


def test_gumbel_tau_decay_sets_the_annealing_speed(tiny_run_config) -> None:
    assert gumbel_temperature(10, decay=0.05) == pytest.approx(0.5)
    config_dict = tiny_run_config(epochs=1, retrain_epochs=0, n_layers=1, gumbel_tau_decay=0.1)
    run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    trace = json.loads((Path(config_dict["output_dir"]) / "search_trace.json").read_text())
    taus = [entry["tau"] for entry in trace]
    assert taus == [gumbel_temperature(entry["iteration"], 0.1) for entry in trace]
    assert taus[0] < 1.0 and taus[0] != gumbel_temperature(trace[0]["iteration"])


def test_negative_gumbel_tau_decay_is_a_one_line_error(tiny_run_config) -> None:
    with pytest.raises(ConfigError, match="gumbel_tau_decay must be a number >= 0"):
        run_recbole_easrec("EASRec", "tiny", config_dict=tiny_run_config(gumbel_tau_decay=-1))


def test_arch_warmup_epochs_train_weights_before_any_architecture_step(tiny_run_config) -> None:
    config_dict = tiny_run_config(epochs=3, retrain_epochs=0, n_layers=2, arch_warmup_epochs=2)
    result = run_recbole_easrec("EASRec", "tiny", config_dict=config_dict)
    trace = json.loads((Path(config_dict["output_dir"]) / "search_trace.json").read_text())
    per_epoch = result["search_iterations"] // 3
    assert trace, "the epoch after the warm-up updates α and β"
    assert min(entry["iteration"] for entry in trace) > 2 * per_epoch


def test_warmup_epochs_never_choose_the_checkpoint() -> None:
    trainer = SimpleNamespace(
        config={"arch_warmup_epochs": 2}, cur_step=5, best_valid_score=0.9, valid_metric_bigger=True
    )
    assert EASRecTrainer.warming_up(trainer, 0) and trainer.cur_step == 0  # patience held
    trainer.cur_step = 1
    assert EASRecTrainer.warming_up(trainer, 1) and trainer.cur_step == 0
    assert trainer.best_valid_score == 0.9
    assert not EASRecTrainer.warming_up(trainer, 2)  # first search epoch: warm-up best forgotten
    assert trainer.best_valid_score == -float("inf") and trainer.cur_step == 0
    trainer.best_valid_score, trainer.cur_step = 0.5, 3
    assert not EASRecTrainer.warming_up(trainer, 3)
    assert (trainer.best_valid_score, trainer.cur_step) == (0.5, 3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arch_warmup_epochs": 2, "epochs": 2}, "arch_warmup_epochs \\(2\\) must be smaller"),
        ({"arch_warmup_epochs": -1}, "arch_warmup_epochs must be an integer >= 0"),
    ],
)
def test_invalid_arch_warmup_epochs_are_one_line_errors(tiny_run_config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run_recbole_easrec("EASRec", "tiny", config_dict=tiny_run_config(**overrides))
