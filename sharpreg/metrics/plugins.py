"""Plugin metrics as entries of the one metric table.

A recipe reports a plugin metric by listing it in ``[[metrics]]``; its :class:`~sharpreg.specs.MetricSpec`
gives the entry's name, direction, task and label, and its factory the scoring function. Names read
back from run folders (``compare``, the sweep report) find their direction among the installed plugin
metrics too.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import PluginError
from ..specs import MetricParams, MetricSpec
from .table import Metric

_INSTALLED: dict[int, dict[str, Metric]] = {}


def entry(spec: MetricSpec, config: MetricParams | None = None) -> Metric:
    """The table entry of a plugin metric with ``config`` (default: the spec's default parameters)."""
    score = spec.factory(config if config is not None else spec.params())
    if not callable(score):
        raise PluginError(f"metric {spec.name!r}: its factory returned {type(score).__name__}, not a function "
                          "score(cases) -> float")
    label = spec.label or spec.name.replace("_", " ")
    return Metric(spec.name, label, spec.label or spec.name, spec.better, spec.gap, score, None, spec.task)


def entries(selected: Iterable[tuple[MetricSpec, MetricParams]]) -> tuple[Metric, ...]:
    """The entries of the metrics a recipe lists."""
    return tuple(entry(spec, config) for spec, config in selected)


def installed(name: str) -> Metric | None:
    """The entry of an installed plugin metric called ``name`` (default parameters), if any."""
    from ..registry import default_registry

    reg = default_registry()
    known = _INSTALLED.get(id(reg))
    if known is None:
        known = {}
        for provided in reg.all("metric"):
            spec = provided.spec
            if isinstance(spec, MetricSpec) and spec.name not in known:
                try:
                    known[spec.name] = entry(spec)
                except Exception:  # noqa: BLE001 - a metric whose defaults do not build is only unknown here
                    continue
        _INSTALLED.clear()
        _INSTALLED[id(reg)] = known
    return known.get(name)
