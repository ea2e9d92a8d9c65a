"""DDP on two CPU processes (gloo): local vs global perturbation, one final all-reduce."""

from __future__ import annotations

import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

WORLD = 2
RHO, LR = 0.5, 0.1


def _data(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(10 + rank)
    return torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)


def _w0() -> torch.Tensor:
    return torch.arange(8, dtype=torch.float64).reshape(2, 4) / 10 - 0.3


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    import sharpreg_plugins.rules as first_party
    from sharpreg.engine import SharpnessStep

    specs = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
    results = {}
    for name, mode in [("sam", "local"), ("sam", "global"), ("wsam", "local")]:
        lin = nn.Linear(4, 2, bias=False).double()
        with torch.no_grad():
            lin.weight.copy_(_w0())
        model = nn.parallel.DistributedDataParallel(lin)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        params = specs[name].params(rho=RHO, perturbation=mode)
        engine = SharpnessStep(model, opt, specs[name].factory(params), params)
        engine.step([_data(rank)], nn.functional.mse_loss)
        results[f"{name}-{mode}"] = lin.weight.detach().clone()
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _grad(w: torch.Tensor, rank: int) -> torch.Tensor:
    x, t = _data(rank)
    r = x @ w.T - t
    return 2.0 / r.numel() * r.T @ x


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_ddp_local_and_global_perturbation(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    got = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    w = _w0()
    g = [_grad(w, r) for r in range(WORLD)]
    # local: each replica ascends along its own gradient, the perturbed gradients are averaged
    gp_local = sum(_grad(w + RHO * g[r] / g[r].norm(), r) for r in range(WORLD)) / WORLD
    # global: both replicas ascend along the averaged gradient
    gm = sum(g) / WORLD
    gp_global = sum(_grad(w + RHO * gm / gm.norm(), r) for r in range(WORLD)) / WORLD
    for r in range(WORLD):
        torch.testing.assert_close(got[r]["sam-local"], w - LR * gp_local, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(got[r]["sam-global"], w - LR * gp_global, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(got[0]["sam-local"], got[0]["sam-global"])
    # WSAM (decoupled) uses g and g_p after the step: both averaged, so replicas stay identical
    alpha = 0.9 / 0.1
    want = w - LR * gm - LR * alpha * (gp_local - gm)
    for r in range(WORLD):
        torch.testing.assert_close(got[r]["wsam-local"], want, rtol=1e-10, atol=1e-12)
    assert math.isfinite(float(got[0]["wsam-local"].sum()))
