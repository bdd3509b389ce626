"""Run folders and files written atomically (a crash never leaves a half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch


def json_safe(value: Any) -> Any:
    """``value`` made JSON-serialisable: enums by name, tensors and arrays as lists, others as str."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the process's umask lets a new file have it (``0o644`` under umask ``022``).

    ``tempfile.mkstemp`` creates its file with mode ``0600`` whatever the umask; files moved into
    place from it get this mode instead, as ``open()`` would have given them.
    """
    current = os.umask(0)
    os.umask(current)
    return mode & ~current


def make_temp_file(path: Path) -> tuple[int, str]:
    """``mkstemp`` next to ``path`` (same folder, so ``os.replace`` is atomic), with the mode the
    umask gives new files (:func:`umask_mode`) instead of ``0600``."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(temp_name, umask_mode())
    return handle, temp_name


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = make_temp_file(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, ``os.replace``)."""
    with atomic_target(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def save_torch_atomic(content: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(content, path)``, atomically: a crash keeps the previous file whole."""
    with atomic_target(path) as temp:
        torch.save(content, temp)
    return Path(path)


@contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; moved onto ``path`` when the block succeeds,
    removed when it fails (for writers that take a file name: ``savefig``, ``torch.save``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = make_temp_file(path)
    os.close(handle)
    try:
        yield Path(temp_name)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], content: Any) -> Path:
    """Write ``content`` (made :func:`json_safe`) as indented JSON, atomically."""
    return write_text_atomic(path, json.dumps(json_safe(content), indent=2) + "\n")


def new_run_dir(model: str, dataset: str, base: str | os.PathLike[str] = "saved") -> Path:
    """A fresh folder ``base/<model>-<dataset>-<time>[-n]``; never reuses an existing one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(base).resolve()
    base.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        candidate = base / f"{model}-{dataset}-{stamp}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a new run folder under {base}")
