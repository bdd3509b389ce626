"""Save a trained model as weights + JSON description, and load it back without the dataset.

A run folder holds ``model.pt`` (a ``state_dict``: tensors only, loaded with
``weights_only=True``) and ``model.json`` (the model's class name, its resolved settings and the
item count). :func:`load_model` rebuilds the model in eval mode from these two files alone.

A model with ``compressed_state()`` / ``load_compressed_state(payload)`` (DSL) is saved compressed
instead, as ``model_sparse.pt`` (:mod:`recbole_easrec.sparse.export`). ``model.json`` then names the
weights file under ``weights`` (``file``, ``format``, ``sha256`` of the file); :func:`load_model`
checks the digest when present, so a modified or truncated weights file is a one-line
:class:`CheckpointError`. Folders written before ``weights`` existed hold ``model.pt``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recbole_easrec.artifacts import json_safe, write_json_atomic
from recbole_easrec.errors import CheckpointError
from recbole_easrec.sparse.export import SPARSE_FILE

WEIGHTS_FILE = "model.pt"
COMPRESSED_FILE = SPARSE_FILE  # "model_sparse.pt"
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
    """Write the weights (``model.pt``, or ``model_sparse.pt`` for a model with
    ``compressed_state``) and ``model.json`` to ``run_dir``; ``settings`` override config values."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = dict(getattr(config, "final_config_dict", config))
    resolved.update(settings or {})
    resolved["device"] = "cpu"
    weights = write_weights(run_dir, model)
    description = {
        "model": type(model).__name__,
        "counts": {model.ITEM_ID: int(model.n_items)},
        "config": json_safe(resolved),
        "weights": weights,
    }
    write_json_atomic(run_dir / DESCRIPTION_FILE, description)
    return run_dir


def write_weights(run_dir: Path, model: nn.Module) -> dict[str, str]:
    """Write the weights file atomically; returns its ``weights`` entry for ``model.json``."""
    compressed = hasattr(model, "compressed_state")
    name = COMPRESSED_FILE if compressed else WEIGHTS_FILE
    payload = model.compressed_state() if compressed else model.state_dict()
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    temp = run_dir / f".{name}.tmp"
    temp.write_bytes(data)
    os.replace(temp, run_dir / name)
    return {
        "file": name,
        "format": "compressed" if compressed else "state_dict",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def read_weights(path: Path, weights: dict[str, Any]) -> Any:
    """The payload of a weights file (on the CPU), after checking its SHA-256 against
    ``model.json``."""
    data = path.read_bytes()
    expected = weights.get("sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ValueError("its SHA-256 differs from the one in model.json: modified or truncated")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


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
    upgrade_gate_input(config, run_dir)
    model_class = resolve_model(description["model"])
    model = model_class(config, DatasetInfo(description["counts"]))
    weights = description.get("weights") or {"file": WEIGHTS_FILE, "format": "state_dict"}
    path = run_dir / str(weights.get("file", WEIGHTS_FILE))
    try:
        payload = read_weights(path, weights)
        if weights.get("format") == "compressed":
            model.load_compressed_state(payload)
        else:
            model.load_state_dict(payload)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; pass a run folder") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"cannot load weights from {path} ({reason}); the file is corrupt or"
            " belongs to another model: re-run training to write it again"
        ) from None
    return model.to(device).eval()


def upgrade_gate_input(config: dict[str, Any], run_dir: Path) -> None:
    """A gated model saved before issue 27 has no ``gate_input``: its gates read the mean of the
    whole sequence, which no longer exists. It loads with ``causal_mean`` (at the last position,
    the one that is scored, the same input) and a warning that it should be retrained."""
    if config.get("gate_layers") and "gate_input" not in config:
        config["gate_input"] = "causal_mean"
        logging.getLogger(__name__).warning(
            "%s was saved with the old whole-sequence gates (trained with a leak, issue 27); "
            "loaded with gate_input: causal_mean — retrain it for causal gates",
            run_dir,
        )


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
