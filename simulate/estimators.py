"""Score estimators s_t, fitted per step of a schedule (SCIENCE.md section 5).

Notation (code -> SCIENCE.md):

=====================  ===========================================================
``t``                  step index 1..T of the fitted schedule; abar_t = alpha_bar[t-1]
``a``, ``v``           sqrt(abar_t) and 1 - abar_t
``score(x, t)``        s_t(x), the estimate of grad log q_t(x)
``denoiser(x, t)``     the estimate of D_t(x) = E[X_0 | X_t = x] (Tweedie-linked)
``affine_score(t)``    (S_t, b_t) with s_t(y) = S_t y + b_t, for ``simulate.exact``
``points``             the n training points x_0^(i), (n, d)
``x_t``                a x_0^(i) + sqrt(v) z^(i,t): the step-t training inputs
``r``                  the l1 tuning parameter of the paper's regularized DSM (its Eq. 3)
``eps``                the L2 size of an injected score error under q_t
=====================  ===========================================================

Every estimator follows one protocol: ``fit(schedule)`` (the samplers call it when needed),
``score``, ``denoiser``, ``numba_score()`` -> ``(kernel, params)`` or None for the fused
sampler path, and ``affine_score(t)`` where the estimate is affine in x. The estimators
with a kernel compute their NumPy ``score`` by applying that same row kernel to every row
(``simulate._kernels.rowwise_score``), so the fused and batch sampler paths agree bit for bit.

Training data and randomness. A fitted estimator takes n training points (``points``, or
n draws of a model with ``seed``) and, at step t, fresh noise z^(i,t) drawn from
``numpy.random.default_rng([seed, STREAM_TRAINING_NOISE, t])`` (:func:`training_noise`), so
every step sees independent pairs (x_t, x_0) and every fit is reproducible.

DSM regression at step t (SCIENCE.md 2): the target of one pair is
Y = -(x_t - a x_0) / v; its conditional mean given x_t is the score, and the irreducible
residual Y - grad log q_t(x_t) = a (x_0 - D_t(x_t)) / v is the posterior noise of x_0 scaled
by a / v. Least squares on Y and least squares on x_0 are the same fit (the map between the
two parametrizations is affine and invertible); an l1 penalty is not.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate._kernels import rowwise_score
from simulate._kernels.estimators import (
    _denoiser_empirical,
    _loo_denoiser_rows,
    _score_affine,
    _score_empirical,
    _score_empirical_soft,
    perturbed_kernel,
)
from simulate._kernels.lasso import _lasso_gram, _lasso_gram_serial
from simulate._validation import (
    check_choice,
    check_finite_array,
    check_int,
    check_points,
    check_real,
    check_seed,
)
from simulate.models.base import DataModel, as_model, denoiser_from_score
from simulate.schedules import Schedule

__all__ = [
    "L1DSM",
    "LASSO_MAX_SWEEPS",
    "LASSO_TOL",
    "RULE_CONSTANT",
    "Empirical",
    "Estimator",
    "Exact",
    "LassoConvergenceWarning",
    "LassoResult",
    "LinearDSM",
    "Perturbed",
    "as_estimator",
    "lasso",
    "memorization",
    "training_noise",
]

#: ``numpy.random.default_rng([seed, STREAM, t])`` streams; t >= 1, and the stream tags are
#: non-zero so that no key coincides with ``default_rng(seed)`` (used for the points).
STREAM_TRAINING_NOISE = 1
STREAM_PERTURBATION = 2
STREAM_CV_FOLDS = 3

#: Relative duality-gap tolerance of the lasso: stop when gap <= tol * ||y||^2 / n (the
#: semantics of scikit-learn's ``tol``). 1e-10 is far below any statistical error here and
#: costs a few sweeps more than 1e-4 thanks to the linear convergence of coordinate descent.
LASSO_TOL = 1e-10
#: Iteration cap (full sweeps over the coordinates) per lasso problem.
LASSO_MAX_SWEEPS = 100_000
#: Smallest m p^2 (outputs x squared features) for which the lasso runs its parallel build
#: (the numbers are identical either way). Measured (benchmarks/bench_lasso.py, 2 cores
#: shared with other jobs): at d = 200 (m p^2 = 8e6) the serial build is faster, since a
#: warm-started step is a few milliseconds of work and thread wake-ups cost as much.
LASSO_PARALLEL_WORK = 2**26
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
#: Training pairs used by the leave-one-out residual scale of the nonparametric rule.
LOO_SUBSAMPLE = 256


class LassoConvergenceWarning(UserWarning):
    """A lasso fit stopped at its iteration cap with a duality gap above tolerance."""


def training_noise(seed: int, t: int, shape: tuple[int, ...]) -> np.ndarray:
    """The noise z^(i,t) of the step-t training pairs: a pure function of (seed, t)."""
    rng = np.random.default_rng([seed, STREAM_TRAINING_NOISE, t])
    return rng.standard_normal(shape)


class Estimator:
    """Base class: holds the fitted schedule and checks the step index."""

    schedule: Schedule | None = None
    d: int

    def fit(self, schedule: Schedule) -> Estimator:
        """Fit (or re-fit) the per-step estimates for ``schedule``; returns self."""
        if not isinstance(schedule, Schedule):
            raise TypeError(
                f"schedule must be a simulate.schedules.Schedule, got {type(schedule).__name__}"
            )
        if not self.is_fitted_for(schedule):
            self._fit(schedule)
            self.schedule = schedule
        return self

    def _fit(self, schedule: Schedule) -> None:
        """Per-step fitting; the default (closed-form estimators) has nothing to fit."""

    def is_fitted_for(self, schedule: Schedule) -> bool:
        s = self.schedule
        return s is not None and (s is schedule or np.array_equal(s.beta, schedule.beta))

    def alpha_bar(self, t: int) -> float:
        """abar_t of the fitted schedule, after checking 1 <= t <= T."""
        if self.schedule is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(schedule) first")
        t = check_int("t", t, low=1, high=self.schedule.T)
        return float(self.schedule.alpha_bar[t - 1])

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        raise NotImplementedError

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        """Estimate of E[X_0 | X_t = x] by Tweedie from :meth:`score`."""
        return denoiser_from_score(
            np.asarray(x, dtype=np.float64), self.score(x, t), self.alpha_bar(t)
        )

    def numba_score(self) -> tuple[Any, tuple] | None:
        """``(kernel, params)`` for the fused sampler path, or None (batch path only)."""
        return None

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(S_t, b_t) with s_t(y) = S_t y + b_t; S_t diagonal (d,) or full (d, d)."""
        raise TypeError(f"{type(self).__name__} is not an affine score estimate")


