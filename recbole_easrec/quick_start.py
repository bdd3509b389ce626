"""Train and evaluate one model: the Python API behind ``run_recbole_easrec.py``.

Mirrors ``recbole.quick_start.run_recbole`` (which resolves built-in models only and imports Ray at
module level) but finds plugin models too, writes one folder per run and reports efficiency.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from recbole.data import data_preparation
from recbole.utils import init_seed

from recbole_easrec.artifacts import new_run_dir, write_json_atomic
from recbole_easrec.config import build_config, validate_run_config
from recbole_easrec.data.checks import (
    check_catalogue,
    check_dataset_files,
    check_model_features,
    check_split,
    load_error,
    report,
)
from recbole_easrec.data.download import ensure_dataset
from recbole_easrec.data.sequences import cap_full_sort_batches, create_sequence_dataset
from recbole_easrec.distributed import check_replicas, is_distributed, is_main_process
from recbole_easrec.efficiency import median_seconds, model_flops, peak_memory_bytes
from recbole_easrec.errors import ConfigError, one_line_error
from recbole_easrec.locking import RunLock
from recbole_easrec.registry import plugin_model_names
from recbole_easrec.resume import WORK_DIR, ResumeError, open_work_folder, promote, tidy_work_folder
from recbole_easrec.saving import save_model
from recbole_easrec.summary import run_summary
from recbole_easrec.trainer import resolve_trainer, validate_trainer_config

RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.txt"
TENSORBOARD_DIR = "log_tensorboard"
# (epoch, valid_score, valid_metrics) after every validation epoch; see run_recbole_easrec.
EpochCallback = Callable[[int, float, dict[str, float]], None]
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def run_recbole_easrec(
    model: str | type | None = None,
    dataset: str | None = None,
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    saved: bool = True,
    epoch_callback: EpochCallback | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train ``model`` on ``dataset``, evaluate on the test split and write ``result.json``.

    The run writes into ``<output_dir>/in_progress/`` and moves its files into ``output_dir`` when
    it has succeeded, so a failed or killed run leaves an earlier run's files there untouched; the
    trainer saves its state there after every epoch (:mod:`recbole_easrec.resume`).

    Args:
        model: a plugin model (``LinRec``, ``EASRec``, ``DSL``), any RecBole model name, or a class.
        dataset: dataset name; its atomic files are ``<data_path>/<dataset>/<dataset>.inter`` …
        config_file_list: YAML files, later ones win.
        config_dict: overrides (highest priority). ``output_dir`` names the run folder (default: a
            fresh folder under ``saved/``).
        saved: keep the best checkpoint and evaluate it (RecBole's ``saved``).
        epoch_callback: called after every validation epoch with ``(epoch, valid_score,
            valid_metrics)`` (RecBole's ``callback_fn`` plus the metrics; with RecBole's special
            trainers — KG, two-tower — ``valid_metrics`` is empty). Ray Tune trials report with it.
        resume: continue the unfinished run in ``output_dir`` from its last completed epoch
            (same model, dataset and settings; ``--resume``).

    Returns:
        The content of ``result.json``: ``model``, ``dataset``, ``config``, ``best_valid_result``,
        ``test_result``, ``efficiency`` and model-specific entries.

    Raises:
        UserError: bad model name, config value or dataset files (one-line message).
        ResumeError: ``resume`` without an unfinished run of the same settings in ``output_dir``.
    """
    overrides = dict(config_dict or {})
    output_dir = overrides.pop("output_dir", None)
    if resume and not output_dir:
        raise ResumeError("--resume needs the --output_dir of the run to continue")
    config = build_config(model, dataset, config_file_list, overrides)
    validate_run_config(config)
    validate_trainer_config(config)
    with run_folder(config, output_dir) as run_dir:
        return train_and_test(
            config,
            run_dir,
            (model, dataset, config_file_list, overrides),
            saved,
            epoch_callback,
            resume,
        )


