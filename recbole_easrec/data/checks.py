"""Check that a dataset's atomic files exist and are readable before RecBole loads them.

RecBole would try to download a missing dataset (which fails offline and, in single-process runs,
crashes on ``torch.distributed.barrier``, RecBole #1989); we stop first with one clear line.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from recbole_easrec.data.rules import scan_file
from recbole_easrec.errors import ConfigError, DataError

CONVERT_HINT = "convert raw files with `python -m recbole_easrec.data.convert`"


def expected_files(config: Any) -> dict[str, list[str]]:
    """Atomic files the config will load, with the fields each must provide: suffix → fields."""
    load_col = config["load_col"] or {"inter": [config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]]}
    return {suffix: list(fields) for suffix, fields in load_col.items()}


def read_header(path: Path, separator: str) -> list[str]:
    """Field names (``name:type`` → ``name``) from the first line of an atomic file."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first_line = handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return [column.split(":")[0] for column in first_line.split(separator)]


def check_dataset_files(config: Any) -> None:
    """Raise :class:`DataError` if a file the run needs is missing or lacks a needed field."""
    folder = Path(config["data_path"]).resolve()
    name = config["dataset"]
    separator = config["field_separator"] or "\t"
    for suffix in expected_files(config):
        path = folder / f"{name}.{suffix}"
        if not path.is_file():
            raise DataError(
                f"dataset {name!r} not found: expected {path} (RecBole atomic format); pass "
                f"--data_path=DIR where DIR/{name}/{name}.{suffix} exists, or {CONVERT_HINT}"
            )
    bom_warnings = accept_bom(
        config, [folder / f"{name}.{suffix}" for suffix in expected_files(config)]
    )
    warnings, user_counts = check_dataset_rows(config)
    warnings = bom_warnings + warnings
    for suffix, fields in expected_files(config).items():
        path = folder / f"{name}.{suffix}"
        header = read_header(path, separator)
        missing = [field for field in fields if field not in header]
        if missing:
            raise DataError(
                f"{path} lacks field(s) {', '.join(missing)} (header has {', '.join(header)});"
                f" fix the header line (name:type, tab separated) or {CONVERT_HINT}"
            )
    report(warnings + drop_short_users(config, user_counts, folder / f"{name}.inter"))


def accept_bom(config: Any, paths: list[Path]) -> list[str]:
    """Files that start with a UTF-8 byte-order mark (saved by Excel or Windows tools) are read
    with ``encoding: utf-8-sig`` (RecBole's ``utf-8`` would keep the mark in the first field's
    name, which then "lacks user_id"); one warning line names them."""
    if str(config["encoding"] or "utf-8").lower().replace("_", "-") not in ("utf-8", "utf8"):
        return []
    marked = []
    for path in paths:
        with open(path, "rb") as handle:
            if handle.read(3) == codecs.BOM_UTF8:
                marked.append(str(path))
    if not marked:
        return []
    config["encoding"] = "utf-8-sig"
    return [
        f"{', '.join(marked)}: starts with a UTF-8 byte-order mark; read as utf-8-sig (the mark"
        " is not part of the first field's name)"
    ]


def check_catalogue(config: Any, dataset: Any) -> None:
    """Full ranking needs at least ``max(topk)`` items: a smaller catalogue is a one-line error
    (torch's ``topk`` would fail mid-evaluation with "selected index k out of range")."""
    items = int(dataset.item_num) - 1  # id 0 is padding
    largest = max(config["topk"] or [0])
    # RecBole ranks the padding id too (scored -inf): k = items + 1 still runs, as it always did
    if largest > items + 1:
        raise DataError(
            f"dataset {config['dataset']!r} has {items} item(s) after filtering but topk asks for"
            f" the top {largest}; pass --topk=[k] with k <= {items} (and a valid_metric at such"
            " a k, e.g. --valid_metric=NDCG@" + str(max(items, 1)) + ") or add items"
        )


def check_model_features(config: Any, dataset: Any) -> None:
    """RecBole's FDSA, SASRecF and GRU4RecF (and our LinFDSA, LinSASRecF) embed the item features
    named by ``selected_features``; one that is not loaded ends RecBole's constructor in a bare
    ``KeyError: 'class'``. Checked before the model is built, with LinSASRecF's one-line error.

    Raises:
        ConfigError: ``selected_features`` is not a list, or names a field that is not loaded.
    """
    from recbole.model.sequential_recommender import FDSA, GRU4RecF, SASRecF

    from recbole_easrec.model.lin_sasrecf import check_features_loaded

    model_class = getattr(config, "model_class", None)
    if not (isinstance(model_class, type) and issubclass(model_class, (FDSA, GRU4RecF, SASRecF))):
        return
    features = config["selected_features"]
    if not isinstance(features, list) or not features:
        raise ConfigError(
            f"{model_class.__name__} needs selected_features as a list of item fields, e.g."
            f" --selected_features=\"['class']\"; got {features!r}"
        )
    check_features_loaded(config, dataset)


def held_out_parts(config: Any) -> int | None:
    """Leave-one-out parts held out per user (2 for valid_and_test), or ``None`` if not LOO."""
    split = (config["eval_args"] or {}).get("split") or {}
    mode = split.get("LS") if isinstance(split, dict) else None
    return {"valid_and_test": 2, "valid_only": 1, "test_only": 1}.get(mode)


def min_user_interactions(config: Any) -> int | None:
    """Fewest interactions a user needs for a training sample plus one per held-out part."""
    parts = held_out_parts(config)
    if parts is None:
        return None
    sequential = getattr(config["MODEL_TYPE"], "name", "") == "SEQUENTIAL"
    return 1 + parts + int(sequential)


