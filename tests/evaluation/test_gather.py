"""Predictions of a multi-process run: each process predicts every n-th case, and the parts merge back
into the data set's order, with the loss averaged over all cases."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import Subset

from sharpreg.evaluation.inference import merge
from sharpreg.runs import Predictions


@pytest.mark.parametrize("n, world", [(7, 2), (5, 3), (2, 4), (9, 1)])
def test_strided_parts_merge_back_in_order(n, world):
    ids = [f"img{i}" for i in range(n)]
    labels = np.arange(n) % 2
    probs = np.stack([np.linspace(0, 1, n), 1 - np.linspace(0, 1, n)], axis=1)
    losses = np.linspace(0.1, 0.9, n)
    parts = []
    for r in range(world):
        idx = list(Subset(range(n), range(r, n, world)))  # what Evaluator.predict gives process r
        parts.append(Predictions([ids[i] for i in idx], labels[idx], probs[idx],
                                 float(losses[idx].mean()) if idx else float("nan")))
    whole = merge(parts)
    assert whole.ids == ids and np.array_equal(whole.labels, labels) and np.array_equal(whole.probs, probs)
    assert whole.loss == pytest.approx(losses.mean())
