"""The run folder as the other processes of a multi-process run see it: they read it (every process
resumes from the same checkpoint) but only rank 0 writes, so each file has one writer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from .evaluations import EvaluationFolder
from .folder import RunFolder

#: RunFolder methods that write; a replica does none of them (tests/runs check that every public
#: method of RunFolder is either here or known to only read)
WRITES = ("check_writable", "check_space", "write_recipe", "write_environment", "write_split", "append_metrics",
          "rewrite_metrics", "event", "attach_log", "save_checkpoint", "save_model", "write_summary",
          "write_predictions", "write_sharpness", "new_evaluation", "write_model_card", "acquire", "release",
          "locked", "discard", "reset")


class ReplicaRunFolder(RunFolder):
    """A run folder that reads like :class:`RunFolder` and writes nothing."""

    writer = False

    def check_writable(self) -> None:
        pass

    def check_space(self, need: int) -> None:
        pass

    def write_recipe(self, recipe: Any) -> None:
        pass

    def write_environment(self, recipe: Any, extra: dict[str, Any]) -> None:
        pass

    def write_split(self, record: dict[str, Any]) -> None:
        pass

    def append_metrics(self, row: dict[str, Any]) -> None:
        pass

    def rewrite_metrics(self, rows: list[dict[str, Any]]) -> None:
        pass

    def event(self, kind: str, **data: Any) -> None:
        pass

    def attach_log(self) -> logging.Handler:
        """A handler that drops records (so nothing falls through to stderr either)."""
        handler = logging.NullHandler()
        logger = logging.getLogger("sharpreg")
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        return handler

    def save_checkpoint(self, which: Any, state: dict[str, Any]) -> None:
        pass

    def save_model(self, model: Any, metadata: dict[str, str]) -> None:
        pass

    def write_summary(self, summary: Any) -> None:
        pass

    def write_predictions(self, pred: Any, classes: list[str], split: str = "test") -> None:
        pass

    def write_sharpness(self, result: dict[str, Any]) -> None:
        pass

    def acquire(self, command: str) -> None:
        pass  # rank 0 holds the folder's lock for the run

    def release(self) -> None:
        pass

    @contextlib.contextmanager
    def locked(self, command: str) -> Iterator[ReplicaRunFolder]:
        yield self

    def discard(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def write_model_card(self, text: str) -> None:
        pass

    def new_evaluation(self, name: str) -> EvaluationFolder:
        raise RuntimeError("a replica of a run does not evaluate on other data; rank 0 does")
