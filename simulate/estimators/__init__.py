"""Score estimators s_t, fitted per step of a schedule (SCIENCE.md section 5).

=======================  =================================================================
module                   estimators
=======================  =================================================================
``base``                 the protocol (``Estimator``, capabilities ``AffineScore`` and
                         ``KernelScore``), training pairs, frozen per-schedule fits
``exact``                ``Exact``: the model's closed-form score (the oracle)
``perturbed``            ``Perturbed``: a base score plus an error of prescribed L2 size
``empirical``            ``Empirical``: the smoothed empirical score; ``memorization``
``linear``               ``LinearDSM``: least-squares affine DSM
``l1_linear``            ``L1LinearDSM``: the paper's l1-penalized DSM, affine class (lasso)
``l1_empirical``         ``L1EmpiricalDSM``: the same over all functions (soft-thresholded
                         empirical minimizer)
``l1``                   ``L1DSM``: builds either l1 estimator from ``function_class``
``network``              ``L1NetworkDSM``: a time-conditioned MLP trained by DSM with an l1
                         penalty on its weights (proximal Adam) or its output
``r_policy``             how r_t is chosen: ``GivenR``, ``RuleR``, ``CrossValidatedR``
=======================  =================================================================

Every estimator follows one protocol: ``fit(schedule)`` (returns the fitted estimator;
the samplers call it), ``score(x, t)``, ``denoiser(x, t)``, and where available
``score_kernel()`` for the fused sampler path and ``affine_score(t)`` for the exact law.
Estimators with a kernel compute their NumPy ``score`` by applying that same row kernel to
every row (``simulate.kernels.apply_row_kernel``), so the fused and batch sampler paths
agree bit for bit.

DSM regression at step t (SCIENCE.md 2): the target of one pair is
Y = -(x_t - a x_0) / v; its conditional mean given x_t is the score, and the irreducible
residual Y - grad log q_t(x_t) = a (x_0 - D_t(x_t)) / v is the posterior noise of x_0 scaled
by a / v. Least squares on Y and least squares on x_0 are the same fit (the map between the
two parametrizations is affine and invertible); an l1 penalty is not.
"""

from simulate.estimators.base import (
    STREAM_CV_FOLDS,
    STREAM_PERTURBATION,
    STREAM_TRAINING_NOISE,
    AffineScore,
    Estimator,
    KernelScore,
    as_estimator,
    training_noise,
)
from simulate.estimators.empirical import Empirical, memorization
from simulate.estimators.exact import Exact
from simulate.estimators.l1 import L1DSM, L1Estimator
from simulate.estimators.l1_empirical import LOO_SUBSAMPLE, L1EmpiricalDSM
from simulate.estimators.l1_linear import L1LinearDSM
from simulate.estimators.linear import LinearDSM
from simulate.estimators.network import L1NetworkDSM
from simulate.estimators.perturbed import Perturbed
from simulate.estimators.r_policy import (
    RULE_CONSTANT,
    CrossValidatedR,
    GivenR,
    RPolicy,
    RuleR,
    r_policy,
)
from simulate.lasso import (
    LASSO_MAX_SWEEPS,
    LASSO_TOL,
    LassoConvergenceWarning,
    LassoResult,
    lasso,
)

__all__ = [
    "L1DSM",
    "LASSO_MAX_SWEEPS",
    "LASSO_TOL",
    "LOO_SUBSAMPLE",
    "RULE_CONSTANT",
    "STREAM_CV_FOLDS",
    "STREAM_PERTURBATION",
    "STREAM_TRAINING_NOISE",
    "AffineScore",
    "CrossValidatedR",
    "Empirical",
    "Estimator",
    "Exact",
    "GivenR",
    "KernelScore",
    "L1EmpiricalDSM",
    "L1Estimator",
    "L1LinearDSM",
    "L1NetworkDSM",
    "LassoConvergenceWarning",
    "LassoResult",
    "LinearDSM",
    "Perturbed",
    "RPolicy",
    "RuleR",
    "as_estimator",
    "lasso",
    "memorization",
    "r_policy",
    "training_noise",
]