INTERVAL = re.compile(r"^\s*([\[(])\s*([^,]+?)\s*,\s*([^\])]+?)\s*([\])])\s*$")


def raise_lower_bound(interval: str | None, minimum: int) -> str | None:
    """``interval`` (RecBole's ``[a,b)`` syntax) with its lower bound raised to ``minimum``;
    ``None`` if it has several parts or cannot be read (left to RecBole)."""
    match = INTERVAL.match(str(interval or "[0,inf)"))
    if not match:
        return None
    opening, low, high, closing = match.groups()
    if float(low) + (opening == "(") >= minimum:
        return str(interval)
    return f"[{minimum},{high}{closing}"


def drop_short_users(config: Any, counts: Counter, path: Path) -> list[str]:
    """Raise ``user_inter_num_interval`` to what leave-one-out needs; warn with the count."""
    minimum = min_user_interactions(config)
    if minimum is None or not counts:
        return []
    short = sum(1 for count in counts.values() if count < minimum)
    if short == len(counts):
        raise DataError(
            f"{path}: every user has fewer than {minimum} interactions, which leave-one-out"
            f" ({config['eval_args']['split']['LS']}) needs; add interactions or use"
            " --eval_args with another split"
        )
    adjusted = raise_lower_bound(config["user_inter_num_interval"], minimum)
    if not short or adjusted is None or adjusted == config["user_inter_num_interval"]:
        return []
    config["user_inter_num_interval"] = adjusted
    return [
        f"{path}: {short} of {len(counts)} users have fewer than {minimum} interactions, too few"
        f" for leave-one-out; they are dropped (user_inter_num_interval: {adjusted})"
    ]


def loaded_suffixes(config: Any) -> list[str]:
    """Atomic files RecBole will read."""
    load_col = config["load_col"]
    return list(load_col) if load_col else ["inter"]


def check_dataset_rows(config: Any) -> tuple[list[str], Counter]:
    """Scan every loaded atomic file (:mod:`rules`): its warnings, and rows per user."""
    folder = Path(config["data_path"]).resolve()
    name = config["dataset"]
    separator = config["field_separator"] or "\t"
    uid, iid, time = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"], config["TIME_FIELD"]
    path = folder / f"{name}.inter"
    inter = scan_file(path, separator, uid, {uid, iid, time}, time)
    warnings = list(inter.warnings)
    inter_items = (
        scan_file(path, separator, iid, set(), None).ids
        if "item" in loaded_suffixes(config)
        else Counter()
    )
    for suffix, field, inter_ids in (("item", iid, inter_items), ("user", uid, inter.ids)):
        if suffix not in loaded_suffixes(config) or not (folder / f"{name}.{suffix}").is_file():
            continue
        feature_path = folder / f"{name}.{suffix}"
        feature = scan_file(feature_path, separator, field, {field}, None)
        warnings += feature.warnings + compare_ids(feature_path, path, feature.ids, inter_ids)
    return warnings, inter.ids


def compare_ids(
    feature_path: Path, inter_path: Path, feature: Counter, inter: Counter
) -> list[str]:
    """A feature file's ids against the ``.inter`` file's: none shared is an error."""
    shared = set(feature) & set(inter)
    if not shared:
        raise DataError(
            f"{feature_path}: none of its ids occurs in {inter_path}; the two files must use the"
            " same ids (or drop the feature file from load_col)"
        )
    warnings = []
    missing = [key for key in inter if key not in feature]
    if missing:
        rows = sum(inter[key] for key in missing)
        warnings.append(
            f"{inter_path}: {len(missing)} ids ({rows} interactions) are not in {feature_path};"
            " RecBole drops those interactions (filter_inter_by_user_or_item)"
        )
    extra = len(set(feature) - set(inter))
    if extra:
        warnings.append(
            f"{feature_path}: {extra} ids have no interaction; they stay in the vocabulary"
            " (ranked as candidates)"
        )
    return warnings


def load_error(config: Any, exc: Exception) -> DataError:
    """RecBole's error while building the dataset, as one line with the likely fix."""
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Some feat is empty" in first_line:
        return DataError(
            f"every interaction of dataset {config['dataset']!r} was removed by RecBole's filters"
            f" (user_inter_num_interval: {config['user_inter_num_interval']},"
            f" item_inter_num_interval: {config['item_inter_num_interval']}, val_interval:"
            f" {config['val_interval']}); relax them"
        )
    return DataError(
        f"cannot load dataset {config['dataset']!r} from {config['data_path']}: {first_line};"
        " check that the atomic files are tab separated with name:type headers"
    )


def check_split(config: Any, loaders: tuple[Any, Any, Any]) -> list[str]:
    """After the split: an empty test split is an error; test items unseen in training warn."""
    train, _, test = (loader._dataset for loader in loaders)
    iid = config["ITEM_ID_FIELD"]
    if len(test.inter_feat) == 0:
        raise DataError(
            f"dataset {config['dataset']!r} has no test interaction after the split; every user"
            " needs enough interactions for leave-one-out"
        )
    seen = set(train.inter_feat[iid].tolist())
    item_list = iid + config["LIST_SUFFIX"]
    if item_list in train.inter_feat:
        seen |= set(train.inter_feat[item_list].flatten().tolist())
    elif hasattr(train, "history_item_ids"):  # data.sequences: histories gathered per batch
        seen |= set(train.history_item_ids().tolist())
    cold = set(test.inter_feat[iid].tolist()) - seen
    if not cold:
        return []
    return [
        f"dataset {config['dataset']!r}: {len(cold)} test items never occur in training; they are"
        " kept and ranked (their embeddings are untrained)"
    ]


def report(warnings: list[str]) -> None:
    """Log each data warning as one line."""
    for message in warnings:
        logging.getLogger("recbole_easrec.data").warning(message)
