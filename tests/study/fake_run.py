"""A stand-in for ``sharpreg run`` / ``sharpreg resume`` in sweep tests: writes a summary in milliseconds.

Usage: fake_run.py ACTION RUN_DIR [OVERRIDE ...]; under torchrun each process notes its rank. The test
metrics follow from the overrides: auroc = 0.7 + 0.05 (sam) + 0.01 * seed. A run whose id is listed in
SWEEP/FAIL exits 1. A tuning run (``eval.score_test=false``) writes no test metrics; its validation AUROC
(``best_val``) is highest for ``sharpness.rho = 0.1`` and ``optimizer.lr = 0.002``, and its would-be test
AUROC (never written) favours others."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

action, run_dir, overrides = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
values = dict(o.split("=", 1) for o in overrides if "=" in o)
fail = run_dir.parent.parent / "FAIL"
run_dir.mkdir(parents=True, exist_ok=True)
rank = os.environ.get("RANK")  # started by torchrun: say which process; rank 0 alone writes the run
with (run_dir.parent.parent / "calls.txt").open("a") as fh:
    fh.write(f"{action} {run_dir.name} threads={os.environ.get('OMP_NUM_THREADS')}"
             + (f" rank={rank}/{os.environ['WORLD_SIZE']}" if rank else "") + "\n")
if rank not in (None, "0"):
    sys.exit(0)
if action == "measure":  # sharpreg sharpness RUN --samples ...: the options are the extra arguments
    lam = 10.0 - 5.0 * ("sam" in run_dir.name)
    (run_dir / "sharpness.json").write_text(json.dumps({"lambda_max": lam, "trace": 3 * lam, "args": overrides}))
    sys.exit(0)
(run_dir / "resolved.toml").write_text("# fake\n")
if fail.is_file() and run_dir.name in fail.read_text().split():
    sys.exit(1)
method = values.get("sharpness.name", '"none"').strip('"')
seed = int(values.get("train.seed", "0"))
if values.get("eval.score_test") == "false":
    best = 0.6 + 0.1 * (values.get("sharpness.rho") == "0.1" or values.get("optimizer.lr") == "0.002") + 0.001 * seed
    (run_dir / "summary.json").write_text(json.dumps({"test": {}, "best_val": best, "monitor": "auroc", "rule": method,
                                                      "seed": seed, "epochs_run": 1}))
    sys.exit(0)
auroc = 0.7 + (0.05 if method == "sam" else 0.0) + 0.01 * seed
summary = {"test": {"auroc": auroc, "accuracy": 0.6 + 0.01 * seed, "loss": 0.5}, "rule": method, "arch": "fakenet",
           "seed": seed, "seconds": 1.5, "passes_per_step": 2.0 if method == "sam" else 1.0, "epochs_run": 1,
           "action": action}
(run_dir / "summary.json").write_text(json.dumps(summary))
