"""LinRec learns a sequential pattern that popularity cannot capture."""

from __future__ import annotations

from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset


def test_linrec_beats_popularity_by_far(tmp_path):
    data_path = write_cycle_dataset(tmp_path / "data", n_users=80, n_items=60, length=12)
    shared = {"epochs": 30, "learning_rate": 0.005, "hidden_dropout_prob": 0.0, "stopping_step": 30}
    linrec = run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_config(data_path, tmp_path / "linrec", **shared)
    )
    pop = run_recbole_easrec(
        "Pop", "tiny", config_dict=tiny_config(data_path, tmp_path / "pop", epochs=1)
    )
    linrec_recall = linrec["test_result"]["recall@10"]
    pop_recall = pop["test_result"]["recall@10"]
    assert linrec_recall > 0.8
    assert linrec_recall > 3 * pop_recall
