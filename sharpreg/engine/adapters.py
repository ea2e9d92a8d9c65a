"""The engine for people who keep their own training loop.

Context manager (all precisions)::

    engine = SharpnessStep(model, optimizer, rule)          # once
    for x, y in loader:
        with sharpreg.perturbed(engine) as step:            # one optimizer step
            for _ in step.passes():                          # 2 passes for SAM
                with step.autocast():
                    loss = loss_fn(model(x), y)
                step.backward(loss)
        print(step.output.loss, step.output.diagnostics)

Torch-style optimizer (fp32 / bf16; the closure zeroes, forwards and calls ``backward`` itself)::

    opt = SharpnessOptimizer(model, torch.optim.SGD(model.parameters(), lr=0.1), rule)
    loss = opt.step(closure)          # runs the closure first, as torch does, then once per pass
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ..errors import SharpregError
from .rule import SharpnessRule, StepContext
from .step import SharpnessStep, StepOutput


class PassLoop:
    """One step driven by the user's code (see :func:`perturbed`)."""

    def __init__(self, engine: SharpnessStep) -> None:
        self.engine = engine
        self.ctx: StepContext = engine.begin()
        self.output: StepOutput | None = None
        self._loss: torch.Tensor | None = None
        self._k = -1

    def passes(self) -> Iterator[int]:
        """Yields the pass index; the weights are perturbed before each later pass."""
        for k in range(self.ctx.n_passes):
            if not self.engine.before_pass(self.ctx, k):
                return
            self._k, self._loss = k, None
            yield k
            if self._loss is None:
                raise SharpregError("call step.backward(loss) once in every pass")
            self.engine.after_pass(self.ctx, k, self._loss)

    def autocast(self) -> Any:
        """Autocast for the engine's precision (wrap forward and loss in it)."""
        return self.engine.autocast()

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of this pass's (mean) loss; may be called several times to accumulate."""
        if self._k < 0:
            raise SharpregError("step.backward() is called inside `for _ in step.passes():`")
        self.engine.backward(loss)
        d = loss.detach().double().reshape(())
        self._loss = d if self._loss is None else self._loss + d


@contextlib.contextmanager
def perturbed(
    engine_or_model: SharpnessStep | nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    rule: SharpnessRule | None = None,
    **engine_kwargs: Any,
) -> Iterator[PassLoop]:
    """One sharpness step around the user's forward/backward code.

    Pass an existing :class:`SharpnessStep` (keeps step counters and rule state across steps), or
    ``model, optimizer, rule`` (an engine is created on first use and kept with the optimizer).
    On leaving the block the weights are restored, the gradients combined (and clipped), the base
    optimizer steps and the rule's post-step runs; ``step.output`` holds the result. If the block
    raises, the weights are restored and nothing steps.
    """
    engine = _engine_for(engine_or_model, optimizer, rule, engine_kwargs)
    loop = PassLoop(engine)
    try:
        yield loop
    except BaseException:
        engine.abort(loop.ctx)
        raise
    loop.output = engine.finish(loop.ctx)


_ENGINE_ATTR = "_sharpreg_engine"


def _engine_for(
    obj: SharpnessStep | nn.Module,
    optimizer: torch.optim.Optimizer | None,
    rule: SharpnessRule | None,
    kwargs: dict[str, Any],
) -> SharpnessStep:
    if isinstance(obj, SharpnessStep):
        if optimizer is not None or rule is not None or kwargs:
            raise SharpregError("perturbed(engine) takes no other arguments")
        return obj
    if optimizer is None or rule is None:
        raise SharpregError("perturbed(model, optimizer, rule): optimizer and rule are required")
    engine = getattr(optimizer, _ENGINE_ATTR, None)
    if not (isinstance(engine, SharpnessStep) and engine.model is obj and engine.rule is rule):
        engine = SharpnessStep(obj, optimizer, rule, **kwargs)
        setattr(optimizer, _ENGINE_ATTR, engine)
    return engine


class SharpnessOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` whose ``step(closure)`` runs a sharpness rule.

    It shares ``param_groups`` and ``state`` with the base optimizer, so LR schedulers work on it.
    The closure must zero the gradients, compute the loss and call ``backward`` (torch's
    convention); it runs first at w (as ``torch.optim`` does) and once more per perturbed pass.
    fp16 is refused: a closure that calls ``backward`` itself cannot be loss-scaled by the engine
    (use :func:`perturbed`).
    """

    def __init__(self, model: nn.Module, base_optimizer: torch.optim.Optimizer, rule: SharpnessRule, **engine_kwargs: Any) -> None:
        if engine_kwargs.get("precision") == "fp16":
            raise SharpregError("SharpnessOptimizer supports fp32 and bf16; use sharpreg.perturbed(...) for fp16")
        self.base_optimizer = base_optimizer
        self.engine = SharpnessStep(model, base_optimizer, rule, **engine_kwargs)
        super().__init__(base_optimizer.param_groups, dict(base_optimizer.defaults))
        self.param_groups = base_optimizer.param_groups
        self.state = base_optimizer.state
        self.last_output: StepOutput | None = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        if closure is None or not callable(closure):
            raise SharpregError("a sharpness optimizer needs step(closure): the closure recomputes loss and gradients")
        engine = self.engine
        ctx = engine.begin()
        first: Any = None
        try:
            for k in range(ctx.n_passes):
                if not engine.before_pass(ctx, k):
                    break
                with torch.enable_grad(), engine.autocast():
                    loss = closure()
                if k == 0:
                    first = loss
                value = loss.detach() if isinstance(loss, torch.Tensor) else torch.tensor(float(loss))
                engine.after_pass(ctx, k, value)
        except BaseException:
            engine.abort(ctx)
            raise
        self.last_output = engine.finish(ctx)
        return first

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return self.engine.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        self.engine.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state
