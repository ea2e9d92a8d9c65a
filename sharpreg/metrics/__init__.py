"""The metric table and scoring: what every metric is, how it is computed, its bootstrap interval."""

from .bootstrap import bootstrap_intervals
from .compute import compute_metrics, generalization_gap, positive_of, resample_metrics
from .table import METRICS, Metric, metric_of

__all__ = ["METRICS", "Metric", "bootstrap_intervals", "compute_metrics", "generalization_gap", "metric_of",
           "positive_of", "resample_metrics"]
