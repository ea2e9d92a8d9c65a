"""The run store: everything a run leaves behind, and the only code that knows its file names."""

from .evaluations import EvaluationFolder
from .folder import RunFolder, RunState
from .predictions import Predictions
from .summary import Summary

__all__ = ["EvaluationFolder", "Predictions", "RunFolder", "RunState", "Summary"]
