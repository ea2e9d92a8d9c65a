"""Plugin spec objects and the parameter base models every plugin's ``Params`` inherits.

A plugin's hook returns a list of specs. A spec is frozen data: a lower-case ``name``, a pydantic
``params`` model (``extra="forbid"``), a ``factory`` and a one-line ``summary`` with an optional
``citation``. The core never imports a plugin by name; it only sees these objects.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .kind_params import (CallbackContext, CallbackParams, CommandParams, LossContext, LossParams,  # noqa: F401
                          MetricParams, ScheduleParams, SchedulePlan)
from .params_base import FLOAT32_MAX, PluginParams, within_float32  # noqa: F401

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
FINGERPRINT_PATTERN = r"^sha256:[0-9a-f]{64}$"
#: largest seed a recipe may give (every random number generator sharpreg feeds takes it)
MAX_SEED = 2**32 - 1
# -- Sharpness rules --------------------------------------------------------------------------
class EngineParams(PluginParams):
    """Options of the multi-pass step engine that every rule's ``[sharpness]`` table accepts."""

    bn_stats: Literal["clean", "perturbed", "both"] = Field(
        "clean",
        description="Which pass updates BatchNorm running statistics: the clean pass only (default), "
        "the perturbed pass(es) only, or every pass.",
    )
    same_noise: bool = Field(
        True,
        description="Replay the RNG state so dropout / DropPath draw the same masks in every pass.",
    )
    perturbation: Literal["local", "global"] = Field(
        "local",
        description="Under DDP: 'local' perturbs each replica by its own gradient (m-sharpness), "
        "'global' by the all-reduced first-pass gradient.",
    )
    log_cos_g_gp: bool = Field(
        True,
        description="Log cos(g, g_p), the cosine between the clean and the perturbed gradient (diag_cos_g_gp). "
        "For a rule that releases g (SAM, ASAM, SAM-ON) it costs a bfloat16 copy of g and a dot product, "
        "about 2.5 weight copies per step on a CPU core; off: neither, and no cosine.",
    )


