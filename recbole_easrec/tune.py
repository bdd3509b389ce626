"""Hyper-parameter search with Ray Tune (``ray.tune.Tuner``).

``python run_recbole_easrec.py --tune --model=LinRec --dataset=ml-100k
--params_file=properties/hyper/linrec.yaml --num_samples=8 --output_dir=DIR``

Search space (``--params_file``): a YAML mapping, one key per config setting, each either a
distribution or a fixed value::

    learning_rate: {loguniform: [1.0e-4, 1.0e-2]}   # log-uniform on [low, high]
    hidden_dropout_prob: {uniform: [0.1, 0.5]}      # uniform on [low, high]
    n_layers: {randint: [1, 4]}                     # integer in [low, high], both ends included
    hidden_size: {choice: [32, 64, 128]}            # one of the values (values may be lists)
    n_heads: {grid: [1, 2]}                          # every value (grid search, × num_samples)
    MAX_ITEM_LIST_LENGTH: 50                        # fixed value, not searched

Each trial is one :func:`~recbole_easrec.quick_start.run_recbole_easrec` run in its own folder
``DIR/trials/<trial id>`` (its own checkpoint, ``result.json``, ``run.log``). Trials report the
validation metrics after every validation epoch through ``ray.tune.report`` (the hook is
``run_recbole_easrec(epoch_callback=...)``, on top of RecBole's ``callback_fn``), so the ASHA
scheduler (``--scheduler=asha``) can stop poor trials early on RecBole's own ``valid_metric``;
test metrics are reported once at the end and never used to select. A failing trial is recorded
with its error and the study goes on. The study's Ray state is ``DIR/ray/``; ``--resume``
continues an interrupted (even SIGKILLed) study from there: finished trials are kept, and a trial
that was cut off continues its run from the last epoch it completed (its folder's
``in_progress/`` state, :mod:`recbole_easrec.resume`) instead of starting again.

Ray: embedded local Ray by default (started and shut down here); ``--address=auto`` or
``ray://host:10001`` joins an existing cluster (every node needs this package and the dataset at the
same absolute path, and ``DIR`` on shared storage). All paths are made absolute because Ray runs
each trial in another working directory.

Outputs: ``DIR/tune_results.csv`` (one row per trial: status, error, sampled settings, valid and test
metrics, epochs, folder) and ``DIR/best_config.yaml`` (the best trial's settings on validation,
loadable as is with ``--config_files``).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from recbole_easrec.artifacts import json_safe, write_text_atomic
from recbole_easrec.compare import csv_text, one_line_error
from recbole_easrec.config import build_config, read_yaml_file
from recbole_easrec.errors import ConfigError

if TYPE_CHECKING:
    from recbole_easrec.quick_start import EpochCallback

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint", "grid")
SCHEDULERS = ("fifo", "asha")
STUDY_NAME = "ray"
RESULTS_FILE = "tune_results.csv"
BEST_CONFIG_FILE = "best_config.yaml"
ERROR_FILE = "error.txt"
RESULT_FILE = "result.json"
FINAL_FLAG = "final"


# --- search space ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """One searched setting: ``kind`` in :data:`DISTRIBUTIONS` and its arguments."""

    key: str
    kind: str
    values: tuple[Any, ...]

    def to_ray(self) -> Any:
        """The Ray Tune search-space object."""
        from ray import tune

        if self.kind == "choice":
            return tune.choice(list(self.values))
        if self.kind == "grid":
            return tune.grid_search(list(self.values))
        low, high = self.values
        if self.kind == "uniform":
            return tune.uniform(low, high)
        if self.kind == "loguniform":
            return tune.loguniform(low, high)
        return tune.randint(low, high + 1)  # Ray's upper bound is exclusive


@dataclass(frozen=True)
class SearchSpace:
    """Searched dimensions and fixed settings read from a params file."""

    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def keys(self) -> list[str]:
        return [d.key for d in self.dimensions] + list(self.fixed)

    def to_ray(self) -> dict[str, Any]:
        return {d.key: d.to_ray() for d in self.dimensions}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_dimension(key: str, spec: Mapping[str, Any], source: str) -> Dimension:
    """One ``key: {distribution: arguments}`` entry; anything malformed is a one-line ConfigError."""
    where = f"{source}: {key}"
    if len(spec) != 1:
        raise ConfigError(
            f"{where} must name exactly one distribution ({', '.join(DISTRIBUTIONS)}),"
            f" got {sorted(map(str, spec))}"
        )
    kind, arguments = next(iter(spec.items()))
    if kind not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where}: unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}"
        )
    if not isinstance(arguments, list) or not arguments:
        raise ConfigError(f"{where}: {kind} needs a non-empty list, e.g. {kind}: {_example(kind)}")
    if kind in ("choice", "grid"):
        return Dimension(key, kind, tuple(arguments))
    if len(arguments) != 2 or not all(_is_number(a) for a in arguments):
        raise ConfigError(f"{where}: {kind} needs two numbers [low, high], got {arguments!r}")
    low, high = arguments
    if kind == "randint" and not all(isinstance(a, int) for a in arguments):
        raise ConfigError(f"{where}: randint needs two integers [low, high], got {arguments!r}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: loguniform needs low > 0, got {arguments!r}")
    if (kind == "randint" and high < low) or (kind != "randint" and high <= low):
        raise ConfigError(f"{where}: {kind} needs low < high, got {arguments!r}")
    return Dimension(key, kind, (low, high))


def _example(kind: str) -> str:
    return {"choice": "[32, 64]", "grid": "[1, 2]", "randint": "[1, 4]"}.get(kind, "[0.1, 0.5]")


def parse_search_space(content: Mapping[str, Any], source: str = "params file") -> SearchSpace:
    """A search space from a mapping (see the module docstring for the format)."""
    if not isinstance(content, Mapping) or not content:
        raise ConfigError(f"{source} must be a non-empty mapping of setting: distribution lines")
    dimensions, fixed = [], {}
    for key, spec in content.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{source}: setting names must be strings, got {key!r}")
        if isinstance(spec, Mapping):
            dimensions.append(parse_dimension(key, spec, source))
        else:
            fixed[key] = spec
    if not dimensions:
        raise ConfigError(f"{source} searches nothing: give at least one key a distribution")
    return SearchSpace(tuple(dimensions), fixed)


class _NumberLoader(yaml.SafeLoader):
    """YAML 1.1 safe loader that also reads ``1e-4`` (no dot) as a float, as RecBole's files do."""


_NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_search_space(path: str | os.PathLike[str]) -> SearchSpace:
    """Read and parse ``--params_file``."""
    return parse_search_space(read_yaml_file(path, _NumberLoader), str(path))


def check_known_keys(space: SearchSpace, known: Mapping[str, Any], model: str) -> None:
    """Every searched or fixed key must be a setting the model's config knows (catches typos)."""
    unknown = [key for key in space.keys() if key not in known]
    if unknown:
        raise ConfigError(
            f"params file names settings that {model}'s config does not have: {', '.join(unknown)};"
            " check the spelling against properties/model/<Model>.yaml and RecBole's overall.yaml"
        )


def choose_scheduler(name: str, grace_period: int, max_t: int) -> Any:
    """``fifo`` (run every trial to the end) or ``asha`` (stop poor trials at rungs)."""
    if name not in SCHEDULERS:
        raise ConfigError(f"--scheduler must be one of {', '.join(SCHEDULERS)}; got {name!r}")
    if name == "fifo":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=max(max_t, 1),
        grace_period=max(1, min(grace_period, max_t)),
        reduction_factor=2,
    )


# --- one trial (runs in a Ray worker) ----------------------------------------------------------


@dataclass(frozen=True)
class TrialSettings:
    """Everything a trial needs besides its sampled values (picklable, absolute paths)."""

    model: str
    dataset: str
    config_files: tuple[str, ...]
    base_overrides: Mapping[str, Any]
    study_dir: str
    metric: str


def _plain(value: Any) -> Any:
    """Sampled values as plain Python (NumPy scalars → int/float, tuples → lists)."""
    return json_safe(value)


def epoch_reporter(report: Callable[[dict[str, Any]], None], trial_id: str) -> EpochCallback:
    """``run_recbole_easrec``'s ``epoch_callback`` for one trial: each validation epoch becomes an
    intermediate Tune report (what ``--scheduler=asha`` decides on) and a progress line."""

    def on_epoch(epoch: int, score: float, metrics: dict[str, float]) -> None:
        valid = {f"valid_{key}": value for key, value in metrics.items()}
        print(f"[tune] trial {trial_id} epoch {epoch}: {valid}", file=sys.stderr, flush=True)
        report({"epoch": epoch, "valid_score": score, **valid, FINAL_FLAG: False})

    return on_epoch


