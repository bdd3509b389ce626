"""Check that a dataset's atomic files exist and are readable before RecBole loads them.

RecBole would try to download a missing dataset (which fails offline and, in single-process runs,
crashes on ``torch.distributed.barrier``, RecBole #1989); we stop first with one clear line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recbole_easrec.errors import DataError

CONVERT_HINT = "convert raw files with `python -m recbole_easrec.data.convert`"


def expected_files(config: Any) -> dict[str, list[str]]:
    """Atomic files the config will load, with the fields each must provide: suffix → fields."""
    load_col = config["load_col"] or {"inter": [config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]]}
    return {suffix: list(fields) for suffix, fields in load_col.items()}


def read_header(path: Path, separator: str) -> list[str]:
    """Field names (``name:type`` → ``name``) from the first line of an atomic file."""
    try:
        with open(path, encoding="utf-8") as handle:
            first_line = handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return [column.split(":")[0] for column in first_line.split(separator)]


def check_dataset_files(config: Any) -> None:
    """Raise :class:`DataError` if a file the run needs is missing or lacks a needed field."""
    folder = Path(config["data_path"]).resolve()
    name = config["dataset"]
    separator = config["field_separator"] or "\t"
    for suffix, fields in expected_files(config).items():
        path = folder / f"{name}.{suffix}"
        if not path.is_file():
            raise DataError(
                f"dataset {name!r} not found: expected {path} (RecBole atomic format); pass "
                f"--data_path=DIR where DIR/{name}/{name}.{suffix} exists, or {CONVERT_HINT}"
            )
        header = read_header(path, separator)
        missing = [field for field in fields if field not in header]
        if missing:
            raise DataError(
                f"{path} lacks field(s) {', '.join(missing)} (header has {', '.join(header)});"
                f" fix the header line (name:type, tab separated) or {CONVERT_HINT}"
            )
