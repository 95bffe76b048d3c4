"""Several processes started by torchrun: the process group, sums across ranks, a replica check."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Only the first process prints and writes files."""
        return self.rank == 0


def start(use_cuda: bool) -> Processes:
    """Join the process group torchrun describes in the environment (a single process otherwise)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Processes()
    processes = Processes(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if use_cuda:
        torch.cuda.set_device(processes.local_rank)
    torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return processes


def stop(processes: Processes, finished: bool = False) -> None:
    """Leave the process group; after a run every process finished, leave it together.

    Without the barrier one process could tear gloo down while another still closed its
    connections, and the latter then aborted ("terminate called without an active exception").
    """
    if processes.active and torch.distributed.is_initialized():
        if finished:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def sum_across(values: list[float], processes: Processes, device: torch.device) -> list[float]:
    """Each value summed over all processes (train loss and accuracy are counted per shard)."""
    if not processes.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def replicas_agree(network: torch.nn.Module, processes: Processes, device: torch.device) -> bool:
    """Whether every process ends with bit-identical weights (a hash of each state_dict, gathered)."""
    digest = hashlib.sha256()
    for key, value in network.state_dict().items():
        digest.update(key.encode("utf-8"))
        digest.update(value.detach().to("cpu").contiguous().numpy().tobytes())
    mine = torch.tensor(list(digest.digest()[:8]), dtype=torch.int64, device=device)
    gathered = [torch.zeros_like(mine) for _ in range(processes.world_size)]
    torch.distributed.all_gather(gathered, mine)
    return all(torch.equal(mine, other) for other in gathered)
