"""Training: the trainer and what it needs (seeding, schedules, devices)."""

from .trainer import Trainer

__all__ = ["Trainer"]
