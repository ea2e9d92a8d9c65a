"""What each trainable tensor is: its qualified name, the type of the module that owns it and a role.

Roles come from module types, never from shapes:

* ``norm``: any parameter of a normalization layer (a subclass of torch's BatchNorm, InstanceNorm,
  LayerNorm, GroupNorm or RMSNorm, or a module whose class name contains ``Norm``): the gain
  (``weight``) and the shift (``bias``) alike; ``ParamInfo.leaf`` tells them apart;
* ``embedding``: the table of an ``nn.Embedding`` / ``nn.EmbeddingBag``, and tensors a model holds
  itself (not through a layer) whose name contains ``embed`` or ``token`` (ViT's ``pos_embed``,
  ``cls_token``);
* ``bias``: a parameter whose own name ends in ``bias`` (outside normalization layers);
* ``weight``: a parameter whose own name ends in ``weight`` (convolution and linear kernels, attention
  projections);
* ``other``: everything else (e.g. layer-scale gains, a tensor the optimizer holds but the model does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

Role = Literal["weight", "bias", "norm", "embedding", "other"]
ROLES: tuple[Role, ...] = ("weight", "bias", "norm", "embedding", "other")

_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.RMSNorm,
)
_EMBEDDING_TYPES: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)
#: prefixes that wrappers (DDP, torch.compile, DataParallel) add to every name
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class ParamInfo:
    """One trainable tensor as a rule sees it (``ctx.param_info[i]`` describes ``ctx.params[i]``)."""

    name: str
    """qualified name, as ``model.named_parameters()`` gives it (wrapper prefixes removed)"""
    module_type: str
    """class name of the module that owns the tensor (``BatchNorm2d``, ``Conv2d``, ...)"""
    role: Role

    @property
    def leaf(self) -> str:
        """The tensor's own name within its module (``weight``, ``bias``, ``pos_embed``, ...)."""
        return self.name.rpartition(".")[2]


def is_norm(module: nn.Module) -> bool:
    """A normalization layer: torch's norm types and their subclasses, or a layer (a module without
    children) whose class name contains ``Norm``."""
    if isinstance(module, _NORM_TYPES):
        return True
    return "Norm" in type(module).__name__ and next(module.children(), None) is None


def role_of(module: nn.Module, leaf: str, *, is_layer: bool) -> Role:
    """The role of the tensor ``leaf`` owned by ``module``; ``is_layer``: the module has no children
    (a layer rather than a container such as a whole model)."""
    if is_norm(module):
        return "norm"
    if isinstance(module, _EMBEDDING_TYPES):
        return "embedding"
    if leaf.endswith("bias"):
        return "bias"
    if leaf.endswith("weight"):
        return "weight"
    if not is_layer and ("embed" in leaf or "token" in leaf):
        return "embedding"
    return "other"


def _strip(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if name.startswith(prefix):
                name, changed = name[len(prefix):], True
    return name


def parameter_roles(model: nn.Module, params: Sequence[torch.Tensor]) -> tuple[ParamInfo, ...]:
    """A :class:`ParamInfo` for each tensor of ``params`` (in that order), found in ``model``. A tensor
    the model does not hold is called ``param<i>`` with role ``other``; a shared tensor gets its first name."""
    owners: dict[int, ParamInfo] = {}
    for module_name, module in model.named_modules():
        is_layer = next(module.children(), None) is None
        for leaf, p in module.named_parameters(recurse=False):
            if id(p) not in owners:
                name = _strip(f"{module_name}.{leaf}" if module_name else leaf)
                owners[id(p)] = ParamInfo(name, type(module).__name__, role_of(module, leaf, is_layer=is_layer))
    return tuple(owners.get(id(p), ParamInfo(f"param{i}", "", "other")) for i, p in enumerate(params))


def indices(info: Iterable[ParamInfo], roles: Iterable[Role]) -> list[int]:
    """Positions of the tensors whose role is one of ``roles``."""
    wanted = set(roles)
    return [i for i, p in enumerate(info) if p.role in wanted]
