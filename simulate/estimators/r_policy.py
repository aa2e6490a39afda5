"""How the l1 level r_t of the regularized DSM estimators is chosen (SCIENCE.md 5).

A policy is a small frozen object, one per rule, handed to the l1 estimators as ``r=``:

=========================  ================================================================
policy                     r_t
=========================  ================================================================
:class:`GivenR`            a number, or one value per step, used as given
:class:`RuleR`             c sigma_t sqrt(2 log d / n), sigma_t the residual scale of the
                           step-t regression: ``kind="scaled"`` the scaled-lasso fixed
                           point (Sun & Zhang 2012), ``kind="null"`` the null residual
:class:`CrossValidatedR`   K-fold cross-validation of the held-out DSM loss (linear class)
=========================  ================================================================

:func:`r_policy` turns the estimators' keyword arguments (``r``, ``r_rule``, ``r_constant``,
``cv_folds``) into one of these, so the choice is validated once, in one place; error
messages name those keywords (the names users write), also when a policy is built directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate._validation import checked, check_choice, check_int, check_real
from simulate.estimators.base import STREAM_CV_FOLDS, _check_per_step_input, _per_step
from simulate.lasso import GramProblem

__all__ = [
    "CV_GRID_DECADES",
    "CV_GRID_SIZE",
    "CV_TIE_RTOL",
    "RULE_CONSTANT",
    "SCALED_RULE_MAX_ITER",
    "SCALED_RULE_RTOL",
    "CrossValidatedR",
    "GivenR",
    "RPolicy",
    "RuleR",
    "cv_choice",
    "r_policy",
]

#: Default constant c of the rule r_t = c sigma_t sqrt(2 log d / n): c = 2 makes the lasso
#: level in scikit-learn's 1/(2n) scaling r/2 = sigma sqrt(2 log d / n), the universal
#: threshold (Bickel, Ritov & Tsybakov 2009 use a multiple of it).
RULE_CONSTANT = 2.0
#: Scaled-lasso iteration of the residual scale (Sun & Zhang 2012): relative change at
#: which it stops, and its cap.
SCALED_RULE_RTOL = 1e-3
SCALED_RULE_MAX_ITER = 20
#: K-fold cross-validation grid: CV_GRID_SIZE values of the lasso level from its maximum
#: lam_max (all coefficients zero) down over CV_GRID_DECADES decades, solved as a warm-started
#: path from the largest value.
CV_GRID_SIZE = 25
CV_GRID_DECADES = 6.0
#: Cross-validation's choice among near-ties: the largest level whose held-out loss is within
#: a relative CV_TIE_RTOL of the minimum (a plain argmin flips between two levels whose
#: losses agree to round-off, and with it r_t by a grid step, 0.25 decade; issue 32). The
#: fold paths are not polished (``GramProblem.solve``; polishing them cost 5x the fit), so
#: their losses carry the coordinate-descent stopping noise: measured <= ~2e-9 relative in
#: eps2 under reversed Gram summation at tol = 1e-10. 1e-6 is ~500x that noise and far below
#: any loss difference that matters statistically (the folds' Monte Carlo error is ~1e-2).
CV_TIE_RTOL = 1e-6

#: ``solve(problem, level, W_start, where, polish=True) -> (W, gap, rr, sweeps)`` of the
#: calling estimator (``polish`` as in :meth:`simulate.lasso.GramProblem.solve`).
Solver = Callable[..., tuple]


@dataclass(frozen=True)
class GivenR:
    """r_t given: a non-negative number (every step) or an array of one value per step."""

    values: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _check_per_step_input("r", self.values))

    def per_step(self, T: int) -> np.ndarray:
        """The (T,) values r_t (an array's length must be T)."""
        return _per_step("r", self.values, T)

    def label(self) -> str:
        return "given"


@dataclass(frozen=True)
class RuleR:
    """r_t = c sigma_t sqrt(2 log d / n) (module docstring); ``kind`` "scaled" or "null"."""

    kind: str = "scaled"
    constant: float = RULE_CONSTANT

    def __post_init__(self) -> None:
        # messages name the estimators' keywords (r_rule, r_constant), the names users write
        kind = check_choice("r_rule", self.kind, ("scaled", "null"))
        constant = check_real("r_constant", self.constant, low=0.0, low_open=True)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "constant", constant)

    def factor(self, d: int, n: int) -> float:
        """c sqrt(2 log d / n): r per unit of residual scale."""
        return self.constant * math.sqrt(2.0 * math.log(d) / n)

    def level_linear(
        self, prob: GramProblem, W: np.ndarray, solve: Solver, where: str, d: int, n: int
    ) -> tuple[float, float, tuple]:
        """Level r/2 (lasso units), its sigma, and the solution, for one linear regression.

        sigma starts at the null residual max_j sd(y_j); "scaled" iterates
        sigma <- max_j ||y_j - fit_j(r(sigma))|| / sqrt(n) until it changes by at most
        ``SCALED_RULE_RTOL`` (at most ``SCALED_RULE_MAX_ITER`` times).
        """
        half = 0.5 * self.factor(d, n)
        sigma = math.sqrt(float(np.max(prob.yy)))
        iterations = 1 if self.kind == "null" else SCALED_RULE_MAX_ITER
        for _ in range(iterations):
            lam = half * sigma
            solution = solve(prob, lam, W, where)
            W = solution[0]
            if self.kind == "null":
                break
            new = math.sqrt(float(np.max(solution[2])))
            if abs(new - sigma) <= SCALED_RULE_RTOL * sigma:
                break
            sigma = new
        return lam, sigma, solution

    def label(self) -> str:
        return "rule"


