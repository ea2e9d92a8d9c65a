"""Starting processes through torchrun: the launcher's arguments, each process's threads, and the exit code
and message a failed launch reports."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sharpreg.errors import SharpregError
from sharpreg.launch import exit_code, thread_env, torchrun_args


def test_torchrun_arguments_for_one_node_and_for_several():
    assert torchrun_args(2, ["-m", "sharpreg", "run", "r.toml"]) == [
        "--standalone", "--nnodes=1", "--nproc-per-node=2", "-m", "sharpreg", "run", "r.toml"]
    several = torchrun_args(4, ["x.py"], nnodes=3, node_rank=2, master_addr="n1", master_port=2950)
    assert several == ["--nnodes=3", "--node-rank=2", "--master-addr=n1", "--master-port=2950", "--nproc-per-node=4",
                       "x.py"]
    with pytest.raises(SharpregError, match="address and port"):
        torchrun_args(4, ["x.py"], nnodes=2)
    with pytest.raises(SharpregError, match="node rank 2 is outside 0..1"):
        torchrun_args(4, ["x.py"], nnodes=2, node_rank=2, master_addr="n1", master_port=1)
    with pytest.raises(SharpregError, match="at least 1"):
        torchrun_args(0, ["x.py"])


def test_each_process_gets_a_share_of_the_cores_unless_told(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert thread_env(4, {})["OMP_NUM_THREADS"] == "4" and thread_env(32, {})["MKL_NUM_THREADS"] == "1"
    assert thread_env(4, {"OMP_NUM_THREADS": "2"})["OMP_NUM_THREADS"] == "2"


def test_a_failed_launch_reports_the_lowest_rank_and_says_what_rank_0_did_not():
    fail = lambda code: SimpleNamespace(exitcode=code)  # noqa: E731
    assert exit_code({1: fail(2), 0: fail(2)}) == (2, None)  # a user's mistake: rank 0 has printed it
    assert exit_code({0: fail(130)}) == (130, None)
    code, line = exit_code({1: fail(-9)})
    assert code == 137 and line == "process 1 was killed by SIGKILL; the others were stopped"
    assert exit_code({3: fail(1)}) == (1, "process 3 exited with code 1; the others were stopped")