def run_trial(sampled: dict[str, Any], settings: TrialSettings) -> None:
    """Ray Tune function trainable: one training run; errors leave a one-line ``error.txt``."""
    from ray import tune

    import recbole_easrec  # noqa: F401 - applies the compatibility layer in this worker
    from recbole_easrec.quick_start import run_recbole_easrec
    from recbole_easrec.resume import STATE_FILE, WORK_DIR

    trial_id = tune.get_context().get_trial_id() or "trial"
    run_dir = Path(settings.study_dir) / "trials" / trial_id
    run_dir.mkdir(parents=True, exist_ok=True)
    overrides = {
        **settings.base_overrides,
        **{k: _plain(v) for k, v in sampled.items()},
        "output_dir": str(run_dir),
    }
    try:
        result = run_recbole_easrec(
            settings.model,
            settings.dataset,
            list(settings.config_files) or None,
            overrides,
            epoch_callback=epoch_reporter(tune.report, trial_id),
            resume=(run_dir / WORK_DIR / STATE_FILE).is_file(),  # a trial of a killed study
        )
    except Exception as exc:
        write_text_atomic(run_dir / ERROR_FILE, one_line_error(exc) + "\n")
        raise
    final = {f"valid_{k}": v for k, v in result["best_valid_result"].items()}
    final.update({f"test_{k}": v for k, v in result["test_result"].items()})
    tune.report({"valid_score": result["best_valid_score"], **final, FINAL_FLAG: True})


# --- the study ---------------------------------------------------------------------------------


@dataclass
class TuneOptions:
    """Command-line options of a study (see :func:`run_tune`)."""

    params_file: str
    output_dir: str
    num_samples: int = 8
    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    scheduler: str = "fifo"
    resume: bool = False
    grace_period: int = 1
    ray_init_kwargs: dict[str, Any] = field(default_factory=dict)


def validate_options(options: TuneOptions) -> None:
    if isinstance(options.num_samples, bool) or not isinstance(options.num_samples, int):
        raise ConfigError(f"--num_samples must be a positive integer, got {options.num_samples!r}")
    if options.num_samples < 1:
        raise ConfigError(f"--num_samples must be a positive integer, got {options.num_samples!r}")
    if not options.cpus_per_trial > 0:
        raise ConfigError(f"--cpus_per_trial must be > 0, got {options.cpus_per_trial!r}")
    if options.gpus_per_trial < 0:
        raise ConfigError(f"--gpus_per_trial must be >= 0, got {options.gpus_per_trial!r}")
    if options.address and not (
        options.address == "auto"
        or options.address.startswith(("ray://", "localhost", "127."))
        or ":" in options.address
    ):
        raise ConfigError(
            f"--address must be auto, ray://HOST:PORT or HOST:PORT; got {options.address!r}"
        )


def shared_settings(overrides: Mapping[str, Any], base: Any) -> dict[str, Any]:
    """The overrides as the resolved config holds them (typed values), ``data_path`` absolute and
    without ``output_dir`` (each trial gets its own).

    RecBole's config stores ``data_path`` joined with the dataset name; its parent is the folder to
    pass on.
    """
    shared = {k: base[k] for k in overrides if k not in ("output_dir", "data_path")}
    shared["data_path"] = str(Path(base["data_path"]).resolve().parent)
    return shared


def running_ray_address() -> str | None:
    """The address of a Ray cluster already running on this machine (``ray start --head``, or
    ``RAY_ADDRESS``), which a plain ``ray.init()`` would join; ``None`` when there is none."""
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    try:
        from ray._private.utils import read_ray_address

        return read_ray_address()
    except Exception:  # noqa: BLE001 - a Ray internal that moved: behave as if none runs
        return None


