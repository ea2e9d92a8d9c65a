"""The example package's own tests: sharpreg's kits do the work; SAM without norm layers also against a
float64 reference step."""

import math

from sharpreg_example import friendly_sam, poly1, sam_no_norm, sens_at_spec


def test_friendly_sam_meets_the_rule_contract(sharpreg_check_rule):
    sharpreg_check_rule(friendly_sam.SPEC)


def sam_no_norm_reference(config, problem, w, rho, state):
    """SAM's ascent on the tensors outside normalization layers, in float64."""
    g = problem.grad(w)
    keep = [p.role != "norm" for p in problem.info]
    n = math.sqrt(sum(float((gi * gi).sum()) for gi, k in zip(g, keep) if k))
    e = [rho * gi / (n + config.eps) if k else 0.0 * gi for gi, k in zip(g, keep)]
    return problem.grad([wi + ei for wi, ei in zip(w, e)])


def test_sam_no_norm_meets_the_rule_contract_and_its_reference(sharpreg_check_rule):
    assert "reference" in sharpreg_check_rule(sam_no_norm.SPEC, reference=sam_no_norm_reference)


def test_the_metric_and_the_loss_pass_their_kits(sharpreg_check_metric, sharpreg_check_loss):
    sharpreg_check_metric(sens_at_spec.SPEC)
    sharpreg_check_loss(poly1.SPEC)
