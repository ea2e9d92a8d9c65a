"""Kits for models and data sets: what the trainer relies on, checked on small inputs.
Each check raises ``AssertionError`` with a message that says what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..data.module import SPLITS, DataContext
from ..engine.roles import ROLES, parameter_roles
from ..specs import DatasetSpec, ModelInputs, ModelSpec
from .kinds import check_plugin_params


def check_model_spec(spec: ModelSpec, config: Any = None, *, image_size: int = 32, tmp_path: Path | None = None) -> None:
    """The parameters; for 1 and 3 input channels and 2 and 3 classes the factory builds a module whose
    logits have shape (batch, classes), are finite and give every trainable tensor a finite gradient;
    every trainable tensor gets a name and a role (``sharpreg.engine.roles``); eval mode is deterministic;
    the weights survive safetensors (with ``tmp_path``)."""
    assert isinstance(spec, ModelSpec), f"expected a ModelSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    config = config if config is not None else spec.params()
    for in_chans, classes in ((1, 2), (3, 3)):
        torch.manual_seed(0)
        model = spec.factory(config, ModelInputs(in_chans=in_chans, num_classes=classes, image_size=image_size))
        assert isinstance(model, torch.nn.Module), f"model {spec.name}: the factory must return an nn.Module"
        x = torch.randn(2, in_chans, image_size, image_size)
        model.train()
        out = model(x)
        assert tuple(out.shape) == (2, classes), f"model {spec.name}: logits of shape {tuple(out.shape)}, not (2, {classes})"
        assert torch.isfinite(out).all(), f"model {spec.name}: non-finite logits"
        out.float().logsumexp(dim=1).mean().backward()
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        assert trainable, f"model {spec.name}: no trainable parameters"
        missing = [n for n, p in trainable if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"model {spec.name}: no finite gradient for {', '.join(missing[:5])}"
        info = parameter_roles(model, [p for _, p in trainable])
        assert len({i.name for i in info}) == len(info) and all(i.role in ROLES for i in info), (
            f"model {spec.name}: parameters without distinct names or roles")
        model.eval()
        with torch.no_grad():
            assert torch.equal(model(x), model(x)), f"model {spec.name}: eval mode is not deterministic"
        if tmp_path is not None:
            path = tmp_path / f"{spec.name}.safetensors"
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            save_file(state, str(path))
            back = load_file(str(path))
            assert all(torch.equal(back[k], v) for k, v in state.items()), f"model {spec.name}: safetensors round trip"


def check_dataset_spec(spec: DatasetSpec, config: Any = None, *, context: DataContext | None = None) -> None:
    """The parameters (a data set on files needs ``config`` with its ``root``); the data module sets up,
    names distinct classes, splits the images with labels in range, gives the same split twice for one
    seed, and yields images of ``(channels, image_size, image_size)`` with a label."""
    assert isinstance(spec, DatasetSpec), f"expected a DatasetSpec, got {type(spec).__name__}"
    check_plugin_params(spec)
    config = config if config is not None else spec.params()
    context = context or DataContext(seed=0)
    dm = spec.factory(config, context)
    dm.setup()
    names = list(dm.class_names)
    assert len(names) >= 2 and len(set(names)) == len(names), f"dataset {spec.name}: class names {names}"
    labels = {s: dm.labels(s) for s in SPLITS}
    assert len(labels["train"]), f"dataset {spec.name}: an empty training split"
    for s, y in labels.items():
        assert all(0 <= int(v) < len(names) for v in y), f"dataset {spec.name}: a {s} label outside the classes"
    again = spec.factory(config, context)
    again.setup()
    assert again.split_record() == dm.split_record(), f"dataset {spec.name}: the split differs for the same seed"
    item = dm.dataset("train", train_transforms=False)[0]
    image, label = item["image"], item["label"]
    shape = (int(config.channels), int(config.image_size), int(config.image_size))
    assert tuple(image.shape) == shape, f"dataset {spec.name}: image of shape {tuple(image.shape)}, not {shape}"
    assert torch.isfinite(torch.as_tensor(image)).all() and 0 <= int(label) < len(names), (
        f"dataset {spec.name}: a non-finite image or a label out of range")
