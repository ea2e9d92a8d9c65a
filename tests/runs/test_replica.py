"""Under torchrun only rank 0 writes the run folder: the other processes see it through a replica that
reads like the folder and writes nothing. Every method of the run store is classified, so a new writer
cannot slip past the replica."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest

from sharpreg.runs import RunFolder
from sharpreg.runs.replica import WRITES, ReplicaRunFolder

#: RunFolder members that only read (or name paths); creating a folder is rank 0's (a classmethod)
READS = {"checkpoint_file", "predictions_file", "classes", "create", "epochs_done", "evaluations", "has_sharpness", "holder",
         "load_checkpoint", "load_recipe", "load_weights", "model_file", "open", "plot", "read_environment",
         "read_metrics", "read_predictions", "read_sharpness", "read_split", "read_summary", "recovery", "replica",
         "resolved_file", "split_file", "state", "writer"}


def members() -> set[str]:
    return {n for n in dir(RunFolder) if not n.startswith("_") and not n.isupper()}


def test_every_member_of_the_run_store_is_known_to_read_or_write():
    unknown = members() - READS - set(WRITES)
    assert not unknown, f"classify {sorted(unknown)} in tests/runs/test_replica.py (READS) or runs/replica.py (WRITES)"
    for name in WRITES:
        assert getattr(ReplicaRunFolder, name) is not getattr(RunFolder, name), name


def test_the_check_sees_an_unclassified_writer(monkeypatch):
    monkeypatch.setattr(RunFolder, "write_new_thing", lambda self: None, raising=False)
    assert members() - READS - set(WRITES) == {"write_new_thing"}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_a_replica_writes_nothing(tmp_path: Path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    before = snapshot(tmp_path)
    replica = RunFolder(run).replica()
    assert replica.writer is False and RunFolder(run).writer is True
    for name in WRITES:
        method = getattr(replica, name)
        n = len([p for p in inspect.signature(method).parameters.values() if p.default is p.empty
                 and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)])
        if name == "new_evaluation":
            with pytest.raises(RuntimeError):
                method("other")
            continue
        handler = method(*([None] * n))
        if isinstance(handler, logging.Handler):
            logging.getLogger("sharpreg").warning("a replica's log goes nowhere")
            logging.getLogger("sharpreg").removeHandler(handler)
    assert snapshot(tmp_path) == before
    assert replica.read_metrics() == [{"epoch": 1, "loss": 0.5}]  # and it reads
