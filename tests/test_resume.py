"""--resume: a run killed with SIGKILL continues from its last epoch and ends as if never killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recbole_easrec.cli import main
from recbole_easrec.quick_start import run_recbole_easrec
from recbole_easrec.resume import STATE_FILE, WORK_DIR, ResumeError, read_state

ROOT = Path(__file__).resolve().parents[1]
# Runs the command line in a child that SIGKILLs itself at batch BATCH of epoch EPOCH of PHASE
# (every training step checks its loss for NaN through ``_check_nan``): a real kill, at a known point.
KILLER = """
import os, signal, sys
import recbole_easrec
from recbole_easrec.trainer.base import EasRecBaseTrainer
phase, epoch, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = [0]
original = EasRecBaseTrainer._check_nan
def check(self, loss):
    if self.phase == phase and self._epoch_open == epoch:
        seen[0] += 1
        if seen[0] == batch:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, loss)
EasRecBaseTrainer._check_nan = check
from recbole_easrec.cli import main
sys.exit(main(sys.argv[4:]))
"""
EASREC = {"model": "EASRec", "epochs": 3, "retrain_epochs": 2, "n_layers": 2}


pytestmark = pytest.mark.usefixtures("one_thread")


def argv(settings: dict) -> list[str]:
    """``run_recbole_easrec.py`` arguments of a config_dict."""
    model = settings.get("model", "LinRec")
    rest = {k: v for k, v in settings.items() if k != "model"}
    return [f"--model={model}", "--dataset=tiny", *(f"--{k}={v}" for k, v in rest.items())]


def run_killed(settings: dict, phase: str, epoch: int, batch: int) -> subprocess.CompletedProcess:
    """Run ``settings`` in a child that is SIGKILLed at ``phase``/``epoch``/``batch``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", KILLER, phase, str(epoch), str(batch), *argv(settings)]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def run(settings: dict, resume: bool = False) -> dict:
    model = settings.get("model", "LinRec")
    rest = {k: v for k, v in settings.items() if k != "model"}
    return run_recbole_easrec(model, "tiny", config_dict=rest, resume=resume)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The saved model's weights (``model.pt``, or DSL's compressed export), as reloaded."""
    from recbole_easrec.saving import load_model

    return load_model(run_dir).state_dict()


def assert_same_run(resumed: dict, uninterrupted: dict) -> None:
    """Same metrics (within 1e-4), architecture and final weights as the uninterrupted run."""
    for key in ("best_valid_result", "test_result"):
        assert resumed[key].keys() == uninterrupted[key].keys()
        for metric, value in resumed[key].items():
            assert value == pytest.approx(uninterrupted[key][metric], abs=1e-4), (key, metric)
    assert resumed.get("architecture") == uninterrupted.get("architecture")
    assert resumed.get("search_iterations") == uninterrupted.get("search_iterations")
    mine, theirs = weights(Path(resumed["output_dir"])), weights(Path(uninterrupted["output_dir"]))
    assert mine.keys() == theirs.keys()
    for name, tensor in mine.items():
        torch.testing.assert_close(tensor, theirs[name], atol=1e-4, rtol=0, msg=name)


def earlier_files(folder: Path) -> dict[str, bytes]:
    """Files of an earlier, finished run in ``folder`` (that a killed run must not touch)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"result.json": b'{"earlier": true}\n', "checkpoint.pth": b"earlier", "model.pt": b"e"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


@pytest.mark.parametrize(
    ("phase", "epoch", "batch"),
    [("search", 1, 3), ("retrain", 1, 2)],
    ids=["mid-search", "mid-retraining"],
)
def test_easrec_killed_then_resumed_ends_as_the_uninterrupted_run(
    tiny_data, tmp_path, phase, epoch, batch
):
    killed_dir = tmp_path / "killed"
    earlier = earlier_files(killed_dir)
    settings = {**tiny_settings(tiny_data, killed_dir), **EASREC}
    child = run_killed(settings, phase, epoch, batch)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    # the kill left the earlier run's files alone and a state of the last completed epoch
    assert {name: (killed_dir / name).read_bytes() for name in earlier} == earlier
    state = read_state(killed_dir / WORK_DIR)
    assert (state["phase"], state["epoch"], state["finished"]) == (phase, epoch - 1, False)
    assert {"model", "optimizer", "rng", "generators", "arch_optimizer"} <= state["tensors"].keys()
    assert state["easrec"]["iteration"] > 0 and state["easrec"]["temperature"] <= 1.0

    resumed = run(settings, resume=True)
    uninterrupted = run({**settings, "output_dir": str(tmp_path / "uninterrupted")})
    assert_same_run(resumed, uninterrupted)
    # the training time of the killed process is counted too, not only the resumed part's
    assert resumed["efficiency"]["train_seconds"] > state["run_seconds"] > 0
    assert not (killed_dir / WORK_DIR).exists()  # the state goes once the run has finished
    written = json.loads((killed_dir / "result.json").read_text())
    assert written["test_result"] == resumed["test_result"]
    assert written["config"]["checkpoint_dir"] == str(killed_dir)


