"""RecBole's atomic files read with pandas' C engine give the frame its python engine gives."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recbole_easrec import compat

ATOMIC = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\ttags:token_seq\tscores:float_seq\n"
    "1\tä-item\t4.1\t978300760.123456789\tdrama comedy\t0.1 0.30000000000000004\n"
    "2\t7\t\t978302109\t\t1e-7\n"
    '3\t"quoted"\t5\t978301968.5\tx\t\n'
)
DTYPE = {
    "user_id:token": str,
    "item_id:token": str,
    "rating:float": float,
    "timestamp:float": float,
    "tags:token_seq": str,
    "scores:float_seq": str,
}


def test_c_engine_reads_the_frame_the_python_engine_reads(tmp_path: Path) -> None:
    path = tmp_path / "toy.inter"
    path.write_text(ATOMIC, encoding="utf-8")
    asked = {"delimiter": "\t", "dtype": DTYPE, "encoding": "utf-8", "engine": "python"}
    expected = pd.read_csv(path, **asked)
    for column in ("tags:token_seq", "scores:float_seq"):
        expected[column] = expected[column].fillna("")
    pd.testing.assert_frame_equal(compat._read_csv_filling_sequences(path, **asked), expected)


def test_a_separator_the_c_engine_cannot_take_keeps_the_python_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "toy.inter"
    path.write_text("user_id:token::item_id:token\n1::2\n", encoding="utf-8")
    engines: list[str] = []
    read_csv = pd.read_csv

    def spy(*args, **kwargs):
        engines.append(kwargs.get("engine"))
        return read_csv(*args, **kwargs)

    monkeypatch.setattr(compat.pd, "read_csv", spy)
    frame = compat._read_csv_filling_sequences(path, delimiter="::", engine="python")
    assert engines == ["python"] and frame.shape == (1, 2)
    compat._read_csv_filling_sequences(path, delimiter="\t", engine="python")
    assert engines[-1] == "c"
