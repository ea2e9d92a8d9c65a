"""Fixtures of the engine tests (helpers live in engine_helpers.py)."""

from __future__ import annotations

import pytest

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

