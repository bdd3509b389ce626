"""Top-k recommendations from a saved run, and RecBole's case-study objects for it.

A run folder (:mod:`recbole_easrec.quick_start`) holds ``result.json`` and RecBole's best-epoch
``checkpoint.pth`` for every model, plus ``model.json`` and the weights for this plugin's models
(EASRec's is the compact network). :func:`load_run` rebuilds the run's ``Config``, its dataset
(the same id mapping as in training) and its model (weights loaded with ``weights_only=True``):

- this plugin's models from ``model.json`` (:func:`recbole_easrec.saving.load_model`);
- RecBole's models (SASRec, BERT4Rec, …) from ``result.json``'s settings and ``checkpoint.pth``.

RecBole's own ``recbole.quick_start.load_data_and_model(model_file)`` reads a pickled ``Config``
from the checkpoint; ours hold tensors and plain values only (:mod:`recbole_easrec.compat`), so it
fails with ``KeyError: 'seed'``. :func:`load_data_and_model` returns RecBole's six-tuple from a run
folder instead, and RecBole's ``full_sort_topk`` / ``full_sort_scores`` work on it unchanged.

:func:`recommend` answers with item tokens, best first. A known user's input is the last
``MAX_ITEM_LIST_LENGTH`` items of their whole interaction history (training, validation and test
interactions, in RecBole's order: by time, ties in file order); a history is an item-token sequence
of a user the model has never seen, oldest first.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from recbole.data import create_dataset
from recbole.data.interaction import Interaction
from recbole.utils import init_seed

from recbole_easrec.config import build_config
from recbole_easrec.data.checks import check_dataset_files, load_error
from recbole_easrec.errors import CheckpointError, UserError
from recbole_easrec.quick_start import DERIVED_SETTINGS, RESULT_FILE, prepare_data
from recbole_easrec.registry import plugin_model_names, resolve_model
from recbole_easrec.saving import DESCRIPTION_FILE, load_model, read_description

CHECKPOINT_FILE = "checkpoint.pth"
DEFAULT_K = 10
SCORE_BATCH = 256  # queries scored at once


# --- the run's config, dataset and model ---------------------------------------------------------


def run_folder(path: str | os.PathLike[str]) -> Path:
    """The run folder of ``path`` (a run folder, or a file in one such as ``checkpoint.pth``)."""
    path = Path(path).resolve()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise CheckpointError(f"{path} does not exist; pass the folder of a finished run")
    return path


def saved_settings(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """``(model name, resolved settings)`` of a run: from ``model.json`` for this plugin's models
    (EASRec's names its compact network), else from ``result.json``."""
    if (run_dir / DESCRIPTION_FILE).is_file():
        description = read_description(run_dir / DESCRIPTION_FILE)
        return str(description["model"]), dict(description["config"])
    result = read_result(run_dir / RESULT_FILE)
    return str(result["model"]), dict(result["config"])


def read_result(path: Path) -> dict[str, Any]:
    """A run's ``result.json``; missing or corrupt is a one-line :class:`CheckpointError`."""
    import json

    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"{path.parent} holds neither {DESCRIPTION_FILE} nor {RESULT_FILE}; pass the folder"
            " of a finished run"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); re-run training") from None
    if not isinstance(result, dict) or not isinstance(result.get("config"), dict):
        raise CheckpointError(f"{path} lacks model or config; re-run training")
    if "model" not in result:
        raise CheckpointError(f"{path} lacks model or config; re-run training")
    return result


def run_config(run_dir: Path, config_dict: dict[str, Any] | None = None) -> Any:
    """The run's RecBole ``Config`` rebuilt from its saved settings (``config_dict`` overrides,
    e.g. ``data_path`` when the dataset has moved). Settings RecBole derives are derived again."""
    model_name, saved = saved_settings(run_dir)
    settings = {key: value for key, value in saved.items() if key not in DERIVED_SETTINGS}
    if saved.get("data_path"):
        settings["data_path"] = str(Path(saved["data_path"]).parent)
    settings["train_neg_sample_args"] = None  # nothing is trained
    settings.update(config_dict or {})
    return build_config(model_name, saved.get("dataset"), config_dict=settings)


def load_dataset(config: Any) -> Any:
    """RecBole's filtered, remapped dataset of ``config`` (not split), file problems as one line."""
    check_dataset_files(config)
    try:
        return create_dataset(config)
    except (ValueError, KeyError, TypeError, IndexError, pd.errors.ParserError) as exc:
        raise load_error(config, exc) from None


