"""Download a dataset that RecBole hosts (its ``url.yaml``) into ``data_path``: verified, atomically.

``download_dataset("ml-1m", "dataset")`` fetches the zip archive RecBole lists for ``ml-1m``,
checks that every byte the server announced arrived and that the archive is a sound zip (CRC of
every member, no path outside the folder), unpacks it, names the atomic files after the dataset as
RecBole does, and only then moves the finished folder to ``data_path/ml-1m``. A failed download,
truncated transfer or bad archive is a one-line :class:`~recbole_easrec.errors.DataError` and leaves
no dataset folder behind. Offline, the error says so and how to provide the files by hand.

Command line: ``python -m recbole_easrec.data.download --dataset=ml-1m --data_path=dataset``.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from recbole_easrec.errors import DataError

ATOMIC_SUFFIXES = (".inter", ".user", ".item", ".kg", ".link", ".net")
CHUNK_BYTES = 1 << 20


def recbole_urls() -> dict[str, str]:
    """RecBole's dataset name → archive URL table (``recbole/properties/dataset/url.yaml``)."""
    import recbole

    path = Path(recbole.__file__).parent / "properties" / "dataset" / "url.yaml"
    with open(path, encoding="utf-8") as handle:
        return {str(name): str(url) for name, url in (yaml.safe_load(handle) or {}).items()}


def dataset_url(name: str) -> str:
    """The archive URL RecBole hosts for dataset ``name``, or a :class:`DataError` naming the fix."""
    url = recbole_urls().get(name)
    if url is None:
        raise DataError(
            f"dataset {name!r} is not on disk and RecBole hosts no dataset of that name; put its "
            f"atomic files in DATA_PATH/{name}/ and pass --data_path=DATA_PATH"
        )
    return url


def fetch(url: str, target: Path, timeout: float = 60.0) -> None:
    """Copy ``url`` to ``target``; a network error or a short transfer is a :class:`DataError`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
    except http.client.IncompleteRead as exc:
        raise DataError(
            f"download of {url} was cut short ({exc.expected} bytes missing); run again to "
            "retry (nothing was kept)"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        raise DataError(
            f"cannot download {url}: {reason}; check the internet connection, or download the "
            "archive by hand and unpack its atomic files into DATA_PATH/<dataset>/"
        ) from None
    if announced is not None and received != int(announced):
        raise DataError(
            f"download of {url} was cut short ({received} of {announced} bytes); run again "
            "to retry (nothing was kept)"
        )


def check_archive(archive: Path, url: str) -> list[str]:
    """Names of the archive's files, after checking it is a sound zip with no unsafe path."""
    hint = "run again to retry, or download and unpack it by hand"
    try:
        with zipfile.ZipFile(archive) as handle:
            damaged = handle.testzip()
            names = handle.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DataError(f"{url} is not a valid zip archive ({exc}); {hint}") from None
    except zlib.error as exc:
        raise DataError(
            f"{url}: the archive's compressed data is damaged ({exc}); {hint}"
        ) from None
    if damaged is not None:
        raise DataError(f"{url}: member {damaged!r} of the archive is damaged (CRC); {hint}")
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise DataError(f"{url}: archive member {name!r} points outside its folder; {hint}")
    return names


def atomic_files(folder: Path) -> list[Path]:
    """Atomic files in ``folder`` or, if it holds a single sub-folder, in that one."""
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix in ATOMIC_SUFFIXES]
    subfolders = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("__")]
    if not found and len(subfolders) == 1:
        return atomic_files(subfolders[0])
    return found


def arrange(unpacked: Path, staging: Path, name: str, archive_stem: str, url: str) -> None:
    """Move the atomic files to ``staging``, renamed after ``name`` as RecBole does."""
    staging.mkdir()
    for path in atomic_files(unpacked):
        new_stem = path.stem.replace(archive_stem, name)
        path.replace(staging / f"{new_stem}{path.suffix}")
    if not (staging / f"{name}.inter").is_file():
        raise DataError(
            f"{url} holds no {name}.inter (RecBole atomic files); download it by hand or "
            f"convert raw files with `python -m recbole_easrec.data.convert`"
        )


def download_dataset(
    name: str, data_path: str | Path, url: str | None = None, timeout: float = 60.0
) -> Path:
    """Download, verify and unpack dataset ``name`` into ``data_path/name``; return that folder.

    ``url`` defaults to RecBole's for ``name``. An existing ``data_path/name`` is left as it is.
    Everything happens in a temporary folder inside ``data_path``; the dataset folder appears
    (by one rename) only when complete, so a failure leaves no half-written dataset.
    """
    root = Path(data_path)
    target = root / name
    if target.exists():
        return target
    url = url or dataset_url(name)
    created = [folder for folder in (root, *root.parents) if not folder.exists()]
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _download_into(root, name, url, timeout)
    except BaseException:
        remove_empty_folders(created)  # a failed download leaves no empty data folder behind
        raise


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty; keep any that is not."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _download_into(root: Path, name: str, url: str, timeout: float) -> Path:
    """The body of :func:`download_dataset` once ``root`` exists."""
    target = root / name
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}.download-") as temp:
        work = Path(temp)
        archive = work / "archive.zip"
        fetch(url, archive, timeout)
        check_archive(archive, url)
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(work / "unpacked")
        staging = work / name
        arrange(work / "unpacked", staging, name, Path(url.rpartition("/")[2]).stem, url)
        try:
            staging.replace(target)
        except OSError:
            if not target.is_dir():  # another process finished first: keep its copy
                raise
    return target


def ensure_dataset(config: Any) -> Path | None:
    """Before a run: download ``config["dataset"]`` into the parent of ``config["data_path"]``
    when its ``.inter`` file is missing, RecBole hosts it and ``download_missing`` is on (the
    default). Returns the downloaded folder, or ``None`` when nothing was needed or possible (the
    file checks then report what is missing). A failed download (offline, say) is one line naming
    both the missing file and why the download failed."""
    folder, name = Path(config["data_path"]), config["dataset"]
    if (folder / f"{name}.inter").is_file() or not config["download_missing"]:
        return None
    if name not in recbole_urls():
        return None
    try:
        return download_dataset(name, folder.parent)
    except DataError as exc:
        raise DataError(
            f"dataset {name!r} is not in {folder} and downloading it failed ({exc}); put its"
            f" atomic files there or pass --data_path=DIR where DIR/{name}/{name}.inter exists"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """``python -m recbole_easrec.data.download --dataset=NAME --data_path=DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="a dataset name from RecBole's url.yaml")
    parser.add_argument("--data_path", default="dataset", help="folder that receives NAME/")
    parser.add_argument("--url", default=None, help="archive URL (default: RecBole's)")
    args = parser.parse_args(argv)
    try:
        folder = download_dataset(args.dataset, args.data_path, url=args.url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
