"""Row-level rules of an atomic file, checked before RecBole reads it (see README, "Data rules").

Errors name the file, the line and the fix; handled cases are returned as warning lines.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from recbole_easrec.errors import DataError

FIX = "fix the file (tab separated, name:type header)"
BOM = "\ufeff"  # UTF-8 byte-order mark (Excel, Windows): accepted, see checks.accept_bom


@dataclass
class FileScan:
    """What a scan of one atomic file found."""

    fields: list[str]
    ids: Counter = field(default_factory=Counter)  # id field value → rows
    rows: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_header(path: Path, line: str, separator: str) -> tuple[list[str], list[str]]:
    """Field names and types of the header line."""
    columns = line.split(separator)
    if len(columns) == 1 and ("," in line or ";" in line):
        raise DataError(
            f"{path} line 1: the header has no {separator!r} separator (comma separated?);"
            " atomic files are tab separated, or pass --field_separator"
        )
    if not any(":" in column for column in columns):
        raise DataError(
            f"{path} line 1: the header line is missing (the first line,"
            f" {shorten(line)!r}, has no name:type fields); add a header such as"
            " 'user_id:token<TAB>item_id:token<TAB>timestamp:float' as line 1"
        )
    names = [column.split(":")[0] for column in columns]
    types = [column.split(":")[1] if ":" in column else "token" for column in columns]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path} line 1: duplicate header field(s) {', '.join(duplicates)}; {FIX}")
    return names, types


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (``…`` marks a cut), tabs shown as spaces."""
    text = text.replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_number(path: Path, number: int, name: str, value: str) -> float:
    """A float value of the file: finite, numeric."""
    try:
        parsed = float(value)
    except ValueError:
        raise DataError(f"{path} line {number}: {name} {value!r} is not a number; {FIX}") from None
    if not math.isfinite(parsed):
        raise DataError(
            f"{path} line {number}: {name} is {value!r}; use a finite number or drop the row"
        )
    return parsed


def scan_file(
    path: Path,
    separator: str,
    id_field: str,
    required: set[str],
    time_field: str | None,
) -> FileScan:
    """Check every row of ``path``; ``required`` fields may not be empty."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    lines = raw.split(b"\n")
    if not raw.strip():
        raise DataError(f"{path} is empty; it needs a name:type header line and rows")
    decoded = []
    for number, line in enumerate(lines, start=1):
        try:
            decoded.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError:
            raise DataError(
                f"{path} line {number}: not valid UTF-8; re-encode the file as UTF-8"
            ) from None
    names, types = parse_header(path, decoded[0].removeprefix(BOM), separator)
    scan = FileScan(fields=names)
    empty: Counter = Counter()
    first_empty: dict[str, int] = {}
    negative = 0
    for number, line in enumerate(decoded[1:], start=2):
        if not line.strip():
            continue
        values = line.split(separator)
        if len(values) != len(names):
            raise DataError(
                f"{path} line {number}: {len(values)} fields, the header has {len(names)}"
                f" ({', '.join(names)}); every row needs one value per header field, and tokens"
                " may not contain the separator"
            )
        scan.rows += 1
        for name, kind, value in zip(names, types, values, strict=True):
            if value == "":
                empty[name] += 1
                first_empty.setdefault(name, number)
            elif kind == "float":
                parsed = check_number(path, number, name, value)
                negative += name == time_field and parsed < 0
        if id_field in names:
            scan.ids[values[names.index(id_field)]] += 1
    if scan.rows == 0:
        raise DataError(f"{path} has a header but no rows; add interactions")
    for name in sorted(required & set(empty)):
        raise DataError(
            f"{path} line {first_empty[name]}: empty {name} ({empty[name]} of {scan.rows} rows);"
            f" every row needs a {name}: fill it in or drop those rows"
        )
    for name in sorted(set(empty) - required):
        scan.warnings.append(
            f"{path}: {empty[name]} of {scan.rows} rows have no {name} (first at line"
            f" {first_empty[name]}); RecBole fills them with its default for the field"
        )
    if negative:
        scan.warnings.append(
            f"{path}: {negative} negative {time_field} values; they are ordered as numbers"
            " (before 0): check the unit"
        )
    return scan
