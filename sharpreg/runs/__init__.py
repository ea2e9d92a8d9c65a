"""Run folders: everything a run leaves behind."""

from .folder import RunFolder

__all__ = ["RunFolder"]
