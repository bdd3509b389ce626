"""Misspelt settings and flags are caught: one warning line each, an error under --strict."""

from __future__ import annotations

import argparse

import pytest

from recbole_easrec.cli import build_parser, main
from recbole_easrec.errors import ConfigError
from recbole_easrec.settings_check import check_settings, known_setting_names

STOP_EARLY = "--hidden_size=-8"  # an invalid value: the run stops before any data is loaded


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert all("Traceback" not in line for line in lines)
    return code, lines


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("--epoch=5", "--epochs"),
        ("--hiden_size=64", "--hidden_size"),
        ("--max_item_list_length=20", "--MAX_ITEM_LIST_LENGTH"),
        ("--evalute=DIR", "--evaluate"),  # a misspelt flag of our own parser
        ("--learning_rat=0.01", "--learning_rate"),
    ],
)
def test_typo_warns_with_the_closest_known_name(typo, suggestion, tiny_data, capsys):
    code, lines = run_cli(
        ["--model=LinRec", "--dataset=tiny", f"--data_path={tiny_data}", typo, STOP_EARLY], capsys
    )
    key = typo[2:].split("=")[0]
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert f"unknown setting --{key} " in warnings[0]
    assert warnings[0].endswith(f"did you mean {suggestion}?")
    assert code == 2 and lines[-1].startswith("error: hidden_size must be a positive integer")


def test_strict_makes_every_typo_one_error_line(tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    code, lines = run_cli(
        [
            "--model=LinRec",
            "--dataset=tiny",
            f"--data_path={tiny_data}",
            f"--output_dir={out}",
            "--strict",
            "--epoch=5",
            "--hiden_size=64",
        ],
        capsys,
    )
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert "--epoch " in lines[0] and "--hiden_size " in lines[0] and "--strict" in lines[0]
    assert not out.exists()


def test_known_settings_give_no_warning(tiny_data, capsys):
    known = [
        "--epochs=1",
        "--MAX_ITEM_LIST_LENGTH=10",
        "--efficiency_repeats=1",  # a plugin default (properties/overall.yaml)
        "--user_inter_num_interval=[0,inf)",  # a RecBole dataset setting
        "--gpu_id=0",  # RecBole's Config internal
        "--gumbel_tau_decay=0.001",  # a plugin model YAML (EASRec)
        "--num_layers=2",  # a RecBole model YAML (GRU4Rec)
        "--show_progress=False",
    ]
    code, lines = run_cli(
        ["--model=LinRec", "--dataset=tiny", f"--data_path={tiny_data}", *known, STOP_EARLY],
        capsys,
    )
    assert code == 2 and not [line for line in lines if line.startswith("warning: ")]


def test_typo_in_a_config_file_is_named_with_the_file(tiny_data, tmp_path, capsys):
    config_file = tmp_path / "my.yaml"
    config_file.write_text("epochs: 1\ntrain_batch_sise: 64\n")
    code, lines = run_cli(
        [
            "--model=LinRec",
            "--dataset=tiny",
            f"--data_path={tiny_data}",
            f"--config_files={config_file}",
            STOP_EARLY,
        ],
        capsys,
    )
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1 and "--train_batch_sise" in warnings[0]
    assert str(config_file) in warnings[0] and "--train_batch_size?" in warnings[0]


def test_flags_are_read_from_the_parser_at_run_time():
    parser = build_parser()
    parser.add_argument("--shadow_run", default=None)  # e.g. a flag added later to the CLI
    messages = check_settings({"shadow_rnu": "DIR", "shadow_run": "DIR"}, parser)
    assert len(messages) == 1 and messages[0].endswith("did you mean --shadow_run?")
    with pytest.raises(ConfigError, match="unknown setting --shadow_rnu"):
        check_settings({"shadow_rnu": "DIR"}, parser, strict=True)


def test_no_suggestion_for_a_name_far_from_every_known_one():
    messages = check_settings({"zzqqxx": "1"}, argparse.ArgumentParser())
    assert len(messages) == 1 and "did you mean" not in messages[0]


def test_known_names_come_from_the_yaml_files():
    known = known_setting_names()
    assert {"epochs", "hidden_size", "train_mode", "density", "MODEL_TYPE", "load_col"} <= known
    assert "epoch" not in known and "hiden_size" not in known
