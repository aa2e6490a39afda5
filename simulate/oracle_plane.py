"""Exact law of the samplers on a two-dimensional block, by quadrature on a square grid.

The plane companion of :mod:`simulate.oracle` (read its docstring first): when a model's exact
score factorizes over blocks (``independent_blocks()``: the paper's toy has the Y-Z plane, a
circle is one, a flat torus a product of them), every sampler with the exact score acts on
each block alone. For a block of two coordinates this module computes on the grid
{lo + i h}^2:

* the sampler's law p_t from Y_T ~ N(0, I_2) through every step
  Y_{t-1} = A_t Y_t + B_t s_t(Y_t) + C_t Z_t (``simulate.samplers.coefficients``):
  a stochastic step is the trapezoid sum p_{t-1}(x) = sum_y h^2 p_t(y) N(x; m_t(y), C_t^2 I)
  with m_t(y) = A_t y + B_t s_t(y). Each source adds its Gaussian within ``REACH`` standard
  deviations (numba kernel ``simulate._kernels.oracle``). A wide Gaussian (C_t > ``SPLIT`` h)
  is split as N(C_t^2) = N(c_1^2) * N(C_t^2 - c_1^2) with c_1 = ``SCATTER_C`` h: the sources
  are spread with c_1, then the result, now smooth on the scale c_1, is convolved with the
  rest on the grid (two matrix products). The trapezoid sum of a Gaussian of width c sampled
  at spacing h errs by about exp(-2 pi^2 c^2 / h^2): 3e-9 at c = h, 7e-18 at c = sqrt 2 h,
  so the grid needs h <= min_t C_t (checked: ``ValueError`` otherwise);
* the deterministic DDIM flow by its inverse: for each node x where q_t is not negligible
  (p's mass elsewhere is reported as ``lost_mass``), the steps are inverted one by
  one (Newton on A_t y + B_t s_t(y) = x, the Jacobian A_t I + B_t grad s_t by central
  differences of the score), and log p_t(x) = log N(y_T; 0, I) - sum log det(Jacobians);
* the target q_t from the score alone: log q_t(x1, x2) = int s_2(x1*, u) du + int s_1(u, x2)
  du along grid lines from the node x1* nearest 0 (Gauss-Legendre quadrature of the exact
  score between neighbouring nodes: a cubic spline of the score, O(h^4), erred by 3% of
  max q on a circle at v_t = 0.02 with h = 0.04);
* KL(q || p) and moments by the two-dimensional trapezoid rule.

Its error is measured as in one dimension: a Gaussian block against ``simulate.exact`` and a
refinement of the grid (``tests/test_oracle_plane.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulate._kernels.oracle import _scatter_gaussian_2d
from simulate._validation import check_int
from simulate.oracle import STEP_MEMO, Grid, step_tag
from simulate.samplers import coefficients
from simulate.schedules import Schedule

__all__ = ["PlaneLaws", "plane_laws", "plane_noised_density"]

#: A source adds its Gaussian within this many standard deviations (exp(-7^2 / 2) = 2e-11
#: of the peak is left out).
REACH = 7.0
#: Step noise C_t above SPLIT h is split: sources spread with SCATTER_C h (trapezoid error
#: exp(-8 pi^2) = 7e-35), the rest by convolution on the grid, whose integrand is smooth on
#: the scale SCATTER_C h / sqrt 2 at least (error exp(-4 pi^2) = 7e-18).
SCATTER_C = 2.0
SPLIT = SCATTER_C * math.sqrt(2.0)
#: Gauss-Legendre points per grid step in the line integrals of the score that give log q.
GAUSS_POINTS = 6
#: Sources carrying less than this share of the largest node's mass are skipped.
SOURCE_NEGLIGIBLE = 1e-16
#: Private outputs of the scatter kernel (fixed, so the sum is the same on any thread count).
CHUNKS = 8
#: Nodes where q is below this share of its peak are left out of the KL (and of the DDIM
#: flow): p may be exactly 0 there, beyond ``REACH`` C_t of every source (measured on the
#: paper's toy: p > 0 wherever q >= 1e-16 max q, p = 0 at some nodes with q ~ 1e-19 max q).
#: Their share of q's mass is below 1e-16 per node.
Q_NEGLIGIBLE = 1e-16
#: Newton on the inverse DDIM step: |residual| tolerance (relative to 1 + |x|) and budget.
NEWTON_RTOL = 1e-12
NEWTON_MAX = 50
#: Central-difference step of the score's Jacobian (relative to 1 + |y|): error
#: ~ eps^2 s''' + 1e-16 |s| / eps, about 1e-9 of s' for the blocks of the catalogue.
FD_STEP = 1e-5

PlaneScoreFn = Callable[[np.ndarray, float], np.ndarray]


def _points(grid: Grid) -> np.ndarray:
    x = grid.nodes
    x1, x2 = np.meshgrid(x, x, indexing="ij")
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def trapezoid2(f: np.ndarray, h: float) -> float:
    """int f over the square by the trapezoid rule (f on the (n, n) nodes)."""
    w = np.ones(f.shape[0])
    w[0] = w[-1] = 0.5
    return float(h * h * (w @ f @ w))


def plane_noised_density(score_fn: PlaneScoreFn, alpha_bar: float, grid: Grid) -> np.ndarray:
    """q_t on the (n, n) nodes from its score (module docstring), normalized on the grid.

    log q(x1, x2) - log q(x1*, x2*) is the line integral of the score from the node
    (x1*, x2*) nearest 0 along the x2 axis, then along the x1 axis; each step between
    neighbouring nodes is integrated by ``GAUSS_POINTS``-point Gauss-Legendre quadrature of
    the exact score (error O(h^(2 GAUSS_POINTS + 1)) per step).
    """
    x, n, h = grid.nodes, grid.n, grid.h
    i0 = int(np.argmin(np.abs(x)))
    u, w = np.polynomial.legendre.leggauss(GAUSS_POINTS)
    between = (x[:-1, None] + 0.5 * h * (u[None, :] + 1.0)).ravel()  # (n - 1) * GAUSS_POINTS
    weights = 0.5 * h * w

    def steps(values: np.ndarray) -> np.ndarray:
        """Cumulative integral from node 0 of the values at the Gauss points:
        (..., n - 1, G) -> (..., n)."""
        inc = np.sum(values * weights, axis=-1)
        return np.concatenate([np.zeros((*inc.shape[:-1], 1)), np.cumsum(inc, axis=-1)], axis=-1)

    # along x2 at x1 = x1*
    pts = np.stack([np.full(between.size, x[i0]), between], axis=1)
    column = steps(score_fn(pts, alpha_bar)[:, 1].reshape(n - 1, GAUSS_POINTS))
    # along x1 at every x2: rows[i, j] = int_{x_0}^{x_i} s_1(u, x_j) du
    u1, u2 = np.meshgrid(between, x, indexing="ij")
    pts = np.stack([u1.ravel(), u2.ravel()], axis=1)
    s1 = score_fn(pts, alpha_bar)[:, 0].reshape(n - 1, GAUSS_POINTS, n)
    rows = steps(np.moveaxis(s1, 2, 0)).T  # (n, n) indexed [i, j]
    log_q = (rows - rows[i0][None, :]) + (column - column[i0])[None, :]
    q = np.exp(log_q - np.max(log_q))
    return q / trapezoid2(q, grid.h)


def _sources(p: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The nodes that carry mass (``SOURCE_NEGLIGIBLE``), as flat indices, and their masses
    h^2 p. Only these move: the score is evaluated there and nowhere else."""
    w = (grid.h * grid.h) * p.ravel()
    keep = np.flatnonzero(w > SOURCE_NEGLIGIBLE * np.max(w))
    return keep, w[keep]