def restore_model(run_dir: Path, config: Any, dataset: Any) -> Any:
    """The run's trained model on ``config['device']``, in eval mode.

    Raises:
        CheckpointError: missing or unreadable weights, or weights for another item count.
    """
    device = str(config["device"])
    if config["model"] in plugin_model_names():
        model = load_model(run_dir, device=device)
    else:
        model = recbole_model(run_dir / CHECKPOINT_FILE, config, dataset)
    if int(model.n_items) != int(dataset.item_num):
        raise CheckpointError(
            f"the model in {run_dir} scores {model.n_items} items but {config['dataset']} now has"
            f" {dataset.item_num}: evaluate it on the dataset (and filters) it was trained on"
        )
    return model.to(device).eval()


def recbole_model(path: Path, config: Any, dataset: Any) -> Any:
    """A RecBole model rebuilt from its ``checkpoint.pth`` (loaded with ``weights_only=True``)."""
    init_seed(config["seed"], config["reproducibility"])
    model = resolve_model(config["model"])(config, dataset)
    try:
        checkpoint = torch.load(path, map_location=str(config["device"]), weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        model.load_other_parameter(checkpoint.get("other_parameter"))
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; pass the folder of a finished run") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is one user-facing problem
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"cannot load {path} ({reason}); the file is corrupt or belongs to another model:"
            " re-run training to write it again"
        ) from None
    return model


