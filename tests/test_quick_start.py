"""End-to-end runs of the Python API on tiny synthetic data."""

from __future__ import annotations

import json

import pytest

from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.saving import load_model


def test_linrec_run_writes_result_json(tiny_run_config, tmp_path):
    result = run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config())
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["model"] == "LinRec" and saved["dataset"] == "tiny"
    assert set(saved["test_result"]) == {"recall@10", "mrr@10", "ndcg@10"}
    assert saved["config"]["attention_type"] == "linear"
    efficiency = saved["efficiency"]
    for key in ("params", "flops", "train_seconds", "inference_seconds", "peak_memory_bytes"):
        assert efficiency[key] > 0, key
    assert result["test_result"] == pytest.approx(saved["test_result"])


def test_epoch_callback_gets_every_validation_epoch_with_its_metrics(tiny_run_config):
    seen = []
    result = run_recbole_easrec(
        "LinRec",
        "tiny",
        config_dict=tiny_run_config(epochs=3),
        epoch_callback=lambda epoch, score, metrics: seen.append((epoch, score, metrics)),
    )
    assert [epoch for epoch, _, _ in seen] == [0, 1, 2]
    for _, score, metrics in seen:
        assert set(metrics) == {"recall@10", "mrr@10", "ndcg@10"}
        assert score == pytest.approx(metrics["ndcg@10"])  # the default valid_metric
    best = max(seen, key=lambda entry: entry[1])
    assert result["best_valid_result"] == pytest.approx(best[2])


def test_recbole_builtin_model_runs_through_plugin(tiny_run_config):
    result = run_recbole_easrec("SASRec", "tiny", config_dict=tiny_run_config(epochs=1))
    assert result["model"] == "SASRec"
    assert 0 <= result["test_result"]["ndcg@10"] <= 1


def test_saved_model_scores_the_same(tiny_run_config, tmp_path):
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(epochs=1))
    model = load_model(tmp_path / "run")
    assert not model.training
    import torch

    items = torch.tensor([[1, 2, 3, 0, 0, 0, 0, 0, 0, 0]])
    lengths = torch.tensor([3])
    with torch.no_grad():
        first = model.forward(items, lengths)
        second = load_model(tmp_path / "run").forward(items, lengths)
    assert torch.equal(first, second)


def test_extra_eval_modes_score_the_same_test_users_without_retraining(tiny_run_config, tmp_path):
    result = run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_run_config(extra_eval_modes=["uni10", "pop10", "full"])
    )
    extra = result["extra_test_results"]
    assert set(extra) == {"uni10", "pop10", "full"}
    assert result["test_protocol"] == "full"
    # the same model on the same test users under full ranking gives the same numbers
    assert extra["full"] == result["test_result"]
    # ranking against 10 sampled negatives is easier than against all 30 items
    for mode in ("uni10", "pop10"):
        assert extra[mode]["recall@10"] >= result["test_result"]["recall@10"]
        assert extra[mode]["recall@10"] <= 1
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["extra_test_results"]["pop10"] == extra["pop10"]


def test_full_filtered_is_full_ranking_without_the_users_history(tiny_run_config, tmp_path):
    """``extra_eval_modes: [full_filtered]`` scores the trained model as ``eval_exclude_history:
    True`` does, in the same run, and leaves the headline (unfiltered) result as it was."""
    from recbole_easrec.quick_start import evaluate_saved_run

    result = run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_run_config(extra_eval_modes=["full_filtered", "full"])
    )
    extra = result["extra_test_results"]
    assert extra["full"] == result["test_result"]  # the setting was restored after the mode
    filtered = evaluate_saved_run(tmp_path / "run", {"eval_exclude_history": True})
    assert extra["full_filtered"] == pytest.approx(filtered["test_result"], abs=1e-6)
    assert extra["full_filtered"] != result["test_result"]  # the cycle data repeats items


@pytest.mark.parametrize("modes", [["pop"], "pop100", ["best"], [100]])
def test_invalid_extra_eval_modes_are_one_line_errors(tiny_run_config, modes):
    from recbole_easrec.errors import ConfigError

    with pytest.raises(ConfigError, match="extra_eval_modes must be a list"):
        run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(extra_eval_modes=modes))


def test_sampled_predict_shares_the_encoder_across_repeated_sequences(tiny_run_config, tmp_path):
    import torch
    from recbole.data.interaction import Interaction

    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(epochs=1))
    model = load_model(tmp_path / "run")
    generator = torch.Generator().manual_seed(0)
    users = torch.randint(1, model.n_items, (3, model.max_seq_length), generator=generator)
    lengths = torch.tensor([model.max_seq_length, 4, 7])
    users[1, 4:] = 0
    users[2, 7:] = 0
    repeat = 5  # RecBole's sampled evaluation: one row per (user, candidate item)
    batch = Interaction(
        {
            model.ITEM_SEQ: users.repeat_interleave(repeat, dim=0),
            model.ITEM_SEQ_LEN: lengths.repeat_interleave(repeat),
            model.ITEM_ID: torch.randint(1, model.n_items, (3 * repeat,), generator=generator),
        }
    )
    with torch.no_grad():
        shared = model.predict(batch)
        model.train()  # the plain path: one encoder pass per row (dropout off to compare)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        plain = model.predict(batch)
    assert torch.allclose(shared, plain, atol=1e-5)
