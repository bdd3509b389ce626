"""Output files get the mode the umask gives new files, not mkstemp's 0600 (issue 30, item 5)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from recbole_easrec.artifacts import (
    save_torch_atomic,
    umask_mode,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config, write_cycle_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def umask() -> Iterator[None]:
    """Run the test under umask 022 (group and others may read), the usual default."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_umask_mode_follows_the_umask() -> None:
    previous = os.umask(0o027)
    try:
        assert umask_mode() == 0o640
    finally:
        os.umask(previous)


def test_atomic_writers_give_the_umask_mode(tmp_path, umask) -> None:
    files = [
        write_text_atomic(tmp_path / "a.txt", "x"),
        write_bytes_atomic(tmp_path / "b.bin", b"x"),
        write_json_atomic(tmp_path / "c.json", {"a": 1}),
        save_torch_atomic({"w": torch.zeros(1)}, tmp_path / "d.pth"),
    ]
    assert [mode(path) for path in files] == [0o644] * 4


def test_a_run_folder_is_readable_by_the_team(tmp_path, umask) -> None:
    data_path = write_cycle_dataset(tmp_path / "data")
    result = run_recbole_easrec(
        "LinRec", "tiny", config_dict=tiny_config(data_path, tmp_path / "run", epochs=1)
    )
    run_dir = Path(result["output_dir"])
    written = [path for path in run_dir.iterdir() if path.is_file()]
    names = {path.name for path in written}
    assert {"result.json", "checkpoint.pth", "model.json", "model.pt", "run.log"} <= names
    assert {path.name: mode(path) for path in written} == {name: 0o644 for name in names}


def test_converted_files_get_the_umask_mode(tmp_path, umask) -> None:
    from recbole_easrec.data.convert import main

    raw = tmp_path / "ratings.csv"
    raw.write_text("u1,i1,5,1\nu1,i2,4,2\nu2,i1,3,3\n", encoding="utf-8")
    output = tmp_path / "out"
    assert main(["--dataset=douban", f"--input={raw}", f"--output={output}", "--sep=,"]) == 0
    (inter,) = output.rglob("*.inter")
    assert mode(inter) == 0o644
