"""Item 5: names from grids, options and data files stay inside the folder they belong to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sharpreg.errors import SharpregError
from sharpreg.paths import child, folder_name, inside

from ..training.tiny import write_recipe
from .conftest import one_line_error
from .test_messages import image_folder_recipe


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", "..", ".hidden", "", " ", "x" * 101, "tab\there"])
def test_names_that_leave_their_folder_are_refused(name: str) -> None:
    with pytest.raises(SharpregError, match="^--name "):
        folder_name(name, "--name")


def test_plain_names_and_relative_paths_pass(tmp_path: Path) -> None:
    assert folder_name("lab-a_2.v1", "--name") == "lab-a_2.v1"
    assert child(tmp_path, "lab", "--name") == tmp_path / "lab"
    assert inside(tmp_path, "benign/a b.png") == tmp_path / "benign" / "a b.png"
    for escape in ("../x.png", "/etc/passwd", "benign/../../x.png", ""):
        assert inside(tmp_path, escape) is None


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "evaluations").mkdir()
    os.symlink(tmp_path.parent, tmp_path / "evaluations" / "out")
    with pytest.raises(SharpregError, match="symbolic link out of"):
        child(tmp_path / "evaluations", "out", "--name")


def test_a_grid_name_cannot_write_outside_sweeps(cli, tmp_path: Path) -> None:
    """Before: `name = "../../x"` (or an absolute path) put the sweep folder anywhere."""
    write_recipe(tmp_path, rule="none")
    for name in ("../../escaped", str(tmp_path / "abs")):
        grid = tmp_path / "grid.toml"
        grid.write_text(f'recipe = "tiny-none.toml"\nname = "{name}"\n[grid]\n"train.seed" = [0]\n')
        result = cli("sweep", grid, "--dry-run")
        assert result.code == 2 and "grid.toml:2 name:" in result.err, result.err
    assert not (tmp_path.parent / "escaped").exists() and not (tmp_path / "abs").exists()


def test_evaluate_name_cannot_leave_the_run_folder(cli, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "evaluations").mkdir(parents=True)
    (run / "resolved.toml").write_text("")
    for name in ("../..", "/tmp/x", "a/../../b"):
        assert "--name " in one_line_error(cli("evaluate", run, "--data", tmp_path / "d.toml", "--name", name))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_csv_files_stay_under_the_data_root(cli, tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(b"")
    recipe = image_folder_recipe(tmp_path, 'csv = "list.csv"')
    for rel in ("../outside.png", str(tmp_path / "outside.png")):
        (tmp_path / "list.csv").write_text(f"file,label\nbenign/0.png,benign\n{rel},malignant\n")
        line = one_line_error(cli("data", "summary", recipe))
        assert "list.csv:3: column 'file' holds an absolute path or one with '..'" in line


def test_run_ids_from_long_grid_values_fit_a_folder_name(write_grid) -> None:
    """Before: a 300-character grid value made a 300-character run folder name (OSError, a traceback)."""
    from sharpreg.paths import name_problem
    from sharpreg.study.grid import load_grid

    values = ['"' + "a" * 300 + '"', '"' + "a" * 299 + 'b"', '"b"']
    grid = load_grid(write_grid(f'[grid]\n"meta.description" = [{", ".join(values)}]\n'), validate_recipes=False)
    ids = [c.id for c in grid.combos]
    assert len(set(ids)) == 3 and ids[2] == "b"
    assert all(name_problem(i) is None for i in ids), ids
