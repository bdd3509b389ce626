"""Issue 6 speed path: training runs without RecBole's process-wide autograd anomaly detection.

(Causality, autoregressive/prefix loss equivalence, unknown ``train_mode`` and compiled-vs-eager
agreement are tested in tests/test_training_modes.py and tests/test_speed_compile.py.)
"""

from __future__ import annotations

import json

import torch

from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.trainer.base import EasRecBaseTrainer


def test_training_runs_without_anomaly_detection(tiny_run_config, tmp_path, monkeypatch):
    seen: list[bool] = []
    original = EasRecBaseTrainer._train_epoch

    def recording_epoch(self, *args, **kwargs):
        seen.append(torch.is_anomaly_enabled())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EasRecBaseTrainer, "_train_epoch", recording_epoch)
    previous = torch.is_anomaly_enabled()
    torch.autograd.set_detect_anomaly(True)  # what importing RecBole's sine.py does
    try:
        result = run_recbole_easrec(
            "LinRec", "tiny", config_dict=tiny_run_config(train_mode="autoregressive", epochs=3)
        )
        assert torch.is_anomaly_enabled()  # the caller's mode is restored afterwards
    finally:
        torch.autograd.set_detect_anomaly(previous)
    assert seen == [False, False, False]
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["config"]["train_mode"] == "autoregressive"
    assert 0 <= result["test_result"]["ndcg@10"] <= 1
