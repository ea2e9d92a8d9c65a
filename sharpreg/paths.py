"""Names and relative paths that users give and sharpreg puts under a folder: a sweep's name, an
evaluation's ``--name``, the files a data CSV lists. Each stays inside the folder it belongs to: no
absolute path, no ``..``, no symbolic link that leads out."""

from __future__ import annotations

from pathlib import Path, PurePath

from .errors import SharpregError

#: longest name of a folder sharpreg creates from a user's name (file systems allow 255 bytes)
MAX_NAME = 100


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name one folder, or None when it can."""
    if not isinstance(name, str) or not name.strip():
        return "is empty"
    if len(name) > MAX_NAME or len(name.encode("utf-8", "surrogatepass")) > 2 * MAX_NAME:
        return f"is {len(name)} characters long; at most {MAX_NAME}"
    if "/" in name or "\\" in name:
        return "holds a path separator; give one folder name"
    if name.startswith("."):
        return "starts with '.'; give a plain folder name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or not name.isprintable():
        return "holds control characters"
    return None


def folder_name(name: str, what: str) -> str:
    """``name`` when it can name one folder, else a ``SharpregError`` naming ``what`` gave it."""
    problem = name_problem(name)
    if problem:
        raise SharpregError(f"{what} {problem}. Use a plain name such as 'lab-a' (letters, digits, '-', '_', '.')")
    return name


def child(parent: Path, name: str, what: str) -> Path:
    """``parent/name`` for a folder name given by a user; it may not lead out of ``parent`` through a
    symbolic link either."""
    folder_name(name, what)
    path = parent / name
    if path.is_symlink() and not path.resolve().is_relative_to(parent.resolve()):
        raise SharpregError(f"{what} {name!r}: {path} is a symbolic link out of {parent}; remove it or choose "
                            "another name")
    return path


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` when ``relative`` is a relative path without ``..`` parts, else None.

    Symbolic links under ``root`` are followed (data trees often link images from elsewhere); the
    name itself cannot reach outside."""
    pure = PurePath(relative)
    if not relative or pure.is_absolute() or pure.drive or ".." in pure.parts:
        return None
    return root / pure
