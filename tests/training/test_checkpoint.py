"""Checkpoints: plain data only, atomic, refused when they hold a pickled object or are corrupt."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from sharpreg.errors import RunError
from sharpreg.runs.checkpoint import check_plain, load_checkpoint, save_checkpoint
from sharpreg.training.state import rng_state, set_rng_state

MARK = Path("/tmp") / "sharpreg-test-pickle-ran"


class Evil:
    def __reduce__(self):  # what a malicious checkpoint would run on load
        return (MARK.write_text, ("pwned",))


def test_round_trip_and_atomic(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(4.0)}, "history": [{"epoch": 1, "loss": 0.5}], "best": (1, None)}
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint(path, state)
    got = load_checkpoint(path)
    assert torch.equal(got["model"]["w"], torch.arange(4.0)) and got["history"] == state["history"]
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_a_pickled_object_is_refused_and_not_run(tmp_path: Path) -> None:
    MARK.unlink(missing_ok=True)
    path = tmp_path / "evil.pt"
    torch.save({"kind": "sharpreg-checkpoint", "format": 1, "model": {}, "x": Evil()}, path)
    with pytest.raises(RunError, match=r"evil\.pt.*refused"):
        load_checkpoint(path)
    assert not MARK.exists()


def test_corrupt_or_foreign_checkpoint_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"model": {"w": torch.ones(1000)}})
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(good.read_bytes()[:300])
    with pytest.raises(RunError, match=r"truncated\.pt is corrupt"):
        load_checkpoint(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(RunError, match=r"junk\.pt"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"w": torch.ones(2)}, foreign)
    with pytest.raises(RunError, match=r"foreign\.pt is not a sharpreg checkpoint"):
        load_checkpoint(foreign)


def test_only_plain_data_is_written(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"checkpoint\.x\[0\].*Evil"):
        check_plain({"x": [Evil()]})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "x.pt", {"opt": np.zeros(2)})
    assert not (tmp_path / "x.pt").exists()


def test_rng_state_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]