@contextmanager
def run_folder(config: Any, output_dir: str | None) -> Iterator[Path]:
    """The run's folder: ``output_dir`` or a fresh one under ``saved/``; for a process of a
    distributed run other than rank 0, a temporary folder of its own, removed afterwards."""
    if not is_main_process(config):
        with tempfile.TemporaryDirectory(prefix="recbole-easrec-rank-") as scratch:
            yield Path(scratch)
        return
    yield (
        Path(output_dir).resolve()
        if output_dir
        else new_run_dir(config["model"], config["dataset"])
    )


def train_and_test(
    config: Any,
    run_dir: Path,
    build_args: tuple[Any, Any, Any, dict[str, Any]],
    saved: bool,
    epoch_callback: EpochCallback | None,
    resume: bool,
) -> dict[str, Any]:
    """The body of :func:`run_recbole_easrec` once the config is valid and the folder named;
    ``build_args`` are the ``(model, dataset, config_file_list, overrides)`` it was built from."""
    model, dataset, config_file_list, overrides = build_args
    run_dir.mkdir(parents=True, exist_ok=True)
    # one run per folder, released even if the run fails; a failure before any state leaves no
    # work folder behind
    with RunLock(run_dir), tidy_work_folder(run_dir / WORK_DIR):
        configure_logging(run_dir, config["state"], tensorboard_dir(run_dir, config))
        log_settings(config)
        checkpointer = open_work_folder(run_dir, config, resume)
        work_dir = checkpointer.work_dir
        config["checkpoint_dir"] = str(work_dir)
        init_seed(config["seed"], config["reproducibility"])

        full_dataset, (train_data, valid_data, test_data) = prepare_data(config)
        init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
        model_instance = config.model_class(config, train_data._dataset).to(config["device"])
        logging.getLogger().info(model_instance)
        trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model_instance)
        trainer.saved_model_file = str(work_dir / "checkpoint.pth")
        attach_checkpointer(trainer, checkpointer, config["model"])

        start = time.perf_counter()
        try:
            best_valid_score, best_valid_result = trainer.fit(
                train_data,
                valid_data,
                saved=saved,
                show_progress=config["show_progress"],
                callback_fn=fit_callback(trainer, epoch_callback),
            )
        finally:  # RecBole never closes its writer: the last points would wait for a flush
            if getattr(trainer, "tensorboard", None) is not None:
                trainer.tensorboard.close()
        # a resumed run counts the training time before the kill too
        train_seconds = time.perf_counter() - start + getattr(trainer, "seconds_before_resume", 0.0)
        if is_distributed(config):
            check_replicas(getattr(trainer, "model", model_instance))
        load_best = saved and Path(trainer.saved_model_file).is_file()
        test_result = trainer.evaluate(
            test_data, load_best_model=load_best, show_progress=config["show_progress"]
        )
        final_model = getattr(trainer, "model", model_instance)
        extra_results = evaluate_extra_modes(
            trainer,
            config,
            full_dataset,
            (train_data, valid_data, test_data),
            lambda mode: build_config(
                model,
                dataset,
                config_file_list,
                {**overrides, "eval_args": with_mode(config, mode)},
            ),
        )

        result = {
            "model": config["model"],
            "dataset": config["dataset"],
            "output_dir": str(run_dir),
            "config": {**config.final_config_dict, "checkpoint_dir": str(run_dir)},
            "best_valid_score": best_valid_score,
            "best_valid_result": dict(best_valid_result or {}),
            "test_result": dict(test_result or {}),
            "test_protocol": evaluation_mode(config),
            "extra_test_results": extra_results,
            "efficiency": measure_efficiency(
                final_model, trainer, test_data, config, train_seconds
            ),
        }
        if hasattr(trainer, "result_extras"):
            result.update(trainer.result_extras())
        full_network = full_network_efficiency(trainer, test_data, config)
        if full_network is not None:
            result["full_network_efficiency"] = full_network
        if config["model"] in plugin_model_names() and not getattr(trainer, "saves_model", False):
            save_model(work_dir, final_model, config)
        write_json_atomic(work_dir / RESULT_FILE, result)
        summary = run_summary({**result, "output_dir": str(run_dir)})
        (work_dir / SUMMARY_FILE).write_text(summary + "\n", encoding="utf-8")
        promote(work_dir, run_dir)
        logging.getLogger().info(
            "test result: %s; wrote %s\n%s",
            plain_metrics(result["test_result"]),
            run_dir / RESULT_FILE,
            summary,
        )
        return result


