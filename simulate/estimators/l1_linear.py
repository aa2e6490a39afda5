"""The l1-regularized DSM estimator with an affine function class, fitted by the lasso.

Reading (b), ``parametrization="denoiser"`` (SCIENCE.md 5): lasso-fitted affine denoiser
D_t(x) = W_t x + c_t (s^2 non-zeros in W_t for data on s coordinates, instead of d^2), score
by Tweedie: S_t = (a W_t - I)/v, b_t = a c_t / v. Reading (a), ``"score"``: lasso on the rows
of S_t with the DSM target, solved in the units of v * Y (coefficients v S_t, of order one at
every t), which is the same problem with level r v / 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulate._validation import check_int, check_real
from simulate.estimators.base import SharedNoiseMoments, _AffineFitted, training_pairs
from simulate.estimators.l1 import L1Estimator
from simulate.estimators.r_policy import CrossValidatedR, GivenR, RuleR
from simulate.lasso import LASSO_MAX_SWEEPS, LASSO_TOL, GramProblem
from simulate.noise_level import noise_scales
from simulate.schedules import Schedule

__all__ = ["L1LinearDSM"]


class L1LinearDSM(_AffineFitted, L1Estimator):
    """Affine l1-regularized DSM (module docstring), one lasso per step.

    The intercepts are not penalized. The lasso is solved by ``simulate.lasso`` (alpha =
    r/2), warm-started from the previous step's solution (and along the path for CV).

    Parameters
    ----------
    data, n, points, seed, r, parametrization, r_rule, r_constant, cv_folds
        As for :class:`~simulate.estimators.l1.L1Estimator` (r may be "cv" here).
    fit_intercept : bool
    tol, max_iter
        Lasso stopping rule and iteration cap; hitting the cap warns, naming the step t
        and the duality gap.

    Attributes
    ----------
    r_per_step, sigma_per_step
        As in :class:`~simulate.estimators.l1.L1Estimator`.
    nnz_per_step : (T,) non-zero penalized coefficients.
    gap_per_step, sweeps_per_step : (T,) largest duality gap and sweep count over outputs.
    """

    function_class = "linear"

    def __init__(
        self,
        *args: Any,
        fit_intercept: bool = True,
        tol: float = LASSO_TOL,
        max_iter: int = LASSO_MAX_SWEEPS,
        **kwargs: Any,
    ) -> None:
        L1Estimator.__init__(self, *args, **kwargs)
        self.fit_intercept = bool(fit_intercept)
        self.tol = check_real("tol", tol, low=0.0)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.nnz_per_step: np.ndarray | None = None
        self.gap_per_step: np.ndarray | None = None
        self.sweeps_per_step: np.ndarray | None = None

    def _fit(self, schedule: Schedule) -> None:
        T, d = schedule.T, self.d
        given = self.r.per_step(T) if isinstance(self.r, GivenR) else None
        failures: list[str] = []

        def solve(
            prob: GramProblem, lam: float, W: np.ndarray, where: str, polish: bool = True
        ) -> tuple:
            lam_all = np.full(d, lam)
            return prob.solve(
                lam_all, W, self.tol, self.max_iter, where, failures=failures, polish=polish
            )

        denoiser = self.parametrization == "denoiser"
        S = np.empty((T, d, d))
        b = np.empty((T, d))
        eye = np.eye(d)
        r_used = np.empty(T)
        sigma = np.full(T, np.nan)
        nnz = np.empty(T, dtype=np.int64)
        gaps = np.empty(T)
        sweeps = np.empty(T, dtype=np.int64)
        W = np.zeros((d, d))  # warm start, carried from step to step
        # shared noise: the step's statistics from moments computed once (CV needs the pairs)
        moments = (
            SharedNoiseMoments(self.points, self.seed, self.fit_intercept)
            if self.noise == "shared" and not isinstance(self.r, CrossValidatedR)
            else None
        )
        for t in range(1, T + 1):
            alpha_bar_t = schedule.level(t)
            a, v = noise_scales(alpha_bar_t)
            unit = 1.0 if denoiser else v  # lasso level alpha = r * unit / 2
            if moments is not None:
                xt = target = None
                prob = moments.problem(alpha_bar_t, "x0" if denoiser else "score")
            else:
                xt, noise = training_pairs(self.points, self.seed, t, alpha_bar_t, self.noise)
                # Targets: x_0 (denoiser reading) or v * Y = -sqrt(v) z (score reading).
                target = self.points if denoiser else -noise
                prob = GramProblem(xt, target, self.fit_intercept)
            where = f"at step t={t} (alpha_bar_t={alpha_bar_t:.6g})"
            if given is not None:
                lam = 0.5 * given[t - 1] * unit
                W, gap, _, sw = solve(prob, lam, W, where)
            elif isinstance(self.r, RuleR):
                lam, sig, (W, gap, _, sw) = self.r.level_linear(prob, W, solve, where, d, self.n)
                sigma[t - 1] = sig / unit
            else:
                lam, (W, gap, _, sw) = self.r.level_linear(
                    xt, target, prob, W, solve, where, self.seed, t, self.fit_intercept
                )
            r_used[t - 1] = 2.0 * lam / unit
            c = prob.intercept(W)
            if denoiser:
                S[t - 1] = (a * W - eye) / v
                b[t - 1] = a * c / v
            else:
                S[t - 1] = W / v
                b[t - 1] = c / v
            nnz[t - 1] = np.count_nonzero(W)
            gaps[t - 1] = float(np.max(gap))
            sweeps[t - 1] = int(np.max(sw))
        self._S, self._b = S, b
        self.r_per_step, self.sigma_per_step = r_used, sigma
        self.nnz_per_step, self.gap_per_step, self.sweeps_per_step = nnz, gaps, sweeps
        self._warn_failures(failures)
