"""Items 4 and 8: errors never print what a file holds unless the user wrote it, and text from users is
printed as given (no rich markup, no `:x:` emoji)."""

from __future__ import annotations

import ast
import io
from pathlib import Path

from rich.table import Table

from sharpreg.console import make_console

from ..data.conftest import pattern, save_png
from .conftest import one_line_error

SOURCES = Path(__file__).resolve().parents[2]
SECRET = "root:x:0:0:TOPSECRET"


def image_folder_recipe(tmp_path: Path, data: str) -> Path:
    for cls in ("benign", "malignant"):
        for i in range(4):
            save_png(tmp_path / "lab" / cls / f"{i}.png", pattern(i + (10 if cls == "benign" else 0)))
    recipe = tmp_path / "lab.toml"
    recipe.write_text('schema_version = 1\n[data]\nname = "image_folder"\nroot = "lab"\nimage_size = 32\n'
                      f'{data}\n[model]\nname = "timm"\narch = "test_resnet"\n[optimizer]\nname = "sgd"\n'
                      '[sharpness]\nname = "none"\n[train]\nepochs = 1\nbatch_size = 4\ndevice = "cpu"\n')
    return recipe


def test_a_shared_recipe_cannot_make_errors_print_another_file(cli, tmp_path: Path) -> None:
    """Before: `data.csv = "/etc/passwd"` printed its first line as the CSV's columns (and `:x:` as an emoji)."""
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\nsecond line\n")
    recipe = image_folder_recipe(tmp_path, f'csv = "{secret}"')
    assert cli("check", recipe).code == 0
    for argv in (("run", recipe, "--out", tmp_path / "run"), ("data", "summary", recipe)):
        line = one_line_error(cli(*argv))
        assert "lacks the column(s) 'file', 'label'" in line and "TOPSECRET" not in line


def test_csv_values_are_never_quoted_in_errors(cli, tmp_path: Path) -> None:
    rows = {"fold": "file,label,fold\nbenign/0.png,benign,SECRETFOLD\nmalignant/0.png,malignant,1\n",
            "split": "file,label,split\nbenign/0.png,benign,SECRETSPLIT\nmalignant/0.png,malignant,test\n",
            "file": "file,label\nSECRETFILE.png,benign\nbenign/1.png,malignant\n",
            "classes": "file,label\nbenign/0.png,SECRETLABEL\nbenign/1.png,other\n"}
    options = {"fold": 'fold_column = "fold"', "split": 'split_column = "split"', "file": "",
               "classes": 'classes = ["benign", "malignant"]'}
    expected = {"fold": "column 'fold' (the fold) is not an integer", "split": "column 'split' (the split) is not one",
                "file": "the file in column 'file' does not exist", "classes": "no row of"}
    for case, body in rows.items():
        recipe = image_folder_recipe(tmp_path, f'csv = "{case}.csv"\n{options[case]}')
        (tmp_path / f"{case}.csv").write_text(body)
        line = one_line_error(cli("data", "summary", recipe))
        assert expected[case] in line and "SECRET" not in line, line


def test_markup_and_emoji_codes_in_user_text_print_as_given(cli, tmp_path: Path) -> None:
    name = tmp_path / "my:x:[bold]recipe.toml"
    result = cli("check", name)
    assert result.code == 2 and "my:x:[bold]recipe.toml: no such recipe file" in result.err
    assert "❌" not in result.err
    out = io.StringIO()
    table = Table(title="[red]:x: title")
    table.add_column("[b]col")
    table.add_row(":x: [red]cell[/red]")
    make_console(file=out, width=80).print(table)
    assert "[red]:x: title" in out.getvalue() and ":x: [red]cell[/red]" in out.getvalue()


def test_every_console_prints_text_as_given() -> None:
    """Consoles come from sharpreg.console.make_console (markup, emoji codes and highlighting off)."""
    offenders = []
    for file in [*(SOURCES / "sharpreg").rglob("*.py"), *(SOURCES / "plugins").rglob("*.py")]:
        if file.name == "console.py":
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "Console" or (name == "TextColumn" and not any(k.arg == "markup" for k in node.keywords)
                                         and "{task.description}" in ast.unparse(node)):
                    offenders.append(f"{file.relative_to(SOURCES)}:{node.lineno}")
    assert offenders == []


def test_labels_that_differ_only_in_case_are_an_error(cli, tmp_path: Path) -> None:
    """Before: a CSV label `Malignant` beside `malignant` silently became a third class."""
    recipe = image_folder_recipe(tmp_path, 'csv = "labels.csv"')
    (tmp_path / "labels.csv").write_text("file,label\nbenign/0.png,benign\nmalignant/0.png,malignant\n"
                                         "malignant/1.png,Malignant\n")
    line = one_line_error(cli("data", "summary", recipe))
    assert "labels.csv:3 and" in line and "labels.csv:4 differ only in letter case" in line
    recipe = image_folder_recipe(tmp_path, 'csv = "labels.csv"\nclasses = ["benign", "malignant"]')
    (tmp_path / "labels.csv").write_text("file,label\nbenign/0.png,benign\nmalignant/1.png,Malignant\n")
    assert "labels.csv:3 and data.classes differ only in letter case" in one_line_error(cli("data", "summary", recipe))
    save_png(tmp_path / "lab" / "Malignant" / "9.png", pattern(99))
    recipe = image_folder_recipe(tmp_path, "")
    assert "'Malignant' and 'malignant'" in one_line_error(cli("data", "summary", recipe))
