"""The estimator protocol, its base classes and the training machinery they share.

Notation (code -> SCIENCE.md 5):

=====================  ===========================================================
``t``                  step index 1..T of the fitted schedule; abar_t = alpha_bar[t-1]
``a``, ``v``           sqrt(abar_t) and 1 - abar_t
``score(x, t)``        s_t(x), the estimate of grad log q_t(x)
``denoiser(x, t)``     the estimate of D_t(x) = E[X_0 | X_t = x] (Tweedie-linked)
``affine_score(t)``    (S_t, b_t) with s_t(y) = S_t y + b_t, S_t a StructuredMatrix
``score_kernel()``     (kernel, params) for the fused sampler (``simulate.kernels``)
``points``             the n training points x_0^(i), (n, d)
``x_t``                a x_0^(i) + sqrt(v) z^(i,t): the step-t training inputs
=====================  ===========================================================

Capabilities are declared as Protocols: :class:`AffineScore` (an estimate affine in x, so the
exact law of ``simulate.exact`` applies) and :class:`KernelScore` (a numba row kernel, so the
fused sampler path applies).

Fits are frozen per schedule: ``fit(schedule)`` fits an unfitted estimator in place and
returns it; an estimator already fitted to another schedule is never refitted in place:
``fit`` returns a fitted copy and leaves the original as it was. Callers use the returned
object.

Training data and randomness. A fitted estimator takes n training points (``points``, or
n draws of a model with ``seed``) and, at step t, fresh noise z^(i,t) drawn from
``numpy.random.default_rng([seed, STREAM_TRAINING_NOISE, t])`` (:func:`training_noise`), so
every step sees independent pairs (x_t, x_0) and every fit is reproducible.
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from simulate._kernels.estimators import _score_affine
from simulate._validation import (
    checked,
    MAX_DRAWS,
    check_finite_array,
    check_int,
    check_points,
    check_real,
    check_seed,
)
from simulate.kernels import apply_row_kernel
from simulate.linalg import StructuredMatrix
from simulate.models.base import as_model, denoiser_from_score
from simulate.noise_level import NoiseLevel, noise_scales
from simulate.schedules import Schedule

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "STREAM_CV_FOLDS",
    "STREAM_PERTURBATION",
    "STREAM_TRAINING_NOISE",
    "AffineScore",
    "Estimator",
    "KernelScore",
    "as_estimator",
    "training_noise",
]


@runtime_checkable
class AffineScore(Protocol):
    """Capability: s_t(y) = S_t y + b_t exactly (``affine_score(t) -> (S_t, b_t)``)."""

    d: int

    def affine_score(self, t: int) -> tuple[StructuredMatrix, np.ndarray]: ...


@runtime_checkable
class KernelScore(Protocol):
    """Capability: a numba row kernel of the score (``score_kernel() -> (kernel, params)``,
    or None when this instance has none); see ``simulate.kernels``."""

    def score_kernel(self) -> tuple[Callable[..., None], tuple] | None: ...


#: ``numpy.random.default_rng([seed, STREAM, t])`` streams; t >= 1, and the stream tags are
#: non-zero so that no key coincides with ``default_rng(seed)`` (used for the points).
STREAM_TRAINING_NOISE = 1
STREAM_PERTURBATION = 2
STREAM_CV_FOLDS = 3


#: Training-noise modes: fresh noise z^(i,t) at every step, or one z^(i) shared by all steps.
NOISE_MODES = ("per_step", "shared")


@checked
def training_noise(seed: int, t: int, shape: tuple[int, ...]) -> np.ndarray:
    """The noise z^(i,t) of the step-t training pairs: a pure function of (seed, t).
    ``t = 0`` (no step has it) is the stream of the shared noise z^(i) (``NOISE_MODES``)."""
    seed = check_seed(seed)
    t = check_int("t", t, low=0)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple | list):
        raise TypeError(f"shape must be a tuple of integers, got {type(shape).__name__}")
    shape = tuple(check_int(f"shape[{i}]", s, low=0) for i, s in enumerate(shape))
    if math.prod(shape) > MAX_DRAWS:
        raise ValueError(f"shape={shape} asks for more than MAX_DRAWS={MAX_DRAWS} draws")
    rng = np.random.default_rng([seed, STREAM_TRAINING_NOISE, t])
    return rng.standard_normal(shape)


class Estimator:
    """Base class: holds the fitted schedule and checks the step index."""

    schedule: Schedule | None = None
    d: int

    def fit(self, schedule: Schedule) -> Estimator:
        """The estimator fitted to ``schedule`` (module docstring: fits are frozen).

        Unfitted: fits in place and returns self. Fitted to this schedule: returns self.
        Fitted to another schedule: returns a fitted copy; self is left unchanged.
        """
        if not isinstance(schedule, Schedule):
            raise TypeError(
                f"schedule must be a simulate.schedules.Schedule, got {type(schedule).__name__}"
            )
        if self.is_fitted_for(schedule):
            return self
        target = self if self.schedule is None else copy.copy(self)
        target._fit(schedule)
        target.schedule = schedule
        return target

    def _fit(self, schedule: Schedule) -> None:
        """Per-step fitting; the default (closed-form estimators) has nothing to fit."""

    def is_fitted_for(self, schedule: Schedule) -> bool:
        s = self.schedule
        return s is not None and (s is schedule or np.array_equal(s.beta, schedule.beta))

    def alpha_bar(self, t: int) -> NoiseLevel:
        """abar_t of the fitted schedule (with its accurate v_t), after checking 1 <= t <= T."""
        if self.schedule is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(schedule) first")
        return self.schedule.level(t)

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        raise NotImplementedError

    def denoiser(self, x: np.ndarray, t: int) -> np.ndarray:
        """Estimate of E[X_0 | X_t = x] by Tweedie from :meth:`score`."""
        return denoiser_from_score(
            np.asarray(x, dtype=np.float64), self.score(x, t), self.alpha_bar(t)
        )

    def score_kernel(self) -> tuple[Any, tuple] | None:
        """``(kernel, params)`` for the fused sampler path, or None (batch path only)."""
        return None


class _KernelEstimator(Estimator):
    """An estimator whose score is one numba row kernel (fused path) applied to every row.

    Subclasses implement ``_kernel() -> (fn, params)``; ``score`` applies ``fn`` with
    ``simulate.kernels.apply_row_kernel``, so NumPy and fused results are bit-identical.
    """

    def _kernel(self) -> tuple[Any, tuple]:
        raise NotImplementedError

    def _check_x(self, x: Any) -> np.ndarray:
        return check_points(x, self.d)

    def score_kernel(self) -> tuple[Any, tuple] | None:
        if self.schedule is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(schedule) first")
        return self._kernel()

    def score(self, x: np.ndarray, t: int) -> np.ndarray:
        alpha_bar_t = self.alpha_bar(t)
        x = self._check_x(x)
        fn, params = self._kernel()
        return apply_row_kernel(fn, x, t, alpha_bar_t, params)


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


def training_pairs(
    points: np.ndarray, seed: int, t: int, alpha_bar_t: float, noise_mode: str = "per_step"
) -> tuple:
    """The step-t training pairs: x_t = a x_0 + sqrt(v) z and sqrt(v) z (module docstring).

    ``noise_mode="per_step"``: z = z^(i,t), fresh at every step (the default).
    ``"shared"``: z = z^(i), the same at every step (common random numbers): the fit is then
    a smooth function of the noise level, as one network trained for all t would be, and
    fits on two schedules differ only through their noise levels.
    """
    a, v = noise_scales(alpha_bar_t)
    noise = math.sqrt(v) * training_noise(seed, 0 if noise_mode == "shared" else t, points.shape)
    return a * points + noise, noise


class SharedNoiseMoments:
    """Sufficient statistics of the affine DSM regressions when the noise is shared.

    With x_t = a x_0 + sqrt(v) z and one z per training point for every step
    (``noise_mode="shared"``), the centred Gram matrix and cross-moments of step t are fixed
    combinations of three d x d matrices computed once, M00 = X0c^T X0c / n,
    M0z = X0c^T Zc / n and Mzz = Zc^T Zc / n (c: centred):

        G_t = a^2 M00 + a sqrt(v) (M0z + M0z^T) + v Mzz,
        C_t = a M00 + sqrt(v) M0z          (target x_0, the denoiser reading),
        C_t = -sqrt(v) (a M0z^T + sqrt(v) Mzz)   (target -sqrt(v) z, the score reading),

    so a step costs O(d^3) instead of O(n d^2). It is the same problem as
    ``GramProblem(x_t, target)`` on the explicit pairs, up to round-off
    (tests/test_experiment_steps_fitted.py).
    """

    def __init__(self, points: np.ndarray, seed: int, fit_intercept: bool) -> None:
        z = training_noise(seed, 0, points.shape)
        n = points.shape[0]
        if fit_intercept:
            self.m0, self.mz = points.mean(axis=0), z.mean(axis=0)
        else:
            self.m0, self.mz = np.zeros(points.shape[1]), np.zeros(points.shape[1])
        X0c, Zc = points - self.m0, z - self.mz
        self.n = n
        self.M00 = X0c.T @ X0c / n
        self.M0z = X0c.T @ Zc / n
        self.Mzz = Zc.T @ Zc / n

    def problem(self, alpha_bar_t: float, target: str) -> Any:
        """The ``GramProblem`` of step t for ``target`` "x0" or "score" (-sqrt(v) z)."""
        from simulate.lasso import GramProblem

        a, v = noise_scales(alpha_bar_t)
        sv = math.sqrt(v)
        cross = self.M0z + self.M0z.T
        G = a * a * self.M00 + a * sv * cross + v * self.Mzz
        x_mean = a * self.m0 + sv * self.mz
        if target == "x0":
            C = a * self.M00 + sv * self.M0z
            yy, y_mean = np.diag(self.M00).copy(), self.m0
        else:
            C = -sv * (a * self.M0z.T + sv * self.Mzz)
            yy, y_mean = v * np.diag(self.Mzz), -sv * self.mz
        return GramProblem.from_moments(G, C, yy, x_mean, y_mean, self.n)


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


class _AffineFitted(_KernelEstimator):
    """A fitted per-step affine score s_t(x) = S_t x + b_t, stored as (T, d, d) and (T, d)."""

    _S: np.ndarray
    _b: np.ndarray

    def _kernel(self) -> tuple[Any, tuple]:
        return _score_affine, (self._S, self._b)

    def affine_score(self, t: int) -> tuple[StructuredMatrix, np.ndarray]:
        self.alpha_bar(t)
        return StructuredMatrix.dense(self._S[t - 1]), self._b[t - 1].copy()

    def denoiser_coefficients(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(W_t, c_t) with D_t(x) = W_t x + c_t, by Tweedie: W = (I + v S) / a, c = v b / a."""
        alpha_bar_t = self.alpha_bar(t)
        a, v = noise_scales(alpha_bar_t)
        return (np.eye(self.d) + v * self._S[t - 1]) / a, v * self._b[t - 1] / a


@checked
def as_estimator(obj: Any) -> Estimator:
    """An estimator as is; a data model (built-in or user's) as its ``Exact`` oracle."""
    from simulate.estimators.exact import Exact

    return obj if isinstance(obj, Estimator) else Exact(obj)