def _stochastic_step(w: np.ndarray, m: np.ndarray, c: float, grid: Grid) -> np.ndarray:
    """p_{t-1} on the grid from the sources' masses ``w`` and their means ``m`` (K, 2)."""
    h, n = grid.h, grid.n
    c_scatter = c if c <= SPLIT * h else SCATTER_C * h
    out = np.zeros((n, n))
    _scatter_gaussian_2d(
        np.ascontiguousarray(w), np.ascontiguousarray(m[:, 0]),
        np.ascontiguousarray(m[:, 1]), grid.lo, h, c_scatter, REACH, CHUNKS, out,
    )  # fmt: skip
    if c_scatter < c:
        rest = math.sqrt(c * c - c_scatter * c_scatter)
        x = grid.nodes
        norm = math.sqrt(2 * math.pi) * rest
        G = h * np.exp(-0.5 * ((x[:, None] - x[None, :]) / rest) ** 2) / norm
        out = G @ out @ G.T
    return out


def _jacobian(score_fn: PlaneScoreFn, y: np.ndarray, alpha_bar: float) -> np.ndarray:
    """grad s at the (N, 2) points y by central differences: (N, 2, 2), with
    [k, i, j] = d s_i / d y_j."""
    eps = FD_STEP * (1.0 + np.abs(y))
    out = np.empty((y.shape[0], 2, 2))
    for j in range(2):
        e = np.zeros_like(y)
        e[:, j] = eps[:, j]
        diff = score_fn(y + e, alpha_bar) - score_fn(y - e, alpha_bar)
        out[:, :, j] = diff / (2 * eps[:, j, None])
    return out


