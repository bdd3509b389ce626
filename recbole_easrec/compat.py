"""Every workaround that lets RecBole 1.2.1 run on today's libraries, in one place.

RecBole 1.2.1 was released against NumPy 1, pandas 1 and torch < 2.6. :func:`apply` (called once by
``import recbole_easrec``) fixes, without editing RecBole's files:

1. **NumPy 2 aliases.** RecBole reads ``np.float_``, ``np.float`` … (``Config.compatibility_settings``
   and ``Dataset._fill_nan``); NumPy 2 removed them. We restore the aliases, pointing at the same
   types NumPy 1 used, and make ``Config.compatibility_settings`` a no-op.
2. **torch ≥ 2.6 ``weights_only``.** RecBole pickles the whole ``Config`` into each checkpoint, and
   ``torch.load`` now refuses to unpickle it. Checkpoints are written with tensors and plain values
   only, so RecBole's own ``torch.load`` calls load them under ``weights_only=True``; the config is
   kept as its plain settings and rebuilt into a ``Config`` on load by :func:`restore_config`, the
   one function allow-listed with ``torch.serialization.add_safe_globals``. RecBole's
   ``recbole.quick_start.load_data_and_model`` then reloads RecBole's checkpoints and ours, and
   ``recbole.utils.get_model`` (the copy that loader uses) also finds this plugin's models.
3. **pandas ≥ 3 copy-on-write.** ``Series.fillna(..., inplace=True)`` on ``df[col]`` no longer
   changes ``df``: missing feature values stayed NaN (``Dataset._fill_nan``), and missing sequence
   features crashed (``Dataset._load_feat``). We fill by assignment instead.
4. **pandas ≥ 3 ``Series.agg(len)``** now returns the Series' length instead of each row's, which
   broke every ``token_seq`` feature (``Dataset._remap``, used by FDSA/SASRecF's item features),
   every ``float_seq`` feature (``Dataset._normalize`` / ``_discretization``), the entity remapping
   of knowledge-graph datasets (``KnowledgeBasedDataset._reset_ent_remapID``) and, silently, the
   ``item_length`` of pre-split benchmark files (``SequentialDataset._benchmark_presets``).
5. **Pretrained files under torch ≥ 2.6.** S3Rec's pretraining checkpoints
   (``PretrainTrainer.save_pretrained_model``) and NeuMF's ``dump_parameters`` pickled the config
   or the whole model; they now hold tensors and plain values. The models that read pretrained
   files (ConvNCF, NAIS, RaCT, NeuMF, KD_DAGFM, S3Rec) load them with ``weights_only=True``, and a
   missing or pickled file is a one-line :class:`~recbole_easrec.errors.CheckpointError`.
6. **Dataset download.** ``Dataset._download`` calls ``torch.distributed.barrier()`` even in
   single-process runs and crashes (RecBole #1989); it now downloads through
   :mod:`recbole_easrec.data.download` (verified, unpacked atomically), with the barrier only in
   distributed runs.
7. **Multi-process training on CPUs.** RecBole's process group is NCCL on CUDA only
   (``Config._init_device``, ``AbstractTrainer.__init__``'s ``DistributedDataParallel(device_ids=
   [local_rank])``); a config with ``local_rank`` now joins through
   :func:`recbole_easrec.distributed.join_process_group` (gloo on the CPU, NCCL on CUDA, once per
   process, so a second ``Config`` of the same run reuses the group) and trainers wrap the model with
   :func:`recbole_easrec.distributed.wrap_model`. Checkpoints are written by every rank, each into
   its own folder (the weights are the same on all ranks), so each loads its best epoch without a
   shared file system.
9. **TensorBoard in the run folder.** RecBole names a trainer's events folder after the log file;
   with our ``run.log`` every run went into ``./log_tensorboard/run``. :func:`get_tensorboard`
   writes into ``RUN_DIR/log_tensorboard/<Model>-<dataset>-<time>`` instead (one per run).
10. **Warnings on every run.** ``torch.cuda.amp.GradScaler(...)`` (RecBole's trainer) is a
    ``FutureWarning`` on torch ≥ 2.4: the trainer gets ``torch.amp``'s instead. pandas 3 hands
    out read-only arrays that ``torch.LongTensor`` would share (a ``UserWarning``): RecBole's
    ``Dataset._dataframe_to_interaction`` reads writable copies (:class:`_WritableColumns`).
11. **A faster read of the atomic files.** ``Dataset._load_feat`` asks ``pandas.read_csv`` for
   its python engine; with a one-character separator it now gets the C engine (the same frame,
   floats parsed ``round_trip``): 4.5 s → 0.3 s CPU for ML-1M's ``.inter`` file.

Ray: RecBole pins ``ray<=2.6.3`` only in its package metadata; nothing here imports
``recbole.quick_start`` (which imports ray at module level), so the pin is avoided by installing
RecBole with ``--no-deps`` (see README).
"""

