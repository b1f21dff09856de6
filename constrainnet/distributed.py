r"""Training on several processes with ``torch.distributed``: the process group, local launches, and rank-0 output.

:func:`constrainnet.train.fit` trains under ``torchrun`` as it does in one
process: it reads the rank and world size of the default process group
(:func:`world`), shards each epoch with a ``DistributedSampler`` and wraps
the model in ``DistributedDataParallel``. Nothing here is a training engine
of its own; it starts and ends the process group from the environment
``torchrun`` sets (:func:`init_from_env`, :func:`finish`) and launches N
local processes through ``torch.distributed.run`` (:func:`launch_local`).

On several machines, run the same command on each with torchrun's
rendezvous flags, for example on 2 machines of 4 processes each::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d \
        --rdzv-endpoint HOST:29400 --rdzv-id JOB -m constrainnet.cli train inertia

Example:
    >>> world()  # one process, no process group
    (0, 1)
    >>> is_main_process()
    True
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Sequence

__all__ = ["world", "is_main_process", "init_from_env", "local_device", "finish", "launch_local", "backend_for"]


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group, or (0, 1) when there is none."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """Whether this process prints, logs and writes checkpoints (rank 0, or no process group)."""
    return world()[0] == 0


def backend_for(device: Any) -> str:
    """``"nccl"`` for a CUDA device, ``"gloo"`` otherwise.

    Example:
        >>> backend_for("cpu"), backend_for("cuda:0")
        ('gloo', 'nccl')
    """
    import torch

    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def init_from_env(device: Any = "cpu") -> bool:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).

    Args:
        device: the device this process trains on; a CUDA device is bound to
            ``LOCAL_RANK`` (``cuda`` becomes ``cuda:LOCAL_RANK``) and picks nccl.

    Returns:
        True when this call started a process group (end it with :func:`finish`).

    Raises:
        RuntimeError: ``WORLD_SIZE`` > 1 but torch.distributed is not available.
    """
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    if not dist.is_available():
        raise RuntimeError("init_from_env: WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend_for(device))
    return True


def local_device(device: Any) -> Any:
    """``device`` with a bare ``cuda`` bound to this process's ``LOCAL_RANK`` (others unchanged).

    Example:
        >>> local_device("cpu")
        'cpu'
    """
    if str(device) == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return device


def finish() -> None:
    """Leave the default process group, if there is one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launch_local(nproc: int, argv: Sequence[str], module: str = "constrainnet.cli") -> int:
    """Run ``python -m module *argv`` as ``nproc`` local processes under ``torch.distributed.run``.

    Args:
        nproc: processes to start (≥ 1) on this machine, ranks 0..nproc-1.
        argv: the arguments of each process (the same for all).
        module: the module each process runs.

    Returns:
        The exit status of the launch (0 when every process succeeded).

    Raises:
        ValueError: ``nproc`` < 1.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"launch_local: expected a positive int nproc, got {nproc!r}")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", module]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc))))
    return subprocess.run(command + list(argv), env=env).returncode
