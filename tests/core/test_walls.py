"""The walls between the layers hold (docs/architecture.md): checked on the source of every module,
lazy imports inside functions included; the checker is shown to catch each kind of crossing."""

from __future__ import annotations

from pathlib import Path

from .walls import check

ROOT = Path(__file__).resolve().parents[2]


def test_the_tree_holds_its_walls() -> None:
    assert check(ROOT) == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_catches_every_kind_of_crossing(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "sharpreg/__init__.py": "",
        "sharpreg/errors.py": "",
        "sharpreg/specs.py": "from .errors import X\n",
        "sharpreg/registry.py": "def lazy():\n    import sharpreg.engine.step\n",
        "sharpreg/engine/__init__.py": "from . import step\n",
        "sharpreg/engine/step.py": "from ..specs import Y\n\ndef f():\n    from ..training import loop\n",
        "sharpreg/training/__init__.py": "",
        "sharpreg/training/loop.py": "from ..evaluation.score import score\n",
        "sharpreg/evaluation/__init__.py": "",
        "sharpreg/evaluation/score.py": "def score():\n    from sharpreg.training.loop import x\n",
        "sharpreg/recipe/__init__.py": "",
        "sharpreg/recipe/validate.py": "from ..registry import lazy\n",
        "sharpreg/data/__init__.py": "",
        "sharpreg/data/images.py": "import sharpreg_plugins.datasets\n",
        "sharpreg/study/__init__.py": "",
        "sharpreg/study/sweep.py": "import importlib.util\nok = importlib.util.find_spec('sharpreg.commands.resume')\n",
        "sharpreg/commands/__init__.py": "",
        "sharpreg/commands/resume.py": "from ..study import sweep\n",
        "sharpreg/cli.py": "from .commands import resume\n",
        "plugins/__init__.py": "",
        "plugins/datasets/__init__.py": "",
        "plugins/rules/__init__.py": "from sharpreg.cli import main\n",
        "plugins/big.py": "x = 1\n" * 401,
        "tests/test_big.py": "x = 1\n" * 402,
    })
    problems = "\n".join(check(root))
    expected = [
        "sharpreg/engine/step.py:4: the engine imports sharpreg.training",
        "sharpreg/data/images.py:1: the core imports the plugins (sharpreg_plugins.datasets)",
        "plugins/rules/__init__.py:1: a plugin imports the CLI (sharpreg.cli)",
        "sharpreg/study/sweep.py:2: library code imports or probes the CLI (sharpreg.commands.resume)",
        "recipe validation reaches sharpreg.engine.step: sharpreg.recipe.validate -> sharpreg.registry -> "
        "sharpreg.engine.step",
        "recipe validation reaches sharpreg.training",
        "import cycle between sharpreg.evaluation, sharpreg.training",
        "import cycle between sharpreg.commands, sharpreg.study",
        "plugins/big.py: 401 lines (more than 400)",
        "tests/test_big.py: 402 lines (more than 400)",
    ]
    for line in expected:
        assert line in problems, f"{line!r} not reported in:\n{problems}"
    assert "sharpreg/specs.py" not in problems and "sharpreg/cli.py" not in problems  # allowed imports stay quiet
