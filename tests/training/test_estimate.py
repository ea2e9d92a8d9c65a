"""The estimate's arithmetic, the machine-fit of device, precision and workers, plain progress lines and
stop signals in forked data-loader workers (no training here: fast)."""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import time

import pytest
import torch
from rich.console import Console

from sharpreg import devices
from sharpreg.training.estimate import GPU_SIZED_HOURS, Estimate, Pace, StepTimer, Workload, clock, duration
from sharpreg.training.interrupt import StopFlag, graceful_interrupt
from sharpreg.training.progress import BarProgress, LineProgress, epoch_progress


def test_step_timer_skips_the_warm_up_step_and_takes_the_median() -> None:
    timer = StepTimer(steps_available=10, timed=3)
    assert [timer.add(s) for s in (9.0, 1.0, 3.0, 2.0, 50.0)] == [False, False, False, True, False]
    est = timer.estimate(Workload.of_run(4, 10, 0, 0, val_images=0, batch_size=8), "cpu")
    assert est.seconds_per_step == 2.0 and est.basis == "median of steps 2-4"
    assert est.epoch_train_seconds == 20.0 and est.run_seconds == 80.0


def test_step_timer_with_few_steps_times_what_there_is() -> None:
    one = StepTimer(steps_available=1)
    assert one.add(5.0) and one.estimate(Workload.of_run(1, 1, 0, 0, 0, 1), "cpu").basis == "step 1"
    two = StepTimer(steps_available=2)
    assert not two.add(9.0) and two.add(1.0)
    assert two.estimate(Workload.of_run(1, 2, 0, 0, 0, 1), "cpu", offset=5).basis == "step 7"


def test_workload_from_the_middle_of_a_run_and_after_epochs() -> None:
    w = Workload.of_run(epochs=5, steps_per_epoch=10, epoch=2, step=4, val_images=17, batch_size=8)
    assert (w.steps_left, w.validations_left, w.val_batches, w.epochs_left) == (26, 3, 3, 3)
    assert w.after(2).steps_left == 6 and w.after(2).epochs_left == 1 and w.after(9).steps_left == 0


def test_estimate_validation_from_the_step_time_until_measured() -> None:
    work = Workload.of_run(epochs=10, steps_per_epoch=20, epoch=0, step=0, val_images=64, batch_size=16)
    est = Estimate(3.0, "x", work, "cpu", passes_per_step=2)
    assert est.epoch_validation_seconds == pytest.approx(4 * 3.0 / 3 / 2)  # 4 forward-only batches
    assert est.run_seconds == pytest.approx(10 * (60 + 2))
    measured = Estimate(3.0, "x", work, "cpu", passes_per_step=2, validation_seconds=5.0)
    assert measured.run_seconds == pytest.approx(10 * 65) and "5.0 s validation;" in measured.line()
    assert "(estimated)" in est.line() and "about 10.3 min for 10 epochs" in est.line()


def test_gpu_sized_only_on_a_cpu_and_past_the_threshold() -> None:
    steps = int(GPU_SIZED_HOURS * 3600)  # one second per step
    long = Workload.of_run(1, steps + 10, 0, 0, 0, 1)
    short = Workload.of_run(1, steps - 10, 0, 0, 0, 1)
    assert Estimate(1.0, "x", long, "cpu").gpu_sized
    assert not Estimate(1.0, "x", short, "cpu").gpu_sized
    assert not Estimate(1.0, "x", long, "cuda").gpu_sized
    assert "sized for a GPU" in Estimate(1.0, "x", long, "cpu").gpu_note()


def test_pace_estimates_then_refines_after_a_whole_epoch() -> None:
    pace = Pace(lambda e, s: Workload.of_run(3, 10, e, s, 0, 4), "cpu", epoch=0, step=0, steps_per_epoch=10)
    assert pace.left(0, 1) is None
    first = [pace.step_done(t, 2) for t in (5.0, 1.0, 1.0, 1.0)]
    assert first[:3] == [None, None, None] and first[3] is not None
    assert first[3].run_seconds == pytest.approx(30.0) and "for 3 epochs" in first[3].line()  # the session
    assert pace.left(0, 4) == pytest.approx(26.0) and pace.left(1, 0) == pytest.approx(20.0)
    refined = pace.epoch_done(0, 10, train_seconds=15.0, validation_seconds=2.0, passes_per_step=2)
    assert refined is not None and refined.basis == "epoch 1" and refined.run_seconds == pytest.approx(2 * 17)
    assert "for the 2 epochs left" in refined.line()
    assert pace.epoch_done(1, 10, 15.0, 2.0, 2) is None  # once per session


def test_duration_and_clock() -> None:
    assert [duration(s) for s in (4.2, 42, 300, 7200, 3 * 86400)] == ["4.2 s", "42 s", "5.0 min", "2.0 h", "3.0 days"]
    assert clock(3723) == "1:02:03" and clock(float("nan")) == "?"


