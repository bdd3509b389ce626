"""Training with several processes: RecBole's multi-process conventions, on CPUs too (issue 11.6).

RecBole 1.2.1 runs one process per GPU: ``run_recbole(..., nproc, world_size, ip, port,
group_offset)`` spawns ``nproc`` processes, each builds its ``Config`` with ``local_rank`` set, which
joins a ``torch.distributed`` process group over ``tcp://ip:port`` with rank ``local_rank + offset``
of ``world_size``. Its dataloaders then read disjoint shards (``DistributedSampler``, each rank a
``1/world_size`` share of every batch), its trainer all-reduces the gradients of every backward
through ``DistributedDataParallel``'s hooks (``set_reduce_hook`` + ``sync_grad_loss``) and its
evaluation averages the ranks' metrics (``_map_reduce``). Only rank 0 logs and saves.

RecBole's process group is NCCL and CUDA only. This module joins it on the CPU too (``gloo``; NCCL
whenever the run has CUDA devices), and :mod:`recbole_easrec.compat` routes RecBole's
``Config._init_device`` and trainer construction here. Model weights start identical on every rank
(DDP broadcasts rank 0's) and stay so, since every rank applies the same averaged gradient; the
random choices that decide what a search does next (paths, evolution, random search) come from
generators seeded with the run's ``seed``, the same on every rank, and the validation scores that
early stopping and architecture choices read are the ranks' average, so every rank takes the same
decisions and keeps its own, identical, best checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from recbole_easrec.errors import ConfigError

DEFAULT_PORT = 5678  # RecBole's


@dataclass(frozen=True)
class Launch:
    """How many processes to start here and how they join the others (RecBole's arguments).

    ``nproc`` processes start on this machine with ranks ``offset … offset + nproc − 1`` of
    ``world_size`` (−1: ``nproc``, one machine); they meet at ``tcp://ip:port``, where rank 0 listens.
    """

    nproc: int = 1
    world_size: int = -1
    ip: str = "localhost"
    port: int = DEFAULT_PORT
    offset: int = 0

    @property
    def distributed(self) -> bool:
        """RecBole's rule: one process and no ``world_size`` is a plain single-process run (any
        other ``nproc`` goes to :meth:`validate`, which rejects one below 1)."""
        return self.nproc != 1 or self.world_size > 0

    @property
    def size(self) -> int:
        return self.nproc if self.world_size <= 0 else self.world_size

    def validate(self) -> None:
        """One-line errors for settings that cannot form a process group."""
        for name in ("nproc", "port"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"--{name} must be a positive whole number, got {value!r}")
        if not isinstance(self.offset, int) or self.offset < 0:
            raise ConfigError(f"--offset must be a whole number >= 0, got {self.offset!r}")
        if self.offset + self.nproc > self.size:
            raise ConfigError(
                f"--offset={self.offset} + --nproc={self.nproc} exceeds --world_size={self.size}:"
                " the ranks of all machines together must fit the world size"
            )

    def settings(self, local_rank: int) -> dict[str, Any]:
        """The config entries RecBole's distributed code reads, for process ``local_rank``."""
        return {
            "nproc": self.nproc,
            "world_size": self.size,
            "ip": self.ip,
            "port": self.port,
            "offset": self.offset,
            "local_rank": local_rank,
        }


def is_distributed(config: Any) -> bool:
    """Whether the run is one process of several (RecBole's ``single_spec`` is False)."""
    return not config["single_spec"]


def is_main_process(config: Any) -> bool:
    """Rank 0, or the only process: the one that writes the run folder."""
    return config["single_spec"] or global_rank(config) == 0


def global_rank(config: Any) -> int:
    """``local_rank + offset`` (RecBole's rank of the process among all machines)."""
    return int(config["local_rank"]) + int(config["offset"] or 0)


def uses_cuda(settings: dict[str, Any]) -> bool:
    """Whether a run with these settings places its processes on CUDA devices."""
    return bool(settings.get("gpu_id")) and torch.cuda.is_available()


