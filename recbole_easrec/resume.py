"""Resume a killed run from its last completed epoch (``--resume``).

While a run trains, everything it writes goes to ``<output_dir>/in_progress/`` (the *work
folder*); only when the run has succeeded are its files moved into ``<output_dir>`` (``result.json``
last), so a run that fails or is killed never overwrites the files of an earlier run there.

At the end of every epoch the trainer writes its **state** into the work folder: ``state.json``
(phase, epoch, early-stopping counters, best result, the run's settings, Python's RNG state …) and
the tensors it names, ``state-<n>.pth`` (weights, optimiser(s), torch/CUDA/NumPy RNG states, the
states of the data loaders' generators and a copy of the best checkpoint), a plain dict of tensors
and numbers loaded with ``torch.load(..., weights_only=True)``. ``state.json`` is replaced last,
atomically, so it always names a complete tensor file; older tensor files are removed after it.

``--resume`` (same ``--output_dir``) restores that state and continues with the next epoch; a CPU
run then ends with the same weights and metrics as an uninterrupted run with the same seed.
:func:`open_work_folder` refuses ``--resume`` on a folder without such a state, or with a state of
another model, dataset or settings (a one-line :class:`ResumeError`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recbole_easrec.artifacts import json_safe, save_torch_atomic, write_json_atomic
from recbole_easrec.errors import UserError

WORK_DIR = "in_progress"
STATE_FILE = "state.json"
STATE_VERSION = 1
RESULT_FILE = "result.json"
# Settings that may change between the killed run and its --resume (they change no result).
IGNORED_SETTINGS = frozenset(
    {"checkpoint_dir", "show_progress", "state", "config_files", "device", "gpu_id", "use_gpu"}
)
# Attributes under which our loader wrappers keep the loader they wrap.
WRAPPED_ATTRIBUTES = ("_train_data", "inner")


class ResumeError(UserError):
    """``--resume`` cannot continue the run in this folder."""


# --- random number generators ----------------------------------------------------------------


def rng_state() -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, JSON) of the global RNGs: torch (CPU and CUDA), NumPy and Python."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    tensors: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
    }
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state_all()
    version, internal, gauss = random.getstate()
    meta = {
        "numpy": [kind, int(position), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
    }
    return tensors, meta


def restore_rng(tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Set the global RNGs to a state from :func:`rng_state`."""
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda"])
    kind, position, has_gauss, cached = meta["numpy"]
    keys = tensors["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, int(position), int(has_gauss), float(cached)))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def loader_generators(*loaders: Any) -> list[torch.Generator]:
    """The ``torch.Generator`` of each loader (RecBole's shuffle, ours), looking through our
    wrappers (budget, progress, autoregressive), in a fixed order, each generator once."""
    found: list[torch.Generator] = []
    for loader in loaders:
        while loader is not None:
            generator = loader.__dict__.get("generator") if hasattr(loader, "__dict__") else None
            if isinstance(generator, torch.Generator) and all(g is not generator for g in found):
                found.append(generator)
            loader = next(
                (loader.__dict__[a] for a in WRAPPED_ATTRIBUTES if a in vars(loader)), None
            )
    return found


def generator_states(generators: Iterable[torch.Generator]) -> list[torch.Tensor]:
    return [generator.get_state() for generator in generators]


def restore_generators(generators: list[torch.Generator], states: list[torch.Tensor]) -> None:
    if len(generators) != len(states):
        raise ResumeError(
            f"the saved state has {len(states)} data-loader generators, this run {len(generators)}:"
            " it was written by another version; run again without --resume"
        )
    for generator, state in zip(generators, states):
        generator.set_state(state)


# --- settings --------------------------------------------------------------------------------


def settings_fingerprint(config: Any) -> dict[str, Any]:
    """The run's resolved settings as JSON, without those a resume may change."""
    settings = json_safe(dict(getattr(config, "final_config_dict", config)))
    return {key: value for key, value in settings.items() if key not in IGNORED_SETTINGS}


def settings_difference(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved → current`` for every setting that differs (at most five, sorted)."""
    keys = sorted(
        key for key in saved.keys() | current.keys() if saved.get(key) != current.get(key)
    )
    shown = [f"{key}: {saved.get(key)!r} → {current.get(key)!r}" for key in keys[:5]]
    return shown + ([f"… {len(keys) - 5} more"] if len(keys) > 5 else [])


# --- the work folder -------------------------------------------------------------------------


class Checkpointer:
    """Writes and reads a run's per-epoch state in its work folder (module docstring).

    Attributes:
        work_dir: the work folder.
        pending: the state to resume from (``state.json`` content plus ``tensors``), or None;
            the trainer takes it with :meth:`take` when it reaches that state's phase.
    """

    def __init__(
        self, work_dir: Path, settings: dict[str, Any], pending: dict[str, Any] | None = None
    ) -> None:
        self.work_dir = Path(work_dir)
        self.settings = settings
        self.pending = pending
        self.sequence = int(pending["sequence"]) if pending else 0

    def save(self, tensors: dict[str, Any], meta: dict[str, Any]) -> Path:
        """Write ``tensors`` (``state-<n>.pth``), then ``state.json`` naming it; drop older files."""
        self.sequence += 1
        name = f"state-{self.sequence}.pth"
        save_torch_atomic(tensors, self.work_dir / name)
        content = {
            **meta,
            "version": STATE_VERSION,
            "sequence": self.sequence,
            "tensors": name,
            "settings": self.settings,
        }
        path = write_json_atomic(self.work_dir / STATE_FILE, content)
        for old in self.work_dir.glob("state-*.pth"):
            if old.name != name:
                old.unlink(missing_ok=True)
        return path

    def take(self, phase: str) -> dict[str, Any] | None:
        """The pending state if it belongs to ``phase`` (then it is no longer pending)."""
        if self.pending is None or self.pending["phase"] != phase:
            return None
        state, self.pending = self.pending, None
        return state

    def peek_phase(self) -> str | None:
        """The phase of the pending state (None when there is none)."""
        return None if self.pending is None else str(self.pending["phase"])


def read_state(work_dir: Path, device: Any = "cpu") -> dict[str, Any] | None:
    """``state.json`` with its tensors under ``tensors`` (None when the folder has no state).

    Raises:
        ResumeError: the state is unreadable.
    """
    path = work_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        tensor_file = work_dir / str(state["tensors"])
        state["tensors"] = torch.load(tensor_file, map_location=device, weights_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResumeError(
            f"cannot read the saved state in {work_dir} ({reason}); run again without --resume"
        ) from None
    if state.get("version") != STATE_VERSION:
        raise ResumeError(
            f"the state in {work_dir} was written by another version; run again without --resume"
        )
    return state


def open_work_folder(run_dir: Path, config: Any, resume: bool) -> Checkpointer:
    """The run's work folder, fresh or (``resume``) with the state to continue from.

    Raises:
        ResumeError: ``resume`` without a resumable state, or a state of another model, dataset or
            settings.
    """
    work_dir = run_dir / WORK_DIR
    settings = settings_fingerprint(config)
    if not resume:
        if (work_dir / STATE_FILE).is_file():
            logging.getLogger().warning(
                "discarding the unfinished run's state in %s (pass --resume to continue it)",
                work_dir,
            )
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        return Checkpointer(work_dir, settings)
    state = read_state(work_dir, config["device"])
    if state is None:
        finished = (run_dir / RESULT_FILE).is_file()
        raise ResumeError(
            f"--resume: {run_dir} has no unfinished run to continue"
            + (" (its run finished: result.json)" if finished else " (no in_progress/state.json)")
            + "; run again without --resume"
        )
    check_same_run(state["settings"], settings, run_dir)
    return Checkpointer(work_dir, settings, pending=state)


def check_same_run(saved: dict[str, Any], current: dict[str, Any], run_dir: Path) -> None:
    """Raise :class:`ResumeError` if the saved run differs in model, dataset or settings."""
    for key in ("model", "dataset"):
        if saved.get(key) != current.get(key):
            raise ResumeError(
                f"--resume: {run_dir} holds an unfinished {saved.get('model')} run on"
                f" {saved.get('dataset')}, not {current.get('model')} on {current.get('dataset')};"
                " pass the same --model and --dataset, or another --output_dir"
            )
    changed = settings_difference(saved, current)
    if changed:
        raise ResumeError(
            f"--resume: the unfinished run in {run_dir} has other settings ({'; '.join(changed)});"
            " resume with the same settings, or run again without --resume"
        )


def promote(work_dir: Path, run_dir: Path) -> None:
    """Move the finished run's files from ``work_dir`` into ``run_dir`` (``result.json`` last),
    then remove ``work_dir`` with its state."""
    files = [p for p in work_dir.iterdir() if p.is_file() and not is_state_file(p)]
    files.sort(key=lambda p: p.name == RESULT_FILE)
    for path in files:
        os.replace(path, run_dir / path.name)
    shutil.rmtree(work_dir, ignore_errors=True)


@contextmanager
def tidy_work_folder(work_dir: Path) -> Iterator[None]:
    """On a failure, remove ``work_dir`` unless it holds a state to resume from."""
    try:
        yield
    except BaseException:
        if not (work_dir / STATE_FILE).is_file():
            shutil.rmtree(work_dir, ignore_errors=True)
        raise


def is_state_file(path: Path) -> bool:
    name = path.name
    return (
        name == STATE_FILE
        or (name.startswith("state-") and name.endswith(".pth"))
        or (name.startswith(".") and name.endswith(".tmp"))
    )