def attach_checkpointer(trainer: Any, checkpointer: Any, model: str) -> None:
    """Let ``trainer`` save (and resume from) per-epoch state; RecBole's special trainers (KG,
    two-tower, …) cannot, so resuming one of them is a :class:`ResumeError`."""
    if hasattr(trainer, "checkpointer"):
        trainer.checkpointer = checkpointer
    elif checkpointer.pending is not None:
        raise ResumeError(
            f"--resume: {model} trains with RecBole's {type(trainer).__name__}, which cannot resume;"
            " run again without --resume"
        )


def fit_callback(trainer: Any, epoch_callback: EpochCallback | None) -> Callable | None:
    """RecBole's ``callback_fn(epoch, score)`` that calls ``epoch_callback`` with the metrics of the
    validation epoch the trainer just ran (see ``EasRecBaseTrainer.last_valid_result``)."""
    if epoch_callback is None:
        return None

    def callback(epoch: int, score: float) -> None:
        epoch_callback(int(epoch), float(score), dict(getattr(trainer, "last_valid_result", {})))

    return callback


# Settings that RecBole's Config derives itself; a saved run's values for them are not passed back.
DERIVED_SETTINGS = frozenset(
    {
        "MODEL_INPUT_TYPE",
        "MODEL_TYPE",
        "data_path",
        "dataset",
        "device",
        "eval_type",
        "gpu_id",
        "local_rank",
        "model",
        "single_spec",
        "valid_metric_bigger",
        "checkpoint_dir",
        "train_neg_sample_args",
        "valid_neg_sample_args",
        "test_neg_sample_args",
        "eval_neg_sample_args",
        "config_files",
    }
)


def evaluate_saved_run(
    run_dir: str | Path, config_dict: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Evaluate the model saved in ``run_dir`` on its dataset's test split (no training).

    The model comes from ``model.pt`` + ``model.json`` (:func:`recbole_easrec.load_model`, weights
    loaded with ``weights_only=True``); the data settings from the saved config, where
    ``config_dict`` (e.g. ``data_path``, ``eval_args``) may override them.

    Returns:
        ``{"output_dir", "model", "dataset", "test_result"}``.

    Raises:
        CheckpointError: the folder lacks the files or they cannot be loaded.
    """
    from recbole_easrec.saving import load_model, read_description

    run_dir = Path(run_dir).resolve()
    saved = read_description(run_dir / "model.json")["config"]
    settings = {k: v for k, v in saved.items() if k not in DERIVED_SETTINGS}
    settings["data_path"] = str(Path(saved["data_path"]).parent)
    settings["train_neg_sample_args"] = None
    settings.update(config_dict or {})
    config = build_config(saved["model"], saved["dataset"], config_dict=settings)
    model = load_model(run_dir, device=str(config["device"]))
    _, _, test_data = load_data(config)
    trainer = resolve_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    test_result = trainer.evaluate(test_data, load_best_model=False)
    return {
        "output_dir": str(run_dir),
        "model": config["model"],
        "dataset": config["dataset"],
        "test_result": dict(test_result),
    }


def load_data(config: Any) -> tuple[Any, Any, Any]:
    """RecBole's leave-one-out dataloaders, with file problems as one-line errors."""
    return prepare_data(config)[1]


def prepare_data(config: Any) -> tuple[Any, tuple[Any, Any, Any]]:
    """RecBole's (built) dataset and its train/valid/test dataloaders (see :func:`load_data`);
    in ``train_mode: autoregressive`` the dataset gathers each row's history per batch instead of
    storing one per prefix (:mod:`recbole_easrec.data.sequences`). A missing dataset that RecBole
    hosts is downloaded first (:func:`~recbole_easrec.data.download.ensure_dataset`)."""
    ensure_dataset(config)
    check_dataset_files(config)
    try:
        dataset = create_sequence_dataset(config)
    except (ValueError, KeyError, TypeError, IndexError, pd.errors.ParserError) as exc:
        raise load_error(config, exc) from None
    logging.getLogger().info(dataset)
    check_catalogue(config, dataset)
    check_model_features(config, dataset)
    # full ranking at most EVAL_SCORES_BUDGET_BYTES of score matrices a batch
    try:
        split = data_preparation(config, dataset)
    except ValueError as exc:  # RecBole's checks of eval_args (order, split, mode)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"RecBole cannot split dataset {config['dataset']!r}: {reason}; check eval_args (a"
            " --eval_args override replaces all of it: give split, order, group_by and mode)"
        ) from None
    loaders = cap_full_sort_batches(config, split)
    report(check_split(config, loaders))
    return dataset, loaders


