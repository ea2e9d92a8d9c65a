"""Map dotted TOML keys to the line that sets them (``tomllib`` keeps no positions).

The scan understands table headers (``[[array]]`` entries as ``array.0``, ``array.1``, ...), dotted
and quoted keys, comments and values that span lines (arrays, inline tables, multi-line strings). Keys inside inline tables resolve to the line of the
table's key, which is where a reader looks anyway.
"""

from __future__ import annotations

import re

Path_ = tuple[str, ...]

_BARE = re.compile(r"[A-Za-z0-9_\-]+")


def _split_key(text: str) -> Path_:
    """``a."b.c".d`` -> ("a", "b.c", "d")."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t.":
            i += 1
        elif c in "\"'":
            j = text.index(c, i + 1) if c in text[i + 1 :] else n
            parts.append(text[i + 1 : j])
            i = j + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                break
            parts.append(m.group(0))
            i = m.end()
    return tuple(parts)


def _strip_strings_and_comment(line: str) -> str:
    """The line with string contents blanked and any comment removed (for bracket counting)."""
    out, quote, i = [], "", 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
            i += 1
            continue
        if c in "\"'":
            quote = c
        elif c == "#":
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def index_lines(text: str) -> dict[Path_, int]:
    """Dotted key path -> 1-based line number for every table header and key assignment."""
    index: dict[Path_, int] = {}
    arrays: dict[Path_, int] = {}
    table: Path_ = ()
    depth = 0
    multiline: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if multiline:
            if raw.count(multiline) % 2 == 1:
                multiline = None
            continue
        if depth > 0:
            bare = _strip_strings_and_comment(raw)
            depth += bare.count("[") + bare.count("{") - bare.count("]") - bare.count("}")
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            inner = line[2:] if line.startswith("[[") else line[1:]
            end = inner.find("]")
            table = _split_key(inner[:end])
            index.setdefault(table, lineno)
            if line.startswith("[["):  # an array of tables: entry i is the path table + (str(i),)
                count = arrays[table] = arrays.get(table, -1) + 1
                table = table + (str(count),)
                index[table] = lineno
            continue
        bare = _strip_strings_and_comment(raw)
        if "=" not in bare:
            continue
        key_text = raw[: _key_end(raw)]
        key = table + _split_key(key_text)
        index[key] = lineno
        value = raw[_key_end(raw) + 1 :].strip()
        for q in ('"""', "'''"):
            if value.startswith(q) and value.count(q) == 1:
                multiline = q
        vbare = _strip_strings_and_comment(raw[_key_end(raw) + 1 :])
        depth = vbare.count("[") + vbare.count("{") - vbare.count("]") - vbare.count("}")
    return index


def _key_end(raw: str) -> int:
    """Index of the '=' that ends the key (outside quotes)."""
    quote = ""
    for i, c in enumerate(raw):
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "=":
            return i
    return len(raw)


def find_line(index: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path`` or of its closest ancestor that has one."""
    for n in range(len(path), 0, -1):
        if path[:n] in index:
            return index[path[:n]]
    return None
