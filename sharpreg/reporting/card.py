"""``MODEL_CARD.md``: what a trained model is for, what it saw, how well it did, and its limits.

Written from the run folder alone (resolved recipe, environment, split, summary, evaluations), so it can be
redrawn at any time and after every ``sharpreg evaluate``. It states only what the run recorded.
"""

from __future__ import annotations

import tomllib
from typing import Any

from ..metrics import table
from ..runs import RunFolder, Summary
from .tables import fmt, metric_rows


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)]


def _metrics(values: dict[str, Any], intervals: dict[str, Any], positive: str | None, classes: list[str]) -> list[str]:
    rows = metric_rows(values, intervals, positive=positive, classes=classes)
    return _table(["metric", "value", "interval"], [[m, v, i or "-"] for m, v, i, _ in rows])


def _data(summary: Summary, split: dict[str, Any], meta: dict[str, Any], data: dict[str, Any]) -> list[str]:
    counts = split.get("counts", {})
    lines = ["## Data", "",
             f"- source: {meta.get('data_source') or 'not stated (set [meta] data_source in the recipe)'}",
             f"- data set: `{data.get('name', summary.dataset)}`, classes {', '.join(summary.classes)}",
             f"- fingerprint: `{split.get('fingerprint') or summary.data_fingerprint or 'not recorded'}` (the images "
             "used and their classes; `sharpreg data fingerprint` gives the same for a copy that holds them)",
             f"- split: {split.get('method', '?')} (seed {split.get('seed', '?')}); every image by content hash in "
             f"`{RunFolder.SPLIT}`", ""]
    if counts:
        lines += _table(["split", *summary.classes, "total"],
                        [[s, *(counts[s].get(c, 0) for c in summary.classes), sum(counts[s].values())] for s in counts])
    dropped = split.get("dropped") or []
    if dropped:
        lines += ["", f"{len(dropped)} images were left out (duplicates filed under two classes, or set aside by the "
                      f"split); `{RunFolder.SPLIT}` lists them with the reason."]
    return lines + [""]


def _evaluations(run: RunFolder) -> list[str]:
    rows = []
    for ev in run.evaluations():
        rec = ev.read_record()
        values = rec.get("metrics") or {}
        shown = [k for k in ("auroc", "balanced_accuracy", "accuracy") if k in values]
        rows.append([ev.path.name, rec.get("dataset", "?"), rec.get("n", "?"),
                     ", ".join(f"{table.short(k)} {fmt(values[k])}" for k in shown) or "-"])
    if not rows:
        return ["## External evaluations", "", "None yet (`sharpreg evaluate RUN --data OTHER.toml` adds them).", ""]
    return ["## External evaluations", "", *_table(["evaluation", "data set", "n", "metrics"], rows), ""]


def _plugins(env: dict[str, Any]) -> list[str]:
    rows = [[p.get("table", p.get("kind")), p.get("name"), p.get("distribution") or "-", p.get("version") or "-"]
            for p in env.get("plugins", [])]
    packages = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)
    return ["## Plugins and versions", "", *_table(["table", "plugin", "distribution", "version"], rows), "",
            f"Python {env.get('python', '?')}; {packages}; device {env.get('device', '?')}.", ""]


def _limitations(summary: Summary, meta: dict[str, Any]) -> list[str]:
    lines = ["## Limitations", ""]
    if meta.get("limitations"):
        lines += [str(meta["limitations"]), ""]
    lines += [f"- One run (seed {summary.seed}) on one split: the intervals above cover the test cases drawn, not "
              "other seeds or splits.",
              f"- The test set has {summary.test_n} images; small test sets give wide intervals.",
              "- Tested only on data with the fingerprint above and the external evaluations listed; other "
              "scanners, sites and populations are untested.",
              "- A research model: not validated for clinical use.", ""]
    return lines


def model_card(run: RunFolder) -> str:
    """The model card of a finished run, as Markdown."""
    summary = run.read_summary()
    assert summary is not None
    env = run.read_environment() or {}
    resolved = tomllib.loads(run.resolved_file.read_text(encoding="utf-8"))
    meta, split = resolved.get("meta", {}), run.read_split() or {}
    conf = int(round(100 * summary.ci.confidence))
    lines = [f"# Model card: {summary.recipe}", ""]
    if meta.get("description"):
        lines += [str(meta["description"]), ""]
    lines += ["## Intended use", "", meta.get("intended_use") or "Not stated (set [meta] intended_use in the recipe).", ""]
    lines += _data(summary, split, meta, resolved.get("data", {}))
    lines += ["## Training", "",
              f"- model `{resolved.get('model', {}).get('name', summary.model)}`"
              + (f" ({summary.arch})" if summary.arch else "")
              + f", optimizer `{summary.optimizer}`, sharpness rule `{summary.rule}`",
              f"- {summary.epochs_run} of {summary.epochs_planned} epochs, best epoch {summary.best_epoch} by validation "
              f"{summary.monitor}; seed {summary.seed}; {summary.device}", ""]
    lines += [f"## Test metrics (n = {summary.test_n}; {conf} % {summary.ci.method}, {summary.ci.resamples} resamples)", ""]
    lines += _metrics(summary.test, summary.test_ci, summary.positive_class, summary.classes) if summary.test else ["No test set."]
    lines += [""]
    lines += _evaluations(run) + _plugins(env) + _limitations(summary, meta)
    return "\n".join(lines)
