"""The multi-pass sharpness step (DESIGN section 5).

``SharpnessStep.step(micro_batches, loss_fn)`` runs ``rule.passes(step)`` forward/backward passes over
the micro-batches, asks the rule for the perturbation before each later pass and for the final gradient
after the last, restores the weights by copy, then clips, steps the base optimizer and calls the rule's
post-step. The same machinery is exposed in phases (``begin``/``before_pass``/``after_pass``/``finish``)
for :func:`sharpreg.perturbed` and the ``Optimizer.step(closure)`` adapter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import SharpregError
from ..specs import EngineParams, RuleParams
from . import ddp, ops
from .amp import PRECISIONS, LossScaler, autocast
from .bn import BufferSnapshot, running_stat_buffers
from .diagnostics import CleanGradientCopy, cosine, summarize
from .rng import RngReplay
from .roles import parameter_roles
from .rule import BaseRule, SharpnessRule, StepContext
from .schedule import RhoSchedule, default_schedule

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
STATE_FORMAT = 1


@dataclass
class StepOutput:
    """Result of one optimizer step."""

    loss: float
    """mean clean-pass loss over the micro-batches"""
    logits: torch.Tensor | None
    """clean-pass outputs, detached, concatenated over micro-batches"""
    skipped: bool = False
    passes: int = 1
    diagnostics: dict[str, float] = field(default_factory=dict)
    """per step, without an extra pass: ``sharpness`` L(w+e) − L(w) (first perturbed pass),
    ``grad_norm`` ‖g‖, ``perturbation_norm`` ‖e‖, ``cos_g_gp`` cos(g, g_p) (see ``engine.diagnostics``),
    ``rho``, plus the rule's own"""


