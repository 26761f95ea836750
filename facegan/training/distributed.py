"""Training on several processes with PyTorch's own engine: ``torchrun`` starts them, DDP averages the
gradients.

:func:`setup` reads the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, and
``MASTER_ADDR``/``MASTER_PORT`` for the rendezvous), joins the process group (NCCL on CUDA, gloo on the
CPU) and returns a :class:`Dist` that the trainer asks everything distributed of: its device, the
per-rank batch, how to wrap a network, how rank 0 shares a result, and whether all ranks agree to stop.
Without torchrun (``WORLD_SIZE`` unset or 1) it is a single process and every method is the plain,
collective-free thing, so one code path serves both.

What the ranks share and what they do not:

- the data: each rank takes ``order[rank::world]`` of every epoch's order (see
  :class:`~facegan.data.loader.BatchLoader`), so batch ``i`` of all ranks together is global batch ``i``;
- the per-sample randomness of a step (latents, labels, instance noise, penalty mixing): every rank
  draws the whole global batch's values from the same generator and keeps its own rows
  (:class:`~facegan.training.step.GANStep`'s ``shard``), so ranks never duplicate each other's fakes;
- the global RNG (noise layers, dropout) is forked per rank after the networks are built (:meth:`Dist.fork_rng`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..devices import pick_device
from ..errors import FaceganError

STOP_POLL = 10  # steps between the ranks' agreement on a stop (a collective, so not every step)


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: rank ``rank`` of ``world``, on ``device``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0: the only one that writes the run folder and reports events."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def per_rank_batch(self, global_batch: int) -> int:
        """A preset's batch size is the global batch; each rank takes an equal share of it."""
        if global_batch % self.world:
            raise FaceganError(f"optim.batch_size {global_batch} is the global batch and must divide evenly "
                               f"among the {self.world} processes; choose a multiple of {self.world}")
        return global_batch // self.world

    def wrap(self, net: nn.Module, sync_batchnorm: bool = False) -> nn.Module:
        """``net`` in DistributedDataParallel (``net`` itself with one process). The caller keeps the plain
        module for checkpoints and sampling; the wrapper shares its parameters."""
        if not self.active:
            return net
        if sync_batchnorm:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return nn.parallel.DistributedDataParallel(
            net, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def share(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` run on rank 0 only, its result given to every rank (it must pickle). An error there
        is raised on every rank, so no rank is left waiting in a collective."""
        if not self.active:
            return fn()
        box: list = [None]
        error: BaseException | None = None
        if self.main:
            try:
                box[0] = (True, fn())
            except Exception as e:  # noqa: BLE001 - re-raised below, after the others are told
                error, box[0] = e, (False, str(e) if isinstance(e, FaceganError) else f"{type(e).__name__}: {e}")
        torch.distributed.broadcast_object_list(box, src=0)
        ok, value = box[0]
        if error is not None:
            raise error
        if not ok:
            raise FaceganError(f"rank 0 failed: {value}")
        return value

    @contextlib.contextmanager
    def local_main_first(self) -> Iterator[None]:
        """The body on each node's local rank 0 first, then on the others (e.g. building a cache they then
        reuse)."""
        if self.active and self.local_rank != 0:
            torch.distributed.barrier()
        yield
        if self.active and self.local_rank == 0:
            torch.distributed.barrier()

    def fork_rng(self) -> None:
        """Give ranks other than 0 their own global RNG stream (noise layers, dropout), derived from the
        current state, which every rank shares after seeding or a resume. Rank 0 keeps its stream, so a
        one-process run is unchanged."""
        if self.rank == 0:
            return
        base = int(torch.randint(2**62, (1,)))
        torch.manual_seed(int(np.random.SeedSequence([base, self.rank]).generate_state(1, np.uint64)[0] >> 1))

    def average(self, stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Step statistics averaged over the ranks (what the global batch gave), for logging."""
        if not self.active or not stats:
            return stats
        values = torch.stack([v.detach().float().reshape(()) for v in stats.values()])
        torch.distributed.all_reduce(values)
        return dict(zip(stats, (values / self.world).unbind()))

    def stopping(self, wanted: bool, step: int) -> bool:
        """Whether to stop before step ``step + 1``: ``wanted`` itself with one process; with several, all
        stop at the same step, once any of them wanted to (checked every STOP_POLL steps)."""
        if not self.active:
            return wanted
        if step % STOP_POLL:
            return False
        flag = torch.tensor([float(wanted)], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())


def env_world() -> int:
    """WORLD_SIZE as torchrun sets it (1 when not under torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise FaceganError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None


def env_rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def setup(device_name: str = "auto", sync_batchnorm: bool = False) -> Dist:
    """This process's :class:`Dist`: a single process on ``pick_device(device_name)``, or, under torchrun,
    rank ``RANK`` of ``WORLD_SIZE`` on GPU ``LOCAL_RANK`` (NCCL) or the CPU (gloo), with the process group
    joined (once; a second call reuses it). Checked here, before anything is written: ``sync_batchnorm``
    needs CUDA."""
    world = env_world()
    device = pick_device(device_name)
    if world <= 1:
        return Dist(device=device)
    rank, local_rank = env_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if device.index is not None:
            raise FaceganError(f"run.device {device_name!r}: under torchrun give 'cuda' or 'auto'; each process "
                               "takes the GPU of its LOCAL_RANK")
        if local_rank >= torch.cuda.device_count():
            raise FaceganError(f"LOCAL_RANK {local_rank} but this node has {torch.cuda.device_count()} GPU(s); "
                               "start at most that many processes per node (--nproc_per_node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        if sync_batchnorm:
            raise FaceganError("run.sync_batchnorm needs CUDA GPUs: PyTorch's SyncBatchNorm does not run on the "
                               "CPU; turn it off for CPU (gloo) training")
        backend = "gloo"
    else:
        raise FaceganError(f"distributed training runs on CUDA GPUs (NCCL) or the CPU (gloo), not on "
                           f"{device.type}; set run.device to 'cuda' or 'cpu'")
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend)
    return Dist(rank=rank, world=world, local_rank=local_rank, device=device)


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
