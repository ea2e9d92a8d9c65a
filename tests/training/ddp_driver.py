"""Run under torchrun by tests/training/test_distributed.py: ``sharpreg run`` of several recipes in one
process group (one launch instead of one per recipe), optionally SIGKILLing one rank at a chosen step.

Usage: ddp_driver.py [--kill RANK:EPOCH:STEP] RECIPE OUT [RECIPE OUT ...]
"""

from __future__ import annotations

import os
import signal
import sys

import torch
import torch.distributed as dist

torch.set_num_threads(1)
args = sys.argv[1:]
kill = None
if args[:1] == ["--kill"]:
    kill, args = tuple(int(v) for v in args[1].split(":")), args[2:]

from sharpreg.cli import main  # noqa: E402
from sharpreg.training import trainer as trainer_module  # noqa: E402

if kill is not None:
    init = trainer_module.Trainer.__init__

    def init_with_kill(self, *a, **kw):  # type: ignore[no-untyped-def]
        init(self, *a, **kw)

        def after_step(epoch: int, step: int) -> None:
            if (self.replicas.rank, epoch, step) == kill:
                os.kill(os.getpid(), signal.SIGKILL)

        self.after_step = after_step

    trainer_module.Trainer.__init__ = init_with_kill  # type: ignore[method-assign]

dist.init_process_group("gloo")  # joined once: each run reuses it
code = 0
for recipe, out in zip(args[::2], args[1::2]):
    code = code or main(["run", recipe, "--out", out, "--no-progress"])
dist.destroy_process_group()
sys.exit(code)
