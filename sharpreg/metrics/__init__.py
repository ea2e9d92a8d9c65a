"""The metric table and scoring: what every metric is, how it is computed, its bootstrap interval."""

from .bootstrap import bootstrap_intervals
from .compute import compute_metrics, generalization_gap, positive_of, resample_metrics
from .definitions import Cases
from .table import METRICS, Metric, metric_of
from .threshold import ThresholdChoice, choose_threshold

__all__ = ["METRICS", "Cases", "Metric", "ThresholdChoice", "bootstrap_intervals", "choose_threshold",
           "compute_metrics", "generalization_gap", "metric_of", "positive_of", "resample_metrics"]
