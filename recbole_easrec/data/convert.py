"""Convert the raw files of the papers' datasets into RecBole atomic files.

RecBole's own conversion scripts (RecSysDatasets) are not installable, so this module does it::

    python -m recbole_easrec.data.convert --dataset ml-1m --input ratings.dat [--movies movies.dat] --output DIR
    python -m recbole_easrec.data.convert --dataset gowalla --input loc-gowalla_totalCheckins.txt --output DIR
    python -m recbole_easrec.data.convert --dataset douban --input ratings.csv [--sep ,] [--columns user,item,rating,timestamp] --output DIR

Each writes ``DIR/<dataset>/<dataset>.inter`` (and ``DIR/ml-1m/ml-1m.item`` from ``movies.dat``),
tab separated and UTF-8 with RecBole's ``name:type`` headers, and nothing else. Files are read in
chunks (row counts go to stderr) and written to a temporary file that replaces the target only
when the whole conversion succeeded. Train on the result with ``--data_path=DIR``.

A problem with the input (missing file, malformed line, unknown dataset or option) prints one
line ``error: <what is wrong; how to fix it>`` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import itertools
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from recbole_easrec.artifacts import make_temp_file
from recbole_easrec.errors import DataError, UserError

CHUNK_ROWS = 500_000
DATASETS = ("ml-1m", "gowalla", "douban")
WHITESPACE = r"\s+"
# Stands in for a multi-character separator such as ``::`` so that pandas' fast C parser applies.
UNIT_SEPARATOR = "\x1f"
TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")

RATING_HEADER = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
MOVIE_HEADER = ["item_id:token", "movie_title:token_seq", "release_year:token", "genre:token_seq"]
MOVIE_COLUMNS = ["item_id", "movie_title", "release_year", "genre"]
GOWALLA_HEADER = [
    "user_id:token",
    "item_id:token",
    "timestamp:float",
    "latitude:float",
    "longitude:float",
]
GOWALLA_COLUMNS = ["user_id", "item_id", "timestamp", "latitude", "longitude"]

DOUBAN_ROLES = ("user", "item", "rating", "timestamp")
# Header names seen in distributed Douban files, for reading the column order off a header line.
DOUBAN_ALIASES = {
    "user": {"user", "user_id", "userid", "uid", "u"},
    "item": {"item", "item_id", "itemid", "iid", "i", "movie", "movie_id", "movieid", "book_id"}
    | {"music_id", "subject", "subject_id"},
    "rating": {"rating", "ratings", "score", "rate", "star", "stars"},
    "timestamp": {"timestamp", "time", "date", "datetime", "ts", "created", "created_at"},
}
DOUBAN_KNOWN_NAMES = set().union(*DOUBAN_ALIASES.values())
SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "space": WHITESPACE}
SEPARATOR_NAMES |= {"whitespace": WHITESPACE, "semicolon": ";", "pipe": "|"}


class _ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one-line :class:`UserError` s."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message}; see `python -m recbole_easrec.data.convert --help`")


class _AtomicFile:
    """A text file written under a temporary name in the target folder; :meth:`commit` moves it
    into place with ``os.replace``, :meth:`discard` removes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = make_temp_file(path)
        except OSError as exc:
            raise DataError(
                f"cannot write into {path.parent}: {exc.strerror}; choose another --output folder"
            ) from None
        self.temp = Path(temp_name)
        self.file: TextIO = os.fdopen(handle, "w", encoding="utf-8", newline="")
        self.rows = 0

    def write_header(self, header: Sequence[str]) -> None:
        """Write RecBole's ``name:type`` header line."""
        self.file.write("\t".join(header) + "\n")

    def write_rows(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` as tab-separated lines (no header, no index, no quoting); tabs and
        line breaks inside a value become spaces."""
        options = {"sep": "\t", "header": False, "index": False, "lineterminator": "\n"}
        try:
            text = frame.to_csv(quoting=csv.QUOTE_NONE, **options)
        except csv.Error:  # a value holds a tab or a line break: RecBole has no escaping
            frame = frame.apply(lambda column: column.str.replace(r"[\t\r\n]", " ", regex=True))
            text = frame.to_csv(quoting=csv.QUOTE_NONE, **options)
        self.file.write(text)
        self.rows += len(frame)

    def commit(self) -> Path:
        """Close the temporary file and move it onto the target path."""
        self.file.close()
        os.chmod(self.temp, 0o644)
        os.replace(self.temp, self.path)
        print(f"wrote {self.rows:,} rows to {self.path}", file=sys.stderr)
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file (the target stays as it was)."""
        self.file.close()
        self.temp.unlink(missing_ok=True)


def _require_file(path: Path, option: str = "--input") -> Path:
    """``path`` if it is a readable file, else a :class:`DataError` naming the option to fix."""
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise DataError(f"input file {what}: {path}; pass {option}=PATH to the raw file")
    return path


def _parse_chunk(
    text: str, names: list[str], sep: str, quoted: bool, path: Path, lines: np.ndarray
) -> pd.DataFrame:
    """Parse the non-blank lines ``text`` (file line numbers ``lines``) into string columns."""
    if len(sep) > 1 and sep != WHITESPACE:
        text, sep = text.replace(sep, UNIT_SEPARATOR), UNIT_SEPARATOR
    expected = f"expected {len(names)} fields ({', '.join(names)})"
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                io.StringIO(text),
                sep=sep,
                names=names,
                header=None,
                index_col=False,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                engine="c",
            )
        except pd.errors.ParserWarning:
            raise DataError(
                f"{path} line {lines[0]} has too many fields: {expected}; "
                "fix that line or pass the right separator"
            ) from None
        except pd.errors.ParserError as exc:
            found = re.search(r"line (\d+), saw (\d+)", str(exc))
            if found and int(found[1]) <= len(lines):
                where = f"line {lines[int(found[1]) - 1]} has {found[2]} fields"
            else:
                where = f"a line from {lines[0]} on is malformed"
            raise DataError(
                f"{path} {where}: {expected}; fix or delete that line, or pass the right separator"
            ) from None


def _read_chunks(
    path: Path,
    names: list[str],
    sep: str,
    encoding: str,
    *,
    skip_header: bool = False,
    quoted: bool = False,
    chunk_rows: int | None = None,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``(frame, line_numbers)`` for ``chunk_rows`` lines at a time, blank lines skipped
    (and the first non-blank one too when ``skip_header``).

    Every column is a string; a line with too many fields is a :class:`DataError`, one with
    too few has empty strings in its last columns (the converters report those).
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    line_no = 0
    total = 0
    try:
        with path.open(encoding=encoding) as handle:
            while True:
                block: list[str] = []
                try:
                    block.extend(itertools.islice(handle, chunk_rows))
                except UnicodeDecodeError:
                    raise DataError(
                        f"{path} is not {encoding} text (near line {line_no + len(block) + 1}); "
                        "pass --encoding=ENCODING (e.g. latin-1 or utf-8)"
                    ) from None
                if not block:
                    break
                numbers: list[int] = []
                kept: list[str] = []
                for number, line in enumerate(block, start=line_no + 1):
                    if not line.strip():
                        continue
                    if skip_header:
                        skip_header = False
                        continue
                    numbers.append(number)
                    kept.append(line if line.endswith("\n") else line + "\n")
                line_no += len(block)
                if not kept:
                    continue
                lines = np.asarray(numbers)
                yield _parse_chunk("".join(kept), names, sep, quoted, path, lines), lines
                total += len(kept)
                if line_no > chunk_rows or len(block) == chunk_rows:
                    print(f"read {total:,} rows of {path.name}", file=sys.stderr)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; check the --input path") from None
    if total == 0:
        raise DataError(f"{path} holds no rows; pass the raw ratings / check-ins file as --input")


def _require_values(
    frame: pd.DataFrame, columns: Sequence[str], path: Path, lines: np.ndarray
) -> None:
    """A :class:`DataError` for the first line whose ``columns`` hold an empty field."""
    for column in columns:
        empty = (frame[column].str.strip() == "").to_numpy()
        if empty.any():
            row = int(empty.argmax())
            raise DataError(
                f"{path} line {lines[row]} has no {column} (a missing or empty field); "
                "fix or delete that line"
            )


def _numbers(series: pd.Series, column: str, path: Path, lines: np.ndarray) -> pd.Series:
    """``series`` stripped and checked to hold finite numbers (kept as written, e.g. ``5``)."""
    series = series.str.strip()
    values = pd.to_numeric(series, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(bad.argmax())
        raise DataError(
            f"{path} line {lines[row]}: {column} {series.iloc[row]!r} is not a number; "
            "fix or delete that line"
        )
    return series


def _unix_seconds(series: pd.Series, column: str, path: Path, lines: np.ndarray) -> pd.Series:
    """Unix seconds as strings: numbers are kept as written, ISO 8601 times (UTC unless they
    name a zone) are converted."""
    series = series.str.strip()
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    is_time = ~np.isfinite(numeric)
    if not is_time.any():
        return series
    times = pd.to_datetime(series[is_time], utc=True, format="ISO8601", errors="coerce")
    bad = np.zeros(len(series), dtype=bool)
    bad[is_time] = times.isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise DataError(
            f"{path} line {lines[row]}: {column} {series.iloc[row]!r} is neither unix seconds "
            "nor an ISO 8601 time (2010-10-19T23:55:27Z); fix or delete that line"
        )
    seconds = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    series = series.copy()
    series[is_time] = seconds.astype("int64").astype(str)
    return series


def _at_least(frame: pd.DataFrame, min_rating: float | None) -> pd.DataFrame:
    """The rows rated ``min_rating`` or more (all rows when it is None)."""
    if min_rating is None:
        return frame
    return frame[pd.to_numeric(frame["rating"]) >= min_rating]


def _movie_items(movies: Path, encoding: str, out: _AtomicFile) -> None:
    """``movies.dat`` → rows of ``ml-1m.item`` (title and year split, genres space separated)."""
    names = ["item_id", "title", "genre"]
    out.write_header(MOVIE_HEADER)
    for frame, lines in _read_chunks(_require_file(movies, "--movies"), names, "::", encoding):
        _require_values(frame, ["item_id", "title"], movies, lines)
        titles = frame["title"].str.strip()
        parts = titles.str.extract(TITLE_YEAR)
        frame["movie_title"] = parts["title"].fillna(titles).str.replace("\t", " ", regex=False)
        frame["release_year"] = parts["year"].fillna("")
        frame["genre"] = frame["genre"].str.strip().str.replace("|", " ", regex=False)
        frame["item_id"] = frame["item_id"].str.strip()
        out.write_rows(frame[MOVIE_COLUMNS])


def convert_movielens(
    ratings: str | os.PathLike[str],
    movies: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    min_rating: float | None = None,
    encoding: str = "latin-1",
) -> Path:
    """MovieLens-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``, latin-1) →
    ``out_dir/ml-1m/ml-1m.inter``; ``movies.dat`` (``MovieID::Title (Year)::Genre|Genre``),
    when given, → ``ml-1m.item``. Ratings below ``min_rating`` are dropped.

    Returns the path of the ``.inter`` file. Both files are replaced only if both converted.
    """
    ratings, out_dir = Path(ratings), Path(out_dir)
    _require_file(ratings)
    if movies is not None:
        movies = _require_file(Path(movies), "--movies")
    folder = out_dir / "ml-1m"
    files: list[_AtomicFile] = []
    try:
        if movies is not None:
            files.append(_AtomicFile(folder / "ml-1m.item"))
            _movie_items(movies, encoding, files[-1])
        inter = _AtomicFile(folder / "ml-1m.inter")
        files.append(inter)
        inter.write_header(RATING_HEADER)
        for frame, lines in _read_chunks(ratings, RATING_COLUMNS, "::", encoding):
            _require_values(frame, RATING_COLUMNS, ratings, lines)
            for column in ("user_id", "item_id"):
                frame[column] = frame[column].str.strip()
            for column in ("rating", "timestamp"):
                frame[column] = _numbers(frame[column], column, ratings, lines)
            inter.write_rows(_at_least(frame, min_rating))
    except BaseException:
        for file in files:
            file.discard()
        raise
    for file in files:
        file.commit()
    return inter.path


def convert_gowalla(
    checkins: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, encoding: str = "utf-8"
) -> Path:
    """SNAP Gowalla check-ins (tab separated: user, ISO time, latitude, longitude, location id)
    → ``out_dir/gowalla/gowalla.inter`` with the time as unix seconds. Returns its path."""
    checkins, out_dir = Path(checkins), Path(out_dir)
    names = ["user_id", "time", "latitude", "longitude", "item_id"]
    _require_file(checkins)
    inter = _AtomicFile(out_dir / "gowalla" / "gowalla.inter")
    try:
        inter.write_header(GOWALLA_HEADER)
        for frame, lines in _read_chunks(checkins, names, "\t", encoding):
            _require_values(frame, names, checkins, lines)
            for column in ("user_id", "item_id"):
                frame[column] = frame[column].str.strip()
            frame["timestamp"] = _unix_seconds(frame["time"], "time", checkins, lines)
            for column in ("latitude", "longitude"):
                frame[column] = _numbers(frame[column], column, checkins, lines)
            inter.write_rows(frame[GOWALLA_COLUMNS])
    except BaseException:
        inter.discard()
        raise
    return inter.commit()


def _sniff_separator(first_line: str) -> str:
    """The separator of a Douban file judged from its first line: tab, ``::``, comma, ``;``,
    else whitespace."""
    for sep in ("\t", "::", ",", ";", "|"):
        if sep in first_line:
            return sep
    return WHITESPACE


def _split_line(line: str, sep: str) -> list[str]:
    """Fields of one line (quotes stripped), for looking at a header."""
    parts = re.split(sep, line.strip()) if sep == WHITESPACE else line.strip().split(sep)
    return [part.strip().strip('"').strip("'") for part in parts]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _douban_columns(
    fields: list[str], columns: list[str] | None, header: bool | None
) -> tuple[list[str], bool]:
    """Column names to read a Douban file with, and whether its first line (``fields``) is a
    header.

    ``columns`` (from ``--columns``) names every column in order; names other than user, item,
    rating and timestamp mark columns to drop. Without it, the names of a header line are
    matched to the four roles (``user_id``, ``movie_id``, ``score``, ``time`` ... are known), and
    a file without a header is read as user, item, rating, timestamp.
    """
    if columns is not None:
        _check_roles(columns)
    lowered = [field.lower() for field in fields]
    if header is None:
        rating_at = (columns or list(DOUBAN_ROLES)).index("rating")
        named = bool(set(lowered) & DOUBAN_KNOWN_NAMES)
        header = named or (rating_at < len(fields) and not _is_number(fields[rating_at]))
    if columns is None and header:
        found = {
            role: [i for i, name in enumerate(lowered) if name in aliases]
            for role, aliases in DOUBAN_ALIASES.items()
        }
        if all(len(places) == 1 for places in found.values()):
            columns = [f"_{i}" for i in range(len(fields))]
            for role, places in found.items():
                columns[places[0]] = role
        elif len(fields) != len(DOUBAN_ROLES):
            raise UserError(
                f"cannot tell the user, item, rating and timestamp columns from the header "
                f"{','.join(fields)!r}; pass --columns naming each column in order, "
                "e.g. --columns user,item,rating,timestamp,comment"
            )
    columns = columns or list(DOUBAN_ROLES)
    return [name if name in DOUBAN_ROLES else f"_{i}" for i, name in enumerate(columns)], header


def _check_roles(columns: Sequence[str]) -> None:
    """A :class:`UserError` unless ``columns`` names user, item, rating and timestamp once each."""
    wrong = [role for role in DOUBAN_ROLES if list(columns).count(role) != 1]
    if wrong:
        raise UserError(
            f"--columns {','.join(columns)!r} must name each of user, item, rating and timestamp "
            f"once (missing or repeated: {', '.join(wrong)}); "
            "e.g. --columns user,item,rating,timestamp"
        )


def convert_douban(
    ratings: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    sep: str | None = None,
    columns: Sequence[str] | None = None,
    header: bool | None = None,
    min_rating: float | None = None,
    encoding: str = "utf-8",
) -> Path:
    """A delimited Douban ratings file (user, item, rating, timestamp) → ``douban.inter``.

    ``sep`` is the field separator (sniffed from the first line when None). ``columns`` names
    the file's columns in order (other names mark columns to drop); without it a header line
    tells the order, else it is user, item, rating, timestamp. ``header`` says whether the first
    line is a header (guessed when None: it is if its rating field is not a number). Timestamps
    may be unix seconds or ISO 8601 dates. Returns the path of ``out_dir/douban/douban.inter``.
    """
    ratings, out_dir = Path(ratings), Path(out_dir)
    first_line = _first_line(_require_file(ratings), encoding)
    if not first_line:
        raise DataError(f"{ratings} is empty; pass the Douban ratings file as --input")
    sep = sep or _sniff_separator(first_line)
    names, header = _douban_columns(
        _split_line(first_line, sep), list(columns) if columns else None, header
    )
    inter = _AtomicFile(out_dir / "douban" / "douban.inter")
    try:
        inter.write_header(RATING_HEADER)
        chunks = _read_chunks(
            ratings, names, sep, encoding, skip_header=header, quoted=len(sep) == 1
        )
        for frame, lines in chunks:
            _require_values(frame, DOUBAN_ROLES, ratings, lines)
            frame = frame.rename(columns={"user": "user_id", "item": "item_id"})
            for column in ("user_id", "item_id"):
                frame[column] = frame[column].str.strip()
            frame["rating"] = _numbers(frame["rating"], "rating", ratings, lines)
            frame["timestamp"] = _unix_seconds(frame["timestamp"], "timestamp", ratings, lines)
            inter.write_rows(_at_least(frame[RATING_COLUMNS], min_rating))
    except BaseException:
        inter.discard()
        raise
    return inter.commit()


def _first_line(path: Path, encoding: str) -> str:
    """The first non-blank line of ``path`` ('' for an empty file)."""
    try:
        with path.open(encoding=encoding) as handle:
            return next((line for line in handle if line.strip()), "")
    except UnicodeDecodeError:
        raise DataError(
            f"{path} is not {encoding} text; pass --encoding=ENCODING (e.g. latin-1 or utf-8)"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}; check the --input path") from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line options; usage errors raise :class:`UserError`."""
    parser = _ArgumentParser(
        prog="python -m recbole_easrec.data.convert",
        description="Convert raw ml-1m, gowalla or douban files into RecBole atomic files.",
    )
    parser.add_argument("--dataset", required=True, help=" | ".join(DATASETS))
    parser.add_argument("--input", required=True, type=Path, help="raw ratings / check-ins file")
    parser.add_argument("--movies", type=Path, default=None, help="ml-1m: movies.dat (optional)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("dataset"),
        help="data_path to write <dataset>/<dataset>.inter into (default: dataset)",
    )
    parser.add_argument(
        "--sep",
        default=None,
        help="douban: field separator, e.g. , ; :: or tab (default: sniffed from the first line)",
    )
    parser.add_argument(
        "--columns",
        default=None,
        help="douban: the file's column order, e.g. user,item,rating,timestamp "
        "(other names mark columns to drop)",
    )
    parser.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="douban: whether the first line is a header (default: guessed)",
    )
    parser.add_argument(
        "--min_rating", type=float, default=None, help="drop ratings below this (ml-1m, douban)"
    )
    parser.add_argument(
        "--encoding", default=None, help="text encoding (default: latin-1 for ml-1m, else utf-8)"
    )
    return parser


def _convert(args: argparse.Namespace) -> Path:
    """Run the converter that ``args.dataset`` names; option misuse is a :class:`UserError`."""
    dataset = args.dataset.strip().lower()
    if dataset not in DATASETS:
        raise UserError(
            f"unknown dataset {args.dataset!r}: pass --dataset ml-1m, gowalla or douban"
        )
    misplaced = [
        option
        for option, value, home in (
            ("--movies", args.movies, ("ml-1m",)),
            ("--sep", args.sep, ("douban",)),
            ("--columns", args.columns, ("douban",)),
            ("--header", args.header, ("douban",)),
            ("--min_rating", args.min_rating, ("ml-1m", "douban")),
        )
        if value is not None and dataset not in home
    ]
    if misplaced:
        raise UserError(f"{', '.join(misplaced)} does not apply to {dataset}: leave it out")
    if args.encoding is not None:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise UserError(
                f"unknown --encoding {args.encoding!r}: pass a codec name such as utf-8 or latin-1"
            ) from None
    if dataset == "ml-1m":
        return convert_movielens(
            args.input,
            args.movies,
            args.output,
            min_rating=args.min_rating,
            encoding=args.encoding or "latin-1",
        )
    if dataset == "gowalla":
        return convert_gowalla(args.input, args.output, encoding=args.encoding or "utf-8")
    sep = SEPARATOR_NAMES.get(args.sep.lower(), args.sep) if args.sep else None
    columns = [name.strip().lower() for name in args.columns.split(",")] if args.columns else None
    return convert_douban(
        args.input,
        args.output,
        sep=sep,
        columns=columns,
        header=args.header,
        min_rating=args.min_rating,
        encoding=args.encoding or "utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    """Convert one dataset. Returns 0, or 2 after one ``error: ...`` line on stderr."""
    try:
        args = build_parser().parse_args(argv)
        inter = _convert(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or "a file"
        print(f"error: cannot use {where}: {exc.strerror}; check the path", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    data_path = inter.parent.parent
    print(f"done: train with --dataset={inter.stem} --data_path={data_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
