"""Exact law of the samplers on a one-dimensional block, by quadrature on a grid (no Monte Carlo).

When a model's exact score acts separately on blocks of coordinates (product models, and the
off-support coordinates of aligned data: ``tests/test_factorization.py``), every sampler with
the exact score acts on each block alone, so KL(q || p) is the sum of the blocks' KLs. For a
block of one coordinate this module computes both laws on a uniform grid of spacing h:

* the sampler's law p_t, from Y_T ~ N(0, 1), through every step
  Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t (coefficients of ``simulate.samplers``):
  a stochastic step is p_{t-1}(x) = int N(x; m_t(y), C_t^2) p_t(y) dy with
  m_t(y) = A_t y + B_t s_t(y), by the trapezoid rule (exponentially accurate for a smooth
  integrand once h << C_t); the deterministic DDIM flow (C_t = 0) is the change of variables
  p_{t-1}(m_t(y)) = p_t(y) / m_t'(y) (m_t increasing), carried on moving nodes, with s_t' and
  the final read-out by cubic splines (error O(h^4));
* the target q_t from the score alone: log q_t(y) = int_0^y s_t + const (the antiderivative
  of a cubic spline of the score, O(h^4)), normalized by the trapezoid rule;
* KL(q || p) = int q log(q / p) by the trapezoid rule; W2 from the quantile functions.

The grid's error is measured, not assumed: :func:`refinement` recomputes on a grid of half
the spacing and twice the width and reports the change (``tests/test_oracle.py``), and the
Gaussian case is checked against the closed form of ``simulate.exact``.

Notation: ``nodes`` the grid y_i, ``h`` its spacing, ``p``/``q`` densities at the nodes,
``score_fn(y, alpha_bar)`` the block's score at the (N,) nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from simulate._validation import check_int, check_real
from simulate.models.base import as_model
from simulate.samplers import coefficients
from simulate.schedules import Schedule

__all__ = [
    "BlockLaws",
    "Grid",
    "block_laws",
    "coordinate_score",
    "kl_on_grid",
    "refinement",
    "w2_on_grid",
]

#: Relative level of q below which a node's KL term is left out (``kl_on_grid``).
Q_NEGLIGIBLE = 1e-20
#: Targets per chunk of the dense quadrature of a stochastic step (memory ~ 8 * CHUNK * N).
_CHUNK = 512

ScoreFn = Callable[[np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class Grid:
    """n equally spaced nodes from lo to hi (both included)."""

    lo: float
    hi: float
    n: int

    def __post_init__(self) -> None:
        check_real("lo", self.lo)
        check_real("hi", self.hi)
        check_int("n", self.n, low=16)
        if not self.hi > self.lo:
            raise ValueError(f"hi={self.hi} must exceed lo={self.lo}")

    @property
    def nodes(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.n)

    @property
    def h(self) -> float:
        return (self.hi - self.lo) / (self.n - 1)

    def refined(self) -> Grid:
        """Half the spacing and twice the width (about the same centre)."""
        mid, half = 0.5 * (self.lo + self.hi), self.hi - self.lo
        return Grid(mid - half, mid + half, 4 * (self.n - 1) + 1)


def coordinate_score(model: Any, coordinate: int) -> ScoreFn:
    """The block score of one coordinate of a product model: ``model.score`` at points whose
    other coordinates are 0 (they do not enter, by the factorization)."""
    model = as_model(model)

    def score(y: np.ndarray, alpha_bar: float) -> np.ndarray:
        x = np.zeros((y.shape[0], model.d))
        x[:, coordinate] = y
        return np.asarray(model.score(x, alpha_bar), dtype=np.float64)[:, coordinate]

    return score


def _trapezoid(f: np.ndarray, h: float) -> float:
    return float(h * (np.sum(f) - 0.5 * (f[0] + f[-1])))


def noised_density(score_fn: ScoreFn, alpha_bar: float, grid: Grid) -> np.ndarray:
    """q_t at the nodes from its score (module docstring), normalized on the grid."""
    y = grid.nodes
    log_q = CubicSpline(y, score_fn(y, alpha_bar)).antiderivative()(y)
    q = np.exp(log_q - np.max(log_q))
    return q / _trapezoid(q, grid.h)


def _stochastic_step(p: np.ndarray, m: np.ndarray, c: float, y: np.ndarray, h: float):
    out = np.empty_like(p)
    weight = h * p / (math.sqrt(2.0 * math.pi) * c)
    for start in range(0, y.size, _CHUNK):
        x = y[start : start + _CHUNK, None]
        out[start : start + _CHUNK] = np.exp(-0.5 * ((x - m[None, :]) / c) ** 2) @ weight
    return out


def _deterministic_flow(
    score_fn: ScoreFn, schedule: Schedule, A: np.ndarray, B: np.ndarray, grid: Grid, t_stop: int
) -> np.ndarray:
    """p_{t_stop} of the DDIM flow at the grid's nodes, by moving nodes (Lagrangian).

    Nodes start on a grid of the same spacing over [-W, W] (W >= 14, so N(0, 1) has no mass
    to speak of beyond it) and are carried by y <- m_t(y) with log p <- log p - log m_t'(y),
    m_t' = A_t + B_t s_t' (s_t' from a cubic spline of s_t through the moving nodes). The
    flow's density is then read at the grid's nodes by a cubic spline of log p (0 outside
    the nodes' final range).
    """
    width = max(14.0, abs(grid.lo), abs(grid.hi))
    y = np.linspace(-width, width, math.ceil(2 * width / grid.h) + 1)
    log_p = -0.5 * y * y - 0.5 * math.log(2.0 * math.pi)
    for t in range(schedule.T, t_stop, -1):
        s = score_fn(y, float(schedule.alpha_bar[t - 1]))
        slope = A[t - 1] + B[t - 1] * CubicSpline(y, s).derivative()(y)
        if np.any(slope <= 0):
            raise ValueError(f"the DDIM step map is not increasing at step t={t}: refine the grid")
        log_p = log_p - np.log(slope)
        y = A[t - 1] * y + B[t - 1] * s
    x = grid.nodes
    inside = (x >= y[0]) & (x <= y[-1])
    out = np.zeros(grid.n)
    out[inside] = np.exp(CubicSpline(y, log_p)(x[inside]))
    return out


@dataclass(frozen=True)
class BlockLaws:
    """q_t and p_t of one block at step ``t`` on ``grid`` (densities at the nodes)."""

    grid: Grid
    t: int
    q: np.ndarray
    p: np.ndarray

    @property
    def kl(self) -> float:
        return kl_on_grid(self.q, self.p, self.grid.h)

    @property
    def lost_mass(self) -> float:
        """1 - int p over the grid: the sampler's mass that left the grid (widen it)."""
        return 1.0 - _trapezoid(self.p, self.grid.h)

    @property
    def w2(self) -> float:
        return w2_on_grid(self.q, self.p, self.grid)

    def moment(self, k: int, law: str = "p") -> float:
        f = self.p if law == "p" else self.q
        return _trapezoid(f * self.grid.nodes**k, self.grid.h)

    def cdf(self, x: np.ndarray, law: str = "p") -> np.ndarray:
        """The distribution function at x (cumulative trapezoid, linear in between)."""
        f = self.p if law == "p" else self.q
        F = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * self.grid.h)])
        return np.interp(x, self.grid.nodes, F / F[-1])