class Exact(Estimator):
    """The oracle: the model's closed-form score grad log q_t (SCIENCE.md 5, "Exact").

    Parameters
    ----------
    model : DataModel or any object following the data-model protocol
        ``score(x, alpha_bar)`` of the model is evaluated at alpha_bar = abar_t.
    """

    def __init__(self, model: Any) -> None:
        self.model: DataModel = as_model(model)
        self.d = self.model.d

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        return self.model.score(x, self.alpha_bar(t))

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        return self.model.denoiser(x, self.alpha_bar(t))

    def numba_score(self) -> tuple[Any, tuple] | None:
        return self.model.numba_score()

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self.model, "affine_score"):
            raise TypeError(f"the exact score of {self.model!r} is not affine in x")
        return self.model.affine_score(self.alpha_bar(t))

    def __repr__(self) -> str:
        return f"Exact({self.model!r})"


# -- lasso ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LassoResult:
    """Solution of :func:`lasso`.

    Attributes
    ----------
    coef : numpy.ndarray
        (p,) for a single output, (m, p) for m outputs.
    intercept : float or numpy.ndarray
        The unpenalized intercept (0 when ``fit_intercept`` is False).
    gap : numpy.ndarray
        Duality gap per output, in the 1/(2n) scaling (``simulate._kernels.lasso``).
    sweeps : numpy.ndarray
        Coordinate-descent sweeps per output.
    converged : bool
        Every output reached gap <= tol * ||y_j||^2 / n.
    """

    coef: np.ndarray
    intercept: Any
    gap: np.ndarray
    sweeps: np.ndarray
    converged: bool


class _GramProblem:
    """Sufficient statistics of a multi-output lasso: G = X^T X / n, C = Y^T X / n, yy.

    With ``fit_intercept`` the columns are centred first and the intercept is recovered
    as ybar - W xbar (it is not penalized), as scikit-learn does.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, fit_intercept: bool) -> None:
        n = X.shape[0]
        if fit_intercept:
            self.x_mean = X.mean(axis=0)
            self.y_mean = Y.mean(axis=0)
            Xc = X - self.x_mean
            Yc = Y - self.y_mean
        else:
            self.x_mean = np.zeros(X.shape[1])
            self.y_mean = np.zeros(Y.shape[1])
            Xc, Yc = X, Y
        self.n = n
        self._Xc, self._Yc = Xc, Yc  # kept for the least-squares case lam = 0
        self.G = np.ascontiguousarray(Xc.T @ Xc) / n
        self.C = np.ascontiguousarray(Yc.T @ Xc) / n
        self.yy = np.ascontiguousarray(np.einsum("ij,ij->j", Yc, Yc)) / n

    @property
    def lam_max(self) -> float:
        """The smallest common level at which every coefficient is zero: max |C|."""
        return float(np.max(np.abs(self.C))) if self.C.size else 0.0

    def solve(
        self,
        lam: np.ndarray,
        W: np.ndarray,
        tol: float,
        max_iter: int,
        where: str,
        parallel: bool = True,
        failures: list[str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Solve all outputs at levels ``lam`` (m,), warm-started from ``W`` (modified).

        Outputs with lam = 0 are solved as least squares (``numpy.linalg.lstsq``).

        Returns ``(W, gap, rr, sweeps)``. When an output hits the iteration cap, a message
        naming ``where`` and the gap is appended to ``failures``, or, if that is None, warned
        at once as a :class:`LassoConvergenceWarning`.
        """
        m = self.C.shape[0]
        gap = np.zeros(m)
        rr = np.empty(m)
        sweeps = np.zeros(m, dtype=np.int64)
        zero = lam == 0.0
        if np.any(zero):
            # lam = 0 is least squares, where the duality gap is the residual itself and never
            # vanishes: solve it directly (minimum norm when not unique, as LinearDSM does).
            B = np.linalg.lstsq(self._Xc, self._Yc[:, zero], rcond=None)[0]
            W[zero] = B.T
            R = self._Yc[:, zero] - self._Xc @ B
            rr[zero] = np.einsum("ij,ij->j", R, R) / self.n
        rest = np.flatnonzero(~zero)
        if rest.size:
            p = self.G.shape[0]
            parallel = parallel and rest.size * p * p >= LASSO_PARALLEL_WORK
            kernel = _lasso_gram if parallel else _lasso_gram_serial
            every = rest.size == m
            C = self.C if every else np.ascontiguousarray(self.C[rest])
            yy = self.yy if every else np.ascontiguousarray(self.yy[rest])
            lam_r = np.ascontiguousarray(lam if every else lam[rest])
            W_r = W if every else np.ascontiguousarray(W[rest])
            g, r, sw = np.empty(rest.size), np.empty(rest.size), np.empty(rest.size, np.int64)
            kernel(self.G, C, yy, lam_r, W_r, tol, max_iter, g, r, sw)
            if not every:
                W[rest] = W_r
            gap[rest], rr[rest], sweeps[rest] = g, r, sw
        bad = np.flatnonzero(gap > tol * self.yy)
        if bad.size:
            j = int(bad[np.argmax(gap[bad])])
            message = (
                f"lasso did not converge {where}: after {max_iter} sweeps the duality gap "
                f"of output j={j} is {gap[j]:.3g} > tol * ||y_j||^2 / n = "
                f"{tol * self.yy[j]:.3g} ({bad.size} of {m} outputs above tolerance); "
                "raise max_iter or tol"
            )
            if failures is None:
                warnings.warn(message, LassoConvergenceWarning, stacklevel=3)
            else:
                failures.append(message)
        return W, gap, rr, sweeps

    def intercept(self, W: np.ndarray) -> np.ndarray:
        return self.y_mean - W @ self.x_mean


