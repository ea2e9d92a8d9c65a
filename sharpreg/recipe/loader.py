"""Read recipe files: TOML, ``extends`` chains, and ``--set`` overrides, remembering where each key came from.

A recipe is a file, or an installed recipe named ``NAME`` or ``DIST:NAME`` (a recipe pack's) when no file
of that name exists. A table that names another plugin than the one it merges over (``extends`` or
``--set TABLE.name=...``) replaces it instead of merging with it: the old plugin's parameters would mean
nothing to the new one.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PluginError, RecipeError, RecipeIssue
from ..kinds import recipe_kinds
from ..registry import Registry, default_registry, split_reference
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
    """Every key path of ``data``; the tables of an array of tables as ``key.0``, ``key.1``, ..."""
    out: list[KeyPath] = []
    for k, v in data.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out.extend(_walk(v, prefix + (k,)))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                if isinstance(item, dict):
                    out.append(prefix + (k, str(i)))
                    out.extend(_walk(item, prefix + (k, str(i))))
    return out


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; arrays and scalars from ``top`` replace those of ``base``; a plugin table of
    ``top`` that names another plugin replaces that of ``base``."""
    out = copy.deepcopy(base)
    switched = switched_tables(base, top)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in switched:
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _plugin(value: Any) -> str | None:
    """The bare plugin name a table's ``name`` selects (None when it names none)."""
    parts = split_reference(value) if isinstance(value, str) else None
    return parts[1] if parts else (value if isinstance(value, str) else None)


def other_plugin(old: Any, new: Any) -> bool:
    """``new`` names a plugin, and not the one ``old`` names."""
    return _plugin(new) is not None and _plugin(old) is not None and _plugin(new) != _plugin(old)


def switched_tables(base: dict[str, Any], top: dict[str, Any]) -> set[str]:
    """The plugin tables where ``top`` names another plugin than ``base``."""
    out = set()
    for kind in recipe_kinds():
        table = str(kind.table)
        old, new = base.get(table), top.get(table)
        if isinstance(old, dict) and isinstance(new, dict) and other_plugin(old.get("name"), new.get("name")):
            out.add(table)
    return out


#: largest recipe or grid file read (a recipe is a few kilobytes of text)
MAX_FILE_BYTES = 1 << 20
#: deepest nesting of tables and arrays in a recipe
MAX_DEPTH = 32


