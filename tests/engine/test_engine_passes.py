"""Restore, BatchNorm statistics, RNG replay, accumulation, clipping, resume."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from engine_helpers import bn_cnn, images, make_engine

ce = nn.functional.cross_entropy


@pytest.mark.parametrize("name", ["sam", "asam", "crsam"])
def test_restore_is_bit_exact_after_100_steps(name):
    """lr = 0: the base step is a no-op, so after 100 perturb/restore cycles w must be unchanged."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(72, 2))
    start = [p.detach().clone() for p in m.parameters()]
    ptrs = [p.data_ptr() for p in m.parameters()]
    engine = make_engine(m, name, rho=2.0, lr=0.0)
    engine.optimizer.param_groups[0]["weight_decay"] = 0.0
    x, y = images(0)
    for _ in range(100):
        engine.step([(x, y)], ce)
    assert all(torch.equal(a, b) for a, b in zip(start, m.parameters()))
    assert ptrs == [p.data_ptr() for p in m.parameters()]  # storage never swapped


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("name", ["sam", "crsam"])
def test_bn_buffers_equal_one_clean_forward(name, momentum):
    m = bn_cnn(momentum=momentum)
    ref = copy.deepcopy(m)
    engine = make_engine(m, name, rho=0.5)
    micro = [images(1, 4), images(2, 4)]
    engine.step(micro, ce)
    with torch.no_grad():
        for x, _ in micro:
            ref(x)  # one clean forward per micro-batch, at w
    for (n, a), b in zip(m.named_buffers(), ref.buffers()):
        assert torch.equal(a, b), n
    assert int(m[1].num_batches_tracked) == 2


def test_bn_modes_perturbed_and_both():
    x, y = images(3)
    counts = {}
    for mode in ("clean", "perturbed", "both"):
        m = bn_cnn()
        make_engine(m, "crsam", rho=0.5, bn_stats=mode).step([(x, y)], ce)
        counts[mode] = (int(m[1].num_batches_tracked), m[1].running_mean.clone())
    assert [counts[k][0] for k in ("clean", "perturbed", "both")] == [1, 2, 3]
    assert not torch.equal(counts["clean"][1], counts["perturbed"][1])


class MaskRecorder(nn.Module):
    """Dropout that records its masks."""

    def __init__(self) -> None:
        super().__init__()
        self.masks: list[torch.Tensor] = []

    def forward(self, x):
        out = nn.functional.dropout(x, 0.5, self.training)
        self.masks.append((out != 0).clone())
        return out


def _dropout_model():
    torch.manual_seed(0)
    rec = MaskRecorder()
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), rec, nn.Linear(16, 2)), rec


@pytest.mark.parametrize("same_noise", [True, False])
def test_dropout_masks_across_passes(same_noise):
    m, rec = _dropout_model()
    engine = make_engine(m, "sam", rho=0.1, same_noise=same_noise)
    x, y = images(4)
    torch.manual_seed(11)
    engine.step([(x, y)], ce)
    assert len(rec.masks) == 2
    assert torch.equal(rec.masks[0], rec.masks[1]) is same_noise


def test_replay_consumes_randomness_like_one_pass():
    m, _ = _dropout_model()
    engine = make_engine(m, "sam", rho=0.1)
    x, y = images(4)
    torch.manual_seed(11)
    engine.step([(x, y)], ce)
    after_sam = torch.rand(3)
    torch.manual_seed(11)
    nn.functional.dropout(torch.ones(8, 16), 0.5, True)  # what one pass draws
    assert torch.equal(after_sam, torch.rand(3))


@pytest.mark.parametrize("name", ["sam", "gsam", "wsam"])
def test_accumulation_matches_full_batch(name):
    """Without BatchNorm or dropout, k micro-batches give the full-batch step."""
    x, y = images(5, n=12)

    def run(chunks):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 2))
        engine = make_engine(m, name, rho=0.2)
        for _ in range(3):
            engine.step(list(zip(x.split(chunks), y.split(chunks))), ce)
        return list(m.parameters())

    for a, b in zip(run(12), run(5)):  # one batch vs micro-batches of 5, 5, 2
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_clipping_applies_to_the_final_gradient():
    torch.manual_seed(0)
    m = nn.Linear(4, 2)
    engine = make_engine(m, "sam", rho=0.1, lr=1.0, clip_grad_norm=1e-3)
    engine.optimizer.param_groups[0].update(momentum=0.0, weight_decay=0.0)
    before = [p.detach().clone() for p in m.parameters()]
    engine.step([(torch.randn(8, 4) * 100, torch.randint(0, 2, (8,)))], ce)
    step = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(m.parameters(), before)))
    assert float(step) == pytest.approx(1e-3, rel=1e-4)


@pytest.mark.parametrize("name,opt", [("wsam", "adam"), ("gsam", "sgd"), ("crsam", "adam")])
def test_resume_mid_run_equals_uninterrupted(tmp_path, name, opt):
    def steps(engine, a, b):
        for s in range(a, b):
            torch.manual_seed(100 + s)
            engine.step([images(s, 4), images(s + 50, 4)], ce)

    ref = make_engine(bn_cnn(dropout=0.2), name, opt=opt, lr=0.01)
    steps(ref, 0, 6)
    first = make_engine(bn_cnn(dropout=0.2), name, opt=opt, lr=0.01)
    steps(first, 0, 3)
    torch.save({"engine": first.state_dict(), "model": first.model.state_dict()}, tmp_path / "ck.pt")
    saved = torch.load(tmp_path / "ck.pt", weights_only=True)
    resumed = make_engine(bn_cnn(seed=9, dropout=0.2), name, opt=opt, lr=0.01)
    resumed.model.load_state_dict(saved["model"])
    resumed.load_state_dict(saved["engine"])
    assert (resumed.step_count, resumed.skipped_steps) == (3, 0)
    steps(resumed, 3, 6)
    for a, b in zip(ref.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_state_dict_is_plain_data():
    engine = make_engine(bn_cnn(), "sam", opt="adam", precision="fp16")
    engine.step([images(0)], ce)
    buf = io.BytesIO()
    torch.save(engine.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert state["optimizer"]["state"] and state["scaler"]["scale"] > 0


def test_sam_holds_one_weight_sized_buffer():
    sizes = {}
    for name in ("none", "sam", "gsam", "crsam"):
        m = bn_cnn()
        engine = make_engine(m, name)
        engine.step([images(0)], ce)
        sizes[name] = engine.peak_extra_bytes / sum(p.numel() * 4 for p in m.parameters())
    # SAM: the backup of w and the bfloat16 copy of g it released (for cos(g, g_p)); GSAM keeps g, CR-SAM g and g₊
    assert sizes == {"none": 0, "sam": 1.5, "gsam": 2, "crsam": 3}


def test_lr_schedule_sets_rho():
    engine = make_engine(bn_cnn(), "gsam", rho=0.5, rho_min=0.1, lr=0.2, lr_range=(0.0, 0.2))
    assert engine.current_rho() == pytest.approx(0.5)
    engine.optimizer.param_groups[0]["lr"] = 0.05
    assert engine.current_rho() == pytest.approx(0.1 + 0.4 * 0.25)
    const = make_engine(bn_cnn(), "sam", rho=0.3)
    const.optimizer.param_groups[0]["lr"] = 1e-6
    assert const.current_rho() == 0.3
