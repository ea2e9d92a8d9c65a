"""User-facing errors. The CLI prints them as one clear report, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass


class SharpregError(Exception):
    """A mistake of the user (bad recipe, missing data, unknown plugin...). Exit code 2 by default."""

    exit_code = 2


class PluginError(SharpregError):
    """An unknown, broken, conflicting or disabled plugin."""


@dataclass(frozen=True)
class RecipeIssue:
    """One problem in a recipe, located at ``file:line`` and a dotted key."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class RecipeError(SharpregError):
    """All problems found in a recipe at once."""

    def __init__(self, issues: list[RecipeIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class DataError(SharpregError):
    """A missing or malformed data set."""


class RunError(SharpregError):
    """A run folder that cannot be created, resumed or read."""


class Interrupted(RunError):
    """A run stopped on request (Ctrl-C, SIGTERM); the message says where and how to continue. Exit code
    130, like an interrupted shell command."""

    exit_code = 130
