"""``sharpreg sweep GRID --plan``: each distinct run timed once (seeds cost the same), the sweep's wall
time from the same estimate as ``sharpreg run --plan``, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.study.costs import RunCost, sweep_seconds
from sharpreg.training.estimate import Estimate, Workload

GRID = """
[set]
"train.epochs" = 2
"data.per_class" = 12
"data.image_size" = 24
"data.native_size" = 32
"train.batch_size" = 4
"model.arch" = "resnet10t"
[grid]
"train.seed" = [0, 1]
"""


@pytest.mark.slow
def test_sweep_plan_times_each_distinct_run_once_and_writes_nothing(write_grid, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", str(write_grid(GRID)), "--plan", "--out", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("timing ") == 1  # seed 1 costs what seed 0 does
    table = " ".join(captured.out.split())  # rich wraps the title and cells to the console's width
    assert "2 of 2 runs to do" in table and "on 2 workers x 1 thread" in table
    rows = {line.split()[1]: line.split() for line in captured.out.splitlines() if "seed" in line}
    assert rows["seed0"][-2] == "yes" and rows["seed1"][-2] == "no", rows
    assert not out.exists()


def _cost(seconds: float) -> RunCost:
    work = Workload.of_run(1, 1, 0, 0, 0, 1)
    return RunCost(task=None, estimate=Estimate(seconds - 1, "x", work, "cpu"), setup_seconds=1.0,  # type: ignore[arg-type]
                   measured=True)


def test_sweep_wall_time_shares_runs_among_workers_and_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sharpreg.study.costs.usable_cores", lambda: 2)
    costs = [_cost(s) for s in (10.0, 10.0, 10.0, 30.0)]
    assert sweep_seconds(costs, workers=1, threads=1) == 60.0
    assert sweep_seconds(costs, workers=2, threads=1) == 30.0  # the longest run bounds it
    assert sweep_seconds(costs, workers=2, threads=2) == 60.0  # 4 threads on 2 cores: twice as slow
    assert sweep_seconds([_cost(5.0)], workers=4, threads=1) == 5.0
    assert sweep_seconds([], workers=2, threads=1) == 0.0
