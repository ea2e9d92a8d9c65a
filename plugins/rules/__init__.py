"""First-party sharpness rules."""

from __future__ import annotations

from sharpreg import RuleSpec, hookimpl

from .asam import ASAM, ASAMParams
from .crsam import CRSAM, CRSAMParams
from .gsam import GSAM, GSAMParams
from .looksam import LookSAM, LookSAMParams
from .none import NoneParams, NoneRule
from .rst import RST, RSTParams
from .sam import SAM, SAMParams
from .sam_on import SAMON, SAMONParams
from .wsam import WSAM, WSAMParams


@hookimpl
def sharpreg_sharpness_rules() -> list[RuleSpec]:
    return [
        RuleSpec("none", NoneParams, NoneRule, "The plain base optimizer through the same engine (one pass)."),
        RuleSpec(
            "sam", SAMParams, SAM, "Sharpness-aware minimization: the base step uses the gradient at w + rho g/‖g‖.",
            citation="Foret, Kleiner, Mobahi, Neyshabur. Sharpness-Aware Minimization for Efficiently "
            "Improving Generalization. ICLR 2021. arXiv:2010.01412",
            capabilities=frozenset({"two_pass"}),
        ),
        RuleSpec(
            "asam", ASAMParams, ASAM, "Adaptive SAM: the perturbation is scaled element-wise by |w| + eta.",
            citation="Kwon, Kim, Park, Choi. ASAM: Adaptive Sharpness-Aware Minimization for "
            "Scale-Invariant Learning of Deep Neural Networks. ICML 2021. arXiv:2102.11600",
            capabilities=frozenset({"two_pass"}),
        ),
        RuleSpec(
            "gsam", GSAMParams, GSAM, "Surrogate-gap SAM: g_p minus alpha times the part of g orthogonal to g_p.",
            citation="Zhuang, Gong, Yuan, Cui, Adam, Dvornek, Tatikonda, Duncan, Liu. Surrogate Gap "
            "Guided Sharpness-Aware Minimization. ICLR 2022. arXiv:2203.08065",
            capabilities=frozenset({"two_pass"}),
        ),
        RuleSpec(
            "wsam", WSAMParams, WSAM, "Weighted SAM: sharpness as a regularization term weighted by gamma/(1-gamma).",
            citation="Yue, Jiang, Ye, Gao, Liu, Zhang. Sharpness-Aware Minimization Revisited: Weighted "
            "Sharpness as a Regularization Term. KDD 2023. arXiv:2305.15817",
            capabilities=frozenset({"two_pass"}),
        ),
        RuleSpec(
            "crsam", CRSAMParams, CRSAM, "Curvature-regularized SAM: three passes at w, w+e, w-e.",
            citation="Wu, Luo, Wunsch. CR-SAM: Curvature Regularized Sharpness-Aware Minimization. "
            "AAAI 2024. arXiv:2312.13555",
            capabilities=frozenset({"three_pass"}),
        ),
        RuleSpec(
            "looksam", LookSAMParams, LookSAM,
            "LookSAM: a SAM step every k steps; one pass in between, re-adding the stored part of g_p orthogonal to g.",
            citation="Liu, Mai, Chen, Hsieh, You. Towards Efficient and Scalable Sharpness-Aware Minimization. "
            "CVPR 2022. arXiv:2203.02714",
            capabilities=frozenset({"skips_passes"}),
        ),
        RuleSpec(
            "rst", RSTParams, RST,
            "Randomized SAM: each step is a SAM step with probability p (constant or scheduled), else a base step.",
            citation="Zhao, Zhang, Hu. Randomized Sharpness-Aware Training for Boosting Computational Efficiency "
            "in Deep Learning. arXiv:2203.09962, 2022",
            capabilities=frozenset({"skips_passes"}),
        ),
        RuleSpec(
            "sam_on", SAMONParams, SAMON,
            "SAM-ON: the SAM (or ASAM) perturbation of the normalization layers' parameters only.",
            citation="Mueller, Vlaar, Rolnick, Hein. Normalization Layers Are All That Sharpness-Aware "
            "Minimization Needs. NeurIPS 2023. arXiv:2306.04226",
            capabilities=frozenset({"two_pass", "parameter_roles"}),
        ),
    ]
