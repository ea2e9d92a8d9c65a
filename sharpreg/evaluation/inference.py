"""Running a trained model over a data set: class probabilities, labels, image ids and mean loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


@dataclass
class Predictions:
    """One row per image, in data-set order."""

    ids: list[str]
    labels: np.ndarray
    probs: np.ndarray
    loss: float

    def __len__(self) -> int:
        return len(self.labels)


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    *,
    device: torch.device,
    batch_size: int,
    precision: str = "fp32",
    num_workers: int = 0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> Predictions:
    """Evaluate ``model`` (in eval mode, restored to its previous mode after) on ``dataset``.

    The loader gets its own generator so the global torch RNG is left as it was."""
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        generator=torch.Generator().manual_seed(0))
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    ids: list[str] = []
    probs, labels = [], []
    loss, n = 0.0, 0
    try:
        for batch in loader:
            x = batch["image"].to(device)
            y = batch["label"].to(device).long()
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                logits = model(x)
            loss += float(loss_fn(logits.float(), y)) * len(y)
            n += len(y)
            probs.append(torch.softmax(logits.float(), dim=1).cpu())
            labels.append(y.cpu())
            batch_ids = batch.get("id")
            ids.extend(str(i) for i in batch_ids) if batch_ids is not None else ids.extend(str(n - len(y) + j) for j in range(len(y)))
    finally:
        model.train(was_training)
    if not labels:
        return Predictions([], np.zeros(0, dtype=np.int64), np.zeros((0, 0)), float("nan"))
    return Predictions(ids, torch.cat(labels).numpy(), torch.cat(probs).double().numpy(), loss / n)
