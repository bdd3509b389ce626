"""Every workaround that lets RecBole 1.2.1 run on today's libraries, in one place.

RecBole 1.2.1 was released against NumPy 1, pandas 1 and torch < 2.6. :func:`apply` (called once by
``import recbole_easrec``) fixes, without editing RecBole's files:

1. **NumPy 2 aliases.** RecBole reads ``np.float_``, ``np.float`` … (``Config.compatibility_settings``
   and ``Dataset._fill_nan``); NumPy 2 removed them. We restore the aliases, pointing at the same
   types NumPy 1 used, and make ``Config.compatibility_settings`` a no-op.
2. **torch ≥ 2.6 ``weights_only``.** RecBole pickles the whole ``Config`` into each checkpoint, and
   ``torch.load`` now refuses to unpickle it. Checkpoints are written with tensors and plain values
   only (the model name instead of the config), so RecBole's own ``torch.load`` calls load them
   under ``weights_only=True``.
3. **pandas ≥ 3 copy-on-write.** ``Series.fillna(..., inplace=True)`` on ``df[col]`` no longer
   changes ``df``: missing feature values stayed NaN (``Dataset._fill_nan``), and missing sequence
   features crashed (``Dataset._load_feat``). We fill by assignment instead.
4. **pandas ≥ 3 ``Series.agg(len)``** now returns the Series' length instead of each row's, which
   broke every ``token_seq`` feature (``Dataset._remap``, used by FDSA/SASRecF's item features).

Ray: RecBole pins ``ray<=2.6.3`` only in its package metadata; nothing here imports
``recbole.quick_start`` (which imports ray at module level), so the pin is avoided by installing
RecBole with ``--no-deps`` (see README).
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch

NUMPY_ALIASES: dict[str, Any] = {
    "float_": np.float64,
    "complex_": np.complex128,
    "unicode_": np.str_,
    "string_": np.bytes_,
    "bool8": np.bool_,
    "int0": np.intp,
    "float": float,
    "int": int,
    "complex": complex,
    "object": object,
    "str": str,
    "unicode": str,
}


def restore_numpy_aliases() -> None:
    """Define the NumPy 1 aliases that RecBole uses, where NumPy 2 lacks them."""
    for name, value in NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def _fill_nan(self: Any) -> None:
    """Copy-on-write-safe replacement of ``recbole.data.dataset.Dataset._fill_nan``.

    Same rules as RecBole: token → 0 (padding), float → column mean, sequences → empty array.
    """
    from recbole.utils import FeatureType

    for feat_name in self.feat_name_list:
        feat = getattr(self, feat_name)
        for field in feat:
            ftype = self.field2type[field]
            if ftype == FeatureType.TOKEN:
                feat[field] = feat[field].fillna(value=0)
            elif ftype == FeatureType.FLOAT:
                feat[field] = feat[field].fillna(value=feat[field].mean())
            else:
                dtype = np.int64 if ftype == FeatureType.TOKEN_SEQ else np.float64
                feat[field] = feat[field].apply(
                    lambda x, dtype=dtype: np.array([], dtype=dtype) if isinstance(x, float) else x
                )


def _read_csv_filling_sequences(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` for RecBole's atomic files: empty sequence cells become ``""``.

    RecBole names each column ``field:type`` in ``dtype``; sequence columns end in ``_seq``.
    """
    frame = pd.read_csv(*args, **kwargs)
    sequence_columns = [c for c in (kwargs.get("dtype") or {}) if str(c).endswith("_seq")]
    for column in sequence_columns:
        if column in frame.columns:
            frame[column] = frame[column].fillna("")
    return frame


def _pandas_for_recbole_datasets() -> types.ModuleType:
    """A stand-in for the ``pd`` name inside ``recbole.data.dataset.dataset``.

    It is pandas with one difference: ``read_csv`` fills empty sequence cells (see above).
    """
    proxy = types.ModuleType("pandas_for_recbole")
    proxy.__dict__.update(pd.__dict__)
    proxy.read_csv = _read_csv_filling_sequences
    return proxy