def evaluation_mode(config: Any) -> str:
    """The test split's evaluation mode (``full``, ``uni100``, ``pop100``, …)."""
    mode = config["eval_args"]["mode"]
    return mode["test"] if isinstance(mode, dict) else str(mode)


def with_mode(config: Any, mode: str) -> dict[str, Any]:
    """``config``'s ``eval_args`` with the evaluation mode replaced by ``mode``."""
    return {**config["eval_args"], "mode": mode}


def evaluate_extra_modes(
    trainer: Any,
    config: Any,
    dataset: Any,
    loaders: tuple[Any, Any, Any],
    mode_config: Any,
) -> dict[str, dict[str, float]]:
    """The trained model on the same test users under each of ``extra_eval_modes``.

    ``extra_eval_modes: [uni100, pop100]`` adds the sampled protocols (the papers' ``pop100``) to a
    full-ranking run without a second training or dataset load (``full_filtered``: full ranking
    without each user's input items, the full-ranking literature's protocol): the split is the same (it does not
    depend on the mode), only RecBole's negative sampler and test dataloader are rebuilt, from the
    settings ``mode_config(mode)`` gives. Each mode is evaluated right after re-seeding, so its
    sampled negatives are reproducible.
    """
    from recbole.data.utils import create_samplers, get_dataloader

    results: dict[str, dict[str, float]] = {}
    built = tuple(loader._dataset for loader in loaders)
    for mode in config["extra_eval_modes"] or []:
        filtered = mode == FILTERED_MODE
        settings = mode_config("full" if filtered else mode)
        _, _, sampler = create_samplers(settings, dataset, list(built))
        test_loader = get_dataloader(settings, "test")(settings, built[2], sampler, shuffle=False)
        init_seed(config["seed"], config["reproducibility"])
        with excluding_history(trainer, filtered):
            results[mode] = dict(trainer.evaluate(test_loader, load_best_model=False))
        logging.getLogger().info("test result under %s: %s", mode, plain_metrics(results[mode]))
    return results


FILTERED_MODE = "full_filtered"  # full ranking without the user's own history (the literature's)


@contextmanager
def excluding_history(trainer: Any, exclude: bool) -> Iterator[None]:
    """Inside the block the trainer's full ranking leaves out each user's input items
    (``eval_exclude_history``) if ``exclude``; the setting is restored afterwards."""
    before = trainer.config["eval_exclude_history"]
    trainer.config["eval_exclude_history"] = before or exclude
    try:
        yield
    finally:
        trainer.config["eval_exclude_history"] = before


def measure_efficiency(
    model: Any, trainer: Any, test_data: Any, config: Any, train_seconds: float
) -> dict[str, Any]:
    """Parameters, FLOPs, train and inference seconds, peak memory (see :mod:`efficiency`)."""
    from recbole_easrec.efficiency import count_parameters

    first_batch = next(iter(test_data))[0].to(config["device"])
    try:
        flops = model_flops(model, first_batch)
    except Exception as exc:  # noqa: BLE001 - a model we cannot trace still gets its other numbers
        reason = flops_error(exc)
        logging.getLogger().warning("FLOPs not counted for %s: %s", config["model"], reason)
        flops = {"flops": None, "encoder_flops": None, "flops_error": reason}
    repeats = config["efficiency_repeats"] or 3
    inference_seconds = median_seconds(
        lambda: trainer.evaluate(test_data, load_best_model=False), repeats=repeats
    )
    return {
        "params": count_parameters(model),
        **flops,
        "flops_sequence_length": config["MAX_ITEM_LIST_LENGTH"],
        "train_seconds": train_seconds,
        "inference_seconds": inference_seconds,
        "peak_memory_bytes": peak_memory_bytes(config["device"]),
        "device": str(config["device"]),
        "torch_threads": torch.get_num_threads(),
    }


