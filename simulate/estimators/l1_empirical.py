"""The l1-regularized DSM estimator over all functions: the soft-thresholded empirical one.

Over an unrestricted function class the penalized DSM objective is minimized pointwise, by
S(E[Y | x], r_t / 2) with the conditional mean of the training pairs' target (SCIENCE.md 5),
S(z, tau) = sign(z) max(|z| - tau, 0) coordinatewise. Reading (a), ``"score"``: the
soft-thresholded :class:`~simulate.estimators.Empirical` score. Reading (b), ``"denoiser"``:
the soft-thresholded empirical posterior mean S(Dhat(x), r_t / 2), score by Tweedie.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._kernels.estimators import (
    _loo_denoiser_rows,
    _score_empirical_soft,
    empirical_params,
)
from simulate.estimators.base import training_pairs
from simulate.estimators.l1 import L1Estimator
from simulate.estimators.r_policy import CrossValidatedR, GivenR, RuleR
from simulate.noise_level import noise_scales
from simulate.schedules import Schedule

__all__ = ["LOO_SUBSAMPLE", "L1EmpiricalDSM"]

#: Training pairs used by the leave-one-out residual scale of the rule.
LOO_SUBSAMPLE = 256


class L1EmpiricalDSM(L1Estimator):
    """Soft-thresholded empirical minimizer of the l1-penalized DSM (module docstring).

    Parameters
    ----------
    data, n, points, seed
        Training data, as for :class:`~simulate.estimators.Empirical`.
    r : number, array (T,), "rule" or a :class:`~simulate.estimators.r_policy.RuleR`
        With the rule, sigma_t is, for ``r_rule="scaled"``, the residual RMS of the
        leave-one-out empirical posterior mean on ``LOO_SUBSAMPLE`` training pairs
        (in-sample it would be ~0: the empirical minimizer memorizes), and for "null" the
        largest sd of the target. Cross-validation is not offered for this class.
    parametrization : {"denoiser", "score"}
    r_rule, r_constant
        The rule's kind and constant when r is "rule".
    """

    function_class = "nonparametric"

    def __init__(self, *args: Any, r: Any = "rule", **kwargs: Any) -> None:
        if (isinstance(r, str) and r == "cv") or isinstance(r, CrossValidatedR):
            raise ValueError(
                "r='cv' is available for function_class='linear' only; "
                "give r a value or 'rule' for the nonparametric class"
            )
        super().__init__(*args, r=r, **kwargs)
        self._points_params = empirical_params(self.points)

    def _fit(self, schedule: Schedule) -> None:
        T = schedule.T
        if isinstance(self.r, GivenR):
            r_used, sigma = self.r.per_step(T), np.full(T, np.nan)
        else:
            assert isinstance(self.r, RuleR)
            sigma = np.array([self._residual_scale(schedule, t) for t in range(1, T + 1)])
            r_used = self.r.factor(self.d, self.n) * sigma
        self._tau = 0.5 * r_used
        self._mode = np.array([0 if self.parametrization == "score" else 1], dtype=np.int64)
        self.r_per_step, self.sigma_per_step = r_used, sigma

    def _residual_scale(self, schedule: Schedule, t: int) -> float:
        """sigma_t of the rule: the largest residual RMS over outputs (class docstring).

        Score reading: Y - s^(-i)(x_t) = a (x_0 - Dhat^(-i)(x_t)) / v.
        """
        assert isinstance(self.r, RuleR)
        alpha_bar_t = schedule.level(t)
        a, v = noise_scales(alpha_bar_t)
        xt, noise = training_pairs(self.points, self.seed, t, alpha_bar_t, self.noise)
        denoiser = self.parametrization == "denoiser"
        if self.r.kind == "null":
            target = self.points if denoiser else -noise / v
            return float(np.max(np.std(target, axis=0)))
        m = min(self.n, LOO_SUBSAMPLE)
        fitted = np.empty((m, self.d))
        rows = np.arange(m, dtype=np.int64)
        _loo_denoiser_rows(
            np.ascontiguousarray(xt[:m]), rows, float(alpha_bar_t), v, self.points, fitted
        )
        resid = self.points[:m] - fitted
        if not denoiser:
            resid *= a / v
        return float(np.sqrt(np.max(np.mean(resid * resid, axis=0))))

    def _kernel(self) -> tuple[Any, tuple]:
        return _score_empirical_soft, (*self._points_params, self._tau, self._mode)
