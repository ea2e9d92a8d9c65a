"""The kinds beyond rules: first-party losses, schedules and callbacks pass their kits; a recipe chooses a
loss, plugin metrics and callbacks by name; older recipes' train keys move to [loss] and [[callbacks]]."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sharpreg_plugins.callbacks as callbacks
import sharpreg_plugins.losses as losses
import sharpreg_plugins.schedules as schedules
from sharpreg import MetricParams, MetricSpec, hookimpl
from sharpreg.build import build_loss, build_metrics
from sharpreg.errors import RecipeError
from sharpreg.recipe import load_recipe
from sharpreg.registry import Registry
from sharpreg.testing import check_loss_spec, check_metric_spec, check_schedule_spec

LOSSES = {s.name: s for s in losses.sharpreg_losses()}
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_first_party_losses_pass_the_loss_kit(name):
    check_loss_spec(LOSSES[name])
    check_loss_spec(LOSSES[name], LOSSES[name].params(class_weights="balanced"))


@pytest.mark.parametrize("spec", schedules.sharpreg_rho_schedules(), ids=lambda s: s.name)
def test_first_party_schedules_pass_the_schedule_kit(spec):
    check_schedule_spec(spec)


def test_the_loss_kit_fails_a_sum_and_a_sign_error():
    def summed(config, context):
        return lambda logits, y: torch.nn.functional.cross_entropy(logits, y, reduction="sum")

    def negated(config, context):
        return lambda logits, y: -torch.nn.functional.cross_entropy(logits, y)

    import dataclasses
    with pytest.raises(AssertionError, match="reduce by the mean"):
        check_loss_spec(dataclasses.replace(LOSSES["cross_entropy"], factory=summed))
    with pytest.raises(AssertionError, match="correct logits"):
        check_loss_spec(dataclasses.replace(LOSSES["cross_entropy"], factory=negated))


def test_balanced_weights_and_smoothing_and_focal_at_gamma_zero():
    ce = LOSSES["cross_entropy"]
    ctx = losses.LossContext(num_classes=2, class_counts=(3, 1))
    loss = ce.factory(ce.params(class_weights="balanced", label_smoothing=0.1), ctx)
    assert loss.weight.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1)]) and loss.label_smoothing == pytest.approx(0.1)
    absent = ce.factory(ce.params(class_weights="balanced"), losses.LossContext(3, (2, 0, 0)))  # a class without images
    assert absent.weight.tolist() == pytest.approx([2 / 6, 2 / 3, 2 / 3])
    assert ce.factory(ce.params(class_weights="balanced"), losses.LossContext(2, None)).weight is None
    logits, y = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 0, 1, 2])
    focal = LOSSES["focal"]
    for weights in ("none", "balanced"):
        counts = losses.LossContext(3, (1, 2, 3))
        want = ce.factory(ce.params(class_weights=weights), counts)(logits, y)
        assert focal.factory(focal.params(gamma=0.0, class_weights=weights), counts)(logits, y) == pytest.approx(float(want))
    assert focal.factory(focal.params(gamma=2.0), counts)(logits, y) < ce.factory(ce.params(), counts)(logits, y)


def auprc(cases):
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(cases.labels == cases.positive, cases.probs[:, cases.positive]))


AUPRC = MetricSpec("auprc", MetricParams, lambda config: auprc, "area under the precision-recall curve", task="binary")


class MetricPlugin:
    @hookimpl
    def sharpreg_metrics(self):
        return [AUPRC]


def test_the_metric_kit_passes_auprc_and_fails_a_metric_with_the_wrong_direction():
    import dataclasses
    check_metric_spec(AUPRC)
    with pytest.raises(AssertionError, match="no better than chance"):
        check_metric_spec(dataclasses.replace(AUPRC, better="lower"))


def registry_with_metric() -> Registry:
    reg = Registry.discover(strict=True)
    reg.register(MetricPlugin(), name="auprc-plugin")
    return reg


def test_a_recipe_reports_listed_plugin_metrics_and_may_monitor_them(tmp_path):
    reg = registry_with_metric()
    recipe = load_recipe(RECIPE, ['metrics=[{name = "auprc"}]', "train.monitor=auprc"], registry=reg)
    (entry,) = build_metrics(recipe)
    assert entry.name == "auprc" and entry.better == "higher" and recipe.resolved()["metrics"] == [{"name": "auprc"}]
    assert recipe.loss.name == "cross_entropy" and recipe.resolved()["loss"]["class_weights"] == "none"
    with pytest.raises(RecipeError, match=r"train.monitor: unknown metric 'auprc'.*\[\[metrics\]\]"):
        load_recipe(RECIPE, ["train.monitor=auprc"], registry=reg)
    with pytest.raises(RecipeError, match="listed twice"):
        load_recipe(RECIPE, ['metrics=[{name = "auprc"}, {name = "auprc"}]'], registry=reg)


def test_array_tables_report_problems_at_their_entry(tmp_path):
    text = RECIPE.read_text() + '\n[[metrics]]\nname = "auprc"\n\n[[metrics]]\nname = "auprcc"\n'
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path, registry=registry_with_metric())
    (issue,) = info.value.issues
    assert (issue.line, issue.key) == (len(RECIPE.read_text().splitlines()) + 6, "metrics.1.name")
    assert issue.message.startswith("unknown metric 'auprcc'; did you mean 'auprc'?")


def test_older_train_keys_move_to_loss_and_callbacks(tmp_path):
    recipe = load_recipe(RECIPE, ["train.class_weights=balanced", "train.label_smoothing=0.1", "train.loggers=[]"])
    assert recipe.resolved()["loss"] == {"name": "cross_entropy", "class_weights": "balanced", "label_smoothing": 0.1}
    assert "class_weights" not in recipe.resolved()["train"] and recipe.callbacks == ()
    loss = build_loss(recipe, 2, (3, 1))
    assert loss.weight.tolist() == pytest.approx([2 / 3, 2.0])
    with pytest.raises(RecipeError, match=r"train.class_weights: moved to \[loss\]"):
        load_recipe(RECIPE, ["train.class_weights=balanced", 'loss={name = "focal"}'])


def test_callbacks_report_a_missing_package_in_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    spec = {s.name: s for s in callbacks.sharpreg_callbacks()}["mlflow"]
    with pytest.raises(Exception, match=r"pip install 'sharpreg\[mlflow\]'"):
        spec.factory(spec.params(), callbacks.CallbackContext(tmp_path, "x"))


def test_the_run_summary_table_shows_plugin_metrics():
    from sharpreg.reporting.tables import metric_rows

    values = {"auroc": 0.8, "auprc": 0.7, "sensitivity": 0.6, "sensitivity_malignant": 0.6, "sensitivity_benign": 0.5}
    rows = metric_rows(values, {"auprc": [0.6, 0.8]}, positive="malignant", classes=["benign", "malignant"])
    assert [r[0] for r in rows] == ["auroc", "sensitivity (malignant)", "auprc", "sensitivity_benign"]
    assert rows[2][1:3] == ("0.700", "0.600 – 0.800")
