"""Reports: a run's plots and tables, redrawn from the files in its run folder."""

from .run_report import draw_evaluation_plots, draw_run_plots

__all__ = ["draw_evaluation_plots", "draw_run_plots"]
