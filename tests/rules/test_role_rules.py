"""Rules that select tensors by role (ASAM's scopes, SAM-ON) against an independent float64 computation, on a
linear layer followed by a BatchNorm in eval mode (an affine map whose gain and shift are 'norm' tensors);
the roles of real networks; cos(g, g_p) as logged, for rules that release g."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from monai.networks.nets import DenseNet121
from torch import nn

import sharpreg_plugins.rules as first_party
from sharpreg.build import build_rho_schedule
from sharpreg.engine import SharpnessStep, parameter_roles
from sharpreg.errors import SharpregError
from sharpreg.specs import SchedulePlan
from sharpreg.testing import RefAdam, RefSGD
from sharpreg_plugins.rules.asam import scaled_indices

SPECS = {s.name: s for s in first_party.sharpreg_sharpness_rules()}
IN, OUT, N = 5, 3, 12
BN_EPS = 1e-5
NAMES = ["0.weight", "0.bias", "1.weight", "1.bias"]  # W, b, gain, shift


def data(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(200 + step)
    return torch.randn(N, IN, generator=gen, dtype=torch.float64), torch.randn(N, OUT, generator=gen, dtype=torch.float64)


def init() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    return [torch.randn(OUT, IN, generator=gen, dtype=torch.float64), torch.randn(OUT, generator=gen, dtype=torch.float64),
            1 + 0.3 * torch.randn(OUT, generator=gen, dtype=torch.float64), 0.2 * torch.randn(OUT, generator=gen, dtype=torch.float64)]


def grad(w: list[torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> list[torch.Tensor]:
    """Hand-derived gradient of mean((s γ ⊙ (x Wᵀ + b) + β − t)²), s = 1/sqrt(1 + eps) (BatchNorm in eval mode
    with running mean 0 and variance 1)."""
    W, b, gain, shift = w
    s = 1.0 / math.sqrt(1.0 + BN_EPS)
    z = x @ W.T + b
    r = s * gain * z + shift - t
    dy = 2.0 * r / r.numel()
    dz = dy * s * gain
    return [dz.T @ x, dz.sum(0), (dy * s * z).sum(0), dy.sum(0)]


def norm(v: list[torch.Tensor]) -> float:
    return math.sqrt(sum(float((a * a).sum()) for a in v))


def model() -> nn.Module:
    m = nn.Sequential(nn.Linear(IN, OUT), nn.BatchNorm1d(OUT, eps=BN_EPS)).double().eval()
    with torch.no_grad():
        for p, v in zip(m.parameters(), init()):
            p.copy_(v)
    return m


def adaptive(w, g, rho, eps, perturbed, scaled, eta):
    """e_i = rho T_i² g_i / (‖T g‖_perturbed + eps), T = |w| + eta on ``scaled``, 1 elsewhere; 0 off ``perturbed``."""
    T = [w[i].abs() + eta if i in scaled else torch.ones_like(w[i]) for i in range(4)]
    n = norm([T[i] * g[i] for i in perturbed])
    return [rho * T[i] ** 2 * g[i] / (n + eps) if i in perturbed else torch.zeros_like(w[i]) for i in range(4)]


def reference_perturbation(name, p, w, g, rho):
    if name == "sam":
        return adaptive(w, g, rho, p.eps, range(4), [], 0.0)
    if name == "asam":
        scaled = {"official": [0, 2], "weights_only": [0], "all": [0, 1, 2, 3]}[p.scope]
        return adaptive(w, g, rho, p.eps, range(4), scaled, p.eta)
    assert name == "sam_on"
    scaled = [2, 3] if p.normalize_bias else [2]
    return adaptive(w, g, rho, p.eps, [2, 3], scaled if p.adaptive else [], p.eta)


def run_engine(name, kwargs, base, steps=3):
    spec = SPECS[name]
    params = spec.params(**kwargs)
    m = model()
    opt = (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01) if base == "sgd"
           else torch.optim.Adam(m.parameters(), lr=0.05))
    engine = SharpnessStep(m, opt, spec.factory(params), params,
                           rho_schedule=build_rho_schedule(params, SchedulePlan(lr_range=(0.0, 0.1))))
    outs = [engine.step([data(s)], nn.functional.mse_loss) for s in range(steps)]
    return [p.detach() for p in m.parameters()], outs, params


def run_reference(name, params, base, steps=3):
    w = init()
    opt = RefSGD(0.1, 0.9, 0.01) if base == "sgd" else RefAdam(0.05)
    for s in range(steps):
        x, t = data(s)
        g = grad(w, x, t)
        e = reference_perturbation(name, params, w, g, params.rho)
        w = opt.step(w, grad([wi + ei for wi, ei in zip(w, e)], x, t))
    return w


CASES = [
    ("asam", {"rho": 0.5, "eta": 0.01}),
    ("asam", {"rho": 0.5, "eta": 0.01, "scope": "weights_only"}),
    ("asam", {"rho": 1.0, "eta": 0.0, "scope": "all"}),
    ("sam_on", {"rho": 0.4}),
    ("sam_on", {"rho": 0.4, "adaptive": True, "eta": 0.01}),
    ("sam_on", {"rho": 0.4, "adaptive": True, "eta": 0.01, "normalize_bias": True}),
]


@pytest.mark.parametrize("base", ["sgd", "adam"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_role_rules_equal_float64_reference(name, kwargs, base):
    got, _, params = run_engine(name, kwargs, base)
    for a, b in zip(got, run_reference(name, params, base)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [("sam", {"rho": 0.3}), ("asam", {"rho": 0.5}), ("sam_on", {"rho": 0.4}),
                                         ("sam_on", {"rho": 0.4, "adaptive": True})])
def test_cos_g_gp_is_the_cosine_of_g_and_gp_for_rules_that_release_g(name, kwargs):
    """SAM, ASAM and SAM-ON release g before the perturbed pass; the engine's copy of g keeps cos(g, g_p) honest
    (for ASAM and SAM-ON, cos(e, g_p) would be another number)."""
    _, outs, params = run_engine(name, kwargs, "sgd", steps=1)
    w = init()
    x, t = data(0)
    g = grad(w, x, t)
    e = reference_perturbation(name, params, w, g, params.rho)
    gp = grad([wi + ei for wi, ei in zip(w, e)], x, t)
    cos = sum(float((a * b).sum()) for a, b in zip(g, gp)) / (norm(g) * norm(gp))
    cos_e = sum(float((a * b).sum()) for a, b in zip(e, gp)) / (norm(e) * norm(gp))
    assert outs[0].diagnostics["cos_g_gp"] == pytest.approx(cos, rel=1e-6)
    if name != "sam":
        assert abs(cos - cos_e) > 1e-3  # what the engine logged before: a different quantity


def test_the_bfloat16_copy_of_g_gives_cos_within_1e_3_on_a_float32_network():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 2))
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 2, (16,))
    found = {}
    for name in ("sam", "gsam"):  # same ascent; SAM releases g (bf16 copy), GSAM keeps it (exact)
        m = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 2))
        m.load_state_dict(net.state_dict())
        params = SPECS[name].params(rho=0.05, rho_schedule="constant")
        engine = SharpnessStep(m, torch.optim.SGD(m.parameters(), lr=0.1), SPECS[name].factory(params), params)
        found[name] = engine.step([(x, y)], nn.functional.cross_entropy).diagnostics["cos_g_gp"]
    assert found["sam"] == pytest.approx(found["gsam"], abs=1e-3)


def test_roles_come_from_module_types():
    m = model()
    info = {i.name: (i.module_type, i.role) for i in parameter_roles(m, list(m.parameters()))}
    assert info == {"0.weight": ("Linear", "weight"), "0.bias": ("Linear", "bias"),
                    "1.weight": ("BatchNorm1d", "norm"), "1.bias": ("BatchNorm1d", "norm")}
    vit = timm.create_model("vit_tiny_patch16_224", num_classes=2, in_chans=1, img_size=32)
    roles = {i.name: i.role for i in parameter_roles(vit, list(vit.parameters()))}
    assert roles["pos_embed"] == roles["cls_token"] == "embedding"
    assert roles["blocks.0.norm1.weight"] == roles["blocks.0.norm1.bias"] == "norm"
    assert roles["blocks.0.attn.qkv.weight"] == "weight" and roles["blocks.0.attn.qkv.bias"] == "bias"
    wrapped = nn.Sequential()
    wrapped.module = m  # named like a DDP wrapper: the prefix is dropped
    assert [i.name for i in parameter_roles(wrapped, list(m.parameters()))] == NAMES
    assert parameter_roles(m, [torch.zeros(1)])[0].role == "other"


@pytest.mark.parametrize("build", [
    lambda: timm.create_model("resnet10t", num_classes=2, in_chans=1),
    lambda: timm.create_model("vit_tiny_patch16_224", num_classes=2, in_chans=1, img_size=32),
    lambda: DenseNet121(spatial_dims=2, in_channels=1, out_channels=2),
], ids=["resnet10t", "vit_tiny", "densenet121"])
def test_asam_official_scope_selects_what_the_official_code_does(build):
    """The official ASAM code scales the tensors whose qualified name contains 'weight'."""
    net = build()
    named = list(net.named_parameters())
    info = parameter_roles(net, [p for _, p in named])
    assert [named[i][0] for i in scaled_indices(info, "official")] == [n for n, _ in named if "weight" in n]


def test_sam_on_refuses_a_model_without_normalization_layers():
    params = SPECS["sam_on"].params()
    lin = nn.Linear(3, 2)
    with pytest.raises(SharpregError, match="no trainable BatchNorm"):
        SharpnessStep(lin, torch.optim.SGD(lin.parameters(), lr=0.1), SPECS["sam_on"].factory(params), params)
