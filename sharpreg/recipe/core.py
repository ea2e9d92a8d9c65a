"""The recipe tables the core owns: ``[meta]``, ``[train]``, ``[eval]`` and an exported recipe's ``[lock]``."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..metrics.table import monitor_choices
from ..metrics.threshold import ThresholdRule
from ..paths import MAX_NAME
from ..specs import FINGERPRINT_PATTERN, MAX_SEED, within_float32


class CoreModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _fits_float32(cls, value: object) -> object:
        return within_float32(value)


class MetaConfig(CoreModel):
    """Who made the recipe and what it is for (copied into every run folder)."""

    name: str = Field("", max_length=MAX_NAME,
                      description="Short name; run folders are called <time>-<name>. Defaults to the file name.")
    description: str = Field("", description="What the recipe trains and why.")
    intended_use: str = Field("", description="Research question or intended use of the trained model.")
    data_source: str = Field("", description="Where the data comes from (citation, licence).")
    authors: list[str] = Field(default_factory=list, description="People responsible for the recipe.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    limitations: str = Field("", description="Known limits of the trained model, for its model card.")


class TrainConfig(CoreModel):
    """How the model is trained."""

    epochs: int = Field(10, ge=1, le=100_000, description="Number of epochs.")
    batch_size: int = Field(32, ge=1, le=65_536, description="Images per optimizer step (under BatchNorm a last "
                            "batch of one image joins the batch before it).")
    accumulate: int = Field(
        1, ge=1, le=1024, description="Split each batch into this many micro-batches (gradient accumulation); "
        "under BatchNorm into fewer where a micro-batch would hold a single image."
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of weights, shuffling and augmentation.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto (bf16 on a CUDA GPU that supports it, else fp32), fp32, bf16 autocast, or fp16 "
        "autocast with loss scaling (CUDA). A half precision this machine runs slowly is replaced by fp32, with a note."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train; auto picks CUDA, then MPS, then CPU.")
    num_workers: Annotated[int, Field(ge=0, le=256)] | Literal["auto"] = Field(
        "auto", description="Data-loader worker processes (kept alive across epochs; pinned memory on CUDA); auto: "
        "none on a CPU, else one per CPU core but one (at most 8). More than the usable cores are lowered to their "
        "number, with a note."
    )
    memory_format: Literal["auto", "contiguous", "channels_last"] = Field(
        "auto", description="Layout of a convolutional model's weights and inputs. 'auto': channels_last on CUDA "
        "(faster convolutions with tensor cores), the model's own layout elsewhere."
    )
    compile: bool = Field(
        False, description="Compile the model's forward with torch.compile (the multi-pass step stays eager). "
        "Faster GPU steps after a warm-up of a minute or so; results equal up to rounding."
    )
    backend: Literal["auto", "gloo", "nccl"] = Field(
        "auto", description="Process-group backend of a multi-process (torchrun) run: 'auto' picks NCCL on CUDA, "
        "gloo on CPU."
    )
    sync_batchnorm: bool = Field(
        False, description="Multi-process runs on CUDA: BatchNorm statistics over the whole global batch "
        "(SyncBatchNorm) instead of each process's part."
    )
    deterministic: bool = Field(True, description="Deterministic algorithms and seeded everything (slower on GPU).")
    clip_grad_norm: float | None = Field(None, gt=0.0, description="Clip the final gradient to this global L2 norm.")
    scheduler: Literal["constant", "cosine", "step", "multistep"] = Field(
        "constant", description="Learning-rate schedule, applied per step: constant, cosine, step (every "
        "step_epochs) or multistep (at the listed milestones); any of them after the warm-up."
    )
    warmup_epochs: float = Field(0.0, ge=0.0, description="Linear warm-up from 0 over this many epochs.")
    min_lr: float = Field(0.0, ge=0.0, description="Final learning rate of the cosine schedule.")
    step_epochs: int = Field(30, ge=1, description="Step schedule: multiply the rate by step_gamma every this many epochs.")
    step_gamma: float = Field(0.1, gt=0.0, le=1.0, description="Factor of the step and multistep schedules.")
    milestones: list[int] = Field(
        default_factory=list,
        description="Multistep schedule: epochs (counted from 0, after the warm-up, before train.epochs) at whose "
        "start the rate is multiplied by step_gamma, e.g. [50, 75] (MedMNIST v2).",
    )
    monitor: str = Field("auroc", description="Validation metric that selects the best epoch: a built-in metric "
                         "or a plugin metric listed in [[metrics]].", json_schema_extra={"enum": monitor_choices()})
    patience: int | None = Field(None, ge=1, description="Stop after this many epochs without improvement of `monitor`.")
    max_steps_per_epoch: int | None = Field(None, ge=1, description="Cap on steps per epoch (quick experiments).")
    on_nonfinite: Literal["stop", "skip"] = Field(
        "stop", description="A non-finite loss stops the run (keeping the last good checkpoint) or skips the step."
    )

    @field_validator("milestones")
    @classmethod
    def _milestones_fit_the_schedule(cls, value: list[int], info: ValidationInfo) -> list[int]:
        if "scheduler" not in info.data:
            return value  # the scheduler itself is invalid and reported
        scheduler, epochs, warmup = (info.data.get(k) for k in ("scheduler", "epochs", "warmup_epochs"))
        if scheduler != "multistep":
            if value:
                raise ValueError(f"milestones are used only by scheduler = 'multistep' (here {scheduler!r})")
            return value
        if not value:
            raise ValueError("scheduler = 'multistep' needs milestones, the epochs where the rate is multiplied "
                             "by step_gamma, e.g. [50, 75]")
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"milestones must be strictly increasing (got {value})")
        late = [m for m in value if epochs is not None and m >= epochs]
        if late:
            raise ValueError(f"milestone(s) {late} never take effect: they must come before the last epoch "
                             f"(train.epochs = {epochs})")
        early = [m for m in value if m < max(1.0, warmup or 0.0)]
        if early:
            raise ValueError(f"milestone(s) {early} must be at least 1 and not inside the warm-up "
                             f"(train.warmup_epochs = {warmup})")
        return value


class EvalConfig(CoreModel):
    """How the test set is scored."""

    positive_class: str | None = Field(
        "malignant", description="Class whose sensitivity/specificity is reported first (if present)."
    )
    bootstrap: int = Field(1000, ge=0, le=100_000, description="Bootstrap resamples for confidence intervals (0 = none).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the intervals.")
    bootstrap_seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the bootstrap resampling (intervals are reproducible).")
    calibration_bins: int = Field(15, ge=2, le=100, description="Bins of the expected calibration error.")
    threshold: ThresholdRule = Field(
        "youden", description="How the operating threshold on the positive class's probability is chosen on the "
        "validation split (binary tasks): 'youden' maximizes sensitivity + specificity - 1; 'sensitivity' takes "
        "the highest threshold whose validation sensitivity reaches target_sensitivity. Test sensitivity and "
        "specificity at it are reported beside the arg-max ones.")
    target_sensitivity: float = Field(
        0.9, gt=0.0, le=1.0, description="Validation sensitivity the 'sensitivity' threshold rule must reach.")
    score_test: bool = Field(
        True, description="Score the test split at the end. A sweep's tuning runs set false: their test images "
        "are never loaded, so a choice made from them cannot depend on the test set.")


BESIDE = r"^(?!\.\.?$)[^/\\]+$"
"""a plain file name: the file travels beside the recipe"""


def _beside(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(BESIDE, value):
        raise ValueError("must be a file name beside the recipe (no folders)")
    return value


class LockConfig(CoreModel):
    """What an exported recipe ran with (written by ``sharpreg export``). ``check`` and ``run`` compare it
    with the local installation and data and report each difference (errors with ``--strict``)."""

    run: str = Field("", description="The run this recipe was exported from.")
    exported: str = Field("", description="When it was exported (ISO 8601).")
    python: str = Field("", description="Python version of the run.")
    distributions: dict[str, str] = Field(
        default_factory=dict, description="Exact version of every distribution that provided a plugin of the run.")
    packages: dict[str, str] = Field(default_factory=dict, description="Exact versions of the libraries the run used.")
    data_fingerprint: str | None = Field(
        None, json_schema_extra={"pattern": FINGERPRINT_PATTERN}, description="Fingerprint of the data the run used.")
    split_file: str | None = Field(None, json_schema_extra={"pattern": BESIDE},
                                   description="The split file beside this recipe (the run's split.json).")
    split_sha256: str | None = Field(None, description="SHA-256 of the split file.")
    model_file: str | None = Field(None, json_schema_extra={"pattern": BESIDE},
                                   description="The trained weights beside this recipe (safetensors).")
    model_sha256: str | None = Field(None, description="SHA-256 of the model file.")

    @field_validator("split_file", "model_file")
    @classmethod
    def _file_beside(cls, value: str | None) -> str | None:
        return _beside(value)

    @field_validator("data_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(FINGERPRINT_PATTERN, value):
            raise ValueError("must be 'sha256:' followed by 64 lower-case hex digits")
        return value