def load_run(
    run_dir: str | os.PathLike[str], config_dict: dict[str, Any] | None = None
) -> tuple[Any, Any, Any]:
    """``(config, model, dataset)`` of a saved run: the model in eval mode, the dataset unsplit."""
    folder = run_folder(run_dir)
    config = run_config(folder, config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset = load_dataset(config)
    return config, restore_model(folder, config, dataset), dataset


def load_data_and_model(
    run_dir: str | os.PathLike[str], config_dict: dict[str, Any] | None = None
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """RecBole's ``load_data_and_model`` for a run folder of ours (or a file in it, such as its
    ``checkpoint.pth``): ``(config, model, dataset, train_data, valid_data, test_data)``.

    The split is RecBole's, from the run's saved settings, so RecBole's case-study functions work
    unchanged, e.g. ``full_sort_topk(dataset.token2id(dataset.uid_field, ["196"]), model,
    test_data, k=10, device=config["device"])``.
    """
    path = Path(run_dir).resolve()
    if path.is_file() and not any(
        (path.parent / name).is_file() for name in (DESCRIPTION_FILE, RESULT_FILE)
    ):
        return checkpoint_data_and_model(path, config_dict)
    folder = run_folder(run_dir)
    config = run_config(folder, config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset, (train_data, valid_data, test_data) = prepare_data(config)
    model = restore_model(folder, config, train_data.dataset)
    return config, model, dataset, train_data, valid_data, test_data


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A RecBole checkpoint (``torch.load`` with ``weights_only=True``) whose ``config`` is a
    ``Config`` (written with this package imported); else a one-line :class:`CheckpointError`."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one user-facing problem
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"cannot load {path} with weights_only=True ({reason}); pass a checkpoint written"
            " with recbole_easrec imported, or the folder of a finished run"
        ) from None
    config = checkpoint.get("config") if isinstance(checkpoint, dict) else None
    if not hasattr(config, "final_config_dict") or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} holds no settings to rebuild its run from (written by recbole_easrec before"
            " 0.1 kept them, or not a RecBole checkpoint): re-run training to write it again"
        )
    return checkpoint


def checkpoint_data_and_model(
    path: Path, config_dict: dict[str, Any] | None = None
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """:func:`load_data_and_model` for a bare RecBole checkpoint (e.g. ``saved/SASRec-….pth``
    written by ``recbole.quick_start.run_recbole``): the settings come from the checkpoint."""
    checkpoint = read_checkpoint(path)
    config = checkpoint["config"]
    for key, value in (config_dict or {}).items():
        # RecBole's Config holds data_path joined with the dataset's name
        config[key] = os.path.join(value, config["dataset"]) if key == "data_path" else value
    init_seed(config["seed"], config["reproducibility"])
    dataset, (train_data, valid_data, test_data) = prepare_data(config)
    init_seed(config["seed"], config["reproducibility"])
    model = resolve_model(config["model"])(config, train_data.dataset)
    try:
        model.load_state_dict(checkpoint["state_dict"])
        model.load_other_parameter(checkpoint.get("other_parameter"))
    except (RuntimeError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{path} does not fit {config['model']} on {config['dataset']} ({reason}): load it"
            " with the dataset and settings it was trained with"
        ) from None
    model = model.to(config["device"]).eval()
    return config, model, dataset, train_data, valid_data, test_data


# --- recommendations -----------------------------------------------------------------------------


def check_k(k: Any, n_items: int) -> int:
    """``k`` as an int in ``1 … n_items - 1`` (item 0 is padding); else a one-line error."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise UserError(f"k (--topk) must be a positive whole number of items, got {k!r}")
    if k > n_items - 1:
        raise UserError(
            f"k (--topk) is {k} but the dataset has {n_items - 1} items: pass at most that"
        )
    return int(k)


def token_ids(dataset: Any, field: str, tokens: Iterable[Any], what: str) -> np.ndarray:
    """Internal ids of ``tokens`` of ``field``; an unknown token is a one-line error."""
    mapping = dataset.field2token_id[field]
    ids = []
    for token in tokens:
        key = str(token)
        if key not in mapping or key == "[PAD]":
            raise UserError(
                f"unknown {what} {key!r}: dataset {dataset.dataset_name} has no such {field}"
                " (or its filters, e.g. user_inter_num_interval, removed it); use the tokens of"
                f" the {field} column of its atomic files"
            )
        ids.append(mapping[key])
    return np.asarray(ids, dtype=np.int64)


class RunRecommender:
    """Answers top-k queries for one loaded run (see :func:`load_run`)."""

    def __init__(self, config: Any, model: Any, dataset: Any) -> None:
        self.config = config
        self.model = model
        self.dataset = dataset
        self.uid_field: str = dataset.uid_field
        self.iid_field: str = dataset.iid_field
        self.max_length = int(config["MAX_ITEM_LIST_LENGTH"])
        self._histories: dict[int, np.ndarray] | None = None

    def user_histories(self) -> dict[int, np.ndarray]:
        """Every user's item ids in RecBole's order (by time, ties in file order)."""
        if self._histories is None:
            feat = self.dataset.inter_feat
            users = np.asarray(feat[self.uid_field], dtype=np.int64)
            items = np.asarray(feat[self.iid_field], dtype=np.int64)
            order = np.arange(len(users))
            time_field = self.dataset.time_field
            if time_field and time_field in feat:
                order = np.argsort(np.asarray(feat[time_field]), kind="stable")
            order = order[np.argsort(users[order], kind="stable")]
            users, items = users[order], items[order]
            starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
            self._histories = {
                int(users[start]): items[start:end]
                for start, end in zip(starts, np.r_[starts[1:], len(users)])
            }
        return self._histories

    def for_users(
        self, users: Sequence[Any], k: int = DEFAULT_K, exclude_history: bool = True
    ) -> list[dict[str, Any]]:
        """Top-k for known users (tokens as in the dataset)."""
        ids = token_ids(self.dataset, self.uid_field, users, "user")
        histories = self.user_histories()
        sequences = [histories.get(int(uid), np.zeros(0, dtype=np.int64)) for uid in ids]
        for token, sequence in zip(users, sequences):
            if len(sequence) == 0:
                raise UserError(f"user {str(token)!r} has no interactions in the dataset")
        ranked = self.top_k(sequences, ids, k, exclude_history)
        return [{"user": str(token), **answer} for token, answer in zip(users, ranked, strict=True)]

    def for_histories(
        self, histories: Sequence[Sequence[Any]], k: int = DEFAULT_K, exclude_history: bool = True
    ) -> list[dict[str, Any]]:
        """Top-k for unseen users given their item-token sequences (oldest first)."""
        sequences = []
        for index, history in enumerate(histories):
            tokens = [history] if isinstance(history, (str, bytes)) else list(history)
            if not tokens:
                raise UserError(f"history {index + 1} is empty: pass at least one item token")
            sequences.append(token_ids(self.dataset, self.iid_field, tokens, "item"))
        users = np.zeros(len(sequences), dtype=np.int64)  # [PAD]: no known user
        ranked = self.top_k(sequences, users, k, exclude_history)
        return [
            {"user": None, "history": [str(t) for t in self.item_tokens(seq)], **answer}
            for seq, answer in zip(sequences, ranked, strict=True)
        ]

    def item_tokens(self, ids: Iterable[int]) -> list[str]:
        """Dataset tokens of internal item ids."""
        vocabulary = self.dataset.field2id_token[self.iid_field]
        return [str(vocabulary[int(i)]) for i in ids]

    def scores(self, sequences: Sequence[np.ndarray], users: np.ndarray) -> torch.Tensor:
        """The model's full-ranking scores ``[len(sequences), n_items]`` (on the CPU): each input
        is the last ``MAX_ITEM_LIST_LENGTH`` items of a sequence, left-aligned, padded with 0."""
        rows = []
        device = next(self.model.parameters()).device
        for start in range(0, len(sequences), SCORE_BATCH):
            chunk = sequences[start : start + SCORE_BATCH]
            item_seq, lengths = padded_batch(chunk, self.max_length)
            interaction = Interaction(
                {
                    self.model.ITEM_SEQ: item_seq,
                    self.model.ITEM_SEQ_LEN: lengths,
                    self.uid_field: torch.as_tensor(users[start : start + SCORE_BATCH]),
                }
            ).to(device)
            with torch.no_grad():
                rows.append(self.model.full_sort_predict(interaction).float().cpu())
        return torch.cat(rows).view(len(sequences), -1)

    def top_k(
        self,
        sequences: Sequence[np.ndarray],
        users: np.ndarray,
        k: int,
        exclude_history: bool,
    ) -> list[dict[str, Any]]:
        """``{"items", "scores"}`` per sequence, best first; padding (and, with
        ``exclude_history``, every item of the sequence) never recommended — so an answer has fewer
        than ``k`` items only when fewer candidates are left."""
        k = check_k(k, int(self.dataset.item_num))
        scores = self.scores(sequences, users)
        scores[:, 0] = -math.inf
        if exclude_history:
            for row, sequence in enumerate(sequences):
                scores[row, torch.as_tensor(sequence)] = -math.inf
        values, ids = torch.topk(scores, k, dim=1)
        answers = []
        for row_values, row_ids in zip(values.tolist(), ids.tolist()):
            kept = [(i, v) for i, v in zip(row_ids, row_values) if v != -math.inf]
            answers.append(
                {"items": self.item_tokens(i for i, _ in kept), "scores": [v for _, v in kept]}
            )
        return answers


def padded_batch(
    sequences: Sequence[np.ndarray], max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(item_seq [B, max_length], item_seq_len [B])``: the last ``max_length`` ids of each
    sequence, left-aligned and padded with 0, as RecBole's sequential loaders give them."""
    item_seq = torch.zeros(len(sequences), max_length, dtype=torch.long)
    lengths = torch.zeros(len(sequences), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        tail = torch.as_tensor(np.asarray(sequence, dtype=np.int64)[-max_length:])
        item_seq[row, : len(tail)] = tail
        lengths[row] = len(tail)
    return item_seq, lengths


def recommend(
    run_dir: str | os.PathLike[str],
    users: Sequence[Any] | None = None,
    histories: Sequence[Sequence[Any]] | None = None,
    k: int = DEFAULT_K,
    exclude_history: bool = True,
    config_dict: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Top-``k`` items of the model saved in ``run_dir``, one answer per user, then per history.

    Args:
        run_dir: a run folder (or a file in it).
        users: user tokens of the dataset; each user's input is their whole history's last
            ``MAX_ITEM_LIST_LENGTH`` items.
        histories: item-token sequences (oldest first) of users the model has never seen.
        k: items per answer.
        exclude_history: never recommend an item the user (or history) already has.
        config_dict: setting overrides, e.g. ``{"data_path": ...}`` when the dataset has moved.

    Returns:
        ``[{"user": token | None, "items": [token, …], "scores": [float, …]}, …]``, best first;
        answers for histories also hold ``"history"``.

    Raises:
        UserError: no query, an unknown token, an empty history, ``k`` ≤ 0 (one-line message).
    """
    if not users and not histories:
        raise UserError(
            "nothing to recommend for: pass users (--users=U1,U2) or histories (--history=I1,I2)"
        )
    check_k(k, 2**62)  # a bad k fails before the dataset is loaded
    recommender = RunRecommender(*load_run(run_dir, config_dict))
    answers = recommender.for_users(users, k, exclude_history) if users else []
    if histories:
        answers += recommender.for_histories(histories, k, exclude_history)
    return answers
