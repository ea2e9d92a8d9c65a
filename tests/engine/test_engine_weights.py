"""Micro-batch weights: each micro-batch's share of the step's loss. The trainer gives a process's part of
an unevenly split global batch its true share, and padding a share of 0."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sharpreg.errors import SharpregError

from engine_helpers import images, make_engine

ce = nn.functional.cross_entropy


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 2))


def run(micro, weights=None, name="sam"):
    m = mlp()
    engine = make_engine(m, name, **({} if name == "none" else {"rho": 0.2}))
    outs = [engine.step(micro, ce, weights=weights) for _ in range(3)]
    return list(m.parameters()), outs[-1].loss


@pytest.mark.parametrize("name", ["none", "sam", "wsam"])
def test_explicit_shares_equal_the_default_and_padding_counts_nothing(name):
    x, y = images(3, n=10)
    parts = list(zip(x.split(4), y.split(4)))  # 4, 4, 2
    base, loss = run(parts, name=name)
    shares, loss2 = run(parts, [0.4, 0.4, 0.2], name=name)
    padded, loss3 = run(parts + [(x[:1], y[:1])], [0.4, 0.4, 0.2, 0.0], name=name)
    for a, b, c in zip(base, shares, padded):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(a, c, rtol=1e-6, atol=1e-7)
    assert loss == loss2 == pytest.approx(loss3)
    skewed, _ = run(parts, [0.8, 0.1, 0.1], name=name)
    assert not torch.allclose(base[1], skewed[1])  # the shares are used


def test_one_weight_per_micro_batch():
    x, y = images(3, n=4)
    with pytest.raises(SharpregError, match="2 weights for 1 micro-batches"):
        make_engine(mlp(), "sam").step([(x, y)], ce, weights=[0.5, 0.5])
