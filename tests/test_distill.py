"""Retraining with distillation (trainer/distill.py, ``retrain_distill``): the loss is the student's
CE plus T²·KL from a frozen teacher (the supernet's largest path, or a trained run's network), at
the positions CE scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config, write_cycle_dataset
from recbole.data.interaction import Interaction

from recbole_easrec.errors import ConfigError
from recbole_easrec.model.elastic.paths import Architecture
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.saving import load_model
from recbole_easrec.search.reconstruct import reconstruct
from recbole_easrec.search.searched import SEARCH_FILE
from recbole_easrec.trainer import distill
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
        ("retrain_teacher", "full", "retrain_teacher must be largest .* or the folder of a"),
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


def test_a_trained_full_network_teaches_the_retraining(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """retrain_teacher: <a finished run's folder> (issue 28 item 4: "or a trained full network"):
    the retraining distils from that network, loaded and frozen, and leaves it unchanged."""
    teacher_dir = tmp_path / "sasrec"
    sasrec = tiny_config(tiny_data, teacher_dir, attention_type="softmax", n_layers=2)
    run_recbole_easrec("LinRec", "tiny", config_dict=sasrec)
    saved = load_model(teacher_dir)
    taught: list[torch.nn.Module] = []
    original = distill.distillation_loss

    def recording(student, teacher, context, weight, temperature):  # noqa: ANN001, ANN202
        taught.append(teacher)
        return original(student, teacher, context, weight, temperature)

    monkeypatch.setattr(distill, "distillation_loss", recording)
    settings = tiny_config(
        tiny_data, tmp_path / "easrec", n_layers=2, epochs=1, retrain_epochs=2,
        retrain_distill=True, retrain_teacher=str(teacher_dir),
    )  # fmt: skip
    result = run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    assert 0 < result["test_result"]["ndcg@10"] <= 1
    [teacher] = taught
    assert type(teacher).__name__ == "LinRec" and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(v, saved.state_dict()[k]) for k, v in teacher.state_dict().items())


def test_a_teacher_of_other_data_is_a_one_line_error_before_the_search(
    tiny_data: Path, tmp_path: Path
) -> None:
    other = write_cycle_dataset(tmp_path / "other", n_items=20)
    teacher_dir = tmp_path / "teacher"
    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_config(other, teacher_dir, epochs=1))
    run_dir = tmp_path / "easrec"
    settings = tiny_config(
        tiny_data, run_dir, n_layers=2, retrain_distill=True, retrain_teacher=str(teacher_dir)
    )
    with pytest.raises(ConfigError, match="item ids, this run has tiny with 31") as error:
        run_recbole_easrec("EASRec", "tiny", config_dict=settings)
    assert "\n" not in str(error.value) and not (run_dir / SEARCH_FILE).exists()
    prefix_dir = tmp_path / "prefix"  # not causal, where the retraining must be
    prefix_run = tiny_config(tiny_data, prefix_dir, epochs=1, train_mode="prefix")
    run_recbole_easrec("LinRec", "tiny", config_dict=prefix_run)
    prefix = {**settings, "retrain_teacher": str(prefix_dir)}
    with pytest.raises(ConfigError, match="trained with train_mode prefix: its scores"):
        run_recbole_easrec("EASRec", "tiny", config_dict=prefix)
    missing = {**settings, "retrain_teacher": str(tmp_path / "nowhere")}
    with pytest.raises(ConfigError, match="retrain_teacher must be largest"):
        run_recbole_easrec("EASRec", "tiny", config_dict=missing)
