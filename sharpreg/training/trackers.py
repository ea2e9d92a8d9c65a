"""Optional experiment trackers (TensorBoard, MLflow), off by default; each needs its extra."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..errors import SharpregError
from ..runs import RunFolder


class Tracker(Protocol):
    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...
    def close(self, run_path: Path) -> None: ...


def _require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SharpregError(f"train.loggers includes {extra!r} but the {module} package is not installed; "
                            f"install it with: pip install 'sharpreg[{extra}]' (or remove {extra!r} from train.loggers)")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become strings."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out |= flatten(v, key + ".")
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return out


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"}


class TensorBoardTracker:
    def __init__(self, run_path: Path) -> None:
        _require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_path / "tensorboard"))

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.writer.add_text("recipe", "\n".join(f"    {k} = {v}" for k, v in flatten(params).items()))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for k, v in numeric(metrics).items():
            self.writer.add_scalar(k.replace("_", "/", 1) if k.startswith(("train_", "val_", "test_")) else k, v, step)

    def close(self, run_path: Path) -> None:
        self.writer.close()


class MLflowTracker:
    """Logs to the tracking URI in ``MLFLOW_TRACKING_URI`` (MLflow's default otherwise)."""

    def __init__(self, run_path: Path, name: str) -> None:
        _require("mlflow", "mlflow")
        import mlflow

        self.mlflow = mlflow
        self.active = mlflow.start_run(run_name=run_path.name, tags={"sharpreg.recipe": name, "sharpreg.run": str(run_path)})

    def log_params(self, params: Mapping[str, Any]) -> None:
        flat = flatten(params)
        keys = list(flat)
        for i in range(0, len(keys), 100):  # MLflow accepts at most 100 params per call
            self.mlflow.log_params({k: flat[k] for k in keys[i:i + 100]})

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self.mlflow.log_metrics(numeric(metrics), step=step)

    def close(self, run_path: Path) -> None:
        for name in (RunFolder.SUMMARY, RunFolder.PLOTS):
            p = run_path / name
            if p.is_file():
                self.mlflow.log_artifact(str(p))
            elif p.is_dir():
                self.mlflow.log_artifacts(str(p), artifact_path=name)
        self.mlflow.end_run()


class Trackers:
    """All trackers the recipe asked for, behind one interface (none = nothing happens)."""

    def __init__(self, names: list[str], run: RunFolder, recipe_name: str) -> None:
        self.run_path = run.path
        self.items: list[Tracker] = []
        for name in names:
            if name == "tensorboard":
                self.items.append(TensorBoardTracker(run.path))
            elif name == "mlflow":
                self.items.append(MLflowTracker(run.path, recipe_name))

    @staticmethod
    def check(names: list[str]) -> None:
        """Fail before training when a tracker's package is missing."""
        for name in names:
            _require(name, name)

    def log_params(self, params: Mapping[str, Any]) -> None:
        for t in self.items:
            t.log_params(params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        for t in self.items:
            t.log_metrics(metrics, step)

    def close(self) -> None:
        for t in self.items:
            t.close(self.run_path)
        self.items = []
