"""Fixtures for the sharing tests: throwaway plugin distributions (as in tests/core)."""

from ..core.conftest import site  # noqa: F401  (the fixture, re-exported here)