class RuleParams(EngineParams):
    """Base for rules with a perturbation radius (every rule except ``none``)."""

    rho: float = Field(0.05, ge=0.0, description="Perturbation radius rho.")
    rho_schedule: str | dict[str, Any] = Field(
        "constant",
        description="The radius schedule, a schedule plugin by name ('constant' keeps rho; 'lr' moves it "
        "between rho_min and rho with the learning rate, GSAM's rho_t), or a table {name = ..., its "
        "parameters} (`sharpreg list schedules`).",
    )
    rho_min: float = Field(
        0.0, ge=0.0, description="Smallest radius when rho_schedule = 'lr' (GSAM's rho_min)."
    )
    eps: float = Field(1e-12, gt=0.0, description="Added to norms before dividing (zero gradients).")
    perturb_weight_decay: bool = Field(
        False,
        description="Add the base optimizer's L2 weight decay (wd * w) to the gradient that defines "
        "the perturbation, as the original JAX SAM does. Off: the perturbation follows the loss "
        "gradient only, as the common PyTorch wrappers do.",
    )

    @field_validator("rho_schedule")
    @classmethod
    def _schedule_named(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        name = value.get("name") if isinstance(value, dict) else value
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError("must be a schedule's name, or a table with name = the schedule's name and its "
                             "parameters, e.g. { name = \"lr\" }")
        return value

    def rho_schedule_name(self) -> str:
        """The name of the schedule plugin ``rho_schedule`` selects."""
        value = self.rho_schedule
        return str(value["name"]) if isinstance(value, dict) else value

    def rho_schedule_config(self) -> dict[str, Any]:
        """The parameters ``rho_schedule`` gives its schedule (empty when it is a plain name)."""
        value = self.rho_schedule
        return {k: v for k, v in value.items() if k != "name"} if isinstance(value, dict) else {}


# -- Base optimizers --------------------------------------------------------------------------
class OptimizerParams(PluginParams):
    """Base for base-optimizer parameters."""

    lr: float = Field(1e-3, gt=0.0, description="Learning rate (the peak rate when a schedule is used).")
    weight_decay: float = Field(0.0, ge=0.0, description="Weight decay.")
    no_decay_norm_bias: bool = Field(
        False, description="Exclude biases and normalization parameters from weight decay."
    )


# -- Models -----------------------------------------------------------------------------------
class ModelParams(PluginParams):
    """Base for model parameters; ``in_chans`` and ``num_classes`` come from the data set."""

    def architecture(self) -> str | None:
        """The architecture these parameters build, where the plugin offers several (reports and sweep
        tables label runs by it); None: the plugin's name says it all."""
        return None


@dataclass(frozen=True)
class ModelInputs:
    """What the data set tells the model factory."""

    in_chans: int
    num_classes: int
    image_size: int


# -- Data sets --------------------------------------------------------------------------------
class AugmentParams(PluginParams):
    """Training-time augmentation (applied to the training split only)."""

    flip_horizontal: float = Field(0.5, ge=0.0, le=1.0, description="Probability of a left-right flip.")
    flip_vertical: float = Field(0.0, ge=0.0, le=1.0, description="Probability of an up-down flip.")
    rotate_degrees: float = Field(10.0, ge=0.0, le=180.0, description="Largest random rotation, in degrees.")
    zoom: float = Field(0.1, ge=0.0, lt=1.0, description="Largest random zoom in or out (0.1 = +-10 %).")
    intensity: float = Field(
        0.1, ge=0.0, le=1.0, description="Largest random intensity scale and shift (0.1 = +-10 %)."
    )
    probability: float = Field(
        0.5, ge=0.0, le=1.0, description="Probability of each of rotation, zoom and intensity jitter."
    )


class SplitParams(PluginParams):
    """How the images are divided into train / validation / test."""

    method: Literal["stratified", "kfold", "predefined", "all", "file"] = Field(
        "stratified",
        description="'stratified' hold-out, 'kfold' (test = fold `fold` of `folds`), 'predefined' "
        "(the data set's own split, where it has one), 'all' (every image is the test set: "
        "evaluating a trained model on another data set), or 'file' (the split listed in `file`, "
        "images matched by content, e.g. another lab's split.json).",
    )
    file: Path | None = Field(
        None, description="Split file for method = 'file' (a run's split.json, `sharpreg data split -o FILE` or "
        "the file `sharpreg export` writes); a relative path starts at the recipe's folder.",
    )
    unlisted: Literal["error", "leave_out", "train"] = Field(
        "error",
        description="method = 'file': local images the file does not list are an error, are left out, or go to "
        "training (an image grouped with a listed one, as a near-duplicate or by patient, follows that image).",
    )
    val: float = Field(0.15, ge=0.0, lt=1.0, description="Fraction of images for validation.")
    test: float = Field(0.15, ge=0.0, lt=1.0, description="Fraction for testing (stratified only).")
    folds: int = Field(5, ge=2, description="Number of folds (kfold only).")
    fold: int = Field(0, ge=0, description="Which fold is the test set (kfold only), 0-based.")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="Seed of the split; defaults to train.seed. Fix it to vary only the training."
    )
    group_duplicates: bool = Field(
        True,
        description="Keep exact and near-duplicate images (perceptual hash) in one split, so no group "
        "straddles train/val/test.",
    )
    twins: Literal["grouped", "held_out", "in_train"] = Field(
        "grouped",
        description="Leakage ablation. 'grouped': every duplicate group stays whole in one split. "
        "'held_out' and 'in_train' are the ablation's two arms and test on the same images: in each test "
        "group one image, drawn at random, stays in test and its twins (the group's other images) are "
        "left out ('held_out') or put in training in place of as many randomly drawn training images "
        "of the same class ('in_train'), so both arms train on the same number of images per class.",
    )

    @model_validator(mode="after")
    def _twins_need_groups(self) -> SplitParams:
        if self.twins != "grouped" and not (self.group_duplicates and self.method in ("stratified", "kfold")):
            raise ValueError(f"twins = '{self.twins}' needs group_duplicates = true and method = 'stratified' "
                             "or 'kfold'")
        if (self.method == "file") != (self.file is not None):
            raise ValueError("method = 'file' and file = \"SPLIT.json\" go together" if self.method == "file"
                             else f"file is read only with method = 'file' (method is '{self.method}')")
        return self


