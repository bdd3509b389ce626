"""Save a trained model as weights + JSON description, and load it back without the dataset.

A run folder holds ``model.pt`` (a ``state_dict``: tensors only, loaded with
``weights_only=True``) and ``model.json`` (the model's class name, its resolved settings and the
item count). :func:`load_model` rebuilds the model in eval mode from these two files alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recbole_easrec.artifacts import json_safe, write_json_atomic
from recbole_easrec.errors import CheckpointError

WEIGHTS_FILE = "model.pt"
DESCRIPTION_FILE = "model.json"


class SavedConfig(dict):
    """A read-only view of saved settings that answers ``None`` for absent keys, as ``Config`` does."""

    def __missing__(self, key: str) -> None:
        return None


class DatasetInfo:
    """The little a RecBole sequential model reads from its dataset: the number of ids per field."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)

    def num(self, field: str) -> int:
        return self.counts[field]


def save_model(
    run_dir: str | os.PathLike[str],
    model: nn.Module,
    config: Any,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.pt`` and ``model.json`` to ``run_dir``; ``settings`` override config values."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = dict(getattr(config, "final_config_dict", config))
    resolved.update(settings or {})
    resolved["device"] = "cpu"
    temp = run_dir / f".{WEIGHTS_FILE}.tmp"
    torch.save(model.state_dict(), temp)
    os.replace(temp, run_dir / WEIGHTS_FILE)
    description = {
        "model": type(model).__name__,
        "counts": {model.ITEM_ID: int(model.n_items)},
        "config": json_safe(resolved),
    }
    write_json_atomic(run_dir / DESCRIPTION_FILE, description)
    return run_dir


def load_model(run_dir: str | os.PathLike[str], device: str = "cpu") -> nn.Module:
    """Rebuild a saved model in eval mode (weights loaded with ``weights_only=True``).

    Raises:
        CheckpointError: the folder lacks the files, or they are corrupt or do not match.
    """
    from recbole_easrec.registry import resolve_model

    run_dir = Path(run_dir)
    description = read_description(run_dir / DESCRIPTION_FILE)
    config = SavedConfig(description["config"])
    config["device"] = device
    model_class = resolve_model(description["model"])
    model = model_class(config, DatasetInfo(description["counts"]))
    try:
        state = torch.load(run_dir / WEIGHTS_FILE, map_location=device, weights_only=True)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir / WEIGHTS_FILE} is missing; pass a run folder") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"cannot load weights from {run_dir / WEIGHTS_FILE} ({reason}); the file is corrupt or"
            " belongs to another model: re-run training to write it again"
        ) from None
    return model.to(device).eval()


def read_description(path: Path) -> dict[str, Any]:
    """The content of a run's ``model.json``; a missing or corrupt file is a CheckpointError."""
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; pass the folder of a finished run") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); re-run training") from None
    if not isinstance(description, dict) or not {"model", "counts", "config"} <= description.keys():
        raise CheckpointError(f"{path} lacks model, counts or config; re-run training")
    return description
