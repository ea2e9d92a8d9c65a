"""Read recipe files: TOML, ``extends`` chains, and ``--set`` overrides, remembering where each key came from."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecipeError, RecipeIssue
from .lines import find_line, index_lines

KeyPath = tuple[str, ...]
OVERRIDE_FILE = "--set"


@dataclass(frozen=True)
class Origin:
    """Where a key was set: the file (as shown to the user), its line, and the folder for relative paths."""

    file: str
    line: int | None
    base_dir: Path


@dataclass
class RawRecipe:
    """The merged recipe as plain TOML data, with the origin of every key."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    """the files read, the recipe itself first, then what it extends"""

    def origin(self, path: KeyPath) -> Origin | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
        return None

    def issue(self, path: KeyPath, message: str) -> RecipeIssue:
        o = self.origin(path) or self.origins.get((), None)
        file = o.file if o else (display(self.files[0]) if self.files else "<recipe>")
        return RecipeIssue(file=file, line=o.line if o else None, key=".".join(path), message=message)


def display(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _walk(data: dict[str, Any], prefix: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    for k, v in data.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out.extend(_walk(v, prefix + (k,)))
    return out


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; arrays and scalars from ``top`` replace those of ``base``."""
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_toml(text: str, shown: str) -> dict[str, Any]:
    """The TOML document ``text`` of the file ``shown``; a syntax error is a ``RecipeError`` at its line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise RecipeError([RecipeIssue(shown, int(m.group(1)) if m else None, "", f"TOML syntax error: {msg}")]) from None


def read_file(path: Path) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """One TOML file and the origin of each of its keys. A syntax error is a ``RecipeError``."""
    shown = display(path)
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        raise RecipeError([RecipeIssue(shown, None, "", f"no such recipe file{hint}")])
    text = path.read_text(encoding="utf-8")
    data = parse_toml(text, shown)
    lines = index_lines(text)
    base_dir = path.parent.resolve()
    origins = {p: Origin(shown, find_line(lines, p), base_dir) for p in _walk(data)}
    origins[()] = Origin(shown, None, base_dir)
    return data, origins


def load_raw(path: str | os.PathLike[str], _chain: tuple[Path, ...] = ()) -> RawRecipe:
    """Read ``path`` and, recursively, the file it ``extends``; merge them."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(display(p) for p in (*_chain, resolved))
        raise RecipeError([RecipeIssue(display(_chain[-1]), None, "extends", f"extends cycle: {cycle}")])
    data, origins = read_file(path)
    parent = data.pop("extends", None)
    files = [resolved]
    if parent is None:
        return RawRecipe(data, origins, files)
    if not isinstance(parent, str) or not parent:
        o = origins[("extends",)]
        raise RecipeError([RecipeIssue(o.file, o.line, "extends", "must be the path of another recipe file (a string)")])
    parent_path = (resolved.parent / parent).resolve()
    if not parent_path.is_file():
        o = origins[("extends",)]
        raise RecipeError([RecipeIssue(o.file, o.line, "extends", f"{parent!r} not found (looked at {display(parent_path)})")])
    base = load_raw(parent_path, (*_chain, resolved))
    merged_origins = dict(base.origins)
    merged_origins.update({k: v for k, v in origins.items() if k != ("extends",)})
    return RawRecipe(deep_merge(base.data, data), merged_origins, files + base.files)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """``a.b=VALUE`` -> (("a", "b"), value); VALUE is a TOML literal, else a plain string."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise RecipeError([RecipeIssue(OVERRIDE_FILE, None, key, f"{text!r} is not of the form TABLE.KEY=VALUE (e.g. sharpness.rho=0.1)")])
    value = value.strip()
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        if not value:
            raise RecipeError([RecipeIssue(OVERRIDE_FILE, None, key, "empty value (write key=\"\" for an empty string)")]) from None
        parsed = value
    return tuple(part.strip() for part in key.split(".")), parsed


def apply_overrides(raw: RawRecipe, overrides: list[str]) -> RawRecipe:
    """Set each ``--set`` value (in order) into a copy of ``raw``."""
    data = copy.deepcopy(raw.data)
    origins = dict(raw.origins)
    cwd = Path.cwd()
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for i, part in enumerate(path[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise RecipeError([RecipeIssue(OVERRIDE_FILE, None, ".".join(path), f"{'.'.join(path[: i + 1])} is a value, not a table")])
            node = nxt
        node[path[-1]] = value
        for p in [path, *(path + sub for sub in (_walk(value) if isinstance(value, dict) else []))]:
            origins[p] = Origin(f"{OVERRIDE_FILE} {text}", None, cwd)
    return RawRecipe(data, origins, list(raw.files))
