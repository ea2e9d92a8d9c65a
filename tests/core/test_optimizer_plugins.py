"""The base-optimizer plugins use torch's fused kernels where torch has them, with foreach's results."""

from __future__ import annotations

import inspect

import pytest
import torch

import sharpreg_plugins.optimizers as optimizers

SPECS = {s.name: s for s in optimizers.sharpreg_optimizers()}


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_fused_on_cpu_and_equal_to_foreach(name):
    def run(kernel: dict) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(5, 4)), torch.nn.Parameter(torch.randn(4))]
        spec = SPECS[name]
        opt = spec.factory([{"params": params}], spec.params(lr=0.01, weight_decay=1e-3))
        if kernel:  # the same optimizer and settings, another kernel
            accepted = inspect.signature(type(opt)).parameters
            settings = {k: v for k, v in opt.param_groups[0].items() if k in accepted and k not in ("params", "fused", "foreach")}
            opt = type(opt)(params, **settings, **kernel)
        for s in range(3):
            gen = torch.Generator().manual_seed(s)
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        return [p.detach() for p in params], opt

    fused, opt = run({})
    assert opt.defaults["fused"] is True
    foreach, _ = run({"foreach": True})
    for a, b in zip(fused, foreach):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