def test_a_re_pick_killed_while_retraining_resumes_as_the_uninterrupted_one(tiny_data, tmp_path):
    """``search_from``: the resumed re-pick keeps the searched run's method extras."""
    parent = tmp_path / "parent"
    search = {**tiny_settings(tiny_data, parent), **EASREC, "search_method": "recnas"}
    search["recnas_prune_ratio"] = 1.0  # prune the weakest candidate after every epoch
    searched = run(search)
    repick = {**search, "search_from": str(parent), "flops_budget": 0.5}
    killed = run_killed({**repick, "output_dir": str(tmp_path / "killed")}, "retrain", 1, 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run({**repick, "output_dir": str(tmp_path / "killed")}, resume=True)
    uninterrupted = run({**repick, "output_dir": str(tmp_path / "uninterrupted")})
    assert_same_run(resumed, uninterrupted)
    assert searched["recnas_pruned"]  # the search pruned something: the extras are not empty
    assert resumed["recnas_pruned"] == uninterrupted["recnas_pruned"] == searched["recnas_pruned"]


@pytest.mark.parametrize("model", ["LinRec", "SASRec", "DSL"])
def test_other_models_resume_through_our_trainer(tiny_data, tmp_path, model):
    settings = {"model": model, **tiny_settings(tiny_data, tmp_path / "killed")}
    child = run_killed(settings, "train", 1, 2)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    resumed = run(settings, resume=True)
    uninterrupted = run({**settings, "output_dir": str(tmp_path / "uninterrupted")})
    for key in ("best_valid_result", "test_result"):
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=1e-4)
    if model != "SASRec":  # RecBole's own models save no model.pt
        assert_same_run(resumed, uninterrupted)


def tiny_settings(data_path: Path, output_dir: Path) -> dict:
    from tests.conftest import tiny_config

    # 16 users a batch: an autoregressive epoch of the 60 users has the batches the kills count
    return tiny_config(data_path, output_dir, epochs=3, train_batch_size=16, retrain_batch_size=16)


def one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("error: ")
    return lines[-1]


def test_resume_without_an_unfinished_run_is_a_one_line_error(tiny_data, tmp_path, capsys):
    settings = {**tiny_settings(tiny_data, tmp_path / "empty"), "epochs": 1}
    assert main([*argv(settings), "--resume"]) == 2
    assert "no unfinished run" in one_line_error(capsys)
    run({**settings, "output_dir": str(tmp_path / "done")})
    assert main([*argv({**settings, "output_dir": str(tmp_path / "done")}), "--resume"]) == 2
    assert "its run finished" in one_line_error(capsys)
    assert main(["--model=LinRec", "--dataset=tiny", "--resume"]) == 2
    assert "--output_dir" in one_line_error(capsys)


def test_resume_with_another_model_or_settings_is_a_one_line_error(tiny_data, tmp_path, capsys):
    settings = {"model": "LinRec", **tiny_settings(tiny_data, tmp_path / "killed")}
    assert run_killed(settings, "train", 1, 1).returncode == -signal.SIGKILL
    state_before = (tmp_path / "killed" / WORK_DIR / STATE_FILE).read_bytes()
    assert main([*argv({**settings, "model": "GRU4Rec"}), "--resume"]) == 2
    assert "unfinished LinRec run on tiny, not GRU4Rec" in one_line_error(capsys)
    assert main([*argv({**settings, "epochs": 4}), "--resume"]) == 2
    message = one_line_error(capsys)
    assert "other settings" in message and "epochs: 3 → 4" in message
    # refused resumes keep the state, so the right command still continues it
    assert (tmp_path / "killed" / WORK_DIR / STATE_FILE).read_bytes() == state_before
    assert main([*argv(settings), "--resume", "--show_progress=True"]) == 0


def test_a_new_run_without_resume_discards_the_unfinished_state(tiny_data, tmp_path):
    settings = {"model": "LinRec", **tiny_settings(tiny_data, tmp_path / "killed")}
    assert run_killed(settings, "train", 1, 1).returncode == -signal.SIGKILL
    fresh = run(settings)
    uninterrupted = run({**settings, "output_dir": str(tmp_path / "uninterrupted")})
    assert fresh["test_result"] == uninterrupted["test_result"]
    log = (tmp_path / "killed" / "run.log").read_text(encoding="utf-8")
    assert "discarding the unfinished run's state" in log


# --- studies -----------------------------------------------------------------------------------

