"""DDP: two CPU processes on the gloo backend end a run with identical weights."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from sr_setup import make_corpus, write_config  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, config_path: str, out_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch.distributed as dist

    from restore.training.config import load_config
    from restore.training.train import train

    result = train(load_config(config_path), progress=False, threads=1)
    # The raw generator is what DDP synchronises; the EMA follows from it.
    torch.save({"ema": result.generator.state_dict(), "rank": rank}, Path(out_dir) / f"rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    corpus = make_corpus(tmp_path)
    config = write_config(tmp_path, corpus, train={"pretrain_iters": 2, "gan_iters": 2}, checkpoint_every=2)
    mp.start_processes(_rank_main, args=(2, _free_port(), str(config), str(tmp_path)), nprocs=2,
                       start_method="spawn", join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert ranks[0]["ema"].keys() == ranks[1]["ema"].keys()
    for key, value in ranks[0]["ema"].items():
        assert torch.equal(value, ranks[1]["ema"][key]), key
    # Both ranks trained, on different batches: the weights moved away from their initialisation.
    ckpt = torch.load(tmp_path / "run" / "iter-0000004.pt", weights_only=True)
    assert ckpt["iteration"] == 4
    torch.manual_seed(3)
    from restore.models.archs import build_arch
    from restore.training.config import load_config

    initial = build_arch(load_config(config).model).state_dict()
    assert any(not torch.equal(initial[k], ckpt["params"][k]) for k in initial)
    assert (tmp_path / "weights" / "tiny-sr.card.json").is_file()
