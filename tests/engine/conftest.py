"""Fixtures of the engine tests (helpers live in engine_helpers.py)."""

from __future__ import annotations

import pytest
import torch

from engine_helpers import SPECS, bn_cnn, images, make_engine


@pytest.fixture
def specs():
    return SPECS


@pytest.fixture
def engine_factory():
    return make_engine


@pytest.fixture
def cnn():
    return bn_cnn


@pytest.fixture
def batch():
    return images


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and do not fight over a shared CPU)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