@dataclass(frozen=True)
class CrossValidatedR:
    """K-fold cross-validation of the DSM loss over a warm-started path (linear class only).

    ``CV_GRID_SIZE`` levels spanning ``CV_GRID_DECADES`` decades below the level at which
    every coefficient vanishes; folds from ``default_rng([seed, STREAM_CV_FOLDS, t])``.
    """

    folds: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "folds", check_int("cv_folds", self.folds, low=2))

    def level_linear(
        self,
        xt: np.ndarray,
        target: np.ndarray,
        prob: GramProblem,
        W: np.ndarray,
        solve: Solver,
        where: str,
        seed: int,
        t: int,
        fit_intercept: bool,
    ) -> tuple[float, tuple]:
        """The level minimizing the held-out loss, and the full-data solution at it."""
        n, d = xt.shape
        folds = np.random.default_rng([seed, STREAM_CV_FOLDS, t]).permutation(n)
        folds %= self.folds
        grid = prob.lam_max * np.logspace(0.0, -CV_GRID_DECADES, CV_GRID_SIZE)
        loss = np.zeros(CV_GRID_SIZE)
        for k in range(self.folds):
            held = folds == k
            sub = GramProblem(xt[~held], target[~held], fit_intercept)
            x_val = xt[held] - sub.x_mean
            y_val = target[held] - sub.y_mean
            Wk = np.zeros((d, d))
            for g, lam in enumerate(grid):
                Wk = solve(
                    sub, float(lam), Wk, f"{where}, cross-validation fold {k}", polish=False
                )[0]
                resid = y_val - x_val @ Wk.T
                loss[g] += float(np.sum(resid * resid))
        lam = float(grid[cv_choice(loss)])
        return lam, solve(prob, lam, W, where)

    def label(self) -> str:
        return "cv"


RPolicy = GivenR | RuleR | CrossValidatedR


def cv_choice(loss: np.ndarray) -> int:
    """Index of the largest level (first entry of a decreasing grid) whose loss is within
    ``CV_TIE_RTOL`` (relative) of the minimum: a choice stable under round-off."""
    loss = np.asarray(loss, dtype=np.float64)
    best = float(np.min(loss))
    return int(np.flatnonzero(loss <= best + CV_TIE_RTOL * abs(best))[0])


@checked
def r_policy(
    r: Any = "rule", r_rule: str = "scaled", r_constant: float = RULE_CONSTANT, cv_folds: int = 5
) -> RPolicy:
    """The policy meant by the estimators' arguments.

    ``r`` may be a policy object (then the other arguments are not used), "rule" (a
    :class:`RuleR` of ``r_rule`` and ``r_constant``), "cv" (a :class:`CrossValidatedR` of
    ``cv_folds``), a non-negative number or an array of one value per step (:class:`GivenR`).
    """
    if isinstance(r, GivenR | RuleR | CrossValidatedR):
        return r
    rule = RuleR(r_rule, r_constant)  # validated whatever r is, as before
    folds = CrossValidatedR(cv_folds)
    if isinstance(r, str):
        choice = check_choice("r", r, ("rule", "cv"))
        return rule if choice == "rule" else folds
    return GivenR(r)
