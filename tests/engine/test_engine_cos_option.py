"""``log_cos_g_gp = false`` turns the cos(g, g_p) diagnostic off: no bfloat16 copy of g for rules that
release it, no cosine logged, and the same weights (the diagnostic never feeds the update; GSAM takes
its two products itself then)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine_helpers import images, make_engine

ce = nn.functional.cross_entropy


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 2))


def run(name: str, log: bool, rho: float = 0.2):
    m = mlp()
    engine = make_engine(m, name, rho=rho, log_cos_g_gp=log)
    x, y = images(3, n=8)
    outs = [engine.step([(x, y)], ce) for _ in range(3)]
    return [p.detach().clone() for p in m.parameters()], outs[-1].diagnostics, engine.peak_extra_bytes


@pytest.mark.parametrize("name", ["sam", "asam", "gsam", "wsam"])
def test_the_cosine_off_changes_no_weight_and_logs_no_cosine(name):
    on, diag_on, bytes_on = run(name, True)
    off, diag_off, bytes_off = run(name, False)
    for a, b in zip(on, off):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert "cos_g_gp" in diag_on and "cos_g_gp" not in diag_off
    assert diag_on["grad_norm"] == diag_off["grad_norm"]
    releases_g = name in ("sam", "asam")
    assert (bytes_off < bytes_on) == releases_g  # the copy of g is gone where there was one
    other, _, _ = run(name, False, rho=0.25)
    assert not torch.equal(off[1], other[1])  # the comparison sees a different radius