def flops_error(exc: BaseException) -> str:
    """``FLOPs not counted: <Type>: <first line>``, the reason ``comparison.md`` gives for a
    model missing from the FLOPs plot."""
    return f"FLOPs not counted: {one_line_error(exc)}"


def full_network_efficiency(trainer: Any, test_data: Any, config: Any) -> dict[str, Any] | None:
    """FLOPs, parameters and inference seconds of the supernet's full network, measured like the
    run's own network right after it, for trainers that search one (``trainer.full_network``)."""
    build = getattr(trainer, "full_network", None)
    if build is None:
        return None
    trained = trainer.model
    trainer.model = build()
    try:
        measured = measure_efficiency(trainer.model, trainer, test_data, config, train_seconds=0.0)
    finally:
        trainer.model = trained
    kept = ("params", "flops", "encoder_flops", "inference_seconds")
    return {key: measured[key] for key in kept}


# ANSI colour and cursor sequences (RecBole's ``set_color``), as RecBole's RemoveColorFilter
ANSI_ESCAPE = re.compile(r"\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])")


class PlainFormatter(logging.Formatter):
    """A formatter whose output holds no colour escape codes (for ``run.log``)."""

    def format(self, record: logging.LogRecord) -> str:
        return ANSI_ESCAPE.sub("", super().format(record))


def tensorboard_dir(run_dir: Path, config: Any) -> Path:
    """``run_dir/log_tensorboard/<Model>-<dataset>-<time>`` (RecBole's naming), a new folder per
    run: a run resumed or repeated in the same folder gets its own."""
    from recbole.utils import get_local_time

    base = run_dir / TENSORBOARD_DIR / f"{config['model']}-{config['dataset']}-{get_local_time()}"
    candidate, attempt = base, 0
    while candidate.exists():
        attempt += 1
        candidate = base.with_name(f"{base.name}-{attempt}")
    return candidate


def configure_logging(
    run_dir: Path, level: str | None = "INFO", events_dir: Path | None = None
) -> None:
    """Log to ``run_dir/run.log`` (plain text) and stderr, replacing handlers of any earlier
    run. RecBole's colour codes stay on the terminal only. ``events_dir`` is where the run's
    trainer writes its TensorBoard events (:func:`recbole_easrec.compat.get_tensorboard`)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(getattr(logging, str(level or "INFO").upper(), logging.INFO))
    file_handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    file_handler.setFormatter(PlainFormatter(LOG_FORMAT, "%H:%M:%S"))
    file_handler.tensorboard_dir = events_dir  # type: ignore[attr-defined]
    stream_handler = logging.StreamHandler(sys.stderr)
    stream_handler.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
    stream_handler.addFilter(lambda record: not getattr(record, "file_only", False))
    root.addHandler(file_handler)
    root.addHandler(stream_handler)


def log_settings(config: Any) -> None:
    """The run's resolved settings at the top of ``run.log``, as RecBole's own runs start theirs
    (``str(config)``: one ``key = value`` line per setting, grouped by category). Not on stderr:
    a bad-input error stays the only line there."""
    logging.getLogger().info("settings of this run:%s", config, extra={"file_only": True})


def plain_metrics(metrics: dict[str, Any] | None) -> str:
    """``recall@10 : 0.0350    ndcg@10 : 0.0170`` — metric values as plain numbers (not
    ``np.float64(0.035)``), the way RecBole's ``dict2str`` prints them."""
    return "    ".join(f"{key} : {float(value):.4f}" for key, value in (metrics or {}).items())
