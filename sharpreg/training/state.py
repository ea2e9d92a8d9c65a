"""Where training stands, and its checkpoints: everything ``checkpoints/last.pt`` holds so that a resumed
run ends exactly where an uninterrupted one does (model, engine, epoch position, history, RNG states)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import RunError
from ..metrics.table import lower_is_better
from ..recipe import Recipe
from ..runs import RunFolder
from .parts import TrainingParts

log = logging.getLogger("sharpreg")


def recipe_digest(recipe: Recipe) -> str:
    """Hash of what the resolved recipe trains: a checkpoint only resumes the recipe it was written for. Plugins
    count by name, not by how the recipe spelt them (``resolved.toml`` pins them as ``dist:name``); ``requires``
    and ``[lock]`` do not count (they describe the installation, not the training)."""
    form = recipe.resolved()
    for key in ("requires", "lock"):
        form.pop(key, None)
    for sel in recipe.selected():
        form[sel.table]["name"] = sel.name
    return hashlib.sha256(json.dumps(form, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class EpochState:
    """What one epoch has accumulated so far (saved in a mid-epoch checkpoint)."""

    steps: int = 0
    seen: int = 0
    loss_sum: float = 0.0
    skipped: int = 0
    passes: int = 0
    seconds: float = 0.0
    probs: list[torch.Tensor] = field(default_factory=list)
    labels: list[torch.Tensor] = field(default_factory=list)
    diag: dict[str, list[float]] = field(default_factory=dict)

    def to_plain(self) -> dict[str, Any]:
        return {"steps": self.steps, "seen": self.seen, "loss_sum": self.loss_sum, "skipped": self.skipped,
                "passes": self.passes, "seconds": self.seconds, "probs": list(self.probs),
                "labels": list(self.labels), "diag": {k: list(v) for k, v in self.diag.items()}}

    @classmethod
    def from_plain(cls, d: dict[str, Any]) -> EpochState:
        return cls(steps=int(d["steps"]), seen=int(d["seen"]), loss_sum=float(d["loss_sum"]), skipped=int(d["skipped"]),
                   passes=int(d["passes"]), seconds=float(d["seconds"]), probs=[t.cpu() for t in d["probs"]],
                   labels=[t.cpu() for t in d["labels"]], diag={k: list(v) for k, v in d["diag"].items()})


@dataclass
class TrainingState:
    """Progress over epochs and sessions: position, best epoch so far, history, cost."""

    epoch: int = 0
    """epochs completed"""
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": None, "value": None})
    best_weights: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    """the ``metrics.csv`` rows"""
    partial: EpochState | None = None
    """the interrupted epoch a resumed session continues"""
    stopped_early: bool = False
    elapsed: float = 0.0
    """wall time of the earlier sessions"""
    total_passes: int = 0
    sessions: int = 1
    session_start: float | None = None

    def elapsed_now(self) -> float:
        """Wall time of all sessions so far (this one counted from the start of its first epoch)."""
        return self.elapsed + (time.perf_counter() - self.session_start if self.session_start is not None else 0.0)

    def improved(self, value: float | None, monitor: str) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.best["epoch"] is None
        if self.best["value"] is None:
            return True
        return value < self.best["value"] if lower_is_better(monitor) else value > self.best["value"]


# -- checkpoints -------------------------------------------------------------------------------------
def save_last(run: RunFolder, recipe: Recipe, parts: TrainingParts, state: TrainingState,
              partial: EpochState | None = None) -> None:
    """``checkpoints/last.pt``: everything needed to continue from here, at an epoch end or mid-epoch."""
    run.save_checkpoint("last", {
        "recipe_digest": recipe_digest(recipe),
        "classes": list(parts.dm.class_names),
        "position": {"epoch": state.epoch, "step": partial.steps if partial else 0,
                     "partial": partial.to_plain() if partial else None},
        "model": parts.model.state_dict(),
        "engine": parts.engine.state_dict(),
        "trainer": {"best": dict(state.best), "history": state.history, "stopped_early": state.stopped_early,
                    "elapsed": state.elapsed_now(), "total_passes": state.total_passes, "sessions": state.sessions},
        "rng": rng_state(),
    })


def save_best(run: RunFolder, recipe: Recipe, parts: TrainingParts, state: TrainingState, monitor: str) -> None:
    """``checkpoints/best.pt``: the weights of the best epoch so far."""
    state.best_weights = {k: v.detach().clone() for k, v in parts.model.state_dict().items()}
    run.save_checkpoint("best", {"epoch": state.best["epoch"], "monitor": monitor, "value": state.best["value"],
                                 "model": state.best_weights, "recipe_digest": recipe_digest(recipe),
                                 "classes": list(parts.dm.class_names)})


def restore(run: RunFolder, recipe: Recipe, parts: TrainingParts) -> TrainingState:
    """The state in ``last.pt`` (model, engine and RNGs restored in place), as a new session."""
    path = run.checkpoint_file("last")
    ck = run.load_checkpoint("last", map_location=parts.device)
    if ck.get("recipe_digest") != recipe_digest(recipe):
        raise RunError(f"checkpoint {path} was written for another recipe than {run.resolved_file}, so it cannot be "
                       f"resumed. {run.recovery('last')}")
    try:
        parts.model.load_state_dict(ck["model"])
        parts.engine.load_state_dict(ck["engine"])
        pos, tr = ck["position"], ck["trainer"]
        state = TrainingState(epoch=int(pos["epoch"]), best=dict(tr["best"]), history=list(tr["history"]),
                              partial=EpochState.from_plain(pos["partial"]) if pos.get("partial") else None,
                              stopped_early=bool(tr["stopped_early"]), elapsed=float(tr["elapsed"]),
                              total_passes=int(tr["total_passes"]), sessions=int(tr["sessions"]) + 1)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise RunError(f"checkpoint {path} does not fit this run ({type(exc).__name__}). {run.recovery('last')}") from None
    if state.best["epoch"] is not None:
        if not run.checkpoint_file("best").is_file():
            raise RunError(f"{run.checkpoint_file('best')} is missing, so the run cannot pick its best epoch. "
                           f"{run.recovery('last')}")
        bk = run.load_checkpoint("best", map_location=parts.device)
        if bk.get("epoch") != state.best["epoch"]:
            log.warning("%s is from epoch %s but %s names epoch %s as best; the replayed epochs will rewrite it",
                        run.checkpoint_file("best"), bk.get("epoch"), path.name, state.best["epoch"])
        state.best_weights = bk["model"]
    run.rewrite_metrics(state.history)
    _check_threads(run)
    set_rng_state(ck["rng"])
    return state


def _check_threads(run: RunFolder) -> None:
    """Bit-exact resumption on a CPU needs the thread count of the first session."""
    try:
        before = (run.read_environment() or {})["determinism"]["torch_num_threads"]
    except (RunError, KeyError, TypeError):
        return
    if before != torch.get_num_threads():
        log.warning("this session uses %d torch threads, the run started with %s: the result may differ from an "
                    "uninterrupted run in the last bits (set OMP_NUM_THREADS=%s for an exact replay)",
                    torch.get_num_threads(), before, before)


# -- random number generators ---------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Global RNG states of torch (CPU and CUDA), numpy and Python, as plain data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": _to_lists(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    random.setstate(_to_tuples(state["python"]))


def _to_lists(value: Any) -> Any:
    return [_to_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _to_tuples(value: Any) -> Any:
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value
