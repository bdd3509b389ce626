"""Convert the raw files of the papers' datasets into RecBole atomic files.

RecBole's own conversion scripts (RecSysDatasets) are not installable, so this module does it::

    python -m recbole_easrec.data.convert --dataset ml-1m --input ratings.dat [--movies movies.dat] --output DIR
    python -m recbole_easrec.data.convert --dataset gowalla --input loc-gowalla_totalCheckins.txt --output DIR
    python -m recbole_easrec.data.convert --dataset douban --input ratings.csv --sep , --columns user,item,rating,timestamp --output DIR

Each writes ``DIR/<dataset>/<dataset>.inter`` (and ``ml-1m.item`` from ``movies.dat``), tab
separated with ``name:type`` headers, atomically. Then train with ``--data_path=DIR``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from recbole_easrec.artifacts import write_text_atomic
from recbole_easrec.errors import DataError

CHUNK_ROWS = 500_000
DATASETS = ("ml-1m", "gowalla", "douban")
TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"input file not found: {path}; pass --input=PATH to the raw file")
    return path


def _read_chunks(path: Path, names: list[str], sep: str, **options: object) -> pd.DataFrame:
    """Read a delimited file in chunks (progress on stderr); malformed rows are a DataError."""
    frames = []
    try:
        reader = pd.read_csv(
            path, sep=sep, names=names, header=None, chunksize=CHUNK_ROWS, dtype=str, **options
        )
        for chunk in reader:
            frames.append(chunk)
            print(f"read {sum(map(len, frames)):,} rows of {path.name}", file=sys.stderr)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path} is malformed ({first_line}); expected {len(names)} fields a line"
        ) from None
    if not frames:
        raise DataError(f"{path} holds no rows")
    frame = pd.concat(frames, ignore_index=True)
    if frame.isna().any().any():
        row = int(frame.isna().any(axis=1).to_numpy().argmax()) + 1
        raise DataError(
            f"{path} line {row} is malformed: expected {len(names)} fields ({', '.join(names)})"
        )
    return frame


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax()) + 1
        raise DataError(
            f"{path} line {row}: {column} {frame[column].iloc[row - 1]!r} is not a number"
        )
    return values


def _write_atomic_file(frame: pd.DataFrame, header: list[str], path: Path) -> Path:
    body = frame.to_csv(sep="\t", header=False, index=False, lineterminator="\n")
    write_text_atomic(path, "\t".join(header) + "\n" + body)
    print(f"wrote {len(frame):,} rows to {path}", file=sys.stderr)
    return path


def _format_number(values: pd.Series) -> pd.Series:
    """Integral floats without a trailing ``.0`` (ratings 4, timestamps 978300760)."""
    return values.map(lambda v: str(int(v)) if float(v).is_integer() else repr(float(v)))


def _drop_low_ratings(frame: pd.DataFrame, min_rating: float | None) -> pd.DataFrame:
    if min_rating is None:
        return frame
    return frame[frame["rating"].astype(float) >= min_rating]


def convert_movielens(
    ratings: Path, movies: Path | None, out_dir: Path, min_rating: float | None = None
) -> Path:
    """MovieLens-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``, latin-1) → ml-1m.inter;
    ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``) → ml-1m.item. Returns the folder."""
    names = ["user_id", "item_id", "rating", "timestamp"]
    frame = _read_chunks(_require_file(ratings), names, "::", engine="python", encoding="latin-1")
    for column in ("rating", "timestamp"):
        frame[column] = _format_number(_numeric(frame, column, ratings))
    frame = _drop_low_ratings(frame, min_rating)
    folder = out_dir / "ml-1m"
    header = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    _write_atomic_file(frame, header, folder / "ml-1m.inter")
    if movies is not None:
        _write_atomic_file(
            _movie_items(movies),
            ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"],
            folder / "ml-1m.item",
        )
    return folder


def _movie_items(movies: Path) -> pd.DataFrame:
    frame = _read_chunks(
        _require_file(movies),
        ["item_id", "title", "genre"],
        "::",
        engine="python",
        encoding="latin-1",
    )
    parts = frame["title"].str.extract(TITLE_YEAR)
    frame["movie_title"] = parts["title"].fillna(frame["title"]).str.replace("\t", " ")
    frame["release_year"] = parts["year"].fillna("")
    frame["genre"] = frame["genre"].str.replace("|", " ", regex=False)
    return frame[["item_id", "movie_title", "release_year", "genre"]]


def convert_gowalla(checkins: Path, out_dir: Path) -> Path:
    """SNAP Gowalla check-ins (user, ISO time, latitude, longitude, location) → gowalla.inter."""
    names = ["user_id", "time", "latitude", "longitude", "item_id"]
    frame = _read_chunks(_require_file(checkins), names, "\t")
    times = pd.to_datetime(frame["time"], errors="coerce", utc=True)
    if times.isna().any():
        row = int(times.isna().to_numpy().argmax()) + 1
        raise DataError(
            f"{checkins} line {row}: time {frame['time'].iloc[row - 1]!r} is not ISO 8601"
        )
    frame["timestamp"] = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    for column in ("latitude", "longitude"):
        frame[column] = _numeric(frame, column, checkins)
    header = [
        "user_id:token",
        "item_id:token",
        "timestamp:float",
        "latitude:float",
        "longitude:float",
    ]
    columns = ["user_id", "item_id", "timestamp", "latitude", "longitude"]
    return _write_atomic_file(frame[columns], header, out_dir / "gowalla" / "gowalla.inter").parent


def convert_douban(
    ratings: Path,
    out_dir: Path,
    sep: str = "\t",
    columns: list[str] | None = None,
    header: bool = False,
    min_rating: float | None = None,
) -> Path:
    """A delimited Douban ratings file with user, item, rating, timestamp columns → douban.inter.

    ``columns`` names the file's columns in order (others are dropped); it must include
    ``user``, ``item``, ``rating`` and ``timestamp``.
    """
    columns = columns or ["user", "item", "rating", "timestamp"]
    missing = {"user", "item", "rating", "timestamp"} - set(columns)
    if missing:
        raise DataError(
            f"--columns lacks {', '.join(sorted(missing))}; e.g. --columns user,item,rating,timestamp"
        )
    frame = _read_chunks(_require_file(ratings), columns, sep, skiprows=1 if header else 0)
    frame = frame.rename(columns={"user": "user_id", "item": "item_id"})
    for column in ("rating", "timestamp"):
        frame[column] = _format_number(_numeric(frame, column, ratings))
    frame = _drop_low_ratings(frame, min_rating)
    atomic_header = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    columns_out = ["user_id", "item_id", "rating", "timestamp"]
    return _write_atomic_file(
        frame[columns_out], atomic_header, out_dir / "douban" / "douban.inter"
    ).parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_easrec.data.convert", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", required=True, help=" | ".join(DATASETS))
    parser.add_argument("--input", required=True, type=Path, help="raw ratings / check-ins file")
    parser.add_argument("--movies", type=Path, default=None, help="ml-1m: movies.dat (optional)")
    parser.add_argument(
        "--output", type=Path, default=Path("dataset"), help="data_path to write into"
    )
    parser.add_argument("--sep", default="\t", help="douban: field separator (default tab)")
    parser.add_argument(
        "--columns", default="user,item,rating,timestamp", help="douban: column order"
    )
    parser.add_argument("--header", action="store_true", help="douban: the file has a header line")
    parser.add_argument("--min_rating", type=float, default=None, help="drop ratings below this")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Convert one dataset; a problem with the input prints one line and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.dataset == "ml-1m":
            folder = convert_movielens(args.input, args.movies, args.output, args.min_rating)
        elif args.dataset == "gowalla":
            folder = convert_gowalla(args.input, args.output)
        elif args.dataset == "douban":
            columns = [name.strip() for name in args.columns.split(",")]
            folder = convert_douban(
                args.input, args.output, args.sep, columns, args.header, args.min_rating
            )
        else:
            raise DataError(f"unknown dataset {args.dataset!r}: use one of {', '.join(DATASETS)}")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done: train with --dataset={args.dataset} --data_path={folder.parent}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