def start_embedded_ray(options: TuneOptions) -> None:
    """The default (no ``--address``): a Ray of our own on this machine, or, when a cluster is
    already running here, that cluster (joined without the options only a new Ray accepts, such
    as ``object_store_memory``, which Ray refuses when joining), with a one-line note."""
    import ray

    address = running_ray_address()
    if address:
        try:
            ray.init(address=address, **options.ray_init_kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:  # a stale address file
            print(
                f"note: the Ray cluster at {address} does not answer ({one_line_error(exc)});"
                " this study starts its own local Ray",
                file=sys.stderr,
            )
        else:
            print(
                f"note: joined the Ray cluster already running at {address}; its CPUs run the"
                " trials (stop it with `ray stop`, or pass --address to choose)",
                file=sys.stderr,
            )
            return
    kwargs = {"include_dashboard": False, "object_store_memory": 256 * 2**20, "address": "local"}
    ray.init(**{**kwargs, **options.ray_init_kwargs})


@contextmanager
def ray_session(options: TuneOptions) -> Iterator[None]:
    """Connect to ``--address`` or start an embedded local Ray; shut down what we started."""
    import ray

    if ray.is_initialized():
        yield
        return
    if options.address:
        try:
            ray.init(address=options.address, **options.ray_init_kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {options.address}: {one_line_error(exc)};"
                " start it with `ray start --head` or check the address"
            ) from None
    else:
        start_embedded_ray(options)
    try:
        yield
    finally:
        ray.shutdown()


def run_tune(
    model: str,
    dataset: str,
    options: TuneOptions,
    config_file_list: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) a study; write ``tune_results.csv`` and ``best_config.yaml``.

    Args:
        model, dataset: as for a single run.
        options: the study's options (:class:`TuneOptions`).
        config_file_list: YAML files shared by all trials.
        overrides: settings shared by all trials (the sampled values win over them).

    Returns:
        The rows of ``tune_results.csv``.

    Raises:
        ConfigError: bad params file, options or settings (before Ray starts).
    """
    validate_options(options)
    space = load_search_space(options.params_file)
    config_files = tuple(str(Path(f).resolve()) for f in config_file_list or [])
    base = build_config(model, dataset, list(config_files) or None, dict(overrides or {}))
    check_known_keys(space, base.final_config_dict, model)
    reports = int(base["epochs"]) // int(base["eval_step"]) + 1  # epoch reports + the final one
    scheduler = choose_scheduler(options.scheduler, options.grace_period, reports)
    study_dir = Path(options.output_dir).resolve()
    study_dir.mkdir(parents=True, exist_ok=True)
    shared = {**shared_settings(overrides or {}, base), **space.fixed}
    trial_shared = shared if options.gpus_per_trial else {**shared, "use_gpu": False}
    metric = f"valid_{str(base['valid_metric']).lower()}"
    mode = "max" if base["valid_metric_bigger"] else "min"
    settings = TrialSettings(
        base["model"], dataset, config_files, trial_shared, str(study_dir), metric
    )

    with ray_session(options):
        grid = fit_study(space, settings, options, scheduler, metric, mode, study_dir)
        rows, sampled = collect_rows(grid, space, study_dir)
    write_text_atomic(study_dir / RESULTS_FILE, csv_text(rows))
    best = best_row(rows, metric, mode)
    if best is not None:
        values = best_config_values(shared, sampled[best["trial_id"]], overrides or {})
        write_best_config(study_dir / BEST_CONFIG_FILE, best, values, settings, metric)
    return rows


def fit_study(
    space: SearchSpace,
    settings: TrialSettings,
    options: TuneOptions,
    scheduler: Any,
    metric: str,
    mode: str,
    study_dir: Path,
) -> Any:
    """Build (or restore) the ``Tuner`` and run it; returns Ray's ``ResultGrid``."""
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(run_trial, settings=settings),
        {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial},
    )
    ray_dir = study_dir / STUDY_NAME
    if options.resume:
        if not tune.Tuner.can_restore(str(ray_dir)):
            raise ConfigError(f"--resume: no study to resume in {ray_dir}; run without --resume")
        tuner = tune.Tuner.restore(str(ray_dir), trainable=trainable, resume_unfinished=True)
    else:
        if ray_dir.exists() and any(ray_dir.iterdir()):
            raise ConfigError(
                f"{ray_dir} already holds a study: pass --resume to continue it or use a new"
                " --output_dir"
            )
        tuner = tune.Tuner(
            trainable,
            param_space=space.to_ray(),
            tune_config=tune.TuneConfig(
                metric=metric if scheduler is not None else None,
                mode=mode if scheduler is not None else None,
                scheduler=scheduler,
                num_samples=options.num_samples,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=tune.RunConfig(
                name=STUDY_NAME,
                storage_path=str(study_dir),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                verbose=1,
            ),
        )
    return tuner.fit()


def trial_dirname(trial: Any) -> str:
    """Ray's folder of a trial is named by its id, like its run folder ``DIR/trials/<id>``."""
    return str(trial.trial_id)


# --- results -----------------------------------------------------------------------------------


def collect_rows(
    grid: Any, space: SearchSpace, study_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """One row per trial from Ray's ``ResultGrid`` and the trials' own ``result.json``; also each
    trial's sampled values (plain Python) by trial id."""
    rows, sampled = [], {}
    searched = [d.key for d in space.dimensions]
    for result in grid:
        config = {key: _plain(value) for key, value in dict(result.config or {}).items()}
        metrics = dict(result.metrics or {})
        trial_id = str(metrics.get("trial_id") or Path(result.path).name)
        run_dir = study_dir / "trials" / trial_id
        row: dict[str, Any] = {"trial_id": trial_id, **trial_status(result, metrics, run_dir)}
        row.update({key: _cell(config.get(key)) for key in searched})
        row.update(trial_metrics(metrics, run_dir))
        row["output_dir"] = str(run_dir)
        rows.append(row)
        sampled[trial_id] = {key: config.get(key) for key in searched}
    rows.sort(key=lambda r: r["trial_id"])
    return rows, sampled


def trial_status(result: Any, metrics: Mapping[str, Any], run_dir: Path) -> dict[str, str]:
    """``ok`` (finished), ``stopped`` (ended early by the scheduler) or ``error`` with its line."""
    if result.error is not None:
        error_file = run_dir / ERROR_FILE
        message = (
            error_file.read_text(encoding="utf-8").strip()
            if error_file.is_file()
            else one_line_error(result.error)
        )
        return {"status": "error", "error": message}
    return {"status": "ok" if metrics.get(FINAL_FLAG) else "stopped", "error": ""}


def trial_metrics(metrics: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """Valid and test metrics (``result.json`` when the run finished, else the last report)."""
    result_file = run_dir / RESULT_FILE
    values: dict[str, Any] = {}
    if result_file.is_file():
        result = json.loads(result_file.read_text(encoding="utf-8"))
        values.update({f"valid_{k}": v for k, v in result["best_valid_result"].items()})
        values.update({f"test_{k}": v for k, v in result["test_result"].items()})
        values["train_seconds"] = result.get("efficiency", {}).get("train_seconds")
    else:
        values.update({k: v for k, v in metrics.items() if k.startswith(("valid_", "test_"))})
        values.pop("valid_score", None)
    values["epochs_reported"] = epochs_reported(metrics)
    return values


def epochs_reported(metrics: Mapping[str, Any]) -> int | None:
    """Validation epochs a trial reported: Ray's ``training_iteration`` counts the final report
    (test metrics) too, which made the table show one more than ``--epochs``."""
    iterations = metrics.get("training_iteration")
    if iterations is None:
        return None
    return int(iterations) - int(bool(metrics.get(FINAL_FLAG)))


def _cell(value: Any) -> Any:
    value = _plain(value)
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def best_row(rows: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any] | None:
    """The finished trial with the best validation ``metric`` (test metrics never select)."""
    finished = [r for r in rows if r["status"] == "ok" and r.get(metric) is not None]
    if not finished:
        return None
    sign = 1 if mode == "max" else -1
    return max(finished, key=lambda r: sign * float(r[metric]))


def best_config_values(
    shared: Mapping[str, Any], sampled: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings ``best_config.yaml`` holds: the shared ones plus the best trial's values.

    ``data_path`` only when the study was given one: trials need it absolute (Ray runs them in
    another folder), but the default is RecBole's bundled dataset folder inside the virtual
    environment's ``site-packages``, which no other machine or environment has.
    """
    values = {**shared, **sampled}
    if "data_path" not in overrides:
        values.pop("data_path", None)
    return values


def write_best_config(
    path: Path,
    best: dict[str, Any],
    values: Mapping[str, Any],
    settings: TrialSettings,
    metric: str,
) -> None:
    """``best_config.yaml``: the shared settings plus the best trial's sampled values."""
    header = (
        f"# Best trial {best['trial_id']} of the Ray Tune study in {settings.study_dir}\n"
        f"# model {settings.model}, dataset {settings.dataset}; {metric} = {best[metric]}"
        f" (selected on validation), written {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        f"# Use: run_recbole_easrec.py --model={settings.model} --dataset={settings.dataset}"
        f" --config_files={path}\n"
    )
    body = yaml.safe_dump(_plain(values), sort_keys=True, default_flow_style=False)
    write_text_atomic(path, header + body)
