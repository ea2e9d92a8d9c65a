"""``ops.cache_blocks`` covers every element of aligned lists exactly once, in groups within the budget
(tensors that are not contiguous go whole); ``ops.dot_and_square`` equals the plain dot products."""

from __future__ import annotations

import pytest
import torch

from sharpreg.engine import ops


def lists() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    a = [torch.randn(s, generator=gen) for s in [(7, 3), (0,), (50,), (9, 11), (4,)]]
    a[3] = a[3].t()  # not contiguous
    b = [torch.randn(t.shape, generator=gen) for t in a]
    b[3] = torch.randn(9, 11, generator=gen).t()
    return a, b


@pytest.mark.parametrize("budget", [4, 40, 100, 1000])
def test_cache_blocks_cover_each_element_once_within_the_budget(budget):
    a, b = lists()
    marks = [torch.zeros_like(t) for t in a]
    blocks = ops.cache_blocks([a, b, marks], budget)
    for xs, ys, ms in blocks:
        assert len(xs) == len(ys) == len(ms)
        whole = [x for x in xs if x.numel() * 4 > budget]
        assert sum(x.numel() * 4 for x in xs) <= budget or (len(xs) == 1 and whole)
        for x, y, m in zip(xs, ys, ms):
            m.add_(1)  # a view: marks the elements this group holds
            assert x.shape == y.shape == m.shape
    assert all(bool((m == 1).all()) for m in marks)
    # the views are aligned: the same positions of a and b in every group
    pairs = {(float(x), float(y)) for xs, ys, _ in blocks for xv, yv in zip(xs, ys) for x, y in zip(xv.reshape(-1), yv.reshape(-1))}
    assert pairs == {(float(x), float(y)) for xt, yt in zip(a, b) for x, y in zip(xt.reshape(-1), yt.reshape(-1))}


def test_cache_blocks_fail_to_cover_when_a_group_is_dropped():
    # the coverage check above can fail: leaving one group out leaves its elements unmarked
    a, _ = lists()
    marks = [torch.zeros_like(t) for t in a]
    for ms, in ops.cache_blocks([marks], 40)[1:]:
        torch._foreach_add_(ms, 1)
    assert not all(bool((m == 1).all()) for m in marks)


@pytest.mark.parametrize("narrow", [torch.float32, torch.bfloat16])
def test_dot_and_square_equal_the_dot_products(narrow):
    a, b = lists()
    a = [t.to(narrow) for t in a]
    ab, bb = ops.dot_and_square(a, b)
    torch.testing.assert_close(ab, ops.dot(a, b), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bb, ops.dot(b, b), rtol=1e-5, atol=1e-5)
