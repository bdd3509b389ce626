"""``--nproc`` / ``--world_size``: one training run in several processes (RecBole's ``run``).

Like ``recbole.quick_start.run``, :func:`run_processes` starts ``nproc`` processes with
``torch.multiprocessing.spawn``; each is :func:`~recbole_easrec.quick_start.run_recbole_easrec` with
the :class:`~recbole_easrec.distributed.Launch` settings in its config (see
:mod:`recbole_easrec.distributed` for what is shared and how). Before anything starts, the settings
are checked once here, so a typo costs one line rather than ``nproc`` tracebacks, and the run folder
is named, so that rank 0 writes where the user asked.

Across machines, start the same command on each with the same ``--world_size``, ``--ip`` (rank 0's
machine) and ``--port``, and ``--offset`` = the number of processes on the machines before it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import torch

from recbole_easrec.distributed import Launch, leave_process_group
from recbole_easrec.errors import ConfigError, UserError


def check_launch(launch: Launch, config: Any, resume: bool) -> None:
    """One-line errors for what a distributed run cannot do; ``config`` is the run's built config
    (its ``max_train_seconds`` may come from a YAML file as well as from ``--key=value``)."""
    launch.validate()
    if resume:
        raise ConfigError(
            "--resume continues single-process runs only; resume without --nproc/--world_size"
        )
    if config["max_train_seconds"] is not None:
        raise ConfigError(
            "max_train_seconds stops each process on its own clock, which would leave the others"
            " waiting; drop it (or --epochs=N) when training with --nproc/--world_size"
        )


def launch_lines(launch: Launch, gpu_id: Any, cuda_available: bool) -> list[str]:
    """What a distributed run tells the user before its processes start, one line each:

    - that ``--gpu_id`` names CUDA devices torch cannot find, so the processes run on the CPU
      (``gpu_id`` is the user's own setting, ``None`` when not given: RecBole's default ``0``
      is no request for a GPU);
    - how many processes the run uses, here and in all, and how they meet;
    - with other machines in the run (``world_size`` > ``nproc``), what these processes wait for.
    """
    lines = []
    cuda = bool(gpu_id not in (None, "")) and cuda_available
    if gpu_id not in (None, "") and not cuda_available:
        lines.append(
            f"warning: --gpu_id={gpu_id} names CUDA devices but torch finds no CUDA here; the"
            f" {launch.nproc} processes run on the CPU (gloo)"
        )
    first, last = launch.offset, launch.offset + launch.nproc - 1
    where = f"GPUs {gpu_id} (nccl)" if cuda else "the CPU (gloo)"
    lines.append(
        f"this run uses {launch.size} processes: {launch.nproc} here (ranks {first}-{last}) on"
        f" {where}, meeting at tcp://{launch.ip}:{launch.port}"
    )
    others = launch.size - launch.nproc
    if others:
        lines.append(
            f"waiting at tcp://{launch.ip}:{launch.port} for the {others} processes of the other"
            f" machine(s) (ranks outside {first}-{last} of {launch.size}): start the same command"
            " there with --world_size, --ip and --port equal and --offset = the processes on the"
            " machines before it"
        )
    return lines


def run_processes(
    model: str,
    dataset: str,
    config_file_list: list[str] | None,
    config_dict: dict[str, Any],
    launch: Launch,
    resume: bool = False,
) -> dict[str, Any]:
    """Run ``model`` on ``dataset`` in ``launch.nproc`` processes here; rank 0's result.

    On a machine without rank 0 (``offset > 0``) the result is this machine's first process's:
    the same metrics (every rank averages them), and ``output_dir`` ``None`` (nothing is written).
    """
    import torch.multiprocessing as mp

    from recbole_easrec.artifacts import new_run_dir
    from recbole_easrec.config import build_config, validate_run_config
    from recbole_easrec.trainer import validate_trainer_config

    overrides = dict(config_dict)
    settings = {key: value for key, value in overrides.items() if key != "output_dir"}
    config = build_config(model, dataset, config_file_list, settings)
    validate_run_config(config)
    validate_trainer_config(config)
    check_launch(launch, config, resume)
    if launch.offset == 0 and not overrides.get("output_dir"):
        overrides["output_dir"] = str(new_run_dir(config["model"], config["dataset"]))
    for line in launch_lines(launch, overrides.get("gpu_id"), torch.cuda.is_available()):
        print(line, file=sys.stderr, flush=True)
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(
        run_one_process,
        args=(model, dataset, config_file_list, overrides, launch, queue),
        nprocs=launch.nproc,
        join=True,
    )
    reply = queue.get() if not queue.empty() else {"error": "no process reported a result"}
    if "error" in reply:
        raise UserError(reply["error"])
    return reply["result"]


def run_one_process(
    local_rank: int,
    model: str,
    dataset: str,
    config_file_list: list[str] | None,
    overrides: dict[str, Any],
    launch: Launch,
    queue: Any,
) -> None:
    """One process of :func:`run_processes` (the target of ``mp.spawn``); the first process of the
    machine puts its result, or any process its one-line error, into ``queue``."""
    from recbole_easrec.quick_start import run_recbole_easrec

    settings = {**overrides, **launch.settings(local_rank)}
    if local_rank != 0 or launch.offset != 0:
        settings.pop("output_dir", None)
    try:
        result = run_recbole_easrec(model, dataset, config_file_list, settings)
    except UserError as exc:
        queue.put({"error": str(exc)})
        return
    finally:
        leave_process_group()
    if local_rank == 0:
        if launch.offset != 0:
            result["output_dir"] = None
        queue.put({"result": json.loads(json.dumps(result, default=str))})
