"""``sharpreg evaluate RUN --data OTHER.toml``: score a trained model on another data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_set_option, add_strict_option, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run (or an exported model) on another data set",
                       description="Evaluate the model of RUN on the data set described by OTHER.toml "
                       "(schema_version and a [data] table). Every image is the test set unless [data.split] says "
                       "otherwise; image size and channels follow the trained run; classes are matched by name. "
                       "Writes RUN/evaluations/<name>/ (metrics.json, predictions.csv, plots) and updates RUN's "
                       "model card. RUN may also be an exported recipe (`sharpreg export`): the model file its [lock] "
                       "names is evaluated, and the results go to <recipe stem>-evaluations/<name>/ beside it.")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="run folder, or an exported recipe with its model beside it")
    p.add_argument("--data", type=Path, required=True, metavar="OTHER.toml", help="data file: schema_version + [data]")
    add_set_option(p)
    p.add_argument("--checkpoint", choices=("best", "last", "safetensors"), default="best",
                   help="weights to evaluate: best (model.safetensors, else checkpoints/best.pt: the same weights; "
                   "the default), last (checkpoints/last.pt) or safetensors (only model.safetensors)")
    p.add_argument("--name", default=None, help="name of the evaluation folder (default: the data file's name)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None, help="default: the run's train.device")
    add_strict_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import make_console
    from rich.table import Table

    from ..evaluation.crossdata import evaluate_on, open_trained
    from ..recipe.lock import enforce, lock_differences
    from ..reporting import draw_evaluation_plots
    from ..reporting.card import model_card
    from ..reporting.tables import metric_rows
    from ..runs import RunFolder

    source = open_trained(args.run_dir)
    if not isinstance(source, RunFolder):  # an exported model: is it the one the recipe was exported with?
        enforce(lock_differences(source.load_recipe(), model=True), strict=args.strict, warn=warn)
    result = evaluate_on(source, args.data, args.overrides, checkpoint=args.checkpoint, name=args.name,
                         device=args.device)
    if isinstance(source, RunFolder) and source.read_summary(missing_ok=True) is not None:
        source.write_model_card(model_card(source))
    conf = int(round(100 * result.recipe.eval.confidence))
    mapping = ", ".join(f"{d}→{m}" if d != m else d for d, m in result.class_map.items())
    t = Table(title=f"{args.run_dir} on {args.data} (n = {result.n}; classes {mapping})", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column(f"{conf} % CI", justify="right")
    for row in metric_rows(result.metrics, result.intervals, positive=result.recipe.eval.positive_class,
                           classes=list(result.class_map.values())):
        t.add_row(*row[:3])
    plots = draw_evaluation_plots(result.folder)
    files = [result.folder.RECORD, result.folder.PREDICTIONS, *(str(p.relative_to(result.out)) for p in plots)]
    console = make_console()
    console.print(t)
    console.print(f"written to {result.out}: {', '.join(files)}")
    return 0