class SharpnessStep:
    """Runs one step of ``rule`` around ``optimizer`` for ``model``.

    ``config``: the rule's validated parameters (an ``EngineParams``; default: the rule's own ``config``
    when it is a :class:`BaseRule`); a ``RuleParams`` also gives the radius, its schedule, ``eps`` and
    ``perturb_weight_decay``. ``precision``: ``"fp32"``, ``"bf16"`` (autocast) or ``"fp16"`` (autocast +
    dynamic loss scaling). ``clip_grad_norm``: clip the final gradient to this global norm.
    ``rho_schedule``: what the radius of each step is (``rho(step, lr)``; default: the rule's constant
    ``rho``; a schedule plugin is built by ``sharpreg.build.build_rho_schedule``). ``device_type``:
    ``"cpu"`` or ``"cuda"`` (default: the device of the first parameter). ``total_steps``: the run's
    planned number of steps, given to a rule that schedules by training progress (its optional
    ``set_total_steps``; e.g. RST's linear schedule).

    Before the first step the rule learns what each parameter is (its optional ``prepare(param_info)``;
    ``param_info`` also rides on every ``StepContext``): see ``sharpreg.engine.roles``.

    Vocabulary: ``params`` are the trainable tensors, ``config`` the rule's pydantic parameters.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        rule: SharpnessRule,
        config: EngineParams | None = None,
        *,
        precision: str = "fp32",
        clip_grad_norm: float | None = None,
        rho_schedule: RhoSchedule | None = None,
        device_type: str | None = None,
        total_steps: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise SharpregError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise SharpregError(f"clip_grad_norm must be positive, not {clip_grad_norm!r}")
        self.model = model
        self.optimizer = optimizer
        self.rule = rule
        if config is None and isinstance(rule, BaseRule) and isinstance(rule.config, EngineParams):
            config = rule.config
        self.config: EngineParams = config if config is not None else EngineParams()
        self.precision = precision
        self.clip_grad_norm = clip_grad_norm
        self.params = [p for g in optimizer.param_groups for p in g["params"] if p.requires_grad]
        if not self.params:
            raise SharpregError("the optimizer has no trainable parameters")
        self.device_type = device_type or self.params[0].device.type
        self.rho_schedule = rho_schedule if rho_schedule is not None else default_schedule(self.config)
        """``None`` for a rule without a radius (``none``): rho is 0"""
        self.radius_config = self.config if isinstance(self.config, RuleParams) else None
        self.param_info = parameter_roles(model, self.params)
        prepare = getattr(rule, "prepare", None)
        if callable(prepare):
            prepare(self.param_info)
        self.step_count = 0
        self.skipped_steps = 0
        self.peak_extra_bytes = 0
        self._param_bytes = ops.tensor_bytes(self.params)
        self._backup: list[torch.Tensor] | None = None
        self._bn = BufferSnapshot(running_stat_buffers(model)) if self.config.bn_stats != "both" else None
        self._rng = RngReplay(self.device_type)
        self.scaler = LossScaler(self.params[0].device) if precision == "fp16" else None
        set_total_steps = getattr(rule, "set_total_steps", None)
        if total_steps is not None and callable(set_total_steps):
            set_total_steps(int(total_steps))
        self._g_copy = CleanGradientCopy(wanted=not getattr(rule, "keeps_clean_grad", False),
                                         enabled=self.config.log_cos_g_gp)

    # -- the whole step ----------------------------------------------------------------------------
    def step(self, micro_batches: Sequence[tuple[torch.Tensor, torch.Tensor]], loss_fn: LossFn, *,
             weights: Sequence[float] | None = None) -> StepOutput:
        """One optimizer step over ``micro_batches`` (their sizes weight the mean loss).

        ``weights``: each micro-batch's share of the step's loss, summed over every replica under DDP (a
        micro-batch of n of the step's N images, over all replicas: n / N; padding: 0). The default
        gives equal replicas equal shares. The averaged gradient is then the gradient of the whole
        step's mean loss, as one process would compute it, even when replicas hold unequal parts."""
        if not micro_batches:
            raise SharpregError("a step needs at least one micro-batch")
        world = ddp.world_size(self.model)
        if weights is None:
            total = sum(len(y) for _, y in micro_batches)
            weights = [len(y) / total / world for _, y in micro_batches]
        elif len(weights) != len(micro_batches):
            raise SharpregError(f"{len(weights)} weights for {len(micro_batches)} micro-batches")
        ctx = self.begin()
        logits: list[torch.Tensor] = []
        try:
            for k in range(ctx.n_passes):
                if not self.before_pass(ctx, k):
                    break
                loss_sum = torch.zeros((), dtype=torch.float64, device=self.params[0].device)
                with ddp.no_sync(self.model):
                    for (x, y), w in zip(micro_batches, weights):
                        with self.autocast():
                            out = self.model(x)
                            loss = loss_fn(out, y)
                        # x world: the replicas' gradients are averaged, their shares add up
                        self.backward(loss * (w * world))
                        loss_sum = loss_sum + loss.detach().double() * (w * world)
                        if k == 0:
                            logits.append(out.detach())
                self.after_pass(ctx, k, loss_sum)
        except BaseException:
            self.abort(ctx)
            raise
        out = self.finish(ctx)
        out.logits = torch.cat(logits) if logits else None
        return out

    # -- phases ---------------------------------------------------------------------------------
    def autocast(self) -> Any:
        """The autocast context of this engine's precision (use it around forward + loss)."""
        return autocast(self.precision, self.device_type)

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of a loss (scaled under fp16)."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def current_rho(self) -> float:
        """rho for this step, as the schedule says (0 for a rule without a radius)."""
        if self.rho_schedule is None:
            return 0.0
        return float(self.rho_schedule.rho(self.step_count, float(self.optimizer.param_groups[0]["lr"])))

    def begin(self) -> StepContext:
        """Start a step: a fresh context."""
        lrs: list[float] = []
        wds: list[float] = []
        for g in self.optimizer.param_groups:
            for p in g["params"]:
                if p.requires_grad:
                    lrs.append(float(g["lr"]))
                    wds.append(float(g.get("weight_decay", 0.0)))
        cfg = self.radius_config
        ctx = StepContext(
            params=self.params,
            param_info=self.param_info,
            backup=[],
            grads=[],
            rho=self.current_rho(),
            lr=lrs,
            step=self.step_count,
            optimizer=self.optimizer,
            eps=cfg.eps if cfg is not None else 1e-12,
            weight_decay=wds,
            perturb_weight_decay=cfg.perturb_weight_decay if cfg is not None else False,
        )
        n = int(self.rule.passes(self.step_count))
        if n < 1:
            raise SharpregError(f"rule {type(self.rule).__name__}.passes() returned {n}; it must be >= 1")
        ctx.n_passes = n
        if self.scaler is not None:
            self.scaler.begin_step()
        return ctx

    def before_pass(self, ctx: StepContext, k: int) -> bool:
        """Prepare pass ``k``. Returns False when the step is already lost (fp16 overflow)."""
        cfg = self.config
        if k == 0:
            for p in self.params:
                p.grad = None
            if cfg.same_noise and ctx.n_passes > 1:
                self._rng.begin()
            if self._bn is not None and cfg.bn_stats == "perturbed":
                self._bn.save()
            return True
        if self._overflowed():
            return False
        with torch.no_grad():
            if k == 1:
                if self._bn is not None:
                    if cfg.bn_stats == "clean":
                        self._bn.save()
                    else:
                        self._bn.restore()
                if self._backup is None:
                    self._backup = [torch.empty_like(p) for p in self.params]
                torch._foreach_copy_(self._backup, self.params)
                ctx.backup = self._backup
                ctx.at_backup = True
                if ddp.is_distributed(self.model) and cfg.perturbation == "global":
                    ddp.average_(ctx.grads[0])  # type: ignore[arg-type]
                    ctx.reduced_first = True
            if k == 1 and ctx.grads[0] is not None:
                self._g_copy.before_ascent(ctx)  # takes ‖g‖ in its sweep when it copies g
                ctx.clean_grad_norm()  # ‖g‖ for the diagnostics, before the rule may scale or release g
            self.rule.ascent(ctx, k)
            if k == 1:
                self._g_copy.after_ascent(ctx)
            # the next backward writes fresh gradients (autograd takes them over, nothing to add into);
            # gradients the rule released are freed here, so they cost no memory in the next pass
            for p in self.params:
                p.grad = None
        kept = sum(1 for g in ctx.grads if g is not None)
        self.peak_extra_bytes = max(self.peak_extra_bytes, self._param_bytes * (1 + kept) + self._g_copy.nbytes())
        if cfg.same_noise:
            self._rng.rewind()
        return True

    def after_pass(self, ctx: StepContext, k: int, loss: torch.Tensor) -> None:
        """Collect pass ``k``'s gradient (unscaled) and mean loss."""
        grads = []
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        if self.scaler is not None:
            self.scaler.unscale_(grads)
        ctx.grads.append(grads)
        ctx.losses.append(loss.detach().double().reshape(()))
        if k == 1 and self.config.log_cos_g_gp:
            with torch.no_grad():
                cosine(ctx, self._g_copy)

    def abort(self, ctx: StepContext) -> None:
        """Undo a step that raised half-way: weights as before it, BN statistics and RNG as after
        its clean pass; nothing steps."""
        with torch.no_grad():
            if ctx.backup:
                torch._foreach_copy_(self.params, ctx.backup)
                if self._bn is not None and self.config.bn_stats == "clean":
                    self._bn.restore()
        for p in self.params:
            p.grad = None
        self._rng.finish()

    def finish(self, ctx: StepContext) -> StepOutput:
        """After the passes: restore, combine, clip, step, post-step; counters and diagnostics."""
        cfg = self.config
        n = len(ctx.grads)
        with torch.no_grad():
            if ctx.backup:
                torch._foreach_copy_(self.params, ctx.backup)
            if self._bn is not None and n > 1 and cfg.bn_stats == "clean":
                self._bn.restore()
            if cfg.same_noise and n > 1:
                self._rng.finish()
            finite = self._finite(ctx)
            if finite and n < ctx.n_passes:
                finite = False
            if not finite:
                for p in self.params:
                    p.grad = None
                if self.scaler is not None:
                    self.scaler.update()
                self.skipped_steps += 1
                self.step_count += 1
                return StepOutput(loss=self._loss(ctx), logits=None, skipped=True, passes=n,
                                  diagnostics={"rho": ctx.rho})
            if ddp.is_distributed(self.model):
                ctx.g_dot_gp = ctx.gp_sq = None  # local values: stale after the average
                for j, g in enumerate(ctx.grads):
                    if g is not None and not (j == 0 and ctx.reduced_first):
                        ddp.average_(g)
            final = self.rule.combine(ctx)
            for p, g in zip(self.params, final):
                p.grad = g
            if self.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad_norm, foreach=True)
        self.optimizer.step()
        with torch.no_grad():
            self.rule.post_step(ctx)
        if self.scaler is not None:
            self.scaler.update()
        self.step_count += 1
        return StepOutput(loss=self._loss(ctx), logits=None, passes=n, diagnostics=summarize(ctx))

    # -- helpers --------------------------------------------------------------------------------
    def _overflowed(self) -> bool:
        """fp16: did any pass (on any replica) produce non-finite gradients?"""
        if self.scaler is None:
            return False
        if ddp.is_distributed(self.model):
            ddp.all_max_(self.scaler.found_inf)
        return self.scaler.overflowed()

    def _finite(self, ctx: StepContext) -> bool:
        """All passes finite, on every replica (so all replicas skip or step together). Under DDP the
        pass losses become their mean over the replicas (the whole step's loss) on the way."""
        if not ctx.losses or self._overflowed():
            return False
        losses = torch.stack(ctx.losses)
        bad = (~torch.isfinite(losses)).any().double().reshape(1)
        if ddp.is_distributed(self.model):
            both = torch.cat([bad, torch.nan_to_num(losses)])
            ddp.average_([both])
            finite = not bool(both[0])
            ctx.losses = list((both[1:] if finite else torch.full_like(losses, math.nan)).unbind())
            return finite
        return not bool(bad)

    @staticmethod
    def _loss(ctx: StepContext) -> float:
        return float(ctx.losses[0]) if ctx.losses else math.nan

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Base optimizer, rule state, loss scaler and counters (plain data)."""
        return {
            "format": STATE_FORMAT,
            "optimizer": self.optimizer.state_dict(),
            "rule": self.rule.state_dict(),
            "step_count": self.step_count,
            "skipped_steps": self.skipped_steps,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = {"optimizer", "rule", "step_count", "skipped_steps"} - set(state)
        if missing:
            raise SharpregError(f"engine state lacks {', '.join(sorted(missing))}: not a sharpreg checkpoint")
        self.optimizer.load_state_dict(state["optimizer"])
        self.rule.load_state_dict(state["rule"])
        self.step_count = int(state["step_count"])
        self.skipped_steps = int(state["skipped_steps"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