def block_laws(
    score_fn: ScoreFn, schedule: Schedule, sampler: str, grid: Grid, t_stop: int = 1
) -> BlockLaws:
    """p_t and q_t of a block at t = ``t_stop`` (module docstring), Y_T ~ N(0, 1)."""
    t_stop = check_int("t_stop", t_stop, low=1, high=schedule.T)
    coef = coefficients(schedule, sampler)
    y, h = grid.nodes, grid.h
    if sampler == "ddim":
        p = _deterministic_flow(score_fn, schedule, coef.A, coef.B, grid, t_stop)
    else:
        p = np.exp(-0.5 * y * y) / math.sqrt(2.0 * math.pi)
        for t in range(schedule.T, t_stop, -1):
            s = score_fn(y, float(schedule.alpha_bar[t - 1]))
            m = coef.A[t - 1] * y + coef.B[t - 1] * s
            p = _stochastic_step(p, m, float(coef.C[t - 1]), y, h)
    q = noised_density(score_fn, float(schedule.alpha_bar[t_stop - 1]), grid)
    return BlockLaws(grid, t_stop, q, p)


def kl_on_grid(q: np.ndarray, p: np.ndarray, h: float) -> float:
    """int q log(q / p) by the trapezoid rule.

    Nodes where q < ``Q_NEGLIGIBLE`` max q are left out: there p may underflow to 0 (or lie
    beyond the image of the grid, for DDIM) while the true term is below 1e-18 of the
    integrand's scale. Where q is above that and p = 0, the KL is infinite.
    """
    pos = q >= Q_NEGLIGIBLE * np.max(q)
    if np.any(p[pos] <= 0):
        return math.inf
    f = np.zeros_like(q)
    f[pos] = q[pos] * np.log(q[pos] / p[pos])
    return _trapezoid(f, h)


def w2_on_grid(q: np.ndarray, p: np.ndarray, grid: Grid, levels: int = 4001) -> float:
    """W2 of two densities on the line: the L2 distance of their quantile functions."""
    u = (np.arange(levels) + 0.5) / levels
    y = grid.nodes

    def quantile(f: np.ndarray) -> np.ndarray:
        F = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * grid.h)])
        F /= F[-1]
        keep = np.concatenate([[True], np.diff(F) > 0])
        return np.interp(u, F[keep], y[keep])

    return float(math.sqrt(np.mean((quantile(q) - quantile(p)) ** 2)))


def refinement(
    score_fn: ScoreFn, schedule: Schedule, sampler: str, grid: Grid, t_stop: int = 1
) -> tuple[float, float]:
    """(KL on ``grid``, |change| on the refined grid): the quadrature error's estimate."""
    coarse = block_laws(score_fn, schedule, sampler, grid, t_stop).kl
    fine = block_laws(score_fn, schedule, sampler, grid.refined(), t_stop).kl
    return fine, abs(fine - coarse)
