"""Raw dataset files → RecBole atomic files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recbole_easrec.data.convert import main
from recbole_easrec.quick_start import run_recbole_easrec
from tests.conftest import tiny_config


def read_atomic(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def write_ratings(path: Path, users: int = 20, per_user: int = 8) -> None:
    lines = [
        f"{u}::{(u + k) % 15 + 1}::{1 + k % 5}::{978300000 + u * 100 + k}"
        for u in range(1, users + 1)
        for k in range(per_user)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


def test_movielens_ratings_and_movies(tmp_path):
    ratings, movies = tmp_path / "ratings.dat", tmp_path / "movies.dat"
    ratings.write_text("1::1193::5::978300760\n1::661::3::978302109\n", encoding="latin-1")
    movies.write_bytes(
        "1001::Associé, The (1982)::Comedy|Drama\n2::Jumanji (1995)::Adventure\n".encode("latin-1")
    )
    assert (
        main(
            [
                "--dataset",
                "ml-1m",
                "--input",
                str(ratings),
                "--movies",
                str(movies),
                "--output",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    inter = read_atomic(tmp_path / "out" / "ml-1m" / "ml-1m.inter")
    assert inter == [
        ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
        ["1", "1193", "5", "978300760"],
        ["1", "661", "3", "978302109"],
    ]
    items = read_atomic(tmp_path / "out" / "ml-1m" / "ml-1m.item")
    assert items[0] == [
        "item_id:token",
        "movie_title:token_seq",
        "release_year:token",
        "genre:token_seq",
    ]
    assert items[1] == ["1001", "Associé, The", "1982", "Comedy Drama"]
    frame = pd.read_csv(tmp_path / "out" / "ml-1m" / "ml-1m.inter", sep="\t")
    assert frame["timestamp:float"].dtype.kind in "if"


def test_converted_movielens_trains(tmp_path):
    ratings = tmp_path / "ratings.dat"
    write_ratings(ratings)
    out = tmp_path / "out"
    assert main(["--dataset", "ml-1m", "--input", str(ratings), "--output", str(out)]) == 0
    result = run_recbole_easrec(
        "LinRec", "ml-1m", config_dict=tiny_config(out, tmp_path / "run", epochs=1)
    )
    assert 0 <= result["test_result"]["ndcg@10"] <= 1


def test_gowalla(tmp_path):
    raw = tmp_path / "checkins.txt"
    raw.write_text("0\t2010-10-19T23:55:27Z\t30.2359091167\t-97.7951395833\t22847\n")
    assert main(["--dataset", "gowalla", "--input", str(raw), "--output", str(tmp_path)]) == 0
    rows = read_atomic(tmp_path / "gowalla" / "gowalla.inter")
    assert rows[0][:3] == ["user_id:token", "item_id:token", "timestamp:float"]
    assert rows[1][:3] == ["0", "22847", "1287532527"]
    assert float(rows[1][3]) == 30.2359091167


def test_douban_with_header_and_column_order(tmp_path):
    raw = tmp_path / "douban.csv"
    raw.write_text("item,user,rating,timestamp\n10,7,4,1500000000\n11,7,2,1500000001\n")
    argv = [
        "--dataset",
        "douban",
        "--input",
        str(raw),
        "--output",
        str(tmp_path),
        "--sep",
        ",",
        "--columns",
        "item,user,rating,timestamp",
        "--header",
        "--min_rating",
        "3",
    ]
    assert main(argv) == 0
    assert read_atomic(tmp_path / "douban" / "douban.inter")[1:] == [["7", "10", "4", "1500000000"]]


def one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err
    return errors[0]


def test_bad_inputs(tmp_path, capsys):
    assert "input file not found" in one_line_error(
        ["--dataset", "ml-1m", "--input", str(tmp_path / "none.dat")], capsys
    )
    bad = tmp_path / "bad.dat"
    bad.write_text("1::2::5::978300760\n1::3::five::978300761\n")
    assert "rating 'five' is not a number" in one_line_error(
        ["--dataset", "ml-1m", "--input", str(bad)], capsys
    )
    short = tmp_path / "short.dat"
    short.write_text("1::2::5::978300760\n1::3\n")
    assert "line 2 is malformed" in one_line_error(
        ["--dataset", "ml-1m", "--input", str(short)], capsys
    )
    assert "unknown dataset" in one_line_error(["--dataset", "yelp", "--input", str(bad)], capsys)
