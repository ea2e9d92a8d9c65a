"""Poly-1 loss (Leng et al., ICLR 2022): cross-entropy + epsilon (1 − p_y), the first term of the polynomial
expansion of cross-entropy re-weighted; epsilon = 0 is cross-entropy."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from sharpreg import LossContext, LossParams, LossSpec


class Poly1Params(LossParams):
    epsilon: float = Field(1.0, ge=-1.0, le=10.0, description="Weight of the (1 − p_y) term (1 in the paper's default).")


class Poly1(nn.Module):
    def __init__(self, epsilon: float) -> None:
        super().__init__()
        self.epsilon = epsilon

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits.float(), dim=1).gather(1, labels[:, None]).squeeze(1)
        return (-log_p + self.epsilon * (1.0 - log_p.exp())).mean()


def poly1(config: Poly1Params, context: LossContext) -> nn.Module:
    return Poly1(config.epsilon)


SPEC = LossSpec("poly1", Poly1Params, poly1, "Poly-1: cross-entropy plus epsilon (1 − p_y).",
                citation="Leng et al. PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions. "
                "ICLR 2022. arXiv:2204.12511")
