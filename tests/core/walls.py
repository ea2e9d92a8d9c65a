"""The architecture's walls, checked on source text (``ast``), never by importing the code.

Every ``import``, ``from ... import`` (relative ones resolved, lazy ones inside functions included) and
``importlib.import_module("...")`` / ``find_spec("...")`` call with a literal name counts as an import.
Units for the cycle check are the folders (sub-packages) and each module directly in a top-level package
(``sharpreg/specs.py`` is a unit of its own; ``sharpreg/data/`` is one unit). See docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: source folder -> the package name it installs as
PACKAGES = {"sharpreg": "sharpreg", "plugins": "sharpreg_plugins"}
MAX_LINES = 400
#: folders whose modules are held to the size limit only (no import walls)
SIZED_ONLY = ("tests", "benchmarks", "examples")
CORE, PLUGINS = "sharpreg", "sharpreg_plugins"
ENGINE_MAY_IMPORT = ("sharpreg.engine", "sharpreg.specs", "sharpreg.errors")
RECIPE_MUST_NOT_REACH = ("sharpreg.training", "sharpreg.engine")
CLI = ("sharpreg.cli", "sharpreg.commands", "sharpreg.__main__")  # __main__: `python -m sharpreg`
PROBES = {"import_module", "find_spec"}


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    is_package: bool
    imports: list[tuple[str, int]] = field(default_factory=list)
    """(imported module name, line)"""


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def collect(root: Path) -> dict[str, Module]:
    """Every module of the packages under ``root`` with what it imports (resolved to known modules)."""
    modules: dict[str, Module] = {}
    trees: dict[str, ast.Module] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            name = ".".join((package, *(parts[:-1] if is_package else parts)))
            text = path.read_text(encoding="utf-8")
            modules[name] = Module(name, path, len(text.splitlines()), is_package)
            trees[name] = ast.parse(text, filename=str(path))
    for name, tree in trees.items():
        mod = modules[name]
        for target, line in _imports(tree, mod):
            mod.imports.append((_known(target, modules), line))
    return modules


def _imports(tree: ast.Module, mod: Module) -> Iterator[tuple[str, int]]:
    package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in PROBES and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                yield node.args[0].value, node.lineno


def _known(target: str, modules: dict[str, Module]) -> str:
    """``a.b.c`` where ``c`` may be a name inside module ``a.b``: the longest known module prefix."""
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return target


def unit_of(name: str, modules: dict[str, Module]) -> str:
    """The folder a module lives in, or the module itself when it sits directly in a top-level package."""
    mod = modules[name]
    folder = name if mod.is_package else name.rpartition(".")[0]
    return name if folder in PACKAGES.values() and not mod.is_package else folder


def _reach(start: str, modules: dict[str, Module]) -> dict[str, list[str]]:
    """Every module reachable from ``start`` through imports, with one path to it."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        for target, _ in modules[current].imports:
            if target in modules and target not in paths:
                paths[target] = [*paths[current], target]
                todo.append(target)
    return paths


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one unit in the unit import graph (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for mod in modules.values():
        src = unit_of(mod.name, modules)
        graph.setdefault(src, set())
        for target, _ in mod.imports:
            if target in modules and unit_of(target, modules) != src:
                graph[src].add(unit_of(target, modules))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check(root: Path) -> list[str]:
    """Every wall crossing, cycle between units and oversized module under ``root``, one line each."""
    modules = collect(root)
    problems: list[str] = []

    def where(mod: Module, line: int) -> str:
        return f"{mod.path.relative_to(root)}:{line}"

    for mod in modules.values():
        if mod.lines > MAX_LINES:
            problems.append(f"{mod.path.relative_to(root)}: {mod.lines} lines (more than {MAX_LINES}); split it")
        for target, line in mod.imports:
            if _under(mod.name, CORE) and _under(target, PLUGINS):
                problems.append(f"{where(mod, line)}: the core imports the plugins ({target})")
            if _under(mod.name, "sharpreg.engine") and _under(target, CORE) \
                    and not any(_under(target, ok) for ok in ENGINE_MAY_IMPORT):
                problems.append(f"{where(mod, line)}: the engine imports {target} (only specs and errors allowed)")
            if _under(mod.name, PLUGINS) and any(_under(target, c) for c in CLI):
                problems.append(f"{where(mod, line)}: a plugin imports the CLI ({target})")
            if _under(mod.name, CORE) and not any(_under(mod.name, c) for c in CLI) \
                    and any(_under(target, c) for c in CLI):
                problems.append(f"{where(mod, line)}: library code imports or probes the CLI ({target})")
    for folder in SIZED_ONLY:
        for path in sorted((root / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                problems.append(f"{path.relative_to(root)}: {lines} lines (more than {MAX_LINES}); split it")
    for name in modules:
        if _under(name, "sharpreg.recipe"):
            for target, path in _reach(name, modules).items():
                if any(_under(target, bad) for bad in RECIPE_MUST_NOT_REACH):
                    problems.append(f"recipe validation reaches {target}: {' -> '.join(path)}")
    for group in cycles(modules):
        problems.append(f"import cycle between {', '.join(group)}")
    return sorted(set(problems))
