"""Training: the loop, what it builds from a recipe, its checkpoints and the end of a run."""

from .trainer import NonFiniteLoss, Trainer, TrainingInterrupted

__all__ = ["NonFiniteLoss", "Trainer", "TrainingInterrupted"]