def _invert_step(
    score_fn: PlaneScoreFn, x: np.ndarray, A: float, B: float, alpha_bar: float, t: int
) -> tuple[np.ndarray, np.ndarray]:
    """y with A y + B s(y) = x (Newton) and log det(A I + B grad s(y)) there."""
    y = (x - B * score_fn(x, alpha_bar)) / A
    tol = NEWTON_RTOL * (1.0 + np.max(np.abs(x)))
    for _ in range(NEWTON_MAX):
        J = A * np.eye(2)[None] + B * _jacobian(score_fn, y, alpha_bar)
        r = A * y + B * score_fn(y, alpha_bar) - x
        if np.max(np.abs(r)) <= tol:
            det = J[:, 0, 0] * J[:, 1, 1] - J[:, 0, 1] * J[:, 1, 0]
            if np.any(det <= 0):
                raise ValueError(f"the DDIM step map folds over at step t={t}: refine the grid")
            return y, np.log(det)
        y = y - np.linalg.solve(J, r[..., None])[..., 0]
    raise ValueError(
        f"the DDIM step t={t} could not be inverted by Newton's method (the map folds over "
        "near some node, or the grid is too coarse)"
    )


def _deterministic_flow(
    score_fn: PlaneScoreFn, schedule: Schedule, A: np.ndarray, B: np.ndarray, grid: Grid,
    t_stop: int, where: np.ndarray,
) -> np.ndarray:  # fmt: skip
    y = _points(grid)[where.ravel()]
    log_p = np.zeros(y.shape[0])
    for t in range(t_stop + 1, schedule.T + 1):
        y, log_det = _invert_step(
            score_fn, y, float(A[t - 1]), float(B[t - 1]), schedule.level(t), t
        )
        log_p -= log_det
    log_p += -0.5 * np.sum(y * y, axis=1) - math.log(2.0 * math.pi)
    out = np.zeros((grid.n, grid.n))
    out[where] = np.exp(log_p)
    return out


@dataclass(frozen=True)
class PlaneLaws:
    """q_t and p_t of a two-dimensional block at step ``t`` on the square ``grid``."""

    grid: Grid
    t: int
    q: np.ndarray
    p: np.ndarray

    @property
    def kl(self) -> float:
        """int q log(q / p) (nodes with q below ``Q_NEGLIGIBLE`` max q left out)."""
        pos = self.q >= Q_NEGLIGIBLE * np.max(self.q)
        if np.any(self.p[pos] <= 0):
            return math.inf
        f = np.zeros_like(self.q)
        f[pos] = self.q[pos] * np.log(self.q[pos] / self.p[pos])
        return trapezoid2(f, self.grid.h)

    @property
    def lost_mass(self) -> float:
        """1 - int p over the grid: the sampler's mass that left the grid (widen it)."""
        return 1.0 - trapezoid2(self.p, self.grid.h)

    def moment(self, k1: int, k2: int, law: str = "p") -> float:
        """E[Y_1^k1 Y_2^k2] under p (or q)."""
        f = self.p if law == "p" else self.q
        x = self.grid.nodes
        return trapezoid2(f * np.outer(x**k1, x**k2), self.grid.h)


def plane_laws(
    score_fn: PlaneScoreFn, schedule: Schedule, sampler: str, grid: Grid, t_stop: int = 1
) -> PlaneLaws:
    """p_t and q_t of a two-dimensional block at t = ``t_stop``, Y_T ~ N(0, I_2)."""
    t_stop = check_int("t_stop", t_stop, low=1, high=schedule.T)
    coef = coefficients(schedule, sampler)
    q = plane_noised_density(score_fn, schedule.level(t_stop), grid)
    if sampler == "ddim":
        where = q >= Q_NEGLIGIBLE * np.max(q)
        p = _deterministic_flow(score_fn, schedule, coef.A, coef.B, grid, t_stop, where)
    else:
        noise = np.asarray(coef.C[t_stop:], dtype=np.float64)
        if noise.size and float(np.min(noise)) < grid.h:
            raise ValueError(
                f"grid spacing h={grid.h:.4g} exceeds the smallest step noise "
                f"C_t={float(np.min(noise)):.4g} before t={t_stop}: refine the grid"
            )
        y = _points(grid)
        # every step's score at every node (2 MB a level): the memo's key, then the steps
        # read it at the nodes that carry mass (the score is row by row, so these are the
        # bits a call at those nodes alone would give)
        steps = range(schedule.T, t_stop, -1)
        scores = [score_fn(y, schedule.level(t)) for t in steps]

        def propagate() -> np.ndarray:
            p = np.exp(-0.5 * np.sum(y * y, axis=1)).reshape(grid.n, grid.n) / (2.0 * math.pi)
            for t, s_all in zip(steps, scores, strict=True):
                keep, w = _sources(p, grid)
                yk = np.ascontiguousarray(y[keep])
                m = coef.A[t - 1] * yk + coef.B[t - 1] * s_all[keep]
                p = _stochastic_step(w, m, float(coef.C[t - 1]), grid)
            return p

        tag = step_tag("plane", sampler, grid, t_stop, coef, schedule.T)
        p = STEP_MEMO.propagated(tag, scores, propagate)
    return PlaneLaws(grid, t_stop, q, p)
