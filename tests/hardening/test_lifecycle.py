"""Items 3 and 8: every folder a run leaves is taken by `run --out` (nothing of a run in it yet) or by
`resume` (a run without a checkpoint starts over, saying so); the user's own folders and files are never
deleted; a read-only folder and a damaged checkpoint give one line that says what to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sharpreg.recipe import load_recipe
from sharpreg.runs import RunFolder, RunState

from .conftest import one_line_error


def test_a_run_stopped_before_its_first_checkpoint_is_resumed_from_the_start(cli, tiny: Path, tmp_path: Path) -> None:
    """Before: `resume` said to start it with `run`, and `run --out` said it exists and to resume it."""
    out = tmp_path / "run"
    RunFolder.create(load_recipe(tiny), out=out).release()  # as a run killed during setup leaves it
    (out / "split.json").write_text("{}")
    assert RunFolder(out).state() is RunState.PARTIAL
    assert "sharpreg resume" in one_line_error(cli("run", tiny, "--out", out))
    resumed = cli("resume", out, "--no-progress")
    assert resumed.code == 0, resumed.err
    assert "stopped before its first checkpoint: starting it over" in resumed.err
    assert RunFolder(out).state() is RunState.DONE
    events = [json.loads(line)["event"] for line in (out / "events.jsonl").read_text().splitlines()]
    assert events[:2] == ["restart", "start"] and events[-1] == "finish"


def test_leftovers_of_a_run_killed_while_creating_its_folder_are_taken_by_run(cli, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("")
    (out / "resolved.toml.tmp").write_text("half of a fi")  # killed before the rename
    assert RunFolder(out).state() is RunState.ABSENT
    assert "sharpreg run RECIPE --out" in one_line_error(cli("resume", out))
    folder = RunFolder.create(load_recipe(tiny), out=out)
    folder.release()
    assert not (out / "resolved.toml.tmp").exists() and folder.state() is RunState.PARTIAL


def test_out_naming_a_file_is_one_line(cli, tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert "is a file, not a folder" in one_line_error(cli("run", tiny, "--out", target))
    assert "is a file, not a folder; give --runs-dir" in one_line_error(cli("run", tiny, "--runs-dir", target))
    assert target.read_text() == "mine"


def test_a_users_folder_is_never_deleted_after_a_data_error(cli, tiny: Path, tmp_path: Path) -> None:
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir()
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    too_small = ("--set", "data.split.val=0.5", "--set", "data.split.test=0.49")
    one_line_error(cli("run", tiny, *too_small, "--out", empty))
    assert empty.is_dir() and not any(empty.iterdir())  # the user's empty folder stays, emptied again
    assert "not empty and is not a run folder" in one_line_error(cli("run", tiny, "--out", other))
    assert (other / "keep.txt").read_text() == "mine"
    one_line_error(cli("run", tiny, *too_small, "--out", tmp_path / "new"))
    assert not (tmp_path / "new").exists()  # a folder sharpreg made is removed


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``chmod -R a-w`` (for root, who writes anyway: the immutable attribute, where the file system has it)."""
    if os.geteuid() != 0:
        for p in [*folder.rglob("*"), folder]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "-R", "+i", str(folder)]).returncode != 0:
        pytest.skip("root writes to read-only folders, and chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)


def test_resume_of_a_read_only_run_folder_is_one_line(cli, tiny: Path, tmp_path: Path) -> None:
    """Before: a traceback."""
    out = tmp_path / "run"
    RunFolder.create(load_recipe(tiny), out=out).release()
    with read_only(out):
        line = one_line_error(cli("resume", out))
    assert "cannot write to the run folder" in line and "needs write access" in line


@pytest.mark.slow
def test_a_damaged_checkpoint_says_how_to_recover_and_the_advice_works(cli, tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("run", tiny, "--out", out, "--no-progress").code == 0
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").unlink()  # as if killed while finishing
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # a disk fault
    line = one_line_error(cli("resume", out))
    assert "is corrupt or truncated" in line and f"delete checkpoints/ and run `sharpreg resume {out}`" in line
    shutil.rmtree(out / "checkpoints")
    again = cli("resume", out, "--no-progress")
    assert again.code == 0, again.err
    assert json.loads((out / "summary.json").read_text())["test"] == summary["test"]
    (out / "model.safetensors").write_bytes(b"\0" * 64)
    data = tmp_path / "other.toml"
    data.write_text('schema_version = 1\n[data]\nname = "phantom"\nper_class = 6\n')
    line = one_line_error(cli("evaluate", out, "--data", data))
    assert "model.safetensors" in line and "`--checkpoint best` then reads checkpoints/best.pt" in line


def test_sweep_out_naming_a_file_or_a_read_only_folder_is_one_line(cli, write_grid, tmp_path: Path) -> None:
    """Before: a FileExistsError (or PermissionError) traceback. (The sweep's plan line comes first.)"""
    grid = write_grid('[grid]\n"train.seed" = [0]\n')
    target, locked = tmp_path / "notes.txt", tmp_path / "sweep"
    target.write_text("mine")
    locked.mkdir()
    with read_only(locked):
        for out, words in ((target, "is a file, not a folder"), (locked, f"cannot write the sweep folder {locked}")):
            result = cli("sweep", grid, "--out", out, "--no-report")
            errors = [line for line in result.lines if line.startswith("error:")]
            assert result.code == 2 and len(errors) == 1 and words in errors[0], result.err
            assert "Traceback" not in result.err and result.lines[-1] == errors[0]
    assert target.read_text() == "mine"


def test_init_into_a_new_folder_or_under_a_file(cli, tmp_path: Path) -> None:
    """Before: `init nodir/x.toml` and `init FILE/x.toml` ended in tracebacks."""
    assert cli("init", tmp_path / "new" / "x.toml").code == 0 and (tmp_path / "new" / "recipe.schema.json").is_file()
    (tmp_path / "notes.txt").write_text("mine")
    assert "cannot write" in one_line_error(cli("init", tmp_path / "notes.txt" / "x.toml"))
    assert (tmp_path / "notes.txt").read_text() == "mine"
