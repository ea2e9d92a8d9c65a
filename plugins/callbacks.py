"""First-party callbacks: the experiment trackers TensorBoard and MLflow (each needs its extra)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from sharpreg import CallbackContext, CallbackParams, CallbackSpec, hookimpl
from sharpreg.errors import SharpregError
from sharpreg.runs import RunFolder


def _require(module: str, extra: str, name: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SharpregError(f"callback {name!r} needs the {module} package, which is not installed; install it "
                            f"with: pip install 'sharpreg[{extra}]' (or remove it from [[callbacks]])")


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
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch"}


class TensorBoardParams(CallbackParams):
    """Event files go to the run folder's ``tensorboard/``."""


class TensorBoard:
    def __init__(self, config: TensorBoardParams, context: CallbackContext) -> None:
        _require("tensorboard", "tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(context.run_path / "tensorboard"))

    def on_start(self, recipe: Mapping[str, Any]) -> None:
        self.writer.add_text("recipe", "\n".join(f"    {k} = {v}" for k, v in flatten(recipe).items()))

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        for k, v in numeric(metrics).items():
            self.writer.add_scalar(k.replace("_", "/", 1) if k.startswith(("train_", "val_", "test_")) else k, v, epoch)

    def on_end(self, run_path: Path) -> None:
        self.writer.close()


class MLflowParams(CallbackParams):
    """Logs to the tracking URI in ``MLFLOW_TRACKING_URI`` (MLflow's default otherwise)."""

    experiment: str = Field("", description="MLflow experiment name ('' = MLflow's active or default experiment).")


class MLflow:
    def __init__(self, config: MLflowParams, context: CallbackContext) -> None:
        _require("mlflow", "mlflow", "mlflow")
        import mlflow

        self.mlflow = mlflow
        if config.experiment:
            mlflow.set_experiment(config.experiment)
        self.active = mlflow.start_run(run_name=context.run_path.name,
                                       tags={"sharpreg.recipe": context.recipe_name, "sharpreg.run": str(context.run_path)})

    def on_start(self, recipe: Mapping[str, Any]) -> None:
        flat = flatten(recipe)
        keys = list(flat)
        for i in range(0, len(keys), 100):  # MLflow accepts at most 100 params per call
            self.mlflow.log_params({k: flat[k] for k in keys[i:i + 100]})

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        self.mlflow.log_metrics(numeric(metrics), step=epoch)

    def on_end(self, run_path: Path) -> None:
        for name in (RunFolder.SUMMARY, RunFolder.PLOTS):
            p = run_path / name
            if p.is_file():
                self.mlflow.log_artifact(str(p))
            elif p.is_dir():
                self.mlflow.log_artifacts(str(p), artifact_path=name)
        self.mlflow.end_run()


@hookimpl
def sharpreg_callbacks() -> list[CallbackSpec]:
    return [
        CallbackSpec("tensorboard", TensorBoardParams, TensorBoard,
                     "TensorBoard event files: the recipe as text, every metrics.csv column as a scalar per epoch."),
        CallbackSpec("mlflow", MLflowParams, MLflow,
                     "An MLflow run: the recipe as parameters, metrics per epoch, summary.json and plots as artifacts."),
    ]
