"""Raw dataset files → RecBole atomic files (``python -m recbole_easrec.data.convert``)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from recbole_easrec.data import convert
from recbole_easrec.data.convert import convert_douban, convert_gowalla, convert_movielens, main

RATINGS_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]


def rows(path: Path) -> list[list[str]]:
    """The lines of an atomic file split on tabs, header first."""
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``main(argv)``, expect failure with exactly one ``error:`` line and no traceback."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and "Traceback" not in captured.err
    return lines[0]


# --- MovieLens-1M --------------------------------------------------------------------------


def test_movielens_ratings_and_latin1_movies(tmp_path, capsys):
    ratings = write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    movies = write(
        tmp_path / "movies.dat",
        "1001::Associé, The (1982)::Comedy|Drama\n"
        '1002::"Great Performances" Cats (1998)::Musical\n'
        "1003::City of Lost Children, The (Cité des enfants perdus, La) (1995)::Adventure|Sci-Fi\n",
        encoding="latin-1",
    )
    out = tmp_path / "out"
    argv = ["--dataset", "ml-1m", "--input", str(ratings), "--movies", str(movies)]
    assert main([*argv, "--output", str(out)]) == 0
    assert "done: train with --dataset=ml-1m" in capsys.readouterr().err

    folder = out / "ml-1m"
    assert sorted(os.listdir(folder)) == ["ml-1m.inter", "ml-1m.item"]  # nothing else
    assert rows(folder / "ml-1m.inter") == [
        RATINGS_HEADER,
        ["1", "1193", "5", "978300760"],
        ["1", "661", "3", "978302109"],
    ]
    assert rows(folder / "ml-1m.item") == [
        ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"],
        ["1001", "Associé, The", "1982", "Comedy Drama"],
        ["1002", '"Great Performances" Cats', "1998", "Musical"],
        [
            "1003",
            "City of Lost Children, The (Cité des enfants perdus, La)",
            "1995",
            "Adventure Sci-Fi",
        ],
    ]

    inter = pd.read_csv(folder / "ml-1m.inter", sep="\t")
    assert list(inter.columns) == RATINGS_HEADER
    assert inter["user_id:token"].dtype.kind == "i"
    assert inter["rating:float"].dtype.kind in "if"
    assert inter["timestamp:float"].tolist() == [978300760, 978302109]
    items = pd.read_csv(folder / "ml-1m.item", sep="\t", encoding="utf-8", quoting=3)
    assert items["movie_title:token_seq"][0] == "Associé, The"


def test_movielens_min_rating_and_python_api(tmp_path):
    ratings = write(tmp_path / "ratings.dat", "1::10::5::100\n1::11::2::101\n2::10::3::102\n")
    inter = convert_movielens(ratings, None, tmp_path / "out", min_rating=3)
    assert inter == tmp_path / "out" / "ml-1m" / "ml-1m.inter"
    assert rows(inter)[1:] == [["1", "10", "5", "100"], ["2", "10", "3", "102"]]
    assert os.listdir(inter.parent) == ["ml-1m.inter"]  # no .item without movies.dat


def test_recbole_loads_the_converted_movielens(tmp_path):
    from recbole.data import create_dataset

    from recbole_easrec.config import build_config
    from tests.conftest import tiny_config

    lines = [
        f"{user}::{(user + k) % 6 + 1}::{1 + k % 5}::{1000 + user * 10 + k}\n"
        for user in range(1, 9)
        for k in range(5)
    ]
    ratings = write(tmp_path / "ratings.dat", "".join(lines))
    movies = write(
        tmp_path / "movies.dat",
        "".join(f"{i}::Associé {i} (199{i})::Comedy|Drama\n" for i in range(1, 8)),
        encoding="latin-1",
    )
    convert_movielens(ratings, movies, tmp_path / "out")
    settings = tiny_config(tmp_path / "out")
    settings["load_col"] = {
        "inter": ["user_id", "item_id", "rating", "timestamp"],
        "item": ["item_id", "movie_title", "release_year", "genre"],
    }
    dataset = create_dataset(build_config("SASRec", "ml-1m", config_dict=settings))
    # 6 rated items plus item 7, known from ml-1m.item only
    assert (dataset.inter_num, dataset.user_num - 1, dataset.item_num - 1) == (40, 8, 7)
    types = {field: kind.value for field, kind in dataset.field2type.items()}
    assert types["timestamp"] == "float" and types["genre"] == "token_seq"
    assert "Associé" in dataset.field2id_token["movie_title"]


# --- Gowalla -------------------------------------------------------------------------------


def test_gowalla_checkins(tmp_path):
    raw = write(
        tmp_path / "loc-gowalla_totalCheckins.txt",
        "0\t2010-10-19T23:55:27Z\t30.2359091167\t-97.7951395833\t22847\n"
        "0\t2010-10-18T22:17:43Z\t30.2691029532\t-97.7493953705\t420315\n"
        "\n"
        "1\t1970-01-01T00:01:40Z\t0.0\t-0.5\t7\n",
    )
    assert main(["--dataset", "gowalla", "--input", str(raw), "--output", str(tmp_path)]) == 0
    assert rows(tmp_path / "gowalla" / "gowalla.inter") == [
        ["user_id:token", "item_id:token", "timestamp:float", "latitude:float", "longitude:float"],
        ["0", "22847", "1287532527", "30.2359091167", "-97.7951395833"],
        ["0", "420315", "1287440263", "30.2691029532", "-97.7493953705"],
        ["1", "7", "100", "0.0", "-0.5"],
    ]
    frame = pd.read_csv(tmp_path / "gowalla" / "gowalla.inter", sep="\t")
    assert frame["timestamp:float"].dtype.kind == "i"
    assert frame["latitude:float"].dtype.kind == "f"
    assert frame["latitude:float"][0] == pytest.approx(30.2359091167)
    assert os.listdir(tmp_path / "gowalla") == ["gowalla.inter"]


# --- Douban --------------------------------------------------------------------------------


def test_douban_tsv_without_header(tmp_path):
    raw = write(tmp_path / "douban.tsv", "7\t10\t4\t1500000000\n8\t11\t2.5\t1500000001\n")
    inter = convert_douban(raw, tmp_path)
    assert rows(inter) == [
        RATINGS_HEADER,
        ["7", "10", "4", "1500000000"],
        ["8", "11", "2.5", "1500000001"],
    ]
    frame = pd.read_csv(inter, sep="\t")
    assert frame["rating:float"].tolist() == [4.0, 2.5]


def test_douban_header_names_give_the_column_order(tmp_path):
    raw = write(
        tmp_path / "douban.csv",
        "movie_id,user_id,comment,rating,time\n"
        '10,7,"good, really",4,2010-05-23 12:00:00\n'
        '11,7,"不错",2,1500000001\n'
        "12,8,,5,1500000002\n",
    )
    argv = ["--dataset", "douban", "--input", str(raw), "--output", str(tmp_path)]
    assert main([*argv, "--min_rating", "3"]) == 0
    assert rows(tmp_path / "douban" / "douban.inter")[1:] == [
        ["7", "10", "4", "1274616000"],
        ["8", "12", "5", "1500000002"],
    ]


def test_douban_sep_and_columns_options(tmp_path):
    raw = write(tmp_path / "ratings.txt", "x;10;7;1500000000;4\ny;11;8;1500000001;1\n")
    argv = ["--dataset", "douban", "--input", str(raw), "--output", str(tmp_path)]
    argv += ["--sep", ";", "--columns", "note,item,user,timestamp,rating", "--no-header"]
    assert main(argv) == 0
    assert rows(tmp_path / "douban" / "douban.inter")[1:] == [
        ["7", "10", "4", "1500000000"],
        ["8", "11", "1", "1500000001"],
    ]


# --- Chunks and atomic writes ----------------------------------------------------------------


def test_chunked_reading_reports_progress_and_true_line_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    good = write(tmp_path / "ratings.dat", "".join(f"{u}::1::5::{u}\n" for u in range(1, 6)))
    assert main(["--dataset", "ml-1m", "--input", str(good), "--output", str(tmp_path)]) == 0
    assert "read 4 rows of ratings.dat" in capsys.readouterr().err
    assert len(rows(tmp_path / "ml-1m" / "ml-1m.inter")) == 6

    bad = write(tmp_path / "bad.dat", "1::1::5::1\n\n2::1::5::2\n3::1::5::3\n4::1::x::4\n")
    assert main(["--dataset", "ml-1m", "--input", str(bad), "--output", str(tmp_path)]) != 0
    *progress, error = capsys.readouterr().err.splitlines()
    assert all(line.startswith("read ") for line in progress)  # big files: row counts first
    assert error.startswith("error: ") and "line 5: rating 'x' is not a number" in error


def test_failed_conversion_keeps_the_old_output(tmp_path, capsys):
    out = tmp_path / "out"
    good = write(tmp_path / "ratings.dat", "1::1::5::1\n")
    assert main(["--dataset", "ml-1m", "--input", str(good), "--output", str(out)]) == 0
    before = (out / "ml-1m" / "ml-1m.inter").read_text()
    capsys.readouterr()
    bad = write(tmp_path / "bad.dat", "1::1::5::1\n2::1::5\n")
    one_line_error(["--dataset", "ml-1m", "--input", str(bad), "--output", str(out)], capsys)
    assert (out / "ml-1m" / "ml-1m.inter").read_text() == before
    assert os.listdir(out / "ml-1m") == ["ml-1m.inter"]  # no temporary file left


# --- Errors: one line, non-zero exit ---------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "content", "extra", "expected"),
    [
        ("ml-1m", None, [], "input file not found"),
        ("ml-1m", "1::2::5::978300760\n1::3::4::978300761::9\n", [], "line 2 has 5 fields"),
        ("ml-1m", "1::2::5::978300760::9\n", [], "line 1 has too many fields"),
        ("ml-1m", "1::2::5::978300760\n1::3\n", [], "line 2 has no rating"),
        ("ml-1m", "1::2::five::978300760\n", [], "rating 'five' is not a number"),
        ("ml-1m", "1::2::5::1\n", ["--movies", "MISSING"], "pass --movies=PATH"),
        ("ml-1m", "", [], "holds no rows"),
        ("gowalla", "0\tyesterday\t30.2\t-97.7\t22847\n", [], "time 'yesterday' is neither"),
        ("gowalla", "0\t2010-10-19T23:55:27Z\tnorth\t-97.7\t22847\n", [], "latitude 'north'"),
        ("gowalla", "0\t2010-10-19T23:55:27Z\t30.2\t-97.7\t1\n", ["--min_rating", "3"], "apply"),
        ("douban", "1\t2\t3\t4\n", ["--columns", "user,item,rating"], "timestamp"),
        ("douban", "a,b,c,d,e\n1,2,3,4,5\n", [], "cannot tell the user, item"),
        ("douban", "\xff\xfe\n", [], "--encoding"),
        ("douban", "1\t2\t3\t4\n", ["--encoding", "klingon"], "unknown --encoding"),
        ("yelp", "1\t2\t3\t4\n", [], "unknown dataset 'yelp'"),
        ("ml-1m", "1::2::5::1\n", ["--min_rating", "high"], "invalid float value"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, dataset, content, extra, expected):
    raw = tmp_path / "raw.txt"
    if content is not None:
        raw.write_bytes(content.encode("latin-1"))
    argv = ["--dataset", dataset, "--input", str(raw), "--output", str(tmp_path / "out"), *extra]
    message = one_line_error(argv, capsys)
    assert expected in message
    assert not (tmp_path / "out" / dataset / f"{dataset}.inter").exists()


def test_missing_required_option_is_one_line(capsys):
    assert "--input" in one_line_error(["--dataset", "ml-1m"], capsys)


def test_converters_raise_data_errors(tmp_path):
    from recbole_easrec.errors import UserError

    with pytest.raises(UserError, match="not found"):
        convert_gowalla(tmp_path / "none.txt", tmp_path)