# sitecustomize for every Python process of a killed study: when EASREC_TEST_KILL is
# MODEL:PHASE:EPOCH:BATCH, the run of MODEL SIGKILLs its parent (the study process) at that batch
# and waits to be ended by its own exit-with-parent watchdog.
SITE_HOOK = """
import os
spec = os.environ.get("EASREC_TEST_KILL")
if spec:
    import signal, time
    from recbole_easrec.trainer.base import EasRecBaseTrainer
    model, phase, epoch, batch = spec.split(":")
    seen = [0]
    original = EasRecBaseTrainer._check_nan
    def check(self, loss):
        if (self.config["model"], self.phase, self._epoch_open) == (model, phase, int(epoch)):
            seen[0] += 1
            if seen[0] == int(batch):
                os.kill(os.getppid(), signal.SIGKILL)
                time.sleep(60)
        return original(self, loss)
    EasRecBaseTrainer._check_nan = check
"""


def wait_until_unlocked(folder: Path, seconds: float = 30.0) -> None:
    """Wait for the orphaned run in ``folder`` to end (its lock to be free)."""
    import time

    from recbole_easrec.locking import RunLock, RunLockError

    deadline = time.monotonic() + seconds
    while True:
        try:
            with RunLock(folder):
                return
        except RunLockError:
            assert time.monotonic() < deadline, f"the run in {folder} outlived its study"
            time.sleep(0.2)


def test_killed_comparison_resumes_and_continues_the_killed_run(tiny_data, tmp_path):
    from recbole_easrec.compare import compare_models

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITE_HOOK, encoding="utf-8")
    study = tmp_path / "study"
    overrides = tiny_settings(tiny_data, study)
    overrides.pop("output_dir")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}",
        "EASREC_TEST_KILL": "SASRec:train:1:2",
    }
    command = [
        sys.executable,
        "run_recbole_easrec.py",
        "--compare=LinRec,SASRec",
        "--dataset=tiny",
        f"--output_dir={study}",
        *(f"--{k}={v}" for k, v in overrides.items()),
    ]
    killed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    sasrec_dir = study / "runs" / "SASRec-seed2020"
    wait_until_unlocked(sasrec_dir)
    assert (study / "runs" / "LinRec-seed2020" / "result.json").is_file()
    assert not (sasrec_dir / "result.json").exists()
    assert read_state(sasrec_dir / WORK_DIR)["epoch"] == 0

    with pytest.raises(ResumeError, match="started differently"):
        compare_models(["LinRec", "GRU4Rec"], "tiny", study, overrides=overrides, resume=True)
    lines: list[str] = []
    rows = compare_models(
        ["LinRec", "SASRec"], "tiny", study, overrides=overrides, resume=True, progress=lines.append
    )
    assert any("LinRec seed 2020: reusing" in line for line in lines)
    assert any("SASRec seed 2020: continuing the killed run" in line for line in lines)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    alone = run({**overrides, "model": "SASRec", "output_dir": str(tmp_path / "alone")})
    resumed = json.loads((sasrec_dir / "result.json").read_text(encoding="utf-8"))
    assert resumed["test_result"] == pytest.approx(alone["test_result"], abs=1e-4)


def test_resume_of_a_folder_without_a_comparison_is_a_one_line_error(tmp_path, capsys):
    argv = ["--compare=LinRec,SASRec", "--dataset=tiny", f"--output_dir={tmp_path}", "--resume"]
    assert main(argv) == 2
    assert "no comparison to continue" in one_line_error(capsys)


def wait_for(condition, seconds: float, what: str) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_killed_tune_study_resumes_and_its_cut_off_trial_continues(tiny_data, tmp_path):
    pytest.importorskip("ray")
    from recbole_easrec.tune import TuneOptions, run_tune

    params = tmp_path / "space.yaml"
    params.write_text("learning_rate: {choice: [0.003]}\n", encoding="utf-8")
    study = tmp_path / "study"
    # enough epochs that the study is still running when its first trial has finished one
    overrides = {**tiny_settings(tiny_data, study), "state": "INFO", "epochs": 30}
    overrides.update(stopping_step=30)
    overrides.pop("output_dir")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "run_recbole_easrec.py",
        "--tune",
        "--model=LinRec",
        "--dataset=tiny",
        f"--params_file={params}",
        "--num_samples=1",
        f"--output_dir={study}",
        *(f"--{k}={v}" for k, v in overrides.items()),
    ]
    driver = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        states = lambda: list(study.glob(f"trials/*/{WORK_DIR}/{STATE_FILE}"))  # noqa: E731
        wait_for(
            lambda: states() and list((study / "ray").rglob("experiment_state*")),
            300,
            "a trial's first epoch",
        )
    finally:
        driver.kill()  # SIGKILL
        driver.wait()
    trial_dir = states()[0].parents[1]
    wait_until_unlocked(trial_dir, 60)
    assert not (trial_dir / "result.json").exists()

    options = TuneOptions(
        params_file=str(params),
        output_dir=str(study),
        num_samples=1,
        resume=True,
        ray_init_kwargs={"num_cpus": 2},
    )
    rows = run_tune("LinRec", "tiny", options, overrides=overrides)
    assert [row["status"] for row in rows] == ["ok"]
    assert (trial_dir / "result.json").is_file()
    log = (trial_dir / "run.log").read_text(encoding="utf-8")
    assert "resumed train after epoch" in log