class DataParams(PluginParams):
    """Base for data-set parameters."""

    image_size: int = Field(224, ge=8, le=4096, description="Images are resized to this square size.")
    channels: Literal[1, 3] = Field(1, description="1 = greyscale (default), 3 = RGB.")
    cache: Literal["auto", "memory", "disk", "none"] = Field(
        "auto",
        description="Cache decoded, resized images so later epochs do not decode again: 'memory' (this run), "
        "'disk' (in memory, filled from and added to $SHARPREG_CACHE, shared by runs and processes), 'none'. "
        "'auto': 'disk' for images read from files, 'memory' for generated ones.",
    )
    normalize: Literal["none", "imagenet"] = Field(
        "none",
        description="'none': pixels as preprocessed, in [0, 1] before intensity augmentation (from-scratch training). 'imagenet': each channel standardized "
        "with ImageNet's mean and standard deviation, as ImageNet-pretrained weights expect (greyscale: the "
        "mean of the three channels' statistics). Applied after augmentation.",
    )
    split: SplitParams = Field(default_factory=SplitParams, description="The split.")
    augment: AugmentParams = Field(default_factory=AugmentParams, description="Training augmentation.")
    fingerprint: str | None = Field(
        None, json_schema_extra={"pattern": FINGERPRINT_PATTERN},
        description="The data this recipe was made with ('sha256:' and 64 hex digits, from `sharpreg data "
        "fingerprint`): check and run stop when the local copy differs, and say how.",
    )

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_form(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(FINGERPRINT_PATTERN, value):
            raise ValueError("must be 'sha256:' followed by 64 lower-case hex digits, as `sharpreg data fingerprint "
                             "RECIPE` prints it")
        return value


# -- Spec objects -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PluginSpec:
    """Common fields of every spec. Subclasses fix ``kind`` (a name in ``sharpreg.kinds.KINDS``) and
    document the factory signature."""

    kind: ClassVar[str]
    name: str
    params: type[PluginParams]
    factory: Callable[..., Any]
    summary: str
    citation: str = ""
    capabilities: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _check_name_and_summary(self.kind, self.name, self.summary)
        if not (isinstance(self.params, type) and issubclass(self.params, PluginParams)):
            raise TypeError(f"{self.kind} {self.name!r}: params must subclass sharpreg.PluginParams")
        if self.params.model_config.get("extra") != "forbid":
            raise TypeError(f"{self.kind} {self.name!r}: params must forbid extra keys")
        if not callable(self.factory):
            raise TypeError(f"{self.kind} {self.name!r}: factory must be callable")


def _check_name_and_summary(kind: str, name: str, summary: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"plugin name {name!r} must be lower-case letters, digits, '_' or '-', starting with a letter")
    if not isinstance(summary, str) or not summary or "\n" in summary:
        raise ValueError(f"{kind} {name!r}: summary must be one non-empty line")


@dataclass(frozen=True)
class RuleSpec(PluginSpec):
    """A sharpness rule. ``factory(params) -> SharpnessRule`` (see ``sharpreg.engine.rule``)."""

    kind: ClassVar[str] = "rule"


@dataclass(frozen=True)
class OptimizerSpec(PluginSpec):
    """A base optimizer. ``factory(param_groups, params) -> torch.optim.Optimizer``."""

    kind: ClassVar[str] = "optimizer"


@dataclass(frozen=True)
class ModelSpec(PluginSpec):
    """A network. ``factory(params, inputs: ModelInputs) -> torch.nn.Module`` returning logits."""

    kind: ClassVar[str] = "model"


@dataclass(frozen=True)
class DatasetSpec(PluginSpec):
    """A data set. ``factory(params, context: DataContext) -> DataModule`` (see ``sharpreg.data``)."""

    kind: ClassVar[str] = "dataset"



@dataclass(frozen=True)
class LossSpec(PluginSpec):
    """A training loss. ``factory(params, context: LossContext)`` returns a callable
    ``(logits, labels) -> mean loss`` (an ``nn.Module`` is moved to the training device)."""

    kind: ClassVar[str] = "loss"


@dataclass(frozen=True)
class MetricSpec(PluginSpec):
    """A metric of the one metric table. ``factory(params)`` returns ``score(cases) -> float``, where
    ``cases`` is a :class:`sharpreg.metrics.Cases` (``labels``, class ``probs``, the ``positive`` class)."""

    kind: ClassVar[str] = "metric"
    better: Literal["higher", "lower"] = "higher"
    task: Literal["any", "binary", "multiclass"] = "any"
    """the class counts it is defined for"""
    gap: bool = True
    """report its train − test generalization gap"""
    label: str = ""
    """readable name for plots and reports (default: the name)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.better not in ("higher", "lower") or self.task not in ("any", "binary", "multiclass"):
            raise ValueError(f"metric {self.name!r}: better must be 'higher' or 'lower', task 'any', 'binary' "
                             "or 'multiclass'")


@dataclass(frozen=True)
class CallbackSpec(PluginSpec):
    """Something told about a run as it trains (an experiment tracker, a notifier).
    ``factory(params, context: CallbackContext)`` returns an object with any of ``on_start(recipe)``,
    ``on_epoch_end(epoch, metrics)`` and ``on_end(run_path)``."""

    kind: ClassVar[str] = "callback"


@dataclass(frozen=True)
class ScheduleSpec(PluginSpec):
    """A radius schedule. ``factory(params, rule_config: RuleParams, plan: SchedulePlan)`` returns an
    object with ``rho(step, lr) -> float`` (see ``sharpreg.engine.schedule.RhoSchedule``)."""

    kind: ClassVar[str] = "schedule"


@dataclass(frozen=True)
class CommandSpec(PluginSpec):
    """A ``sharpreg NAME`` command. ``factory(parser: argparse.ArgumentParser)`` adds its arguments and
    returns the function that runs it: ``run(args: argparse.Namespace) -> int | None``."""

    kind: ClassVar[str] = "command"


@dataclass(frozen=True)
class RecipeSpec:
    """A recipe a package ships (a recipe pack): its name, its TOML file (``resource``: a path, or an
    ``importlib.resources`` file of an installed package) and a one-line summary. ``sharpreg run NAME``
    and ``extends = "DIST:NAME"`` find it."""

    kind: ClassVar[str] = "recipe"
    name: str
    resource: Any
    summary: str
    citation: str = ""

    def __post_init__(self) -> None:
        _check_name_and_summary(self.kind, self.name, self.summary)
        try:
            path = Path(os.fspath(self.resource))
        except TypeError:
            raise TypeError(f"recipe {self.name!r}: resource must be a file on disk (a path or importlib.resources "
                            f"file), not {type(self.resource).__name__}") from None
        if not path.is_file():
            raise ValueError(f"recipe {self.name!r}: its file {path.name} is missing from the package")
        object.__setattr__(self, "resource", path)

    @property
    def path(self) -> Path:
        return Path(self.resource)
