"""How the model runs: memory layout, torch.compile of the forward, SyncBatchNorm, and the mistakes a
multi-process launch can make (one clear line each, exit 2)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from sharpreg.cli import main
from sharpreg.distributed import Replicas
from sharpreg.errors import SharpregError
from sharpreg.recipe import load_recipe
from sharpreg.training import runtime
from sharpreg.training.parts import build_parts

from .tiny import trainer, write_recipe


def parts_for(tmp_path: Path, *overrides: str):
    return build_parts(load_recipe(write_recipe(tmp_path), list(overrides)))


def test_channels_last_on_request_auto_leaves_a_cpu_model_alone(tmp_path):
    auto = parts_for(tmp_path)
    conv = next(p for p in auto.model.parameters() if p.ndim == 4)
    assert not auto.channels_last and conv.is_contiguous()
    cl = parts_for(tmp_path, 'train.memory_format="channels_last"')
    conv = next(p for p in cl.model.parameters() if p.ndim == 4)
    assert cl.channels_last and conv.is_contiguous(memory_format=torch.channels_last)
    batch = next(iter(cl.loader(load_recipe(write_recipe(tmp_path)).train, 0)))
    x, _ = cl.inputs(batch)
    assert x.is_contiguous(memory_format=torch.channels_last) and len(x) == 4
    # the same step up to rounding
    xa, ya = auto.inputs(batch)
    out_a = auto.engine.step([(xa, ya)], auto.loss_fn)
    out_c = cl.engine.step([(x, ya)], cl.loss_fn)
    assert out_a.loss == pytest.approx(out_c.loss, rel=1e-5)
    for a, c in zip(auto.model.parameters(), cl.model.parameters()):
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_compiled_forward_trains_and_checkpoints_plain_weights(tmp_path, monkeypatch):
    # the eager backend traces the model as torch.compile does without a C compiler's minutes
    monkeypatch.setattr(runtime.torch, "compile", functools.partial(torch.compile, backend="eager"))
    recipe = write_recipe(tmp_path, epochs=1)
    plain = trainer(recipe, tmp_path / "plain").fit()
    t = trainer(recipe, tmp_path / "compiled", overrides=["train.compile=true"])
    compiled = t.fit()
    assert type(t.parts.engine.model).__name__ == "OptimizedModule"
    ck = torch.load(tmp_path / "compiled" / "checkpoints" / "last.pt", weights_only=True)
    assert not any("_orig_mod" in k for k in ck["model"])
    assert compiled.test["auroc"] == pytest.approx(plain.test["auroc"], abs=1e-6)
    assert compiled.test["loss"] == pytest.approx(plain.test["loss"], rel=1e-5)


def test_sync_batchnorm_needs_cuda_when_processes_share_a_run(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    cfg = load_recipe(write_recipe(tmp_path), ["train.sync_batchnorm=true"]).train
    with pytest.raises(SharpregError, match="sync_batchnorm = true needs CUDA"):
        runtime.place_model(model, cfg, torch.device("cpu"), Replicas(rank=0, world=2))
    same, _ = runtime.place_model(model, cfg, torch.device("cpu"), Replicas())  # one process: nothing to sync
    assert isinstance(same[1], torch.nn.BatchNorm2d)


@pytest.mark.parametrize("args, message", [
    (["run"], "`run` needs a recipe"),
    (["run", "{recipe}", "--nproc", "5"], "5 processes share a batch of 4 images"),
    (["run", "{recipe}", "--nproc", "2", "--set", 'train.backend="nccl"'], "'nccl' needs CUDA GPUs"),
    (["run", "{recipe}", "--nproc", "0"], "--nproc must be at least 1"),
])
def test_launch_mistakes_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    recipe = write_recipe(tmp_path)
    code = main([a.format(recipe=recipe) for a in args] + ["--runs-dir", str(tmp_path / "runs")]
                if len(args) > 1 else args)
    err = capsys.readouterr().err
    assert code == 2 and message in " ".join(err.split()), err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


def test_torchrun_without_a_command_is_one_clear_line(monkeypatch, capsys):
    for k, v in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "torchrun started sharpreg without a command" in err and len(err.strip().splitlines()) <= 2
    monkeypatch.setenv("RANK", "1")  # the other processes stay silent: rank 0 has said it
    assert main(["run"]) == 2 and capsys.readouterr().err == ""
