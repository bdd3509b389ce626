"""Retraining with in-place distillation (trainer/distill.py, ``retrain_distill``): the loss is the
student's CE plus T²·KL from the frozen supernet's largest path, at the positions CE scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.search.reconstruct import reconstruct
from recbole_easrec.trainer.distill import distillation_loss, distillation_term, retraining_loss
from recbole_easrec.training_modes import TARGETS_FIELD
from tests.test_easrec import build_model, random_batch, validate_easrec

pytestmark = pytest.mark.usefixtures("one_thread")


def test_distillation_term_is_the_tempered_kl():
    torch.manual_seed(0)
    student, teacher = torch.randn(5, 9), torch.randn(5, 9)
    assert float(distillation_term(teacher, teacher, 2.0)) == pytest.approx(0.0, abs=1e-7)
    p = F.softmax(teacher / 2.0, -1)
    manual = (p * (p.log() - F.log_softmax(student / 2.0, -1))).sum(-1).mean() * 4.0
    assert float(distillation_term(student, teacher, 2.0)) == pytest.approx(float(manual), rel=1e-5)


def autoregressive_batch(model, seed: int) -> Interaction:
    batch = random_batch(model, seed)
    seq = batch[model.ITEM_SEQ]
    targets = torch.roll(seq, -1, dims=1)
    targets[:, -1] = 0
    targets[seq == 0] = 0
    return Interaction({model.ITEM_SEQ: seq, TARGETS_FIELD: targets})


@pytest.mark.parametrize("mode", ["prefix", "autoregressive"])
def test_loss_is_ce_plus_weighted_kl_and_the_teacher_gets_no_gradient(
    tiny_run_config, tmp_path, mode
):
    supernet, config = build_model(tiny_run_config, tmp_path, train_mode=mode)
    largest = Architecture(0, 3)
    student = reconstruct(supernet, config, Architecture(2, 1)).eval()
    batch = random_batch(supernet, 0) if mode == "prefix" else autoregressive_batch(supernet, 0)
    plain = student.calculate_loss(batch).item()
    off = distillation_loss(student, supernet, lambda: supernet.using(largest), 0.0, 1.0)
    assert float(off(batch)) == pytest.approx(plain, rel=1e-6)
    on = distillation_loss(student, supernet, lambda: supernet.using(largest), 0.5, 2.0)
    loss = on(batch)
    assert float(loss) > plain  # a smaller net's scores differ from the largest path's
    loss.backward()
    assert all(p.grad is None for p in supernet.parameters())
    assert any(p.grad is not None for p in student.parameters())
    # a student that is the largest path itself has nothing to learn from it
    twin = reconstruct(supernet, config, largest).eval()
    same = distillation_loss(twin, supernet, lambda: supernet.using(largest), 0.5, 2.0)
    assert float(same(batch)) == pytest.approx(twin.calculate_loss(batch).item(), rel=1e-5)


def test_retraining_loss_is_off_by_default_and_freezes_the_teacher(tiny_run_config, tmp_path):
    supernet, config = build_model(tiny_run_config, tmp_path)
    student = reconstruct(supernet, config, Architecture(1, 2))
    assert config["retrain_distill"] is False
    assert retraining_loss(config, student, supernet, Architecture(0, 3)) is None
    config["retrain_distill"] = True
    assert callable(retraining_loss(config, student, supernet, Architecture(0, 3)))
    assert not any(p.requires_grad for p in supernet.parameters())


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("retrain_distill", "yes", "retrain_distill must be True or False"),
        ("retrain_distill_weight", -1, "retrain_distill_weight"),
        ("retrain_distill_temperature", 0, "retrain_distill_temperature must be a positive"),
        ("retrain_teacher", "full", "retrain_teacher"),
    ],
)
def test_bad_distillation_settings_are_one_line_errors(
    tiny_run_config, tmp_path, key, value, message
):
    _, config = build_model(tiny_run_config, tmp_path)
    config[key] = value
    with pytest.raises(ConfigError, match=message) as error:
        validate_easrec(config)
    assert "\n" not in str(error.value)


def test_an_easrec_run_retrains_with_distillation(tiny_run_config):
    settings = tiny_run_config(epochs=1, retrain_epochs=2, retrain_distill=True, n_layers=2)
    result = run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    assert result["config"]["retrain_distill"] is True
    assert 0 < result["test_result"]["ndcg@10"] <= 1
    saved = json.loads((Path(settings["output_dir"]) / "model.json").read_text())
    assert saved["model"] == "EASRecCompact"
