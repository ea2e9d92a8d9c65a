"""Fixtures for the hardening tests: the CLI as a user runs it (exit code, stdout, stderr) and a tiny recipe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sharpreg.cli import main

from ..training.tiny import write_recipe


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """The non-empty lines of stderr."""
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture) -> Callable[..., Result]:
    """``sharpreg ARGS...`` through its entry point; an exception that escapes it (a traceback) fails the test."""
    capsys.readouterr()

    def run(*args: object) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny phantom recipe (seconds to train): test_resnet at 32 px, 3 epochs of 3 steps."""
    return write_recipe(tmp_path, rule="none", epochs=1)


def one_line_error(result: Result) -> str:
    """The single error line of a user's mistake (exit code 2)."""
    assert result.code == 2, (result.code, result.err)
    assert len(result.lines) == 1 and result.lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return result.lines[0]


@pytest.fixture(autouse=True)
def probe_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Image probes are cached outside the user's cache folder."""
    monkeypatch.setenv("SHARPREG_CACHE", str(tmp_path_factory.mktemp("cache")))
from ..study.conftest import write_grid  # noqa: F401  (grid files on the quick-start recipe)
