"""Runs on several processes and nodes: torchrun command lines, Slurm resources and options, a sweep whose
runs each start two processes through submitit's local executor."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sharpreg.cli import main
from sharpreg.errors import SharpregError
from sharpreg.study import cluster
from sharpreg.study.cluster import SlurmConfig, parse_time, submitit_parameters, with_options
from sharpreg.study.grid import load_grid
from sharpreg.study.sweep import SweepOptions, run_sweep
from sharpreg.study.tasks import execute_task, run_command, torchrun_wrapped

from .test_sweep import GRID, calls, fake_command


def test_a_run_command_goes_through_torchrun_on_one_or_more_nodes(tmp_path):
    cmd = run_command("run", Path("r.toml"), ["train.seed=1"], tmp_path / "x")
    one = torchrun_wrapped(cmd, 4, {})
    assert one[1:3] == ["-m", "torch.distributed.run"]
    assert one[3:9] == ["--standalone", "--nnodes=1", "--nproc-per-node=4", "-m", "sharpreg", "run"]
    where = {"nnodes": 2, "node_rank": 1, "master_addr": "gpu07", "master_port": 29511}
    two = torchrun_wrapped(cmd, 8, where)
    assert two[3:8] == ["--nnodes=2", "--node-rank=1", "--master-addr=gpu07", "--master-port=29511",
                        "--nproc-per-node=8"]
    assert two[8:] == ["-m", "sharpreg", *cmd[3:]]
    script = torchrun_wrapped([sys.executable, "fake.py", "run", "x"], 2, {})
    assert script[-3:] == ["fake.py", "run", "x"] and "-m" not in script[5:]


def test_each_node_of_a_slurm_run_finds_its_rank_and_the_first_node(monkeypatch):
    class FakeEnv:  # what submitit's helper reads from Slurm's variables inside a job
        rank, master_addr, master_port = 1, "gpu07", 29511

    monkeypatch.setattr("submitit.helpers.TorchDistributedEnvironment", FakeEnv)
    assert cluster.node_placement(2) == {"nnodes": 2, "node_rank": 1, "master_addr": "gpu07", "master_port": 29511}
    assert cluster.node_placement(1) == {}


def test_a_later_node_runs_the_processes_but_leaves_bookkeeping_to_the_first(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster, "node_placement", lambda n: {"nnodes": n, "node_rank": 1, "master_addr": "h",
                                                              "master_port": 1})
    monkeypatch.setattr("sharpreg.study.tasks.node_placement", cluster.node_placement)
    seen: list[list[str]] = []

    def factory(action, recipe, overrides, run_dir):
        return [sys.executable, "-c", "raise SystemExit(0)"]

    import subprocess

    real = subprocess.Popen

    def popen(cmd, **kw):
        seen.append(cmd)
        return real([sys.executable, "-c", "raise SystemExit(0)"], **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    spec = {"id": "a", "overrides": [], "run_dir": str(tmp_path / "runs" / "a"), "log": str(tmp_path / "a.log"),
            "action": "run", "recipe": "r.toml", "threads": 1, "measure": ["--samples", "4"], "nproc": 2, "nnodes": 2}
    execute_task(spec, factory)
    assert len(seen) == 1 and "--node-rank=1" in seen[0]  # no sharpness measurement on a later node
    assert (tmp_path / "a.node1.log").is_file() and not (tmp_path / "a.log").exists()


def test_slurm_resources_from_the_grid_and_the_command_line():
    s = with_options(SlurmConfig(), partition="gpu", time="4:00:00", gpus_per_run=8, nodes=2,
                     options=["qos=high", "exclude=gpu03", "signal_delay_s=120"])
    assert (s.partition, s.timeout_min, s.nodes, s.gpus_per_node, s.processes) == ("gpu", 240, 2, 4, 4)
    params = submitit_parameters(s, "slurm", "sharpreg-x")
    assert params["nodes"] == 2 and params["tasks_per_node"] == 1 and params["gpus_per_node"] == 4
    assert params["slurm_partition"] == "gpu" and params["slurm_qos"] == "high"
    assert params["slurm_signal_delay_s"] == 120
    assert [parse_time(t) for t in ("90", "1:30", "4:00:00", "1-12", "2-00:00:01")] == [90, 2, 240, 2160, 2881]
    assert SlurmConfig(gpus_per_node=0).processes == 1 and SlurmConfig(gpus_per_node=0, processes_per_node=3).processes == 3


@pytest.mark.parametrize("bad, message", [
    (dict(options=["qso=high"]), "unknown Slurm option 'qso'; did you mean qos"),
    (dict(options=["partition=gpu"]), "set through \\[slurm\\] partition"),
    (dict(gpus_per_run=6, nodes=4), "multiple of the nodes"),
    (dict(time="soon"), "give minutes"),
    (dict(options=["qos"]), "write KEY=VALUE"),
])
def test_bad_cluster_options_are_one_clear_error(bad, message):
    with pytest.raises(SharpregError, match=message):
        submitit_parameters(with_options(SlurmConfig(), **bad), "slurm", "x")


def test_cli_refuses_an_unknown_slurm_option_in_one_line(write_grid, tmp_path, capsys):
    path = write_grid(GRID)
    code = main(["sweep", str(path), "--executor", "slurm", "--slurm-option", "qso=high", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown Slurm option 'qso'" in err and len(err.strip().splitlines()) <= 3  # wrapped line
    assert "Traceback" not in err and not (tmp_path / "s").exists()
    assert main(["sweep", str(path), "--nodes", "2", "--out", str(tmp_path / "s")]) == 2
    assert "needs --executor slurm" in capsys.readouterr().err


@pytest.mark.slow
def test_submitit_local_executor_starts_each_run_on_two_processes(write_grid, tmp_path):
    pytest.importorskip("submitit")
    grid = load_grid(write_grid('[set]\n"train.epochs" = 1\n[grid]\n"sharpness.name" = ["none", "sam"]\n'
                                '[slurm]\ngpus_per_node = 0\nprocesses_per_node = 2\n'))
    out = tmp_path / "sweep"
    m = run_sweep(grid, out, SweepOptions(executor="submitit-local", threads=1, progress=False),
                  command_factory=fake_command)
    assert all(r["status"] == "done" and r.get("job_id") for r in m.data["runs"].values())
    assert sorted(calls(out)) == sorted(f"run {r} threads=1 rank={k}/2" for r in ("none", "sam") for k in (0, 1))
