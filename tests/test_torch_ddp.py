"""DistributedDataParallel: two CPU processes (gloo) train LeNet-5 and end with identical weights."""

from __future__ import annotations

import pytest

import cnndsl

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("torch.distributed")
multiprocessing = pytest.importorskip("torch.multiprocessing")

WORLD_SIZE = 2
STEPS = 3


def train(rank: int, rendezvous: str, results: str) -> None:
    """One replica: different data per rank; DDP averages the gradients so weights stay equal."""
    distributed.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        torch.manual_seed(100 + rank)  # different initial weights: DDP must broadcast rank 0's
        module = cnndsl.load("lenet5").build("torch", logits=True)
        replica = torch.nn.parallel.DistributedDataParallel(module)
        optimizer = torch.optim.SGD(replica.parameters(), lr=0.05, momentum=0.9)
        for _ in range(STEPS):
            images, labels = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(replica(images), labels).backward()
            optimizer.step()
        torch.save(module.state_dict(), f"{results}/rank{rank}.pt")
    finally:
        distributed.destroy_process_group()


@pytest.mark.slow  # two processes each import torch (~5 s on two cores)
def test_two_process_ddp_keeps_replicas_identical(tmp_path):
    if not distributed.is_available() or not distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    multiprocessing.spawn(
        train, args=(str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=WORLD_SIZE, join=True
    )
    first, second = (torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE))
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    # and training did move the weights away from rank 0's initial ones
    torch.manual_seed(100)
    initial = cnndsl.load("lenet5").build("torch", logits=True).state_dict()
    assert not torch.equal(initial["conv1.weight"], first["conv1.weight"])