def lasso(
    X: Any,
    y: Any,
    alpha: Any,
    *,
    fit_intercept: bool = True,
    tol: float = LASSO_TOL,
    max_iter: int = LASSO_MAX_SWEEPS,
    coef_init: Any = None,
    parallel: bool = True,
) -> LassoResult:
    """Lasso in scikit-learn's scaling, by coordinate descent on the Gram matrix.

    Solves, for every output column y_j,

        minimize_w  1/(2n) ||y_j - X w - b_j||^2 + alpha_j ||w||_1

    (b_j the unpenalized intercept), i.e. ``sklearn.linear_model.Lasso(alpha)``. The paper's
    regularized DSM objective (1/n) sum ||Y - f||^2 + r ||theta||_1 is this with
    alpha = r / 2. Algorithm and stopping rule: ``simulate._kernels.lasso``.

    Parameters
    ----------
    X : array (n, p)
    y : array (n,) or (n, m)
    alpha : float or array (m,)
        Non-negative levels, one per output or shared.
    fit_intercept : bool
    tol : float
        Stop when the duality gap <= tol * ||y_j - ybar_j||^2 / n.
    max_iter : int
        Cap on full sweeps; hitting it warns (:class:`LassoConvergenceWarning`).
    coef_init : array (p,) or (m, p), optional
        Warm start.
    parallel : bool
        Parallel loop over outputs (identical numbers to the serial build).
    """
    X = check_finite_array("X", X, ndim=2)
    y_arr = check_finite_array("y", y)
    single = y_arr.ndim == 1
    Y = y_arr[:, None] if single else y_arr
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, m), got {y_arr.shape}"
        )
    n, p = X.shape
    check_int("n (rows of X)", n, low=1)
    m = Y.shape[1]
    lam = _levels("alpha", alpha, m)
    tol = check_real("tol", tol, low=0.0)
    max_iter = check_int("max_iter", max_iter, low=1)
    prob = _GramProblem(X, Y, bool(fit_intercept))
    if coef_init is None:
        W = np.zeros((m, p))
    else:
        W = np.array(check_finite_array("coef_init", coef_init), dtype=np.float64).reshape(m, p)
    W, gap, _, sweeps = prob.solve(lam, W, tol, max_iter, "in lasso()", parallel)
    intercept = prob.intercept(W) if fit_intercept else np.zeros(m)
    converged = bool(np.all(gap <= tol * prob.yy))
    if single:
        return LassoResult(W[0], float(intercept[0]), gap, sweeps, converged)
    return LassoResult(W, intercept, gap, sweeps, converged)


def _levels(name: str, value: Any, m: int) -> np.ndarray:
    """A non-negative finite level per output from a scalar or an (m,) array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        check_real(name, value, low=0.0)
        return np.full(m, float(value))
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"{name} must be a non-negative real or an array of shape ({m},)")
    for j, a in enumerate(arr):
        check_real(f"{name}[{j}]", float(a), low=0.0)
    return np.ascontiguousarray(arr)


# -- shared machinery -------------------------------------------------------------------------


class _KernelEstimator(Estimator):
    """An estimator whose score is one numba row kernel (fused path) applied to every row.

    Subclasses implement ``_kernel() -> (fn, params)``; ``score`` applies ``fn`` with
    ``simulate._kernels.rowwise_score``, so NumPy and fused results are bit-identical.
    """

    def _kernel(self) -> tuple[Any, tuple]:
        raise NotImplementedError

    def _check_x(self, x: Any) -> np.ndarray:
        return check_points(x, self.d)

    def numba_score(self) -> tuple[Any, tuple] | None:
        if self.schedule is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(schedule) first")
        return self._kernel()

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        alpha_bar_t = self.alpha_bar(t)
        x = self._check_x(x)
        fn, params = self._kernel()
        out = np.empty_like(x)
        rowwise_score(fn)(x, int(t), alpha_bar_t, params, out)
        return out


def _training_points(data: Any, n: Any, points: Any, seed: Any) -> tuple[np.ndarray, Any]:
    """Resolve (model or points, n, points=, seed) into an (n, d) array and the model.

    ``data`` may be a data model (then n >= 2 draws with ``seed``) or an array of points;
    ``points=`` gives the points by keyword. Raises on n < 2, NaN, a wrong rank or a width
    that differs from the model's d.
    """
    seed = check_seed(seed)
    model = None
    if data is not None and not isinstance(data, (np.ndarray, list, tuple)):
        model = as_model(data)
    elif data is not None:
        if points is not None:
            raise TypeError("give the training points once: positionally or as points=")
        points = data
    if points is None:
        if model is None:
            raise TypeError("give a data model and n, or training points (points=...)")
        if n is None:
            raise TypeError("n (the number of training points) is required with a model")
        n = check_int("n", n, low=2)
        arr = model.sample(n, seed)
    else:
        arr = check_finite_array("points", points)
        if arr.ndim != 2:
            raise ValueError(f"points must have shape (n, d), got shape {arr.shape}")
        if arr.shape[0] < 2:
            raise ValueError(f"n={arr.shape[0]} training points is out of range; allowed: n >= 2")
        if n is not None and check_int("n", n, low=2) != arr.shape[0]:
            raise ValueError(f"n={n} differs from the number of points given ({arr.shape[0]})")
        if model is not None and arr.shape[1] != model.d:
            raise ValueError(
                f"points have width {arr.shape[1]}; the model has d={model.d} (must match)"
            )
    return np.ascontiguousarray(arr, dtype=np.float64), model


def _step_pairs(points: np.ndarray, seed: int, t: int, alpha_bar_t: float) -> tuple:
    """The step-t training pairs: x_t = a x_0 + sqrt(v) z and sqrt(v) z (module docstring)."""
    noise = math.sqrt(1.0 - alpha_bar_t) * training_noise(seed, t, points.shape)
    return math.sqrt(alpha_bar_t) * points + noise, noise


def _per_step(name: str, value: Any, T: int) -> np.ndarray:
    """A non-negative finite value per step from a scalar or a (T,) array."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.full(T, check_real(name, value, low=0.0))
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (T,):
        raise ValueError(
            f"{name} must be a non-negative real or an array of shape (T,) = ({T},); "
            f"got shape {arr.shape}"
        )
    for t, a in enumerate(arr, start=1):
        check_real(f"{name}[t={t}]", float(a), low=0.0)
    return arr.copy()