def read_text(path: Path, shown: str, what: str = "recipe") -> str:
    """The UTF-8 text of the ``what`` file ``path`` (a byte-order mark is dropped); a missing, huge or
    undecodable file is a ``RecipeError`` that names it and never shows what is in it."""
    def problem(message: str) -> RecipeError:
        return RecipeError([RecipeIssue(shown, None, "", message)])

    if not path.is_file():
        raise problem(f"no such {what} file" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise problem(f"is {size / 2**20:.1f} MiB; a {what} file is a small TOML text file (at most "
                          f"{MAX_FILE_BYTES >> 20} MiB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise problem(f"cannot read it: {exc.strerror or type(exc).__name__}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise problem(f"is not UTF-8 text (byte {exc.start + 1} cannot be decoded); save it as UTF-8") from None


def parse_toml(text: str, shown: str) -> dict[str, Any]:
    """The TOML document ``text`` of the file ``shown``; a syntax error is a ``RecipeError`` at its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise RecipeError([RecipeIssue(shown, int(m.group(1)) if m else None, "", f"TOML syntax error: {msg}")]) from None
    except RecursionError:
        data = None
    if data is None or _too_deep(data):
        raise RecipeError([RecipeIssue(shown, None, "", f"tables or arrays nested deeper than {MAX_DEPTH} levels; "
                                                        "a recipe is a few flat tables")])
    return data


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests dicts or lists deeper than ``MAX_DEPTH`` (without recursing)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def read_file(path: Path, shown: str | None = None) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """One TOML file and the origin of each of its keys. A syntax error is a ``RecipeError``."""
    shown = shown or display(path)
    text = read_text(path, shown)
    data = parse_toml(text, shown)
    lines = index_lines(text)
    base_dir = path.parent.resolve()
    origins = {p: Origin(shown, find_line(lines, p), base_dir) for p in _walk(data)}
    origins[()] = Origin(shown, None, base_dir)
    return data, origins


def installed_recipe(reference: str, registry: Registry | None = None) -> tuple[Path, str] | None:
    """The file of the installed recipe ``NAME`` or ``DIST:NAME`` and its name as shown (``dist:name``);
    None when ``reference`` is not of that form. An unknown or ambiguous name is a ``PluginError``."""
    if split_reference(reference) is None:
        return None
    provided = (registry or default_registry()).get("recipe", reference)
    return provided.spec.path, provided.ref  # type: ignore[attr-defined]


def locate(source: str | os.PathLike[str], registry: Registry | None = None) -> tuple[Path, str | None]:
    """The file of a recipe given on the command line: a path, else an installed recipe's name."""
    path = Path(source)
    if path.is_file() or path.suffix:
        return path, None
    try:
        found = installed_recipe(str(source), registry)
    except PluginError as exc:
        raise RecipeError([RecipeIssue(str(source), None, "", f"no such recipe file, and {exc}")]) from None
    return found if found else (path, None)


def load_raw(source: str | os.PathLike[str], *, registry: Registry | None = None) -> RawRecipe:
    """Read a recipe (a file, or an installed recipe's name) and the chain of files it ``extends`` (any length:
    read in a loop, not by recursion); merge them, the base first."""
    path, shown = locate(source, registry)
    chain: list[tuple[Path, dict[str, Any], dict[KeyPath, Origin]]] = []
    seen: set[Path] = set()
    while True:
        resolved = path.resolve()
        if resolved in seen:
            cycle = " -> ".join(display(p) for p in (*(c[0] for c in chain), resolved))
            raise RecipeError([RecipeIssue(display(chain[-1][0]), None, "extends", f"extends cycle: {cycle}")])
        seen.add(resolved)
        data, origins = read_file(path, shown)
        parent = data.pop("extends", None)
        chain.append((resolved, data, origins))
        if parent is None:
            break
        path, shown = _extended(parent, resolved, origins[("extends",)], registry)
    merged: dict[str, Any] = {}
    merged_origins: dict[KeyPath, Origin] = {}
    for _, data, origins in reversed(chain):
        switched = switched_tables(merged, data)
        merged_origins = {k: v for k, v in merged_origins.items() if not (k[:1] and k[0] in switched and len(k) > 1)}
        merged_origins.update({k: v for k, v in origins.items() if k != ("extends",)})
        merged = deep_merge(merged, data)
    return RawRecipe(merged, merged_origins, [p for p, _, _ in chain])


def _extended(parent: Any, resolved: Path, o: Origin, registry: Registry | None) -> tuple[Path, str | None]:
    """The file (and its name as shown) that ``extends = parent`` in the file ``resolved`` names."""
    if not isinstance(parent, str) or not parent:
        raise RecipeError([RecipeIssue(o.file, o.line, "extends", "must be the path of another recipe file or the name "
                                                                  "of an installed recipe (a string)")])
    parent_path = (resolved.parent / parent).resolve()
    if parent_path.is_file():
        return parent_path, None
    try:
        found = installed_recipe(parent, registry)
    except PluginError as exc:
        raise RecipeError([RecipeIssue(o.file, o.line, "extends", f"{parent!r} is neither a file (looked at "
                                                                  f"{display(parent_path)}) nor {exc}")]) from None
    if found is None:
        raise RecipeError([RecipeIssue(o.file, o.line, "extends", f"{parent!r} not found (looked at {display(parent_path)})")])
    return found


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
    except RecursionError:
        parsed = None
    path = tuple(part.strip() for part in key.split("."))
    if parsed is None or len(path) > MAX_DEPTH or _too_deep(parsed):
        raise RecipeError([RecipeIssue(OVERRIDE_FILE, None, key[:80], f"tables or arrays nested deeper than {MAX_DEPTH} "
                                                                      "levels; a recipe is a few flat tables")])
    return path, parsed


def _switch(table: str, old: dict[str, Any], origins: dict[KeyPath, Origin]) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """A plugin table switched to another plugin by ``--set``: only what ``--set`` gave it stays."""
    def from_set(key: KeyPath) -> bool:
        origin = origins.get(key)
        return origin is not None and origin.file.startswith(OVERRIDE_FILE)

    kept = {k: v for k, v in old.items() if from_set((table, k))}
    return kept, {k: v for k, v in origins.items() if not (k[:1] == (table,) and len(k) > 1 and not from_set(k[:2]))}


def apply_overrides(raw: RawRecipe, overrides: list[str]) -> RawRecipe:
    """Set each ``--set`` value (in order) into a copy of ``raw``."""
    data = copy.deepcopy(raw.data)
    origins = dict(raw.origins)
    cwd = Path.cwd()
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 2 and path[1] == "name" and isinstance(data.get(path[0]), dict) \
                and path[0] in {str(k.table) for k in recipe_kinds()} and other_plugin(data[path[0]].get("name"), value):
            data[path[0]], origins = _switch(path[0], data[path[0]], origins)
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
