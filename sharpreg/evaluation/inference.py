"""Running a model over a data set: the model inputs of a batch, class probabilities, labels, image ids
and the mean loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..runs import Predictions

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def batch_inputs(batch: dict[str, Any], device: torch.device, non_blocking: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A data module's batch (``{"image": B×C×H×W, "label": B}``) as the model's input and the labels."""
    return (batch["image"].to(device, non_blocking=non_blocking),
            batch["label"].to(device, non_blocking=non_blocking).long())


def loader(dataset: Dataset, batch_size: int, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """Batches in data-set order, with the loader's own generator so the global torch RNG is left as it was."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    *,
    device: torch.device,
    batch_size: int,
    precision: str = "fp32",
    num_workers: int = 0,
    loss_fn: LossFn | None = None,
    label_map: torch.Tensor | None = None,
    channels_last: bool = False,
) -> Predictions:
    """Evaluate ``model`` (in eval mode, restored to its previous mode after) on ``dataset``.

    ``label_map[i]`` is the model's class for the data set's class ``i`` (another data set's classes);
    ``channels_last``: inputs in the layout of a channels_last model."""
    was_training = model.training
    model.eval()
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    ids: list[str] = []
    probs, labels = [], []
    loss, n = 0.0, 0
    try:
        for batch in loader(dataset, batch_size, num_workers, pin_memory=device.type == "cuda"):
            x, y = batch_inputs(batch, device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if label_map is not None:
                y = label_map[y]
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


def merge(parts: list[Predictions]) -> Predictions:
    """The predictions of processes that each took every n-th case (process r: cases r, r + n, ...), back
    in the data set's order, with the mean loss over all cases."""
    n = sum(len(p.labels) for p in parts)
    if n == 0:
        return parts[0]
    world = len(parts)
    order = np.concatenate([np.arange(r, n, world) for r in range(world)])
    rank = np.argsort(order, kind="stable")
    ids = [i for p in parts for i in p.ids]
    labels = np.concatenate([p.labels for p in parts if len(p.labels)])
    probs = np.concatenate([p.probs for p in parts if len(p.labels)])
    loss = sum(p.loss * len(p.labels) for p in parts if len(p.labels)) / n
    return Predictions([ids[j] for j in rank], labels[rank], probs[rank], loss)