def _check_per_step_input(name: str, value: Any) -> Any:
    """Early check of a scalar-or-array argument (its length is checked at fit time)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        check_real(name, value, low=0.0)
        return float(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real or an array of reals, got {value!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a real or a 1-D array (one value per step)")
    for j, a in enumerate(arr):
        check_real(f"{name}[{j}]", float(a), low=0.0)
    return arr.copy()


# -- Perturbed --------------------------------------------------------------------------------


class Perturbed(_KernelEstimator):
    """A base score plus an error field of prescribed L2 size (SCIENCE.md 5, "Perturbed").

    s_t(x) = base_t(x) + e_t(x), with E_{q_t} ||e_t(X_t)||^2 = eps_t^2 exactly. How the
    field is made (u_t drawn from ``default_rng([seed, STREAM_PERTURBATION, t])``):

    - ``field="constant"``: e_t(x) = eps_t u_t / ||u_t||. A constant vector has the same
      norm at every x, so its L2 size is eps_t under *any* law q_t (no model needed).
    - ``field="linear"``: e_t(x) = G_t (x - m_t) scaled so that
      tr(G_t C_t G_t^T) = eps_t^2, where (m_t, C_t) are the mean and covariance of q_t
      (from ``model.noised_law``, so Gaussian models only); then
      E ||e_t||^2 = tr(G_t C_t G_t^T) = eps_t^2 exactly.

    ``kind="dense"``: u_t ~ N(0, I_d), G_t with iid N(0, 1) entries. ``kind="sparse"``:
    u_t non-zero on ``n_nonzero`` coordinates drawn at random (per step), G_t = diag(u_t)
    there. Both fields are affine, so an affine base stays affine (``affine_score``).

    Parameters
    ----------
    base : Estimator or data model
        A model means its exact score.
    eps : float or array (T,)
        eps_t >= 0 (a scalar: the same at every step), so eps_score^2 of SCIENCE.md 1.1 is
        mean_t eps_t^2 exactly.
    kind : {"dense", "sparse"}
    seed : int
    field : {"constant", "linear"}
    n_nonzero : int
        Non-zero coordinates of a sparse field, 1 <= n_nonzero <= d.
    model : data model, optional
        Source of q_t for ``field="linear"``; default the base's model (``Exact``).
    """

    def __init__(
        self,
        base: Any,
        eps: Any,
        kind: str = "dense",
        seed: int = 0,
        *,
        field: str = "constant",
        n_nonzero: int = 1,
        model: Any = None,
    ) -> None:
        self.base = as_estimator(base)
        self.d = self.base.d
        self.eps = _check_per_step_input("eps", eps)
        self.kind = check_choice("kind", kind, ("dense", "sparse"))
        self.field = check_choice("field", field, ("constant", "linear"))
        self.seed = check_seed(seed)
        self.n_nonzero = check_int("n_nonzero", n_nonzero, low=1, high=self.d)
        self.model = model if model is not None else getattr(self.base, "model", None)
        if self.field == "linear" and not hasattr(self.model, "noised_law"):
            raise TypeError(
                "field='linear' needs the law of q_t: pass model= a Gaussian model with "
                f"noised_law() (got {self.model!r}); field='constant' works for any model"
            )
        self.eps_per_step: np.ndarray | None = None

    def _fit(self, schedule: Schedule) -> None:
        self.base.fit(schedule)
        T, d = schedule.T, self.d
        eps = _per_step("eps", self.eps, T)
        linear = self.field == "linear"
        G = np.zeros((T, d, d)) if linear else np.zeros((T, 0, 0))
        h = np.zeros((T, d))
        for t in range(1, T + 1):
            rng = np.random.default_rng([self.seed, STREAM_PERTURBATION, t])
            if self.kind == "dense":
                u = rng.standard_normal(d)
            else:
                u = np.zeros(d)
                idx = rng.choice(d, size=self.n_nonzero, replace=False)
                u[idx] = rng.standard_normal(self.n_nonzero)
            if not linear:
                h[t - 1] = eps[t - 1] * u / np.linalg.norm(u)
                continue
            Gt = rng.standard_normal((d, d)) if self.kind == "dense" else np.diag(u)
            law = self.model.noised_law(float(schedule.alpha_bar[t - 1]))
            cov = np.diag(law.cov) if np.ndim(law.cov) == 1 else law.cov
            size2 = float(np.trace(Gt @ cov @ Gt.T))
            Gt = Gt * (eps[t - 1] / math.sqrt(size2))
            G[t - 1] = Gt
            h[t - 1] = -Gt @ law.mean
        self._G, self._h = G, h
        self.eps_per_step = eps

    def _kernel(self) -> tuple[Any, tuple]:
        base = self.base.numba_score()
        if base is None:
            raise TypeError("the base estimator has no numba kernel")
        fn, params = base
        return perturbed_kernel(fn, self.field == "linear"), (self._G, self._h, *params)

    def numba_score(self) -> tuple[Any, tuple] | None:
        if self.schedule is None:
            raise RuntimeError("Perturbed is not fitted: call fit(schedule) first")
        return self._kernel() if self.base.numba_score() is not None else None

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        self.alpha_bar(t)  # fitted, and 1 <= t <= T
        if self.base.numba_score() is not None:
            return super().score(x, t)
        x = self._check_x(x)
        out = np.array(self.base.score(x, t), dtype=np.float64)
        if self.field == "linear":
            out += x @ self._G[t - 1].T
        out += self._h[t - 1]
        return out

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        self.alpha_bar(t)
        S, b = self.base.affine_score(t)
        b = b + self._h[t - 1]
        if self.field == "constant":
            return S, b
        S_full = np.diag(S) if S.ndim == 1 else S
        return S_full + self._G[t - 1], b

    def __repr__(self) -> str:
        return f"Perturbed({self.base!r}, eps={self.eps}, kind={self.kind!r}, field={self.field!r})"


# -- Empirical --------------------------------------------------------------------------------


class Empirical(_KernelEstimator):
    """Exact score of the Gaussian-smoothed empirical law of n points (SCIENCE.md 5).

    q_t^emp = (1/n) sum_i N(a x_0^(i), v I), so (SCIENCE.md 4.2 with Sigma_j = 0)
    score(x) = (a Dhat(x) - x) / v, Dhat(x) = sum_i w_i(x) x_0^(i),
    w = softmax_i(-||x - a x_0^(i)||^2 / (2 v)). This is the minimizer of the DSM objective
    over all functions for these n points (with every noise draw): it reproduces the
    training points, i.e. it memorizes (:func:`memorization` measures how much).
    Nothing is fitted: the estimate is the same closed form at every step.

    Parameters
    ----------
    data : data model or array (n, d)
        A model is sampled ``n`` times with ``seed``; an array is the points themselves.
    n : int, optional
        Number of points to draw from a model (n >= 2).
    points : array (n, d), optional
        The training points by keyword.
    seed : int
    """

    def __init__(
        self, data: Any = None, n: Any = None, *, points: Any = None, seed: int = 0
    ) -> None:
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.seed = int(seed)

    def _kernel(self) -> tuple[Any, tuple]:
        return _score_empirical, (self.points,)

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        """Dhat(x) = sum_i w_i(x) x_0^(i), computed directly (not through Tweedie)."""
        alpha_bar_t = self.alpha_bar(t)
        x = self._check_x(x)
        out = np.empty_like(x)
        rowwise_score(_denoiser_empirical)(x, int(t), alpha_bar_t, (self.points,), out)
        return out

    def memorization(self, samples: Any, ratio: float = 1.0 / 3.0) -> dict[str, float]:
        """:func:`memorization` of ``samples`` against this estimator's training points."""
        return memorization(samples, self.points, ratio)

    def __repr__(self) -> str:
        return f"Empirical(n={self.n}, d={self.d})"