def _token_lengths(column: pd.Series) -> np.ndarray:
    return np.fromiter((len(tokens) for tokens in column), dtype=np.int64, count=len(column))


def _remap(self: Any, remap_list: list[tuple[pd.DataFrame, str, Any]]) -> None:
    """pandas-3-safe replacement of ``recbole.data.dataset.Dataset._remap``.

    RecBole splits sequence features back with ``np.cumsum(column.agg(len))``; pandas 3 applies
    ``agg(len)`` to the whole Series (one number), so every ``token_seq`` feature failed to load.
    Same mapping as RecBole: all listed fields share one ``pandas.factorize`` vocabulary, id 0 is
    ``[PAD]``.
    """
    from recbole.utils import FeatureType

    if not remap_list:
        return
    parts = []
    for feat, field, ftype in remap_list:
        if ftype == FeatureType.TOKEN:
            parts.append(feat[field].to_numpy(dtype=object))
        else:
            parts.append(np.array([str(t) for seq in feat[field] for t in seq], dtype=object))
    new_ids, vocabulary = pd.factorize(np.concatenate(parts))
    id_parts = np.split(new_ids + 1, np.cumsum([len(part) for part in parts])[:-1])
    id_to_token = np.array(["[PAD]", *map(str, vocabulary)])
    token_to_id = {token: index for index, token in enumerate(id_to_token)}
    for (feat, field, ftype), ids in zip(remap_list, id_parts):
        self.field2id_token.setdefault(field, id_to_token)
        self.field2token_id.setdefault(field, token_to_id)
        if ftype == FeatureType.TOKEN:
            feat[field] = ids
        else:
            feat[field] = np.split(ids, np.cumsum(_token_lengths(feat[field]))[:-1])


def _plain_values(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """The entries of ``other_parameter()`` that ``weights_only`` loading accepts.

    FDSA and SASRecF list their feature-embedding *module* there (which holds the dataset); its
    weights are already in the state dict and the module is rebuilt with the model, so it is left
    out rather than pickled.
    """
    plain = (torch.Tensor, int, float, str, bool, type(None))
    kept = {key: value for key, value in (parameters or {}).items() if isinstance(value, plain)}
    return kept or None


def _save_checkpoint(self: Any, epoch: int, verbose: bool = True, **kwargs: Any) -> None:
    """``Trainer._save_checkpoint`` that writes tensors and plain values only.

    Loadable with ``torch.load(..., weights_only=True)``; the model name replaces the pickled config.
    """
    from recbole.utils import set_color

    if not self.config["single_spec"] and self.config["local_rank"] != 0:
        return
    saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
    state = {
        "config": {"model": str(self.config["model"])},
        "epoch": int(epoch),
        "cur_step": int(self.cur_step),
        "best_valid_score": float(self.best_valid_score),
        "state_dict": self.model.state_dict(),
        "other_parameter": _plain_values(self.model.other_parameter()),
        "optimizer": self.optimizer.state_dict(),
    }
    from recbole_easrec.artifacts import save_torch_atomic

    save_torch_atomic(state, saved_model_file)
    if verbose:
        self.logger.info(set_color("Saving current", "blue") + f": {saved_model_file}")


def apply() -> None:
    """Apply every workaround once; safe to call again."""
    restore_numpy_aliases()

    import recbole.data.dataset.dataset as dataset_module
    from recbole.config import Config
    from recbole.trainer import Trainer

    Config.compatibility_settings = lambda self: None
    dataset_module.Dataset._fill_nan = _fill_nan
    dataset_module.Dataset._remap = _remap
    dataset_module.pd = _pandas_for_recbole_datasets()
    Trainer._save_checkpoint = _save_checkpoint
    # RecBole's ``df[col].fillna(..., inplace=True)`` now warns on every load; the gap it leaves is
    # filled by ``_read_csv_filling_sequences`` above, so the warning is noise for our users.
    warnings.filterwarnings(
        "ignore", category=pd.errors.ChainedAssignmentError, module=r"recbole\.data\.dataset"
    )