from __future__ import annotations

import importlib
import os
import pickle
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from recbole_easrec.errors import CheckpointError

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
    RecBole asks for the python engine; with a one-character separator (its default, a tab) the
    C engine reads the same frame (floats parsed ``round_trip``, as Python parses them) much
    faster (item 8 above; ``benchmarks/results/data_path_ml1m.md``).
    """
    if kwargs.get("engine") == "python" and len(str(kwargs.get("delimiter", ","))) == 1:
        kwargs = {**kwargs, "engine": "c", "float_precision": "round_trip"}
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


def _plain_setting(value: Any) -> Any:
    """One setting as plain values: enums and devices become marked dicts, NumPy scalars numbers,
    tuples lists; anything else that is not a plain value becomes its ``str``."""
    from enum import Enum

    if isinstance(value, Enum):
        return {ENUM_MARK: type(value).__name__, "name": value.name}
    if isinstance(value, torch.device):
        return {DEVICE_MARK: str(value)}
    if isinstance(value, dict):
        return {str(key): _plain_setting(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_setting(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _setting_value(value: Any) -> Any:
    """The inverse of :func:`_plain_setting` (a saved CUDA device becomes the CPU where no CUDA
    device is left)."""
    import recbole.utils.enum_type as enum_types

    if isinstance(value, dict) and ENUM_MARK in value:
        return getattr(enum_types, value[ENUM_MARK])[value["name"]]
    if isinstance(value, dict) and DEVICE_MARK in value:
        device = torch.device(value[DEVICE_MARK])
        return device if device.type != "cuda" or torch.cuda.is_available() else torch.device("cpu")
    if isinstance(value, dict):
        return {key: _setting_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_setting_value(item) for item in value]
    return value


ENUM_MARK = "__recbole_enum__"
DEVICE_MARK = "__torch_device__"


def restore_config(saved: dict[str, Any]) -> Any:
    """A RecBole ``Config`` rebuilt from a checkpoint's plain settings (see :class:`SavedConfig`).

    Registered with ``torch.serialization.add_safe_globals``, so ``torch.load(...,
    weights_only=True)`` — RecBole's own ``load_data_and_model`` included — returns the config
    RecBole pickled into checkpoints before torch 2.6: ``config["seed"]``,
    ``config.final_config_dict``, ``str(config)`` and the model class all work.
    """
    from recbole_easrec.config import EasRecConfig
    from recbole_easrec.registry import resolve_model

    config = object.__new__(_restored_config_class(EasRecConfig))
    config.__dict__.update(
        final_config_dict=_setting_value(dict(saved["settings"])),
        parameters={key: list(value) for key, value in dict(saved["parameters"]).items()},
        model=str(saved["model"]),
        dataset=str(saved["dataset"]),
        file_config_dict={},
        variable_config_dict={},
        cmd_config_dict={},
        external_config_dict={},
        internal_config_dict={},
    )
    config.yaml_loader = config._build_yaml_loader()
    config.model_class = resolve_model(config.model)
    return config


_RESTORED_CONFIG: Any = None


def _restored_config_class(base: type) -> type:
    """``base`` (``EasRecConfig``) whose instances pickle as :class:`SavedConfig` does: a config
    loaded from a checkpoint and saved again (a resumed run's state copies its best checkpoint)
    stays plain values, loadable with ``weights_only=True``."""
    global _RESTORED_CONFIG
    if _RESTORED_CONFIG is None:

        def __reduce__(self: Any) -> tuple[Any, tuple[dict[str, Any]]]:
            return SavedConfig(self).__reduce__()

        _RESTORED_CONFIG = type("RestoredConfig", (base,), {"__reduce__": __reduce__})
    return _RESTORED_CONFIG


class SavedConfig:
    """A ``Config`` as a checkpoint stores it: plain settings, rebuilt by :func:`restore_config`.

    Pickled as ``restore_config(plain dict)``, the only callable in the file, so the checkpoint
    stays loadable with ``weights_only=True`` and holds no pickled Python objects.
    """

    def __init__(self, config: Any) -> None:
        settings = getattr(config, "final_config_dict", None) or dict(config)
        self.saved = {
            "model": str(settings["model"]),
            "dataset": str(settings["dataset"]),
            "settings": _plain_setting(dict(settings)),
            "parameters": _plain_setting(dict(getattr(config, "parameters", {}) or {})),
        }

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        return restore_config, (self.saved,)


def _save_checkpoint(self: Any, epoch: int, verbose: bool = True, **kwargs: Any) -> None:
    """``Trainer._save_checkpoint`` that writes tensors and plain values only.

    Loadable with ``torch.load(..., weights_only=True)``; the config is stored as plain settings
    that :func:`restore_config` turns back into a ``Config`` (:class:`SavedConfig`).
    """
    from recbole.utils import set_color

    saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
    state = {
        "config": SavedConfig(self.config),
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


def _flat_and_split_points(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A sequence column as one flat array plus the points that split it back into rows."""
    lengths = _token_lengths(column)
    if len(column) == 0:
        return np.array([], dtype=np.float64), lengths
    flat = np.concatenate([np.asarray(value) for value in column])
    return flat, np.cumsum(lengths)[:-1]


def _benchmark_presets(self: Any) -> None:
    """pandas-3-safe ``SequentialDataset._benchmark_presets``: ``item_length`` per row.

    RecBole computed it with ``Series.agg(len)``, which pandas 3 turns into the row count, so every
    sequence of a pre-split benchmark file got the same (wrong) length.
    """
    from recbole.utils import FeatureSource, FeatureType

    list_suffix = self.config["LIST_SUFFIX"]
    for field in list(self.inter_feat):
        if field + list_suffix in self.inter_feat:
            setattr(self, f"{field}_list_field", field + list_suffix)
    self.set_field_property(
        self.item_list_length_field, FeatureType.TOKEN, FeatureSource.INTERACTION, 1
    )
    column = self.inter_feat[self.item_id_list_field]
    self.inter_feat[self.item_list_length_field] = _token_lengths(column)


def _fields_to_normalize(self: Any) -> list[str]:
    """The fields ``normalize_field`` / ``normalize_all`` select (RecBole's rules and errors)."""
    from recbole.utils import FeatureType

    if self.config["normalize_field"] is not None and self.config["normalize_all"] is True:
        raise ValueError("Normalize_field and normalize_all can't be set at the same time.")
    if not self.config["normalize_field"]:
        return list(self.float_like_fields) if self.config["normalize_all"] else []
    fields = list(self.config["normalize_field"])
    for field in fields:
        if field not in self.field2type:
            raise ValueError(f"Field [{field}] does not exist.")
        if self.field2type[field] not in (FeatureType.FLOAT, FeatureType.FLOAT_SEQ):
            self.logger.warning(
                f"{field} is not a FLOAT/FLOAT_SEQ feat, which will not be normalized."
            )
    return fields


def _min_max(self: Any, values: np.ndarray, field: str) -> np.ndarray:
    """``(x - min) / (max - min)``; all ones (with RecBole's warning) when every value is equal."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    high, low = values.max(), values.min()
    if high == low:
        self.logger.warning(f"All the same value in [{field}].")
        return np.ones_like(values)
    return (values - low) / (high - low)


def _normalize(self: Any) -> None:
    """pandas-3-safe ``Dataset._normalize`` (``float_seq`` rows split back by their own lengths)."""
    from recbole.utils import FeatureType

    for field in _fields_to_normalize(self):
        for feat in self.field2feats(field):
            ftype = self.field2type[field]
            if ftype == FeatureType.FLOAT:
                feat[field] = _min_max(self, feat[field].to_numpy(), field)
            elif ftype == FeatureType.FLOAT_SEQ:
                flat, split_points = _flat_and_split_points(feat[field])
                feat[field] = np.split(_min_max(self, flat, field), split_points)


def _discretization_info(self: Any) -> dict[str, Any]:
    """``discretization`` settings of the float-like numerical fields (RecBole's checks)."""
    from recbole.utils import FeatureType

    info = dict(self.config["discretization"] or {})
    for field in list(info):
        if field not in self.field2type:
            raise ValueError(f"Field [{field}] does not exist.")
        if field not in self.config["numerical_features"]:
            raise ValueError(f"Field [{field}] must be a numerical feature")
        if self.field2type[field] not in (FeatureType.FLOAT, FeatureType.FLOAT_SEQ):
            self.logger.warning(
                f"{field} is not a FLOAT/FLOAT_SEQ feat, which will not be normalized."
            )
            del info[field]
        elif info[field]["method"] == "ED" and "bucket" not in info[field]:
            raise ValueError("The number of buckets must be set when apply equal discretization.")
    return info


def _bucketize(self: Any, values: np.ndarray, field: str, info: dict[str, Any]) -> np.ndarray:
    """Bucket ids of ``values``: ``ED`` equal-width buckets or ``LD`` logarithmic ones (RecBole's)."""
    values = np.asarray(values, dtype=np.float64)
    method = info["method"]
    if method == "ED":
        bucket = info["bucket"]
        lower, upper = values.min(), values.max() + 1e-9
        if upper == lower:
            self.logger.warning(f"All the same value in [{field}].")
            return np.ones_like(values) * bucket
        return np.floor((values - lower) * bucket / (upper - lower) + 1)
    if method == "LD":
        mask = values > 2
        logs = np.where(mask, np.floor(np.log(values * mask + 1e-9) ** 2 + 1), values)
        return np.unique(logs, return_inverse=True)[1]
    raise ValueError(f"Method [{method}] does not exist.")


def _discretization(self: Any) -> None:
    """pandas-3-safe ``Dataset._discretization``.

    Each numerical value becomes a ``(value, 1)`` pair, or ``(1, bucket)`` for a discretized field;
    ``float_seq`` rows keep their own lengths.
    """
    from recbole.utils import FeatureType

    info = _discretization_info(self)
    for field in self.config["numerical_features"]:
        for feat in self.field2feats(field):
            is_float = self.field2type[field] == FeatureType.FLOAT
            values, split_points = (
                (feat[field].to_numpy(), None) if is_float else _flat_and_split_points(feat[field])
            )
            if field in info:
                second = _bucketize(self, values, field, info[field])
                self.field2bucketnum[field] = int(second.max() + 1) if second.size else 1
                first = np.ones_like(second)
            else:
                first, second = values, np.ones_like(values)
            if is_float:
                feat[field] = np.stack([first, second], axis=-1).tolist()
            else:
                pairs = zip(np.split(first, split_points), np.split(second, split_points))
                feat[field] = list(pairs)


def _reset_ent_remap_id(
    self: Any, field: str, idmap: np.ndarray, id2token: np.ndarray, token2id: dict[str, int]
) -> None:
    """pandas-3-safe ``KnowledgeBasedDataset._reset_ent_remapID`` (sequence rows keep lengths)."""
    from recbole.utils import FeatureType

    self.field2id_token[field] = id2token
    self.field2token_id[field] = token2id
    for feat in self.field2feats(field):
        if self.field2type[field] == FeatureType.TOKEN:
            feat[field] = idmap[feat[field].to_numpy()]
        else:
            flat, split_points = _flat_and_split_points(feat[field])
            feat[field] = np.split(idmap[flat.astype(np.int64)], split_points)


def _save_pretrained_model(self: Any, epoch: int, saved_model_file: str) -> None:
    """``PretrainTrainer.save_pretrained_model`` writing tensors and plain values only (S3Rec)."""
    from recbole_easrec.artifacts import save_torch_atomic

    state = {
        "config": SavedConfig(self.config),
        "epoch": int(epoch),
        "state_dict": self.model.state_dict(),
        "optimizer": self.optimizer.state_dict(),
        "other_parameter": _plain_values(self.model.other_parameter()),
    }
    save_torch_atomic(state, saved_model_file)
    self.saved_model_file = saved_model_file


def _dump_neumf_parameters(self: Any) -> None:
    """``NeuMF.dump_parameters`` saving the state dict instead of the pickled module.

    ``NeuMF.load_pretrain`` accepts a bare state dict, so the pretrain → NeuMF chain still works.
    """
    from recbole_easrec.artifacts import save_torch_atomic

    if self.mf_train and not self.mlp_train:
        save_torch_atomic(self.state_dict(), self.mf_pretrain_path)
    elif self.mlp_train and not self.mf_train:
        save_torch_atomic(self.state_dict(), self.mlp_pretrain_path)


def load_pretrained(path: str | os.PathLike[str], map_location: Any = None, **_: Any) -> Any:
    """``torch.load(path, weights_only=True)`` for RecBole models' pretrained files.

    A missing file or one holding pickled objects (saved by RecBole without this layer, or a
    whole pickled model) is a one-line :class:`CheckpointError` instead of a traceback.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (FileNotFoundError, IsADirectoryError):
        raise CheckpointError(
            f"pretrained file {str(path)!r} not found: set the model's pretrained-file setting "
            "(pre_model_path, pretrain_path, mf_pretrain_path/mlp_pretrain_path or warm_up) to a "
            "checkpoint written by its pretraining run"
        ) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"cannot load pretrained file {str(path)!r} with weights_only=True ({reason}); it "
            "holds pickled Python objects or is damaged: re-run the pretraining with "
            "recbole_easrec imported, whose checkpoints hold tensors and plain values only"
        ) from None


class _TorchWithSafeLoad(types.ModuleType):
    """Stand-in for the ``torch`` name in a model module: ``torch`` with :func:`load_pretrained`."""

    load = staticmethod(load_pretrained)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


#: RecBole modules whose models ``torch.load`` a pretrained file.
PRETRAINED_LOADERS = (
    "recbole.model.general_recommender.convncf",
    "recbole.model.general_recommender.nais",
    "recbole.model.general_recommender.ract",
    "recbole.model.general_recommender.neumf",
    "recbole.model.context_aware_recommender.kd_dagfm",
    "recbole.model.sequential_recommender.s3rec",
)


def _download(self: Any) -> None:
    """``Dataset._download`` without the single-process ``torch.distributed.barrier`` crash.

    Rank 0 (or the only process) downloads through :func:`recbole_easrec.data.download.download_dataset`;
    the barrier is used only when a process group exists.
    """
    from recbole_easrec.data.download import download_dataset

    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not distributed or self.config["local_rank"] == 0:
        download_dataset(self.dataset_name, Path(self.dataset_path).parent)
    if distributed:
        torch.distributed.barrier()


_RECBOLE_INIT_DEVICE: Any = None


def _init_device(self: Any) -> None:
    """``Config._init_device``: RecBole's for a single process; a process of a distributed run
    (``local_rank`` set) joins its group through :func:`~recbole_easrec.distributed.join_process_group`."""
    settings = self.final_config_dict
    if "local_rank" not in settings:
        _RECBOLE_INIT_DEVICE(self)
        return
    from recbole_easrec.distributed import join_process_group

    gpu_id = settings["gpu_id"]
    settings["gpu_id"] = ",".join(map(str, gpu_id)) if isinstance(gpu_id, tuple) else str(gpu_id)
    os.environ["CUDA_VISIBLE_DEVICES"] = settings["gpu_id"]
    join_process_group(settings)


def _trainer_init(self: Any, config: Any, model: Any) -> None:
    """``AbstractTrainer.__init__`` whose ``DistributedDataParallel`` also runs on the CPU."""
    self.config = config
    self.model = model
    if not config["single_spec"]:
        from recbole_easrec.distributed import wrap_model

        self.distributed_model = wrap_model(model, config)
        self.model = self.distributed_model.module


class _WritableColumns:
    """A DataFrame's columns as writable arrays, read the way RecBole's
    ``Dataset._dataframe_to_interaction`` reads them (``for k in data``, ``data[k].values``).

    pandas 3 (copy-on-write) hands out read-only arrays; ``torch.LongTensor`` shares their memory
    and warns on every run ("The given NumPy array is not writable …"): a tensor written in place
    would write into pandas' frame. Read-only columns are copied first.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def __iter__(self) -> Any:
        return iter(self._frame)

    def __getitem__(self, key: str) -> types.SimpleNamespace:
        values = self._frame[key].to_numpy()
        if isinstance(values, np.ndarray) and not values.flags.writeable:
            values = values.copy()
        return types.SimpleNamespace(values=values)


_RECBOLE_DATAFRAME_TO_INTERACTION: Any = None


def _dataframe_to_interaction(self: Any, data: pd.DataFrame) -> Any:
    """RecBole's ``Dataset._dataframe_to_interaction`` on writable copies of read-only columns."""
    return _RECBOLE_DATAFRAME_TO_INTERACTION(self, _WritableColumns(data))


def _amp_for_recbole() -> types.ModuleType:
    """A stand-in for ``torch.cuda.amp`` in ``recbole.trainer.trainer``: the same ``GradScaler``
    and ``autocast`` through ``torch.amp`` (``torch.cuda.amp.GradScaler(...)`` warns
    ``FutureWarning`` on every run)."""
    proxy = types.ModuleType("amp_for_recbole")
    proxy.GradScaler = lambda *args, **kwargs: torch.amp.GradScaler("cuda", *args, **kwargs)
    proxy.autocast = lambda *args, **kwargs: torch.amp.autocast("cuda", *args, **kwargs)
    return proxy


def _patch_warning_sources() -> None:
    """Item 10 of the module docstring: RecBole's GradScaler and read-only arrays."""
    import recbole.data.dataset.dataset as dataset_module
    import recbole.trainer.trainer as trainer_module

    global _RECBOLE_DATAFRAME_TO_INTERACTION
    if _RECBOLE_DATAFRAME_TO_INTERACTION is None:
        _RECBOLE_DATAFRAME_TO_INTERACTION = dataset_module.Dataset._dataframe_to_interaction
    dataset_module.Dataset._dataframe_to_interaction = _dataframe_to_interaction
    trainer_module.amp = _amp_for_recbole()


_RECBOLE_GET_TENSORBOARD: Any = None


def get_tensorboard(logger: Any) -> Any:
    """RecBole's ``get_tensorboard`` that writes into the folder a log handler names.

    RecBole names the events folder after the log file (``./log_tensorboard/<log file name>``), so
    every run of ours (whose log is ``run.log``) went into ``./log_tensorboard/run`` of the working
    directory, and Tune trials' into Ray's session folder. A handler with a ``tensorboard_dir``
    attribute (:func:`recbole_easrec.quick_start.configure_logging` sets it to
    ``RUN_DIR/log_tensorboard/<Model>-<dataset>-<time>``) now decides; RecBole's own runs are
    unchanged.
    """
    for handler in getattr(logger, "handlers", []):
        folder = getattr(handler, "tensorboard_dir", None)
        if folder:
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter(str(folder))
    return _RECBOLE_GET_TENSORBOARD(logger)


def _patch_get_tensorboard() -> None:
    """Point ``recbole.trainer.trainer``'s ``get_tensorboard`` at :func:`get_tensorboard`."""
    import recbole.trainer.trainer as trainer_module

    global _RECBOLE_GET_TENSORBOARD
    if _RECBOLE_GET_TENSORBOARD is None:
        _RECBOLE_GET_TENSORBOARD = trainer_module.get_tensorboard
    trainer_module.get_tensorboard = get_tensorboard


_RECBOLE_GET_MODEL: Any = None


def get_model(model_name: str) -> type:
    """RecBole's ``get_model`` that also finds this plugin's models (``LinRec``, ``EASRec`` …),
    so ``recbole.quick_start.load_data_and_model`` rebuilds them from their checkpoints."""
    model_module = importlib.import_module("recbole_easrec.model")
    if model_name in getattr(model_module, "__all__", ()):
        return getattr(model_module, model_name)
    return _RECBOLE_GET_MODEL(model_name)


def _patch_get_model() -> None:
    """Point ``recbole.utils.get_model`` (and ``recbole.quick_start``'s copy, if imported) at
    :func:`get_model`; RecBole's ``Config`` keeps its own, so RecBole's runs are unchanged."""
    import sys

    import recbole.utils

    global _RECBOLE_GET_MODEL
    if _RECBOLE_GET_MODEL is None:
        _RECBOLE_GET_MODEL = recbole.utils.get_model
    recbole.utils.get_model = get_model
    quick_start = sys.modules.get("recbole.quick_start.quick_start")
    if quick_start is not None:
        quick_start.get_model = get_model


def _patch_pretrained_loaders() -> None:
    """Point the ``torch`` name of each module in :data:`PRETRAINED_LOADERS` at the safe loader."""
    for name in PRETRAINED_LOADERS:
        module = importlib.import_module(name)
        if not isinstance(module.torch, _TorchWithSafeLoad):
            module.torch = _TorchWithSafeLoad("torch")


def apply() -> None:
    """Apply every workaround once; safe to call again."""
    restore_numpy_aliases()

    import recbole.data.dataset.dataset as dataset_module
    from recbole.config import Config
    from recbole.data.dataset import KnowledgeBasedDataset, SequentialDataset
    from recbole.model.general_recommender.neumf import NeuMF
    from recbole.trainer import AbstractTrainer, PretrainTrainer, Trainer

    global _RECBOLE_INIT_DEVICE
    if _RECBOLE_INIT_DEVICE is None:
        _RECBOLE_INIT_DEVICE = Config._init_device
    Config._init_device = _init_device
    AbstractTrainer.__init__ = _trainer_init
    Config.compatibility_settings = lambda self: None
    dataset_module.Dataset._fill_nan = _fill_nan
    dataset_module.Dataset._remap = _remap
    dataset_module.Dataset._normalize = _normalize
    dataset_module.Dataset._discretization = _discretization
    dataset_module.Dataset._download = _download
    SequentialDataset._benchmark_presets = _benchmark_presets
    KnowledgeBasedDataset._reset_ent_remapID = _reset_ent_remap_id
    PretrainTrainer.save_pretrained_model = _save_pretrained_model
    NeuMF.dump_parameters = _dump_neumf_parameters
    _patch_pretrained_loaders()
    dataset_module.pd = _pandas_for_recbole_datasets()
    Trainer._save_checkpoint = _save_checkpoint
    torch.serialization.add_safe_globals([restore_config])
    _patch_get_model()
    _patch_get_tensorboard()
    _patch_warning_sources()
    # RecBole's ``df[col].fillna(..., inplace=True)`` now warns on every load; the gap it leaves is
    # filled by ``_read_csv_filling_sequences`` above, so the warning is noise for our users.
    warnings.filterwarnings(
        "ignore", category=pd.errors.ChainedAssignmentError, module=r"recbole\.data\.dataset"
    )