# -- what the machine can do well --------------------------------------------------------------------
def test_auto_settings_on_a_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    p = devices.place("auto", "auto", "auto")
    assert (p.device.type, p.precision, p.num_workers, p.notes) == ("cpu", "fp32", 0, ())


def test_half_precision_on_a_cpu_without_bf16_units_becomes_fp32_with_one_note(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_has_fast_bf16", lambda: False)
    precision, note = devices.resolve_precision("bf16", cpu)
    assert precision == "fp32" and note is not None and "without bf16 instructions" in note and "uses fp32" in note
    assert devices.resolve_precision("fp16", cpu)[0] == "fp32"
    monkeypatch.setattr(devices, "cpu_has_fast_bf16", lambda: True)  # a CPU with bf16 units keeps it
    assert devices.resolve_precision("bf16", cpu) == ("bf16", None)
    assert devices.resolve_precision("fp32", cpu) == ("fp32", None)


def test_cpu_bf16_check_reads_torchs_capability_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert devices.cpu_has_fast_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert devices.cpu_has_fast_bf16() is True


def test_workers_never_exceed_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "usable_cores", lambda: 2)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    n, note = devices.resolve_workers(4, torch.device("cpu"))
    assert n == 2 and note is not None and "num_workers = 4" in note and "uses 2" in note
    assert devices.resolve_workers(2, torch.device("cpu")) == (2, None)
    assert devices.resolve_workers("auto", torch.device("cuda")) == (1, None)
    monkeypatch.setattr(devices, "usable_cores", lambda: 64)
    assert devices.resolve_workers("auto", torch.device("cuda")) == (devices.MAX_AUTO_WORKERS, None)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert devices.resolve_workers("auto", torch.device("cuda")) == (3, None)


# -- progress ------------------------------------------------------------------------------------------
def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=100), buf


def test_plain_lines_when_not_a_terminal_at_most_every_few_seconds() -> None:
    console, buf = _console(False)
    progress = epoch_progress(console, True, every=0)
    assert isinstance(progress, LineProgress)
    with progress as bar:
        bar.start_epoch("1/2", 3, 0, 0.0)
        for _ in range(3):
            bar.step(0.5, 12.0, 90.0)
        bar.end_epoch("auroc", 0.75, 2.5, 60.0)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "epoch 1/2  step 1/3  loss 0.5000  12.0 img/s  run left 0:01:30"
    assert lines[-1] == "epoch 1/2 done in 2.5 s  loss 0.5000  val auroc 0.7500  run left 0:01:00" and len(lines) == 4
    console, buf = _console(False)
    with epoch_progress(console, True, every=3600) as bar:
        bar.start_epoch("1/1", 3, 0, 0.0)
        for _ in range(3):
            bar.step(0.5, 12.0, None)
        bar.end_epoch("auroc", None, 1.0, None)
    assert buf.getvalue().splitlines() == ["epoch 1/1 done in 1.0 s  loss 0.5000"]


def test_a_terminal_gets_the_bar_and_disabled_progress_prints_nothing() -> None:
    console, _ = _console(True)
    assert isinstance(epoch_progress(console, True), BarProgress)
    console, buf = _console(False)
    with epoch_progress(console, False) as bar:
        bar.start_epoch("1/1", 1, 0, 0.0)
        bar.step(0.5, 1.0, None)
        bar.end_epoch("auroc", 0.5, 1.0, None)
    assert buf.getvalue() == ""


# -- stop signals ----------------------------------------------------------------------------------------
def _sleep() -> None:
    time.sleep(30)


def test_a_forked_worker_keeps_the_default_meaning_of_sigterm() -> None:
    """DataLoader workers inherit the trainer's handler: there SIGTERM must still end the process (torch
    terminates stuck workers with it) and must not set the trainer's flag."""
    flag = StopFlag()
    with graceful_interrupt(flag, lambda _: None):
        child = multiprocessing.get_context("fork").Process(target=_sleep)
        child.start()
        time.sleep(0.2)
        os.kill(child.pid, signal.SIGTERM)
        child.join(10)
    assert child.exitcode == -signal.SIGTERM and not flag.requested


def test_the_first_stop_signal_sets_the_flag_and_the_second_aborts() -> None:
    flag, said = StopFlag(), []
    before = signal.getsignal(signal.SIGTERM)
    with graceful_interrupt(flag, said.append):
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag.requested and said and said[0].startswith("SIGTERM: stopping after this step")
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) == before


def test_pace_of_a_session_resumed_mid_epoch() -> None:
    pace = Pace(lambda e, s: Workload.of_run(3, 10, e, s, 0, 4), "cpu", epoch=1, step=6, steps_per_epoch=10)
    est = [pace.step_done(t, 1) for t in (5.0, 2.0, 2.0, 2.0)][-1]
    assert est is not None and est.basis == "median of steps 8-10" and est.run_seconds == pytest.approx(28.0)
    assert "for the 2 epochs left" in est.line()
