"""The paper's l1-regularized DSM estimator: shared set-up and the ``L1DSM`` front door.

Objective at step t over the n training pairs (the paper's Eq. 3 as read, SCIENCE.md 5):

    (1/n) sum_i ||Y_i - f(x_t^(i))||^2 + r_t ||theta||_1,

with ``parametrization`` saying where the penalty sits: ``"score"`` (reading (a): f is the
score, Y_i = -(x_t - a x_0)/v the DSM target) or ``"denoiser"`` (reading (b): f is the
denoiser, Y_i = x_0^(i); equivalently the penalty is on the score's deviation from the
pure-noise score -x/v). Two function classes, one class each:

- :class:`~simulate.estimators.l1_linear.L1LinearDSM`: affine f, fitted by the lasso;
- :class:`~simulate.estimators.l1_empirical.L1EmpiricalDSM`: f unrestricted, whose pointwise
  minimizer is the soft-thresholded empirical one.

:func:`L1DSM` builds either from ``function_class``. The choice of r is a policy
(``simulate.estimators.r_policy``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from simulate._validation import check_choice, check_int
from simulate.estimators.base import NOISE_MODES, _KernelEstimator, _training_points
from simulate.estimators.r_policy import RULE_CONSTANT, CrossValidatedR, RPolicy, r_policy
from simulate.lasso import LassoConvergenceWarning

__all__ = ["L1DSM", "L1Estimator"]


class L1Estimator(_KernelEstimator):
    """Training points, the penalty's reading and the r policy, shared by both classes.

    Parameters
    ----------
    data, n, points, seed
        Training data: a model drawn ``n`` times with ``seed``, or the points themselves.
    r : number, array (T,), "rule", "cv" or a policy (``simulate.estimators.r_policy``)
    parametrization : {"denoiser", "score"}
        Where the penalty sits (module docstring).
    r_rule, r_constant, cv_folds
        The rule's kind and constant, and the CV folds (2 <= K <= n), when r is a string.
    noise : {"per_step", "shared"}
        Fresh training noise at every step (default) or one draw shared by all steps
        (:func:`~simulate.estimators.base.training_pairs`).

    Attributes
    ----------
    r : RPolicy
        The policy that chooses r_t.
    r_per_step : (T,) r_t used at each step (units of the stated objective).
    sigma_per_step : (T,) residual scale of the rule (NaN when r is given or CV).
    """

    function_class: str

    def __init__(
        self,
        data: Any = None,
        n: Any = None,
        *,
        points: Any = None,
        r: Any = "rule",
        parametrization: str = "denoiser",
        r_rule: str = "scaled",
        r_constant: float = RULE_CONSTANT,
        cv_folds: int = 5,
        seed: int = 0,
        noise: str = "per_step",
    ) -> None:
        self.noise = check_choice("noise", noise, NOISE_MODES)
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.seed = int(seed)
        self.r: RPolicy = r_policy(r, r_rule, r_constant, cv_folds)
        self.parametrization = check_choice(
            "parametrization", parametrization, ("denoiser", "score")
        )
        if isinstance(self.r, CrossValidatedR):
            check_int("cv_folds", self.r.folds, low=2, high=self.n)
        self.r_per_step: np.ndarray | None = None
        self.sigma_per_step: np.ndarray | None = None

    def _warn_failures(self, failures: list[str]) -> None:
        """One LassoConvergenceWarning for all the lasso fits that hit their cap."""
        if failures:
            more = len(failures) - 1
            extra = f" [and {more} more lasso fit(s) of this estimator]" if more else ""
            warnings.warn(
                failures[0] + extra,
                LassoConvergenceWarning,
                stacklevel=4,
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={self.n}, d={self.d}, "
            f"parametrization={self.parametrization!r}, r={self.r.label()!r}"
            + (", noise='shared')" if self.noise == "shared" else ")")
        )


def L1DSM(
    data: Any = None, n: Any = None, *, function_class: str = "linear", **options: Any
) -> L1Estimator:
    """The paper's l1-regularized DSM estimator of ``function_class`` (module docstring).

    ``function_class="linear"``: ``L1LinearDSM(data, n, **options)``; ``"nonparametric"``:
    ``L1EmpiricalDSM(data, n, **options)`` (which takes neither ``fit_intercept``, ``tol``,
    ``max_iter`` nor ``cv_folds``, and no r="cv"). The options are the classes' keywords:
    ``points``, ``r``, ``parametrization``, ``r_rule``, ``r_constant``, ``seed``, ...
    """
    from simulate.estimators.l1_empirical import L1EmpiricalDSM
    from simulate.estimators.l1_linear import L1LinearDSM

    function_class = check_choice("function_class", function_class, ("linear", "nonparametric"))
    cls = L1LinearDSM if function_class == "linear" else L1EmpiricalDSM
    return cls(data, n, **options)
