"""The entry script end to end, and every bad input giving a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recbole_easrec.cli import main
from recbole_easrec.errors import CheckpointError
from recbole_easrec.saving import load_model

REPO = Path(__file__).resolve().parents[1]
TINY_ARGS = [
    "--epochs=1",
    "--MAX_ITEM_LIST_LENGTH=10",
    "--hidden_size=16",
    "--inner_size=32",
    "--n_layers=1",
    "--train_batch_size=64",
    "--show_progress=False",
    "--state=WARNING",
    "--efficiency_repeats=1",
]


def test_entry_script_end_to_end(tiny_data, tmp_path):
    out = tmp_path / "out"
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "run_recbole_easrec.py"),
            "--model=LinRec",
            "--dataset=tiny",
            f"--data_path={tiny_data}",
            f"--output_dir={out}",
            *TINY_ARGS,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["epochs"] == 1 and result["config"]["hidden_size"] == 16
    assert json.loads(completed.stdout)["output_dir"] == str(out)


def test_config_files_and_overrides(tiny_data, tmp_path):
    config_file = tmp_path / "small.yaml"
    config_file.write_text("n_heads: 4\nhidden_size: 32\n")
    out = tmp_path / "out"
    argv = ["--model=LinRec", "--dataset=tiny", f"--data_path={tiny_data}", f"--output_dir={out}"]
    argv += [f"--config_files={config_file}", *TINY_ARGS[:2], *TINY_ARGS[3:]]
    assert main(argv) == 0
    config = json.loads((out / "result.json").read_text())["config"]
    assert config["n_heads"] == 4 and config["hidden_size"] == 32


def run_bad(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


BAD_SETTINGS = {
    "--hidden_size=-8": "hidden_size must be a positive integer",
    "--n_layers=0": "n_layers must be a positive integer",
    "--hidden_dropout_prob=1.0": "hidden_dropout_prob must be a number in [0, 1)",
    "--attn_dropout_prob=-0.1": "attn_dropout_prob must be a number in [0, 1)",
    "--n_heads=3": "hidden_size (16) must be divisible by n_heads (3)",
    "--attention_type=cosine": "attention_type must be one of linear, softmax",
    "--epochs=-1": "epochs must be an integer >= 0",
    "--learning_rate=0": "learning_rate must be a positive number",
}


@pytest.mark.parametrize("setting", sorted(BAD_SETTINGS))
def test_invalid_values_rejected(setting, tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--model=LinRec", "--dataset=tiny", f"--data_path={tiny_data}", f"--output_dir={out}"]
    err = run_bad([*argv, "--hidden_size=16", setting], capsys)
    assert BAD_SETTINGS[setting] in err
    assert not out.exists()


def test_unknown_model(capsys):
    err = run_bad(["--model=NoSuchModel", "--dataset=tiny"], capsys)
    assert "unknown model 'NoSuchModel'" in err and "LinRec" in err


def test_missing_dataset(tmp_path, capsys):
    err = run_bad(["--model=LinRec", "--dataset=absent", f"--data_path={tmp_path}"], capsys)
    assert "absent.inter" in err and "--data_path" in err


def test_dataset_missing_a_column(tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "broken.inter").write_text("user_id:token\titem_id:token\nu1\ti1\n")
    err = run_bad(["--model=LinRec", "--dataset=broken", f"--data_path={tmp_path}"], capsys)
    assert "lacks field(s) timestamp" in err


def test_malformed_dataset_values(tmp_path, capsys):
    folder = tmp_path / "broken"
    folder.mkdir()
    rows = "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\tyesterday\nu1\ti2\t5\n"
    (folder / "broken.inter").write_text(rows)
    err = run_bad(["--model=LinRec", "--dataset=broken", f"--data_path={tmp_path}"], capsys)
    assert "broken.inter line 2: timestamp 'yesterday' is not a number" in err


def test_malformed_config_file(tmp_path, capsys):
    config_file = tmp_path / "bad.yaml"
    config_file.write_text("epochs: [1, 2\n")
    err = run_bad(["--model=LinRec", "--dataset=tiny", f"--config_files={config_file}"], capsys)
    assert "not valid YAML" in err


def test_bad_argument_syntax(capsys):
    err = run_bad(["--model=LinRec", "epochs=3"], capsys)
    assert "--key=value" in err


def test_existing_output_is_kept_on_error(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text('{"previous": true}')
    argv = ["--model=LinRec", "--dataset=tiny", f"--data_path={tiny_data}", f"--output_dir={out}"]
    run_bad([*argv, "--hidden_dropout_prob=2"], capsys)
    assert json.loads((out / "result.json").read_text()) == {"previous": True}


def test_corrupt_checkpoint(tiny_run_config, tmp_path):
    from recbole_easrec.quick_start import run_recbole_easrec

    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(epochs=1))
    run_dir = tmp_path / "run"
    (run_dir / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_model(run_dir)
    with pytest.raises(CheckpointError, match="model.json is missing"):
        load_model(tmp_path / "nowhere")


def test_evaluate_saved_run_reproduces_test_result(tiny_run_config, tmp_path, capsys):
    from recbole_easrec.quick_start import run_recbole_easrec

    result = run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(epochs=2))
    capsys.readouterr()
    assert main([f"--evaluate={tmp_path / 'run'}", "--state=WARNING"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_result"] == pytest.approx(result["test_result"])


def test_evaluate_corrupt_checkpoint_is_one_line(tiny_run_config, tmp_path, capsys):
    from recbole_easrec.quick_start import run_recbole_easrec

    run_recbole_easrec("LinRec", "tiny", config_dict=tiny_run_config(epochs=1))
    (tmp_path / "run" / "model.pt").write_bytes(b"\x00garbage")
    err = run_bad([f"--evaluate={tmp_path / 'run'}"], capsys)
    assert "cannot load weights" in err
    err = run_bad([f"--evaluate={tmp_path / 'missing'}"], capsys)
    assert "model.json is missing" in err
