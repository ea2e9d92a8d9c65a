"""Plugin discovery and lookup.

Entry points of the group ``sharpreg`` are loaded one at a time. A plugin that fails to import (or
whose hook raises, or returns something that is not a spec) is recorded as *broken* with its error;
everything else keeps working. So is a plugin that registers nothing, or defines ``sharpreg_*``
functions that are not hooks (a misspelled hook name, a hook without ``@hookimpl``): such a plugin would
otherwise look active and do nothing. ``SHARPREG_STRICT_PLUGINS=1`` turns these failures into errors.
``SHARPREG_DISABLE_PLUGINS=a,b`` skips plugins by entry-point or distribution name (a name that matches
no plugin is reported). Two plugins providing the same name is a conflict that names both; ``dist:name``
picks one.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import logging
import os
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .kinds import KINDS, kind_of
from .specs import PluginSpec

GROUP = "sharpreg"
STRICT_ENV = "SHARPREG_STRICT_PLUGINS"
DISABLE_ENV = "SHARPREG_DISABLE_PLUGINS"
FIRST_PARTY = "sharpreg"
REFERENCE = re.compile(r"(?:(?P<dist>[A-Za-z0-9][A-Za-z0-9._-]*):)?(?P<name>[a-z][a-z0-9_\-]*)")
"""``NAME`` or ``DIST:NAME``: how a recipe names a plugin (DIST: a distribution or plugin name)"""


def _norm(dist: str | None) -> str:
    """A distribution or plugin name as compared: lower case, ``_`` and ``.`` read as ``-`` (one for one)."""
    return (dist or "").lower().replace("_", "-").replace(".", "-")


def split_reference(text: str) -> tuple[str, str] | None:
    """``DIST:NAME`` -> (DIST, NAME), ``NAME`` -> ("", NAME); None when ``text`` is neither."""
    m = REFERENCE.fullmatch(text)
    return (m["dist"] or "", m["name"]) if m else None


@dataclass
class PluginRecord:
    """One entry point (or directly registered object) and what became of it."""

    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    status: str = "active"  # "active" | "disabled" | "broken"
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"{self.dist} {self.version}" if self.dist else f"module {self.module}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.dist,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "provides": self.provides,
        }


@dataclass(frozen=True)
class Provided:
    """A spec together with the plugin that provided it (for provenance)."""

    spec: PluginSpec
    plugin: PluginRecord

    @property
    def ref(self) -> str:
        """``dist:name``, which names this spec whatever else is installed (the bare name without a distribution)."""
        return f"{_norm(self.plugin.dist)}:{self.spec.name}" if self.plugin.dist else self.spec.name

    def provenance(self) -> dict[str, Any]:
        return {
            "kind": self.spec.kind,
            "name": self.spec.name,
            "plugin": self.plugin.name,
            "distribution": self.plugin.dist,
            "version": self.plugin.version,
            "module": self.plugin.module,
        }


class Registry:
    """Every spec that the loaded plugins provide, by kind and name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self._by_name: dict[tuple[str, str], list[Provided]] = {}
        self.strict = False
        self.warnings: list[str] = []
        """problems that are not a plugin's (e.g. an unknown name in SHARPREG_DISABLE_PLUGINS)"""

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def discover(
        cls,
        *,
        entry_points: Iterable[md.EntryPoint] | None = None,
        strict: bool | None = None,
        disabled: Iterable[str] | None = None,
        first_party_only: bool = False,
    ) -> Registry:
        """Load the entry points of the ``sharpreg`` group (or the ones given)."""
        reg = cls()
        reg.strict = _env_flag(STRICT_ENV) if strict is None else strict
        off = {_norm(x) for x in (disabled if disabled is not None else _env_list(DISABLE_ENV))}
        eps = list(md.entry_points(group=GROUP) if entry_points is None else entry_points)
        named = {n for ep in eps for n in (ep.name, ep.dist.name if ep.dist else None) if n}
        unknown = sorted(off - {_norm(n) for n in named})
        if unknown:
            reg._warn(f"{DISABLE_ENV} names {', '.join(unknown)}, which no installed plugin is called; plugins are "
                      f"named by entry point or distribution: {', '.join(sorted(named)) or '(none)'}")
        for ep in sorted(eps, key=lambda e: (e.dist.name if e.dist else "", e.name)):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            rec = PluginRecord(name=ep.name, module=ep.value, dist=dist, version=version)
            if _norm(ep.name) in off or (dist and _norm(dist) in off) or (first_party_only and _norm(dist) != FIRST_PARTY):
                rec.status = "disabled"
                reg.records.append(rec)
                continue
            try:
                obj = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything on import
                if isinstance(exc, KeyboardInterrupt):
                    raise
                reg._broken(rec, exc)
                continue
            reg._add(obj, rec)
        return reg

    @classmethod
    def from_plugins(cls, *plugins: Any, strict: bool = True) -> Registry:
        """A registry of the given plugin objects (modules or classes), without entry points."""
        reg = cls()
        reg.strict = strict
        for obj in plugins:
            name = getattr(obj, "__name__", type(obj).__name__)
            reg._add(obj, PluginRecord(name=name.rsplit(".", 1)[-1], module=name))
        return reg

    def register(self, obj: Any, *, name: str, dist: str | None = None, version: str | None = None) -> PluginRecord:
        """Register one more plugin object (tests, notebooks)."""
        rec = PluginRecord(name=name, module=getattr(obj, "__name__", name), dist=dist, version=version)
        self._add(obj, rec)
        return rec

    def _warn(self, message: str) -> None:
        """A problem with the plugin set-up itself: an error in strict mode, else a warning kept and logged."""
        if self.strict:
            raise PluginError(message)
        self.warnings.append(message)
        logging.getLogger("sharpreg.plugins").warning("%s", message)

    def _broken(self, rec: PluginRecord, exc: BaseException) -> None:
        rec.status = "broken"
        rec.error = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
        self.records.append(rec)
        if self.strict:
            where = "" if isinstance(exc, PluginError) else "\n" + "".join(traceback.format_exception(exc)[-3:])
            raise PluginError(f"plugin {rec.name!r} ({rec.origin}) failed to load: {rec.error}{where}") from exc

    def _add(self, obj: Any, rec: PluginRecord) -> None:
        try:
            self.pm.register(obj, name=f"{rec.dist or ''}:{rec.name}")
            found: list[PluginSpec] = []
            for kind in KINDS:
                for impl in getattr(self.pm.hook, kind.hook_name).get_hookimpls():
                    if impl.plugin is not obj:
                        continue
                    for spec in impl.function() or []:
                        if not isinstance(spec, kind.spec):
                            raise TypeError(f"{kind.hook_name} returned {spec!r}, not a {kind.spec.__name__}")
                        found.append(spec)
            problem = hook_problems(obj, self.pm, found)
            if problem:
                raise PluginError(problem)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            self._broken(rec, exc)
            return
        self.records.append(rec)
        for spec in found:
            rec.provides.setdefault(spec.kind, []).append(spec.name)
            self._by_name.setdefault((spec.kind, spec.name), []).append(Provided(spec, rec))

    # -- lookup ---------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted({n for (k, n) in self._by_name if k == kind})

    def providers(self, kind: str, name: str) -> list[Provided]:
        return list(self._by_name.get((kind, name), []))

    def all(self, kind: str) -> list[Provided]:
        return [p for (k, _), ps in sorted(self._by_name.items()) if k == kind for p in ps]

    def conflicts(self) -> list[list[Provided]]:
        return [ps for ps in self._by_name.values() if len(ps) > 1]

    def broken(self) -> list[PluginRecord]:
        return [r for r in self.records if r.status == "broken"]

    def get(self, kind: str, name: str) -> Provided:
        """The one spec of ``kind`` called ``name`` (or ``dist:name``), else a clear ``PluginError``."""
        dist, bare = split_reference(name) or ("", "")
        found = self.providers(kind, bare)
        if dist:
            found = [p for p in found if _norm(dist) in (_norm(p.plugin.dist), _norm(p.plugin.name))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            who = " and ".join(f"{p.plugin.origin} (plugin {p.plugin.name!r})" for p in found)
            picks = ", ".join(f'"{p.ref if p.plugin.dist else p.plugin.name + ":" + bare}"' for p in found)
            raise PluginError(f"{kind} {bare!r} is provided by {who}; name one of {picks}")
        raise PluginError(self.unknown_message(kind, name))

    def unknown_message(self, kind: str, name: str) -> str:
        dist, bare = split_reference(name) or ("", name)
        installed = self.names(kind)
        msg = f"unknown {kind} {name!r}"
        if dist and self.providers(kind, bare):
            owners = ", ".join(p.plugin.dist or p.plugin.name for p in self.providers(kind, bare))
            return f"{msg}: {kind} {bare!r} is provided by {owners}, not by {dist!r}"
        if dist and not self._installed(dist):
            return f"{msg}: the distribution {dist!r} that provides it is not installed; install it with: pip install {dist}"
        near = difflib.get_close_matches(bare, installed, n=3, cutoff=0.5)
        msg += f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else "."
        msg += f" Installed {kind_of(kind).plural}: {', '.join(installed) or '(none)'}."
        broken = self.broken()
        if broken:
            names = ", ".join(f"{r.name} ({r.origin})" for r in broken)
            msg += f" Plugins that failed to load and may provide it: {names}; `sharpreg plugins` shows why."
        disabled = [r.name for r in self.records if r.status == "disabled"]
        if disabled:
            msg += f" Disabled plugins: {', '.join(disabled)}."
        return msg

    def _installed(self, dist: str) -> bool:
        """A plugin or distribution of that name is known (loaded or not) or installed."""
        if any(_norm(dist) in (_norm(r.dist), _norm(r.name)) for r in self.records):
            return True
        try:
            md.distribution(dist)
        except md.PackageNotFoundError:
            return False
        return True


def hook_problems(obj: Any, pm: pluggy.PluginManager, found: list[PluginSpec]) -> str | None:
    """Why a registered plugin object would silently do nothing (or less than it means to), if it would:
    ``sharpreg_*`` functions that are not hooks or lack ``@hookimpl``, or no spec at all."""
    known = [name for name in dir(hookspecs) if name.startswith("sharpreg_")]
    marked = {impl.function.__name__ for caller in pm.hook.__dict__.values()
              if isinstance(caller, pluggy.HookCaller) for impl in caller.get_hookimpls() if impl.plugin is obj}
    problems = []
    for name in sorted(n for n in dir(obj) if n.startswith("sharpreg_") and callable(getattr(obj, n, None))):
        if name not in known:
            tail = name.removeprefix("sharpreg_")
            near = [k for k in known if tail and tail in k] or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            problems.append(f"{name} is not a sharpreg hook" + (f"; did you mean {' or '.join(near)}?" if near else ""))
        elif name not in marked:
            problems.append(f"{name} lacks @hookimpl (from sharpreg import hookimpl), so it is not registered")
    if not problems and not found:
        problems.append("it registers nothing: no @hookimpl function returned a spec (hooks: " + ", ".join(known) + ")")
    return "; ".join(problems) if problems else None


def _env_flag(var: str) -> bool:
    return os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_list(var: str) -> list[str]:
    return [x.strip() for x in os.environ.get(var, "").split(",") if x.strip()]


_DEFAULT: Registry | None = None


def default_registry(*, first_party_only: bool = False) -> Registry:
    """The registry of installed plugins, discovered once per process."""
    global _DEFAULT
    if first_party_only:
        return Registry.discover(first_party_only=True)
    if _DEFAULT is None:
        _DEFAULT = Registry.discover()
    return _DEFAULT


def set_default_registry(reg: Registry | None) -> None:
    """Replace (or with ``None`` forget) the process-wide registry."""
    global _DEFAULT
    _DEFAULT = reg