def join_process_group(settings: dict[str, Any]) -> None:
    """Join (once per process) the run's process group and set the device fields of ``settings``.

    Called for a ``Config`` with ``local_rank`` set, in place of RecBole's ``Config._init_device``
    distributed branch (which hard-codes NCCL and CUDA): NCCL on ``cuda:local_rank`` when CUDA is
    available and ``gpu_id`` names devices, gloo on the CPU otherwise. Like RecBole, ranks other
    than 0 log errors only and show no progress bars.
    """
    cuda = uses_cuda(settings)
    if cuda and len(str(settings["gpu_id"]).split(",")) < int(settings["nproc"]):
        raise ConfigError(
            f"--nproc={settings['nproc']} needs as many GPUs in gpu_id, got {settings['gpu_id']!r};"
            " pass e.g. --gpu_id=0,1"
        )
    rank = global_rank(settings)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend="nccl" if cuda else "gloo",
            rank=rank,
            world_size=int(settings["world_size"]),
            init_method=f"tcp://{settings['ip']}:{settings['port']}",
        )
    settings["single_spec"] = False
    if cuda:
        settings["device"] = torch.device("cuda", int(settings["local_rank"]))
        torch.cuda.set_device(int(settings["local_rank"]))
    else:
        settings["device"] = torch.device("cpu")
    if rank != 0:
        settings.update({"state": "error", "show_progress": False, "verbose": False})


def wrap_model(model: torch.nn.Module, config: Any) -> torch.nn.Module:
    """``DistributedDataParallel`` around ``model`` on the run's device (RecBole's trainer keeps it
    as ``distributed_model`` and calls it only to arm the gradient all-reduce of a backward)."""
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device(config["device"])
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[device.index or 0])
    return DistributedDataParallel(model)


def average_gradients(tensors: list[torch.Tensor]) -> None:
    """Average ``tensor.grad`` over all processes, for tensors outside the model's parameters
    (ProxylessNAS's binary gates)."""
    size = torch.distributed.get_world_size()
    for tensor in tensors:
        if tensor.grad is not None:
            torch.distributed.all_reduce(tensor.grad)
            tensor.grad /= size


def shard(order: torch.Tensor, rank: int, size: int) -> torch.Tensor:
    """Rank ``rank``'s share of ``order``: every ``size``-th entry from ``rank``, after padding
    ``order`` with its own first entries to a multiple of ``size`` (``DistributedSampler``'s rule),
    so every rank gets the same number of rows and batches."""
    if size <= 1:
        return order
    padding = (-len(order)) % size
    if padding:
        order = torch.cat([order, order.repeat(padding // len(order) + 1)[:padding]])
    return order[rank::size]


def weights_fingerprint(model: torch.nn.Module) -> torch.Tensor:
    """Number of parameters and the sums of each tensor's values and absolute values (float64)."""
    tensors = [tensor.detach().double() for tensor in model.state_dict().values()]
    tensors = [tensor for tensor in tensors if tensor.is_floating_point()]
    return torch.tensor(
        [
            float(sum(tensor.numel() for tensor in tensors)),
            float(sum(tensor.sum() for tensor in tensors)),
            float(sum(tensor.abs().sum() for tensor in tensors)),
        ],
        dtype=torch.float64,
    )


def check_replicas(model: torch.nn.Module) -> None:
    """Raise if the processes of the run hold different networks (they must stay identical; a
    difference means a rank took another decision or missed an all-reduce)."""
    local = weights_fingerprint(model)
    gathered = [torch.zeros_like(local) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(gathered, local)
    if any(not torch.allclose(other, local, rtol=1e-9, atol=1e-9) for other in gathered):
        raise RuntimeError(
            "the processes of this distributed run hold different networks after training"
            f" (fingerprints {[other.tolist() for other in gathered]}); please report it"
        )


def leave_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
