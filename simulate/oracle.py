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
  p_{t-1}(m_t(y)) = p_t(y) / m_t'(y) (m_t increasing), evaluated at each node where q_t is
  not negligible by undoing the steps one by one (Newton's method in a bracket) and m_t' by
  central differences of the exact score (no interpolation);
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

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from simulate._kernels.oracle import _smooth_gaussian_1d
from simulate._validation import check_int, check_real
from simulate.models.base import as_model
from simulate.samplers import coefficients
from simulate.schedules import Schedule

__all__ = [
    "STEP_MEMO",
    "BlockLaws",
    "Grid",
    "block_laws",
    "block_score",
    "coordinate_score",
    "kl_on_grid",
    "refinement",
    "resolved_block_laws",
    "tail_mass",
    "w2_on_grid",
]

#: Relative level of q below which a node's KL term is left out (``kl_on_grid``).
Q_NEGLIGIBLE = 1e-20
#: Inverse DDIM step: Newton's |residual| tolerance (relative to 1 + |x|) and budget.
NEWTON_RTOL = 1e-12
NEWTON_MAX = 200
#: Central-difference step of the score's derivative (relative to 1 + |y|): error
#: ~ eps^2 s^(3) + 1e-16 |s| / eps, about 1e-9 of s' for the blocks of the catalogue.
FD_STEP = 1e-5
#: Runs of sources with private outputs in a stochastic step (fixed, so that the sums do not
#: depend on the number of threads).
CHUNKS = 8
#: ``block_score`` evaluates the model on zero-padded d-dimensional points in batches of at
#: most this many entries (rows x d): the plane oracle's 3e5 points at d = 128 would be a
#: 300 MB array, and batches that fit in cache are 7-10x faster (the score is row by row,
#: so the values do not depend on the batch size).
SCORE_BATCH_ENTRIES = 1 << 20

#: Sampler laws kept by ``StepMemo`` (per process): a 1-D law is at most 16k floats, a plane
#: law 351^2; 24 of them are under 30 MB.
MEMO_ENTRIES = 24

ScoreFn = Callable[[np.ndarray, float], np.ndarray]


class StepMemo:
    """Sampler laws p_t already propagated in this process, keyed by everything they are a
    function of: the sampler's coefficients, the grid, the stopping step and the bits of the
    score at every point a stochastic step reads (all nodes, at every step's noise level).

    Two blocks whose scores agree bit for bit at those points give bit-identical laws (the
    propagation is deterministic: fixed chunking, no thread-count dependence), so a hit
    returns exactly what recomputing would: the catalogue's d sweeps repeat the same circle,
    box edge and pure-noise coordinate at every d, and only the first is propagated. A
    process-wide LRU of ``MEMO_ENTRIES``; ``clear()`` empties it."""

    def __init__(self, entries: int = MEMO_ENTRIES) -> None:
        self.entries = entries
        self._laws: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(tag: str, arrays: Iterable[np.ndarray]) -> str:
        """sha256 of ``tag`` and the arrays' dtypes, shapes and bytes, in order."""
        digest = hashlib.sha256(tag.encode())
        for a in arrays:
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
        return digest.hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        law = self._laws.get(key)
        if law is None:
            self.misses += 1
            return None
        self.hits += 1
        self._laws.move_to_end(key)
        return law.copy()

    def put(self, key: str, law: np.ndarray) -> None:
        self._laws[key] = np.array(law, copy=True)
        while len(self._laws) > self.entries:
            self._laws.popitem(last=False)

    def propagated(
        self, tag: str, scores: list[np.ndarray], propagate: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The law keyed by ``tag`` and ``scores``: from the memo, or ``propagate()`` (then
        kept). The one look-up both oracles use."""
        key = self.key(tag, scores)
        law = self.get(key)
        if law is None:
            law = propagate()
            self.put(key, law)
        return law

    def clear(self) -> None:
        self._laws.clear()
        self.hits = self.misses = 0


#: The process's memo of propagated laws (``block_laws`` and ``oracle_plane.plane_laws``).
STEP_MEMO = StepMemo()


def step_tag(kind: str, sampler: str, grid: Grid, t_stop: int, coef: Any, T: int) -> str:
    """The non-score part of a ``StepMemo`` key: oracle, sampler, grid, stop and the
    coefficients of the steps T..t_stop+1 (as exact hex floats)."""
    rows = slice(t_stop, T)
    coefs = (coef.A, coef.B, coef.C)
    numbers = np.concatenate([np.asarray(c, dtype=np.float64)[rows] for c in coefs])
    window = (float(grid.lo).hex(), float(grid.hi).hex(), str(grid.n), str(t_stop))
    return "|".join([kind, sampler, *window, " ".join(float(x).hex() for x in numbers)])


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

    def widened(self) -> Grid:
        """The same spacing over twice the width (about the same centre)."""
        mid, half = 0.5 * (self.lo + self.hi), self.hi - self.lo
        return Grid(mid - half, mid + half, 2 * (self.n - 1) + 1)

    def refined(self) -> Grid:
        """Half the spacing and twice the width (about the same centre)."""
        mid, half = 0.5 * (self.lo + self.hi), self.hi - self.lo
        return Grid(mid - half, mid + half, 4 * (self.n - 1) + 1)


def block_score(model: Any, coordinates: Any) -> ScoreFn:
    """The score of one block of a model whose exact score factorizes over blocks
    (``independent_blocks()``): ``model.score`` at points whose other coordinates are 0 (they
    do not enter, by the factorization). A block of one coordinate maps (N,) to (N,); a block
    of b coordinates maps (N, b) to (N, b)."""
    model = as_model(model)
    coords = np.asarray(coordinates, dtype=np.int64).reshape(-1)
    rows = max(1, SCORE_BATCH_ENTRIES // model.d)

    def score(y: np.ndarray, alpha_bar: float) -> np.ndarray:
        points = y.reshape(y.shape[0], coords.size)
        out = np.empty(points.shape)
        x = np.zeros((min(rows, points.shape[0]), model.d))
        for start in range(0, points.shape[0], rows):
            stop = min(start + rows, points.shape[0])
            xb = x[: stop - start]
            xb[:, coords] = points[start:stop]
            s = np.asarray(model.score(xb, alpha_bar), dtype=np.float64)
            out[start:stop] = s[:, coords]
        return out.reshape(y.shape)

    return score


def coordinate_score(model: Any, coordinate: int) -> ScoreFn:
    """The block score of one coordinate of a product model (``block_score`` of one)."""
    return block_score(model, [coordinate])


def _trapezoid(f: np.ndarray, h: float) -> float:
    return float(h * (np.sum(f) - 0.5 * (f[0] + f[-1])))


def noised_density(score_fn: ScoreFn, alpha_bar: float, grid: Grid) -> np.ndarray:
    """q_t at the nodes from its score (module docstring), normalized on the grid."""
    y = grid.nodes
    log_q = CubicSpline(y, score_fn(y, alpha_bar)).antiderivative()(y)
    q = np.exp(log_q - np.max(log_q))
    return q / _trapezoid(q, grid.h)


def _stochastic_step(p: np.ndarray, m: np.ndarray, c: float, grid: Grid) -> np.ndarray:
    """p_{t-1}(x) = sum_y h p_t(y) N(x; m_t(y), c^2) at the nodes (the quadrature of the
    module docstring; ``simulate._kernels.oracle._smooth_gaussian_1d``)."""
    out = np.zeros_like(p)
    weight = np.ascontiguousarray(grid.h * p)
    _smooth_gaussian_1d(weight, np.ascontiguousarray(m), c, grid.lo, grid.h, CHUNKS, out)
    return out


def _slope(score_fn: ScoreFn, y: np.ndarray, A: float, B: float, alpha_bar: float) -> np.ndarray:
    """m_t'(y) = A_t + B_t s_t'(y), s_t' by central differences (step ``FD_STEP`` (1 + |y|))."""
    eps = FD_STEP * (1.0 + np.abs(y))
    return A + B * (score_fn(y + eps, alpha_bar) - score_fn(y - eps, alpha_bar)) / (2.0 * eps)


def _invert_step(
    score_fn: ScoreFn, x: np.ndarray, A: float, B: float, alpha_bar: float, t: int
) -> np.ndarray:
    """y with m_t(y) = A y + B s_t(y) = x, m_t increasing: Newton's method kept inside a
    bracket [lo, hi] with m(lo) <= x <= m(hi), bisecting where a Newton step leaves it."""

    def m(y: np.ndarray) -> np.ndarray:
        return A * y + B * score_fn(y, alpha_bar)

    half = np.full(x.shape, 1.0 + 2.0 * np.max(np.abs(x)) / A)
    for _ in range(60):  # widen the bracket until it holds every x
        lo, hi = -half, half
        bad = (m(lo) > x) | (m(hi) < x)
        if not np.any(bad):
            break
        half[bad] *= 2.0
    else:
        raise ValueError(f"the DDIM step t={t} could not be inverted (no bracket)")
    y = np.clip((x - B * score_fn(x, alpha_bar)) / A, lo, hi)
    tol = NEWTON_RTOL * (1.0 + np.abs(x))
    for _ in range(NEWTON_MAX):
        r = m(y) - x
        done = np.abs(r) <= tol
        if np.all(done):
            return y
        lo = np.where(r < 0, y, lo)
        hi = np.where(r > 0, y, hi)
        slope = _slope(score_fn, y, A, B, alpha_bar)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = y - r / slope
        inside = (slope > 0) & (step > lo) & (step < hi)
        y = np.where(done, y, np.where(inside, step, 0.5 * (lo + hi)))
    raise ValueError(
        f"the DDIM step t={t} could not be inverted in {NEWTON_MAX} iterations (the map is "
        "not increasing near some node)"
    )


def _deterministic_flow(
    score_fn: ScoreFn, schedule: Schedule, A: np.ndarray, B: np.ndarray, grid: Grid,
    t_stop: int, where: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """p_{t_stop} of the DDIM flow at the grid's nodes ``where``, by inverting the flow.

    From each node x the steps t_stop + 1, ..., T are undone one by one (``_invert_step``),
    and log p(x) = log N(y_T; 0, 1) - sum_t log m_t'(y_t), with m_t' = A_t + B_t s_t' from
    central differences of the exact score: no interpolation, so a score that turns on the
    scale of the grid's spacing (a two-point law at small v_t) is followed exactly. A step
    map that is not increasing (the flow folds over) is a ``ValueError``.
    """
    y = grid.nodes[where]
    log_p = np.zeros(y.size)
    for t in range(t_stop + 1, schedule.T + 1):
        ab = schedule.level(t)
        y = _invert_step(score_fn, y, float(A[t - 1]), float(B[t - 1]), ab, t)
        slope = _slope(score_fn, y, float(A[t - 1]), float(B[t - 1]), ab)
        if np.any(slope <= 0):
            raise ValueError(f"the DDIM step map is not increasing at step t={t}")
        log_p -= np.log(slope)
    out = np.zeros(grid.n)
    out[where] = np.exp(log_p - 0.5 * y * y - 0.5 * math.log(2.0 * math.pi))
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
    q = noised_density(score_fn, schedule.level(t_stop), grid)
    if sampler == "ddim":
        where = q >= Q_NEGLIGIBLE * np.max(q)
        p = _deterministic_flow(score_fn, schedule, coef.A, coef.B, grid, t_stop, where)
    else:
        noise = np.asarray(coef.C[t_stop:], dtype=np.float64)
        if noise.size and float(np.min(noise)) < h:
            # the quadrature of a step needs h below the step's noise: at C_t / h = 0.6 the KL
            # of the box was off by 1e-2 to 1e1 (silently), at 1.2 by 6e-10 at most (measured)
            raise ValueError(
                f"grid spacing h={h:.4g} exceeds the smallest step noise "
                f"C_t={float(np.min(noise)):.4g} before t={t_stop}: refine the grid"
            )
        steps = range(schedule.T, t_stop, -1)
        scores = [score_fn(y, schedule.level(t)) for t in steps]

        def propagate() -> np.ndarray:
            p = np.exp(-0.5 * y * y) / math.sqrt(2.0 * math.pi)
            for t, s in zip(steps, scores, strict=True):
                m = coef.A[t - 1] * y + coef.B[t - 1] * s
                p = _stochastic_step(p, m, float(coef.C[t - 1]), grid)
            return p

        tag = step_tag("1d", sampler, grid, t_stop, coef, schedule.T)
        p = STEP_MEMO.propagated(tag, scores, propagate)
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


#: ``resolved_block_laws``: a window resolves a block when the mass it truncates is below
#: this, of q (``tail_mass``) and, for the stochastic samplers whose density is carried step
#: by step, of p (``BlockLaws.lost_mass``). Beyond the window the integrand q log(q / p) is
#: of the order of that mass times the log ratio at the edge, so the KL's truncation error is
#: a few times this (measured on a Laplace block: ``tests/test_oracle.py``).
TRUNCATED_MASS_MAX = 1e-9
#: How many times ``resolved_block_laws`` doubles the window before it gives up (a window of
#: 2^3 = 8 times the first: [-80, 80] from [-10, 10]).
MAX_WIDENINGS = 3


def tail_mass(score_fn: ScoreFn, alpha_bar: float, grid: Grid, q: np.ndarray) -> float:
    """The mass of q beyond the grid, from its density and log-slope at the two edges.

    Beyond an edge the tail is extrapolated as exponential with the score there as its
    log-slope: mass q(edge) / |s(edge)| on each side (exact for an exponential tail, an
    over-estimate for a lighter one, the right order for a power law). ``q`` is q_t at the
    nodes normalized on the grid; an edge whose score does not point inward gives inf.
    """
    s = score_fn(np.array([grid.lo, grid.hi]), alpha_bar)
    left = q[0] / s[0] if s[0] > 0 else (0.0 if q[0] == 0 else math.inf)
    right = q[-1] / -s[1] if s[1] < 0 else (0.0 if q[-1] == 0 else math.inf)
    return float(left + right)


@dataclass(frozen=True)
class Resolution:
    """How ``resolved_block_laws`` settled its window: the windows tried (half-widths), the
    KL and truncated masses on the last one, the KL's change between the last two windows
    (nan if only one), and whether the last one met ``TRUNCATED_MASS_MAX``."""

    resolved: bool
    half_widths: tuple[float, ...]
    q_tail: float
    p_lost: float
    kl_change: float

    @property
    def note(self) -> str:
        if self.resolved:
            return ""
        return (
            f"unresolved: after widening the window to +-{self.half_widths[-1]:g} the grid "
            f"still truncates {self.q_tail:.2g} of q and {self.p_lost:.2g} of p (at most "
            f"{TRUNCATED_MASS_MAX:g} needed)"
        )


def resolved_block_laws(
    score_fn: ScoreFn, schedule: Schedule, sampler: str, grid: Grid, t_stop: int = 1
) -> tuple[BlockLaws, Resolution]:
    """``block_laws`` on a window wide enough for the block's tails: starting from ``grid``,
    the window is doubled (same spacing) until the mass it truncates of q and p is below
    ``TRUNCATED_MASS_MAX``, at most ``MAX_WIDENINGS`` times; the Resolution says whether it
    got there (a heavy tail that never does is "unresolved", never a false premise)."""
    laws, widths, kls = None, [], []
    for _ in range(MAX_WIDENINGS + 1):
        laws = block_laws(score_fn, schedule, sampler, grid, t_stop)
        q_tail = tail_mass(score_fn, schedule.level(t_stop), grid, laws.q)
        # DDIM's p is evaluated node by node (no mass is carried), so only q's tail counts
        p_lost = 0.0 if sampler == "ddim" else abs(laws.lost_mass)
        widths.append(0.5 * (grid.hi - grid.lo))
        kls.append(laws.kl)
        if q_tail <= TRUNCATED_MASS_MAX and p_lost <= TRUNCATED_MASS_MAX:
            break
        grid = grid.widened()
    assert laws is not None
    change = abs(kls[-1] - kls[-2]) if len(kls) > 1 else math.nan
    ok = q_tail <= TRUNCATED_MASS_MAX and p_lost <= TRUNCATED_MASS_MAX
    return laws, Resolution(ok, tuple(widths), q_tail, p_lost, change)