def memorization(samples: Any, points: Any, ratio: float = 1.0 / 3.0) -> dict[str, float]:
    """How much generated samples copy the training points.

    A sample counts as memorized when its distance to the nearest training point is below
    ``ratio`` times the distance to the second nearest (the criterion of Yoon, Choi, Kwon &
    Ryu, "Diffusion probabilistic models generalize when they fail to memorize", 2023,
    with ratio 1/3).

    Returns
    -------
    dict with ``memorized_fraction``, ``nn_distance_mean`` (mean distance to the nearest
    training point) and ``nn_ratio_median`` (median of nearest / second-nearest).
    """
    x = check_finite_array("samples", samples, ndim=2)
    p = check_finite_array("points", points, ndim=2)
    ratio = check_real("ratio", ratio, low=0.0, high=1.0, low_open=True)
    if x.shape[1] != p.shape[1]:
        raise ValueError(f"samples have width {x.shape[1]}, points {p.shape[1]} (must match)")
    if p.shape[0] < 2:
        raise ValueError("memorization needs at least 2 training points")
    nearest = np.empty(x.shape[0])
    second = np.empty(x.shape[0])
    p2 = np.einsum("ij,ij->i", p, p)
    chunk = max(1, 2**22 // max(p.shape[0], 1))
    for start in range(0, x.shape[0], chunk):
        xc = x[start : start + chunk]
        d2 = np.einsum("ij,ij->i", xc, xc)[:, None] - 2.0 * xc @ p.T + p2[None, :]
        two = np.partition(np.maximum(d2, 0.0), 1, axis=1)[:, :2]
        nearest[start : start + chunk] = np.sqrt(two[:, 0])
        second[start : start + chunk] = np.sqrt(two[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(second > 0.0, nearest / second, 0.0)
    return {
        "memorized_fraction": float(np.mean(r < ratio)),
        "nn_distance_mean": float(np.mean(nearest)),
        "nn_ratio_median": float(np.median(r)),
    }


# -- DSM estimators ---------------------------------------------------------------------------


class _AffineFitted(_KernelEstimator):
    """A fitted per-step affine score s_t(x) = S_t x + b_t, stored as (T, d, d) and (T, d)."""

    _S: np.ndarray
    _b: np.ndarray

    def _kernel(self) -> tuple[Any, tuple]:
        return _score_affine, (self._S, self._b)

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        self.alpha_bar(t)
        return self._S[t - 1].copy(), self._b[t - 1].copy()

    def denoiser_coefficients(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(W_t, c_t) with D_t(x) = W_t x + c_t, by Tweedie: W = (I + v S) / a, c = v b / a."""
        alpha_bar_t = self.alpha_bar(t)
        a, v = math.sqrt(alpha_bar_t), 1.0 - alpha_bar_t
        return (np.eye(self.d) + v * self._S[t - 1]) / a, v * self._b[t - 1] / a


class LinearDSM(_AffineFitted):
    """Per-step affine denoiser by least squares: the unregularized DSM estimator.

    At each step t (SCIENCE.md 5, "Linear DSM"), regress x_0 on x_t over the n training
    pairs (fresh noise per step): D_t(x) = W_t x + c_t with (W_t, c_t) minimizing
    (1/n) sum_i ||x_0^(i) - W x_t^(i) - c||^2 (+ ``ridge`` ||W||_F^2); d^2 + d parameters
    per step. By Tweedie the score is affine, s_t(x) = S_t x + b_t with
    S_t = (a W_t - I) / v, b_t = a c_t / v; least squares on the DSM target gives the same
    fit.

    For n <= d (the centred design has rank < d) the least-squares solution is not unique;
    with ``ridge=0`` the minimum-norm solution is returned (``numpy.linalg.lstsq``, SVD),
    which is the limit of the ridge solution as ridge -> 0+. With ``ridge > 0`` the normal
    equations (X^T X / n + ridge I) W^T = X^T Y / n are solved.

    Parameters
    ----------
    data : data model or array (n, d)
        A model is sampled ``n`` times with ``seed``; an array is the training points.
    n : int, optional
        Number of training points to draw from a model (n >= 2).
    points : array (n, d), optional
        Training points by keyword.
    fit_intercept : bool
        Fit c_t (unpenalized); False forces c_t = 0.
    ridge : float
        Ridge level >= 0 (0: least squares, minimum norm when not unique).
    seed : int
        Seeds the points (model) and the per-step noise (:func:`training_noise`).
    """

    def __init__(
        self,
        data: Any = None,
        n: Any = None,
        *,
        points: Any = None,
        fit_intercept: bool = True,
        ridge: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.fit_intercept = bool(fit_intercept)
        self.ridge = check_real("ridge", ridge, low=0.0)
        self.seed = int(seed)

    def _fit(self, schedule: Schedule) -> None:
        T, d = schedule.T, self.d
        S = np.empty((T, d, d))
        b = np.empty((T, d))
        eye = np.eye(d)
        for t in range(1, T + 1):
            alpha_bar_t = float(schedule.alpha_bar[t - 1])
            a, v = math.sqrt(alpha_bar_t), 1.0 - alpha_bar_t
            xt, _ = _step_pairs(self.points, self.seed, t, alpha_bar_t)
            W, c = self._least_squares(xt, self.points)
            S[t - 1] = (a * W - eye) / v
            b[t - 1] = a * c / v
        self._S, self._b = S, b

    def _least_squares(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, d = X.shape
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
            Xc, Yc = X - x_mean, Y - y_mean
        else:
            x_mean, y_mean = np.zeros(d), np.zeros(Y.shape[1])
            Xc, Yc = X, Y
        if self.ridge > 0.0:
            B = np.linalg.solve(Xc.T @ Xc / n + self.ridge * np.eye(d), Xc.T @ Yc / n)
        else:
            B = np.linalg.lstsq(Xc, Yc, rcond=None)[0]
        W = np.ascontiguousarray(B.T)
        return W, y_mean - W @ x_mean

    def __repr__(self) -> str:
        return f"LinearDSM(n={self.n}, d={self.d}, ridge={self.ridge:g})"


class L1DSM(_AffineFitted):
    """The paper's l1-regularized DSM estimator, in both readings of SCIENCE.md 5.

    Objective at step t over the n training pairs (the paper's Eq. 3 as read here):

        (1/n) sum_i ||Y_i - f(x_t^(i))||^2 + r_t ||theta||_1,

    with ``parametrization`` saying where the penalty sits:

    - ``"score"`` (reading (a)): f is the score, Y_i = -(x_t - a x_0)/v the DSM target,
      theta its coefficients. Linear class: s_t(x) = S_t x + b_t, lasso on the rows of S_t.
      Nonparametric class: the pointwise minimizer S(E[Y | x], r_t / 2) with the
      conditional mean of the training pairs' target, i.e. the soft-thresholded
      :class:`Empirical` score.
    - ``"denoiser"`` (reading (b)): f is the denoiser, Y_i = x_0^(i); equivalently the
      penalty is on the deviation of the score from the pure-noise score -x/v. Linear class:
      lasso-fitted affine denoiser D_t(x) = W_t x + c_t (s^2 non-zeros in W_t for data on s
      coordinates, instead of d^2), score by Tweedie: S_t = (a W_t - I)/v, b_t = a c_t / v.
      Nonparametric class: the soft-thresholded empirical posterior mean S(Dhat(x), r_t / 2).

    The intercepts are not penalized. The lasso is solved by :func:`lasso` (alpha = r/2),
    warm-started from the previous step's solution (and along the path for ``r="cv"``). In
    the score reading it is solved in the units of v * Y (coefficients v S_t, of order one at
    every t), which is the same problem with level r v / 2.

    Choice of r, recorded per step in :attr:`r_per_step` (units of the stated objective):

    - a number or an array (T,): used as given;
    - ``"rule"`` (default): r_t = c sigma_t sqrt(2 log d / n), c = ``r_constant``, with the
      residual scale sigma_t of the step-t regression (the largest over the d outputs, the
      union bound over outputs). ``r_rule="scaled"``: sigma_t is the fixed point
      sigma = max_j ||y_j - fit_j(r(sigma))|| / sqrt(n) of the scaled lasso (Sun & Zhang
      2012), started from the null residual; ``r_rule="null"``: sigma_t = max_j sd(y_j),
      no iteration (conservative). Nonparametric class, ``"scaled"``: the leave-one-out
      residual of the empirical posterior mean on ``LOO_SUBSAMPLE`` training pairs.
    - ``"cv"`` (linear class): K-fold cross-validation of the DSM loss over
      ``CV_GRID_SIZE`` levels spanning ``CV_GRID_DECADES`` decades below the level at which
      all coefficients vanish; folds from ``default_rng([seed, STREAM_CV_FOLDS, t])``.

    Parameters
    ----------
    data, n, points, seed, fit_intercept
        As for :class:`LinearDSM`.
    r : float, array (T,), "rule" or "cv"
    parametrization : {"denoiser", "score"}
    function_class : {"linear", "nonparametric"}
    r_rule : {"scaled", "null"}
    r_constant : float
        c > 0 of the rule (default ``RULE_CONSTANT`` = 2, the universal threshold).
    cv_folds : int
        K, 2 <= K <= n.
    tol, max_iter
        Lasso stopping rule and iteration cap (:func:`lasso`); hitting the cap warns,
        naming the step t and the duality gap.

    Attributes
    ----------
    r_per_step : (T,) r_t used at each step.
    sigma_per_step : (T,) residual scale of the rule (NaN when r is given or CV).
    nnz_per_step : (T,) non-zero penalized coefficients (linear class).
    gap_per_step, sweeps_per_step : (T,) largest duality gap and sweep count over outputs.
    """

    def __init__(
        self,
        data: Any = None,
        n: Any = None,
        *,
        points: Any = None,
        r: Any = "rule",
        parametrization: str = "denoiser",
        function_class: str = "linear",
        r_rule: str = "scaled",
        r_constant: float = RULE_CONSTANT,
        cv_folds: int = 5,
        fit_intercept: bool = True,
        seed: int = 0,
        tol: float = LASSO_TOL,
        max_iter: int = LASSO_MAX_SWEEPS,
    ) -> None:
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.seed = int(seed)
        if isinstance(r, str):
            self.r: Any = check_choice("r", r, ("rule", "cv"))
        else:
            self.r = _check_per_step_input("r", r)
        self.parametrization = check_choice(
            "parametrization", parametrization, ("denoiser", "score")
        )
        self.function_class = check_choice(
            "function_class", function_class, ("linear", "nonparametric")
        )
        self.r_rule = check_choice("r_rule", r_rule, ("scaled", "null"))
        self.r_constant = check_real("r_constant", r_constant, low=0.0, low_open=True)
        self.cv_folds = check_int("cv_folds", cv_folds, low=2, high=self.n)
        if isinstance(self.r, str) and self.r == "cv" and self.function_class != "linear":
            raise ValueError(
                "r='cv' is available for function_class='linear' only; "
                "give r a value or 'rule' for the nonparametric class"
            )
        self.fit_intercept = bool(fit_intercept)
        self.tol = check_real("tol", tol, low=0.0)
        self.max_iter = check_int("max_iter", max_iter, low=1)
        self.r_per_step: np.ndarray | None = None
        self.sigma_per_step: np.ndarray | None = None
        self.nnz_per_step: np.ndarray | None = None
        self.gap_per_step: np.ndarray | None = None
        self.sweeps_per_step: np.ndarray | None = None

    # -- fitting ----------------------------------------------------------------------------
    def _fit(self, schedule: Schedule) -> None:
        T = schedule.T
        self._r_user = None if isinstance(self.r, str) else _per_step("r", self.r, T)
        self._failures: list[str] = []
        if self.function_class == "linear":
            self._fit_linear(schedule)
        else:
            self._fit_nonparametric(schedule)
        if self._failures:
            more = len(self._failures) - 1
            warnings.warn(
                self._failures[0]
                + (f" [and {more} more lasso fit(s) of this estimator]" if more else ""),
                LassoConvergenceWarning,
                stacklevel=3,
            )

    def _rule_factor(self) -> float:
        """c sqrt(2 log d / n): the rule's r per unit of residual scale."""
        return self.r_constant * math.sqrt(2.0 * math.log(self.d) / self.n)

    def _fit_linear(self, schedule: Schedule) -> None:
        T, d = schedule.T, self.d
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
        for t in range(1, T + 1):
            alpha_bar_t = float(schedule.alpha_bar[t - 1])
            a, v = math.sqrt(alpha_bar_t), 1.0 - alpha_bar_t
            xt, noise = _step_pairs(self.points, self.seed, t, alpha_bar_t)
            # Targets: x_0 (denoiser reading) or v * Y = -sqrt(v) z (score reading, v-scaled).
            target = self.points if denoiser else -noise
            unit = 1.0 if denoiser else v  # lasso level alpha = r * unit / 2
            prob = _GramProblem(xt, target, self.fit_intercept)
            where = f"at step t={t} (alpha_bar_t={alpha_bar_t:.6g})"
            if self._r_user is not None:
                lam = 0.5 * self._r_user[t - 1] * unit
                W, gap, _, sw = self._solve(prob, lam, W, where)
            elif self.r == "rule":
                lam, sig, (W, gap, _, sw) = self._rule_linear(prob, W, where)
                sigma[t - 1] = sig / unit
            else:
                lam, (W, gap, _, sw) = self._cv_linear(xt, target, prob, W, t, where)
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

    def _solve(self, prob: _GramProblem, lam: float, W: np.ndarray, where: str) -> tuple:
        lam_all = np.full(self.d, lam)
        return prob.solve(lam_all, W, self.tol, self.max_iter, where, failures=self._failures)

    def _rule_linear(self, prob: _GramProblem, W: np.ndarray, where: str) -> tuple:
        """Level r/2 (lasso units) of the rule, its sigma, and the solution (class docstring)."""
        half = 0.5 * self._rule_factor()
        sigma = math.sqrt(float(np.max(prob.yy)))
        iterations = 1 if self.r_rule == "null" else SCALED_RULE_MAX_ITER
        for _ in range(iterations):
            lam = half * sigma
            solution = self._solve(prob, lam, W, where)
            W = solution[0]
            if self.r_rule == "null":
                break
            new = math.sqrt(float(np.max(solution[2])))
            if abs(new - sigma) <= SCALED_RULE_RTOL * sigma:
                break
            sigma = new
        return lam, sigma, solution

    def _cv_linear(
        self,
        xt: np.ndarray,
        target: np.ndarray,
        prob: _GramProblem,
        W: np.ndarray,
        t: int,
        where: str,
    ) -> tuple:
        """K-fold CV of the DSM loss along a warm-started path of levels (class docstring)."""
        n, d = xt.shape
        folds = np.random.default_rng([self.seed, STREAM_CV_FOLDS, t]).permutation(n)
        folds %= self.cv_folds
        grid = prob.lam_max * np.logspace(0.0, -CV_GRID_DECADES, CV_GRID_SIZE)
        loss = np.zeros(CV_GRID_SIZE)
        for k in range(self.cv_folds):
            held = folds == k
            sub = _GramProblem(xt[~held], target[~held], self.fit_intercept)
            x_val = xt[held] - sub.x_mean
            y_val = target[held] - sub.y_mean
            Wk = np.zeros((d, d))
            for g, lam in enumerate(grid):
                Wk = self._solve(sub, float(lam), Wk, f"{where}, cross-validation fold {k}")[0]
                resid = y_val - x_val @ Wk.T
                loss[g] += float(np.sum(resid * resid))
        lam = float(grid[int(np.argmin(loss))])
        return lam, self._solve(prob, lam, W, where)

    def _fit_nonparametric(self, schedule: Schedule) -> None:
        T = schedule.T
        r_used = np.empty(T)
        sigma = np.full(T, np.nan)
        for t in range(1, T + 1):
            if self._r_user is not None:
                r_used[t - 1] = self._r_user[t - 1]
                continue
            sigma[t - 1] = self._residual_scale_nonparametric(schedule, t)
            r_used[t - 1] = self._rule_factor() * sigma[t - 1]
        self._tau = 0.5 * r_used
        self._mode = np.array([0 if self.parametrization == "score" else 1], dtype=np.int64)
        self.r_per_step, self.sigma_per_step = r_used, sigma

    def _residual_scale_nonparametric(self, schedule: Schedule, t: int) -> float:
        """sigma_t of the nonparametric rule: max over outputs of the residual RMS.

        "scaled": residual of the leave-one-out empirical posterior mean on the first
        ``LOO_SUBSAMPLE`` training pairs (in-sample it would be ~0: the empirical minimizer
        memorizes). Score reading: Y - s^(-i)(x_t) = a (x_0 - Dhat^(-i)(x_t)) / v.
        "null": max_j sd(Y_j).
        """
        alpha_bar_t = float(schedule.alpha_bar[t - 1])
        a, v = math.sqrt(alpha_bar_t), 1.0 - alpha_bar_t
        xt, noise = _step_pairs(self.points, self.seed, t, alpha_bar_t)
        denoiser = self.parametrization == "denoiser"
        if self.r_rule == "null":
            target = self.points if denoiser else -noise / v
            return float(np.max(np.std(target, axis=0)))
        m = min(self.n, LOO_SUBSAMPLE)
        fitted = np.empty((m, self.d))
        rows = np.arange(m, dtype=np.int64)
        _loo_denoiser_rows(np.ascontiguousarray(xt[:m]), rows, alpha_bar_t, self.points, fitted)
        resid = self.points[:m] - fitted
        if not denoiser:
            resid *= a / v
        return float(np.sqrt(np.max(np.mean(resid * resid, axis=0))))

    # -- evaluation -------------------------------------------------------------------------
    def _kernel(self) -> tuple[Any, tuple]:
        if self.function_class == "linear":
            return _score_affine, (self._S, self._b)
        return _score_empirical_soft, (self.points, self._tau, self._mode)

    def affine_score(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if self.function_class != "linear":
            raise TypeError("the nonparametric L1DSM estimate is not affine in x")
        return super().affine_score(t)

    def denoiser_coefficients(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        if self.function_class != "linear":
            raise TypeError("the nonparametric L1DSM estimate is not affine in x")
        return super().denoiser_coefficients(t)

    def __repr__(self) -> str:
        r = self.r if isinstance(self.r, str) else "given"
        return (
            f"L1DSM(n={self.n}, d={self.d}, parametrization={self.parametrization!r}, "
            f"function_class={self.function_class!r}, r={r!r})"
        )


def as_estimator(obj: Any) -> Estimator:
    """An estimator as is; a data model (built-in or user's) as its :class:`Exact` oracle."""
    return obj if isinstance(obj, Estimator) else Exact(obj)
