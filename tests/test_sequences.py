"""data.sequences: RecBole's sequential rows without a stored history per prefix — the same rows,
split, candidates, batches and metrics as RecBole's own ``SequentialDataset``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recbole.data import create_dataset, data_preparation
from recbole.data.dataset import SequentialDataset
from recbole.utils import init_seed

from recbole_easrec.config import build_config
from recbole_easrec.data.checks import check_split
from recbole_easrec.data.sequences import (
    TARGET_POSITION_FIELD,
    LazySequentialDataset,
    augmentation_rows,
    cap_full_sort_batches,
    create_sequence_dataset,
    full_sort_rows,
    gather_windows,
    uses_lazy_sequences,
)
from recbole_easrec.trainer import resolve_trainer
from recbole_easrec.training_modes import AutoregressiveLoader

MAX_LENGTH = 6


def write_uneven_dataset(folder: Path, n_users: int = 40, n_items: int = 150) -> Path:
    """Users with 4–20 interactions (many longer than ``MAX_LENGTH`` + 1, so RecBole's window
    slides), Zipf-like popularity and tied timestamps within a user."""
    rng = np.random.default_rng(7)
    dataset_dir = folder / "uneven"
    dataset_dir.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    weights = 1.0 / np.arange(1, n_items + 1)
    weights /= weights.sum()
    for user in range(1, n_users + 1):
        length = int(rng.integers(4, 21))
        items = rng.choice(n_items, size=length, p=weights) + 1
        times = np.sort(rng.integers(0, length // 2 + 1, size=length))
        for item, time, rating in zip(items, times, rng.integers(1, 6, size=length)):
            lines.append(f"u{user}\ti{item}\t{rating}\t{1000 * user + time}")
    (dataset_dir / "uneven.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def uneven_data(tmp_path: Path) -> Path:
    return write_uneven_dataset(tmp_path / "data")


def make_config(data_path: Path, tmp_path: Path, mode: str = "full", **overrides: object):
    settings = {
        "data_path": str(data_path),
        "MAX_ITEM_LIST_LENGTH": MAX_LENGTH,
        "train_mode": "autoregressive",
        "hidden_size": 16,
        "inner_size": 32,
        "n_layers": 1,
        "n_heads": 2,
        "train_batch_size": 16,
        "eval_batch_size": 16 if mode == "full" else 1000,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": mode},
        "metrics": ["Recall", "MRR", "NDCG", "Hit"],
        "topk": [5, 10],
        "state": "WARNING",
        "show_progress": False,
        "checkpoint_dir": str(tmp_path / "checkpoints"),
        "seed": 2020,
        **overrides,
    }
    return build_config("LinRec", "uneven", config_dict=settings)


def both_paths(config):
    """(RecBole's loaders, ours), each built right after seeding as quick_start does."""
    init_seed(config["seed"], config["reproducibility"])
    reference = data_preparation(config, create_dataset(config))
    init_seed(config["seed"], config["reproducibility"])
    lazy = data_preparation(config, create_sequence_dataset(config))
    return reference, lazy


def assert_same_interaction(expected, actual) -> None:
    assert sorted(expected.columns) == sorted(actual.columns)
    for field in expected.columns:
        assert expected[field].dtype == actual[field].dtype, field
        assert torch.equal(expected[field], actual[field]), field


def assert_same_batch(expected, actual) -> None:
    """Eval batches ``(interaction, idx_list, positive_u, positive_i)`` equal item by item."""
    assert_same_interaction(expected[0], actual[0])
    for left, right in zip(expected[1:], actual[1:]):
        assert (left is None) == (right is None)
        if left is not None:
            assert torch.equal(left, right)


def test_augmentation_rows_match_recbole_window():
    users = np.array([0, 0, 0, 0, 0, 1, 2, 2, 2])
    targets, lengths = augmentation_rows(users, max_length=2)
    expected_targets, expected_lengths, start = [], [], 0
    for i, user in enumerate(users):  # RecBole's loop in SequentialDataset.data_augmentation
        if i == 0 or users[i - 1] != user:
            start = i
            continue
        if i - start > 2:
            start += 1
        expected_targets.append(i)
        expected_lengths.append(i - start)
    assert targets.tolist() == expected_targets
    assert lengths.tolist() == expected_lengths


def test_gather_windows_left_aligns_and_pads():
    values = torch.tensor([10, 11, 12, 13, 14])
    windows = gather_windows(values, torch.tensor([3, 5, 1]), torch.tensor([2, 3, 0]), width=4)
    assert windows.tolist() == [[11, 12, 0, 0], [12, 13, 14, 0], [0, 0, 0, 0]]
    rows = torch.arange(10.0).reshape(5, 2)
    assert gather_windows(rows, torch.tensor([2]), torch.tensor([1]), 2).tolist() == [
        [[2.0, 3.0], [0.0, 0.0]]
    ]


def test_lazy_path_only_for_autoregressive(uneven_data, tmp_path):
    assert uses_lazy_sequences(make_config(uneven_data, tmp_path))
    assert not uses_lazy_sequences(make_config(uneven_data, tmp_path, train_mode="prefix"))
    prefix = create_sequence_dataset(make_config(uneven_data, tmp_path, train_mode="prefix"))
    assert type(prefix) is SequentialDataset


def test_every_split_has_recbole_rows_without_stored_histories(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path)
    reference, lazy = both_paths(config)
    for ref_loader, lazy_loader in zip(reference, lazy):
        ref_set, lazy_set = ref_loader._dataset, lazy_loader._dataset
        assert isinstance(lazy_set, LazySequentialDataset)
        assert ref_set.item_id_list_field in ref_set.inter_feat
        assert lazy_set.item_id_list_field not in lazy_set.inter_feat
        assert all(value.dim() == 1 for value in lazy_set.inter_feat.interaction.values())
        everything = torch.arange(len(ref_set))
        assert_same_interaction(ref_set.inter_feat, lazy_set[everything])
        assert TARGET_POSITION_FIELD not in lazy_set[everything]
    history = reference[0]._dataset.inter_feat[reference[0]._dataset.item_id_list_field]
    assert lazy[0]._dataset.history_item_ids().tolist() == sorted(
        set(history[history > 0].tolist())
    )
    assert check_split(config, lazy) == check_split(config, reference)


def test_full_ranking_batches_and_metrics_equal(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path)
    reference, lazy = both_paths(config)
    for ref_loader, lazy_loader in zip(reference[1:], lazy[1:]):
        ref_batches, lazy_batches = list(ref_loader), list(lazy_loader)
        assert len(ref_batches) == len(lazy_batches) > 1
        for expected, actual in zip(ref_batches, lazy_batches):
            assert_same_batch(expected, actual)
    init_seed(0, True)
    model = config.model_class(config, reference[0]._dataset).eval()
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    expected = trainer.evaluate(reference[2], load_best_model=False)
    actual = trainer.evaluate(lazy[2], load_best_model=False)
    assert expected == actual
    assert any(value > 0 for value in expected.values())


@pytest.mark.parametrize("mode", ["uni100", "pop100"])
def test_sampled_candidates_equal_recbole_sampler(uneven_data, tmp_path, mode):
    config = make_config(uneven_data, tmp_path, mode=mode)
    reference, lazy = both_paths(config)
    for ref_loader, lazy_loader in zip(reference[1:], lazy[1:]):
        init_seed(config["seed"], config["reproducibility"])
        ref_batches = list(ref_loader)
        init_seed(config["seed"], config["reproducibility"])
        lazy_batches = list(lazy_loader)
        assert len(ref_batches) == len(lazy_batches)
        for expected, actual in zip(ref_batches, lazy_batches):
            assert len(expected[0]) == 101 * len(expected[2])  # target + 100 candidates
            assert_same_batch(expected, actual)
    init_seed(0, True)
    model = config.model_class(config, reference[0]._dataset).eval()
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    init_seed(config["seed"], config["reproducibility"])
    expected = trainer.evaluate(reference[2], load_best_model=False)
    init_seed(config["seed"], config["reproducibility"])
    assert trainer.evaluate(lazy[2], load_best_model=False) == expected


def test_autoregressive_batches_equal(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path)
    reference, lazy = both_paths(config)
    ref_loader = AutoregressiveLoader(reference[0], batch_size=8, seed=3)
    lazy_loader = AutoregressiveLoader(lazy[0], batch_size=8, seed=3)
    assert len(ref_loader) == len(lazy_loader) == 5  # one sequence per user, 40 users
    for _ in range(2):  # two epochs: same shuffles
        for expected, actual in zip(ref_loader, lazy_loader):
            assert_same_interaction(expected, actual)


def test_stored_cells_grow_with_interactions_not_prefixes(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path, MAX_ITEM_LIST_LENGTH=50)
    reference, lazy = both_paths(config)
    ref_set, lazy_set = reference[0]._dataset, lazy[0]._dataset

    def cells(dataset) -> int:
        stored = sum(value.numel() for value in dataset.inter_feat.interaction.values())
        table = getattr(dataset, "sequence_table", {})
        return stored + sum(value.numel() for value in table.values())

    interactions = sum(len(loader._dataset) for loader in lazy) + 40  # + each user's first
    assert cells(lazy_set) <= 10 * interactions
    assert cells(ref_set) > 50 * len(ref_set)


def test_full_ranking_batches_capped_by_memory_budget(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path, eval_batch_size=64)
    _, lazy = both_paths(config)
    n_items = lazy[2]._dataset.item_num
    budget = 3 * 4 * n_items * 5  # five users' score matrices
    assert full_sort_rows(n_items, budget) == 5
    capped = cap_full_sort_batches(config, lazy, budget_bytes=budget)
    assert capped[0] is lazy[0]  # the training loader is untouched
    assert config["eval_batch_size"] == 64
    batches = list(capped[2])
    assert max(len(batch[0]) for batch in batches) == 5
    assert sum(len(batch[0]) for batch in batches) == len(lazy[2]._dataset) == 40
    init_seed(0, True)
    model = config.model_class(config, lazy[0]._dataset).eval()
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    expected = trainer.evaluate(lazy[2], load_best_model=False)
    assert trainer.evaluate(capped[2], load_best_model=False) == pytest.approx(expected, abs=1e-6)
    assert cap_full_sort_batches(config, lazy)[2] is lazy[2]  # the default budget fits 64 users


def test_sampled_loaders_never_capped(uneven_data, tmp_path):
    config = make_config(uneven_data, tmp_path, mode="pop100")
    _, lazy = both_paths(config)
    assert cap_full_sort_batches(config, lazy, budget_bytes=1) == lazy


def test_autoregressive_run_equals_recbole_dataset_run(tiny_run_config, tmp_path, monkeypatch):
    """The whole run (training included) on our rows gives RecBole-dataset results exactly."""
    import recbole_easrec.quick_start as quick_start
    from recbole_easrec.quick_start import run_recbole_easrec

    settings = tiny_run_config(train_mode="autoregressive", epochs=1)
    ours = run_recbole_easrec("LinRec", "tiny", config_dict=settings)
    monkeypatch.setattr(quick_start, "create_sequence_dataset", create_dataset)
    settings["output_dir"] = str(tmp_path / "recbole_rows")
    theirs = run_recbole_easrec("LinRec", "tiny", config_dict=settings)
    assert ours["test_result"] == theirs["test_result"]
    assert ours["best_valid_result"] == theirs["best_valid_result"]
    assert ours["test_result"]["ndcg@10"] > 0
