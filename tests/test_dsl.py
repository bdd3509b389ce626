"""DSL: masks, schedule, prune/regrow, sparse export, the trainer's budget, end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_easrec.config import build_config
from recbole_easrec.errors import CheckpointError, ConfigError
from recbole_easrec.model.dsl import DSL
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.saving import DatasetInfo, load_model, save_model
from recbole_easrec.sparse.export import (
    SPARSE_FILE,
    choose_format,
    export_bytes,
    export_formats,
    export_sparse,
    format_sizes,
    import_sparse,
    load_export,
    save_export,
)
from recbole_easrec.sparse.masks import layer_densities, random_masks
from recbole_easrec.sparse.prune_regrow import clear_adam_state, prune_regrow
from recbole_easrec.sparse.schedule import update_fraction
from recbole_easrec.trainer.dsl import DSLTrainer

N_ITEMS = 31


def build(tiny_run_config, tmp_path: Path, **overrides):
    """A DSL model and its trainer without loading data (items 1..30)."""
    settings = tiny_run_config(checkpoint_dir=str(tmp_path / "ckpt"), **overrides)
    settings.pop("output_dir")
    config = build_config("DSL", "tiny", config_dict=settings)
    model = DSL(config, DatasetInfo({"item_id": N_ITEMS}))
    return model, DSLTrainer(config, model)


def random_batch(model: DSL, seed: int) -> Interaction:
    generator = torch.Generator().manual_seed(seed)
    seq = torch.randint(1, N_ITEMS, (16, 10), generator=generator)
    return Interaction(
        {
            model.ITEM_SEQ: seq,
            model.ITEM_SEQ_LEN: torch.full((16,), 10),
            model.POS_ITEM_ID: torch.randint(1, N_ITEMS, (16,), generator=generator),
        }
    )


def train_steps(model: DSL, trainer: DSLTrainer, steps: int) -> None:
    trainer.total_steps = steps
    model.train()
    for step in range(steps):
        trainer.optimizer.zero_grad()
        model.calculate_loss(random_batch(model, step)).backward()
        trainer.optimizer.step()
        for _, param, mask in model.masked_parameters():
            assert torch.all(param[~mask] == 0), "masked weight moved"
            state = trainer.optimizer.state[param]
            assert torch.all(state["exp_avg"][~mask] == 0)
            assert torch.all(state["exp_avg_sq"][~mask] == 0)


def test_schedule_cosine_decay_to_zero_at_stop() -> None:
    assert update_fraction(0, 100, 0.5, 0.5) == pytest.approx(0.5)
    assert update_fraction(25, 100, 0.5, 0.5) == pytest.approx(0.25)
    assert update_fraction(10, 100, 0.5, 0.5) == pytest.approx(0.25 * (1 + math.cos(math.pi / 5)))
    assert update_fraction(50, 100, 0.5, 0.5) == 0.0
    assert update_fraction(99, 100, 0.5, 0.5) == 0.0
    values = [update_fraction(t, 100, 0.5, 0.5) for t in range(50)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_prune_regrow_picks_smallest_weights_and_largest_gradients() -> None:
    weight = torch.tensor([[0.5, -0.1, 0.0, 0.0], [0.3, 0.0, -0.02, 0.0]])
    mask = torch.tensor([[True, True, False, False], [True, False, True, False]])
    grad = torch.tensor([[9.0, 9.0, 0.2, -3.0], [9.0, 1.0, 9.0, 0.5]])
    pruned, regrown = prune_regrow(weight, mask, grad, fraction=0.5)
    # active 4 → k 2: prune |w| smallest among active (-0.02 at 6, -0.1 at 1);
    # regrow largest |g| among previously inactive (-3 at 3, 1.0 at 5)
    assert sorted(pruned.tolist()) == [1, 6]
    assert sorted(regrown.tolist()) == [3, 5]
    expected = torch.tensor([[True, False, False, True], [True, True, False, False]])
    assert torch.equal(mask, expected)
    assert torch.equal(weight, torch.tensor([[0.5, 0.0, 0.0, 0.0], [0.3, 0.0, 0.0, 0.0]]))


def test_clear_adam_state_zeroes_inactive_and_regrown() -> None:
    mask = torch.tensor([True, False, True, True])
    state = {"exp_avg": torch.ones(4), "exp_avg_sq": torch.ones(4), "step": torch.tensor(3.0)}
    clear_adam_state(state, mask, regrown=torch.tensor([2]))
    assert state["exp_avg"].tolist() == [1, 0, 0, 1]
    assert state["exp_avg_sq"].tolist() == [1, 0, 0, 1]


def test_erk_keeps_the_budget_and_makes_large_tables_sparser() -> None:
    shapes = {"table": torch.Size([1000, 16]), "square": torch.Size([16, 16])}
    densities = layer_densities(shapes, 0.2, "erk")
    active = sum(densities[n] * s.numel() for n, s in shapes.items())
    assert active == pytest.approx(0.2 * sum(s.numel() for s in shapes.values()))
    assert densities["table"] < 0.2 < densities["square"] <= 1.0


@pytest.mark.parametrize("density", [0, -0.1, 1.5])
def test_invalid_density_is_a_one_line_config_error(tiny_run_config, density: float) -> None:
    with pytest.raises(ConfigError) as info:
        run_recbole_easrec("DSL", "tiny", config_dict=tiny_run_config(density=density))
    message = str(info.value)
    assert "density" in message and "\n" not in message


@pytest.mark.parametrize("init", ["uniform", "erk"])
def test_masks_stay_zero_and_budget_is_fixed_under_adam(tiny_run_config, tmp_path, init) -> None:
    model, trainer = build(tiny_run_config, tmp_path, density=0.3, update_interval=2, dsl_init=init)
    masks_before = {n: m.clone() for n, m in model.mask_dict().items()}
    budget = trainer.active_count()
    assert budget == pytest.approx(0.3 * sum(m.numel() for m in masks_before.values()), rel=0.02)
    train_steps(model, trainer, steps=8)
    # T_stop = 0.75 · 8 = 6 steps: updates at steps 2 and 4; ζ is 0 from step 6 on
    assert [entry["step"] for entry in trainer.trace] == [2, 4]
    assert all(entry["active"] == budget for entry in trainer.trace)
    assert all(entry["pruned"] == entry["regrown"] > 0 for entry in trainer.trace)
    assert trainer.active_count() == budget
    changed = any(not torch.equal(masks_before[n], m) for n, m in model.mask_dict().items())
    assert changed


def test_static_sparsity_never_moves_masks(tiny_run_config, tmp_path) -> None:
    model, trainer = build(
        tiny_run_config, tmp_path, density=0.3, update_interval=1, dsl_static=True
    )
    masks_before = {n: m.clone() for n, m in model.mask_dict().items()}
    train_steps(model, trainer, steps=4)
    assert trainer.trace == []
    assert all(torch.equal(masks_before[n], m) for n, m in model.mask_dict().items())


def test_sparse_export_round_trip(tiny_run_config, tmp_path) -> None:
    model, trainer = build(tiny_run_config, tmp_path, density=0.3, update_interval=2)
    train_steps(model, trainer, steps=4)
    exported = export_sparse(model.state_dict(), model.mask_dict(), skip=model.mask_buffer_names())
    path = save_export(exported, tmp_path / SPARSE_FILE)
    state, masks = import_sparse(load_export(path))
    fresh, _ = build(tiny_run_config, tmp_path, density=0.3, seed=7)
    for name, mask in masks.items():
        getattr(fresh.masks, name.replace(".", "__")).copy_(mask)
    fresh.load_state_dict(state, strict=False)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    dense_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    assert export_bytes(exported) < dense_bytes


def test_end_to_end_run_writes_sparsity_and_trace(tiny_run_config, tmp_path) -> None:
    result = run_recbole_easrec(
        "DSL",
        "tiny",
        config_dict=tiny_run_config(density=0.3, update_interval=2, train_batch_size=8),
    )
    run_dir = Path(result["output_dir"])
    saved = json.loads((run_dir / "result.json").read_text())
    sparsity = saved["sparsity"]
    assert sparsity["target_density"] == 0.3
    assert sparsity["actual_density"] == pytest.approx(0.3, abs=0.01)
    assert sparsity["inference_macs"] < sparsity["inference_macs_dense"]
    assert sparsity["export_bytes"] < sparsity["dense_bytes"]
    trace = json.loads((run_dir / "dsl_trace.json").read_text())
    assert trace and all(e["active"] == sparsity["masked_params_active"] for e in trace)
    assert {"step", "active", "pruned", "regrown", "layer_density"} <= trace[0].keys()

    loaded = load_model(run_dir)
    state, masks = import_sparse(load_export(run_dir / SPARSE_FILE))
    for name, param, mask in loaded.masked_parameters():
        assert torch.equal(mask, masks[name]) and torch.all(param[~mask] == 0)
    batch = random_batch(loaded, 0)
    expected = loaded.full_sort_predict(batch)
    loaded.load_state_dict(state, strict=False)
    assert torch.allclose(loaded.full_sort_predict(batch), expected)


# --- compressed export: format choice, round trips, tampering ------------------------------------

# (100, 16) float32: csr = (101 crow + nnz col) bytes in the smallest int types + 4·nnz values;
# bitmask = 200 + 4·nnz; dense = 6400 (only when every weight is active)
EXPECTED_FORMATS = {
    0.02: ("csr", 101 * 1 + 32 * (1 + 4)),
    0.1: ("bitmask", 200 + 160 * 4),
    0.5: ("bitmask", 200 + 800 * 4),
    0.9: ("bitmask", 200 + 1440 * 4),
    1.0: ("dense", 6400),
}


@pytest.mark.parametrize("density", sorted(EXPECTED_FORMATS))
def test_export_picks_the_smallest_format_and_round_trips(density: float) -> None:
    generator = torch.Generator().manual_seed(0)
    active = round(density * 1600)
    mask = torch.zeros(1600, dtype=torch.bool)
    mask[torch.randperm(1600, generator=generator)[:active]] = True
    mask = mask.view(100, 16)
    weight = torch.randn(100, 16, generator=generator) * mask
    weight[mask.nonzero()[0].tolist()] = 0.0  # an active weight that is exactly 0 stays active
    bias = torch.randn(16, generator=generator)
    exported = export_sparse({"w": weight, "b": bias}, {"w": mask})
    fmt, size = EXPECTED_FORMATS[density]
    assert export_formats(exported) == {"w": fmt}
    sizes = format_sizes(weight.shape, active, 4)
    assert sizes[fmt] == size == min(sizes.values())
    assert export_bytes(exported) == size + 16 * 4
    state, masks = import_sparse(exported)
    assert torch.equal(state["w"], weight) and torch.equal(masks["w"], mask)
    assert torch.equal(state["b"], bias)


def test_csr_wins_at_low_density_on_a_realistic_item_table() -> None:
    # ML-1M table 3707 × 128: csr (uint8 columns) beats bitmask below density ≈ 0.09
    assert choose_format(torch.Size([3707, 128]), round(0.05 * 3707 * 128), 4) == "csr"
    assert choose_format(torch.Size([3707, 128]), round(0.2 * 3707 * 128), 4) == "bitmask"


def trained_model(tiny_run_config, tmp_path: Path, density: float, **overrides):
    model, trainer = build(
        tiny_run_config, tmp_path, density=density, update_interval=2, **overrides
    )
    train_steps(model, trainer, steps=4)
    return model, trainer


@pytest.mark.parametrize("density", [0.1, 0.5, 0.9, 1.0])
def test_load_model_rebuilds_the_compressed_model(tiny_run_config, tmp_path, density) -> None:
    model, trainer = trained_model(tiny_run_config, tmp_path, density)
    run_dir = save_model(tmp_path / "run_saved", model, trainer.config)
    assert (run_dir / SPARSE_FILE).is_file() and not (run_dir / "model.pt").exists()
    exported = load_export(run_dir / SPARSE_FILE)
    for name, param, mask in model.masked_parameters():
        expected = choose_format(param.shape, int(mask.sum()), param.element_size())
        assert exported["masked"][name]["format"] == expected
    if density == 1.0:
        assert set(export_formats(exported).values()) == {"dense"}
    loaded = load_model(run_dir)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    model.eval()
    batch = random_batch(model, 3)
    assert torch.equal(loaded.full_sort_predict(batch), model.full_sort_predict(batch))


def one_line_checkpoint_error(call) -> str:
    with pytest.raises(CheckpointError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_modified_export_file_is_a_one_line_error(tiny_run_config, tmp_path) -> None:
    model, trainer = trained_model(tiny_run_config, tmp_path, 0.3)
    run_dir = save_model(tmp_path / "run_saved", model, trainer.config)
    path = run_dir / SPARSE_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    message = one_line_checkpoint_error(lambda: load_model(run_dir))
    assert "cannot load weights" in message and "SHA-256" in message
    path.write_bytes(bytes(data[:100]))
    assert "cannot load weights" in one_line_checkpoint_error(lambda: load_model(run_dir))
    path.unlink()
    assert "missing" in one_line_checkpoint_error(lambda: load_model(run_dir))


def _tamper_values(entry: dict) -> None:
    entry["values"] = entry["values"][:-1]


def _tamper_format(entry: dict) -> None:
    entry["format"] = "coo"


def _tamper_column(entry: dict) -> None:
    entry["col"] = entry["col"].clone()
    entry["col"][0] = 200


def _tamper_padding(entry: dict) -> None:
    entry["bits"] = entry["bits"].clone()
    entry["bits"][-1] |= 128


def _tamper_crow(entry: dict) -> None:
    entry["crow"] = entry["crow"].flip(0)


@pytest.mark.parametrize(
    ("density", "tamper", "problem"),
    [
        (0.02, _tamper_values, "disagree"),
        (0.5, _tamper_values, "disagree"),
        (0.5, _tamper_format, "unknown format"),
        (0.02, _tamper_column, "out of range"),
        (0.02, _tamper_crow, "not a pointer"),
        (0.5, _tamper_padding, "padding"),
    ],
)
def test_tampered_export_structure_is_a_one_line_error(density, tamper, problem) -> None:
    shape = (100, 17)  # 1700 positions: the bitmask has 4 padding bits
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(1)) < density
    exported = export_sparse({"w": torch.randn(shape) * mask}, {"w": mask})
    tamper(exported["masked"]["w"])
    message = one_line_checkpoint_error(lambda: import_sparse(exported))
    assert "tensor w" in message and problem in message
    assert "version" in one_line_checkpoint_error(lambda: import_sparse({"sparse": {}}))


# --- sparse CPU inference, autoregressive training, devices ----------------------------------------


def test_sparse_inference_scores_equal_dense(tiny_run_config, tmp_path) -> None:
    model, _ = trained_model(tiny_run_config, tmp_path, 0.2)
    sparse_model, _ = build(tiny_run_config, tmp_path, density=0.2, dsl_sparse_inference=True)
    sparse_model.load_state_dict(model.state_dict())
    model.eval()
    sparse_model.eval()
    batch = random_batch(model, 5)
    expected = model.full_sort_predict(batch)
    scores = sparse_model.full_sort_predict(batch)
    assert sparse_model._sparse_table is not None  # the CSR path ran
    assert scores.shape == expected.shape and scores.is_contiguous()
    assert torch.allclose(scores, expected, atol=1e-6, rtol=1e-5)
    sparse_model.train()
    assert sparse_model._sparse_table is None


def test_invalid_sparse_inference_flag_is_a_config_error(tiny_run_config) -> None:
    with pytest.raises(ConfigError, match="dsl_sparse_inference"):
        run_recbole_easrec("DSL", "tiny", config_dict=tiny_run_config(dsl_sparse_inference="yes"))


def test_autoregressive_training_keeps_the_budget(tiny_run_config) -> None:
    config = tiny_run_config(
        density=0.3, update_interval=1, train_mode="autoregressive", dsl_backbone="LinRec"
    )
    result = run_recbole_easrec("DSL", "tiny", config_dict=config)
    run_dir = Path(result["output_dir"])
    trace = json.loads((run_dir / "dsl_trace.json").read_text())
    # 60 users, batch 64: one autoregressive batch per epoch, 2 epochs → T = 2, T_stop = 1.5
    assert [entry["step"] for entry in trace] == [1]
    assert trace[0]["active"] == result["sparsity"]["masked_params_active"]
    assert trace[0]["pruned"] == trace[0]["regrown"] > 0
    loaded = load_model(run_dir)
    assert loaded.causal and all(torch.all(p[~m] == 0) for _, p, m in loaded.masked_parameters())


def test_masks_are_made_on_the_parameters_device(tiny_run_config, tmp_path) -> None:
    model, _ = build(tiny_run_config, tmp_path, density=0.3)
    on_meta = model.to("meta")
    masks = random_masks(on_meta, 0.3)
    assert masks and all(mask.device.type == "meta" for mask in masks.values())
    assert all(buffer.device.type == "meta" for buffer in on_meta.masks.buffers())
