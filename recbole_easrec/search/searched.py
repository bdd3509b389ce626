"""A finished search kept in its run folder, so that another run re-picks from it (``search_from``).

At the end of the search phase EASRec writes ``supernet.pt`` (the searched supernet's state dict:
weights and α, β) and ``search.json`` (the run's settings, the iteration count, the trace, the
shared-weight scores and the method's extras) into the run folder. A run with ``search_from:
<that folder>`` skips the search: it loads both, chooses with its own ``flops_budget`` and
``selection_tolerance``, rebuilds and retrains. Only settings that act after the search may
differ (:data:`AFTER_SEARCH`); anything else is a one-line error, as is a method whose search
itself depends on the budget (``reselectable = False``: oneshot's evolution and random search's
draws stay within the budget).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from recbole_easrec.artifacts import save_torch_atomic, write_json_atomic
from recbole_easrec.errors import ConfigError
from recbole_easrec.resume import settings_difference, settings_fingerprint

SUPERNET_FILE = "supernet.pt"
SEARCH_FILE = "search.json"
RECORD_KEYS = ("settings", "iteration", "trace", "shared_weight_scores", "extras")
# Settings that choose among the searched architectures, shape the retraining, or name folders.
AFTER_SEARCH = frozenset(
    {
        "flops_budget",
        "selection_tolerance",
        "search_from",
        "retrain_epochs",
        "retrain_batch_size",
        "retrain_from",
        "retrain_distill",
        "retrain_distill_weight",
        "retrain_distill_temperature",
        "retrain_teacher",
        "stopping_step",
        "output_dir",
    }
)


def search_settings(config: Any) -> dict[str, Any]:
    """The run's settings that shape its search (all but :data:`AFTER_SEARCH`)."""
    return search_part(settings_fingerprint(config))


def search_part(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` without those that act after the search (:data:`AFTER_SEARCH`)."""
    return {key: value for key, value in settings.items() if key not in AFTER_SEARCH}


def save_search(run_dir: Path, trainer: Any) -> None:
    """``supernet.pt`` and ``search.json`` of ``trainer``'s finished search (module doc)."""
    save_torch_atomic(trainer.supernet.state_dict(), Path(run_dir) / SUPERNET_FILE)
    record = {
        "search_method": trainer.method.name,
        "settings": search_settings(trainer.config),
        "iteration": trainer.iteration,
        "trace": trainer.trace,
        "shared_weight_scores": trainer.shared_weight_scores,
        "extras": trainer.method.extras(),
    }
    write_json_atomic(Path(run_dir) / SEARCH_FILE, record)  # made JSON-safe there


def searched_files(folder: Path) -> tuple[Path, Path]:
    """``search.json`` and ``supernet.pt`` of ``folder`` (one-line ConfigError if absent)."""
    files = folder / SEARCH_FILE, folder / SUPERNET_FILE
    if not all(path.is_file() for path in files):
        raise ConfigError(
            f"search_from: {folder} holds no finished search ({SEARCH_FILE}, {SUPERNET_FILE});"
            " name the folder of an EASRec run whose search has ended"
        )
    return files


def read_search(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``search.json``, the supernet's state dict) of the run folder ``config["search_from"]``,
    after checking that this run's search settings are that run's (one-line ConfigError)."""
    folder = Path(str(config["search_from"]))
    files = searched_files(folder)
    try:
        record = json.loads(files[0].read_text(encoding="utf-8"))
        state = torch.load(files[1], map_location="cpu", weights_only=True)
        lacking = [key for key in RECORD_KEYS if key not in record]
    except (OSError, ValueError, RuntimeError, TypeError) as error:
        raise ConfigError(f"search_from: cannot read the search in {folder}: {error}") from None
    if lacking:
        raise ConfigError(
            f"search_from: {folder / SEARCH_FILE} lacks {', '.join(lacking)}; search again"
        )
    different = settings_difference(record["settings"], search_settings(config))
    if different:
        raise ConfigError(
            f"search_from: {folder} searched with other settings ({'; '.join(different)}); only"
            f" {', '.join(sorted(AFTER_SEARCH - {'search_from', 'output_dir'}))} may differ"
        )
    return record, state


def validate_search_from(config: Any, reselectable: bool) -> None:
    """``search_from`` is ~ or a folder, and the method's search does not depend on the budget."""
    if config["search_from"] is None:
        return
    if not isinstance(config["search_from"], str):
        raise ConfigError(f"search_from must be a run folder or ~, got {config['search_from']!r}")
    if not reselectable:
        raise ConfigError(
            f"search_from cannot re-pick a {config['search_method']} search: its search itself"
            " stays within flops_budget; run the search again with the budget instead"
        )
    searched_files(Path(config["search_from"]))  # before any data is read; settings: at the run


def load_search(trainer: Any) -> dict[str, Any]:
    """Put the search of ``search_from`` into ``trainer`` (supernet, α, β, iteration count, trace,
    shared-weight scores) instead of searching; returns the method's extras of that search."""
    record, state = read_search(trainer.config)
    trainer.supernet.load_state_dict(state)
    trainer.iteration, trainer.trace = int(record["iteration"]), list(record["trace"])
    trainer.shared_weight_scores = list(record["shared_weight_scores"])
    return dict(record["extras"])
