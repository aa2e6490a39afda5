"""The probability-flow ODE (DDIM) on the projection of a two-mode Gaussian mixture on its
mean, exactly (issue 31, item 3; Aranguri, Biroli, Mezard, Vanden-Eijnden, arXiv 2501.00988).

Data: weight ``weight`` on N(mu, I_d) and 1 - weight on N(-mu, I_d), |mu| = m (m = sqrt(d) in
the experiment). The d - 1 directions orthogonal to mu are N(0, 1) pure Gaussians and factorize;
along u = mu / m the noised law at level abar (a = sqrt(abar)) is, since the components keep
unit variance (abar + v = 1),

    q_a(y) = w N(y; a m, 1) + (1 - w) N(y; -a m, 1),
    s_a(y) = -y + a m tanh(a m y + h),  s_a'(y) = -1 + (a m)^2 sech^2(a m y + h),

h = atanh(2 w - 1). DDIM (``samplers.coefficients(schedule, "ddim")``: Y_{t-1} = A_t Y_t +
B_t s_t(Y_t)) is a deterministic increasing map F of the line, and from the exact start q_T
the output is the push-forward p_1 = F # q_T. By the change of variables x = F(y),

    KL(q_1 || p_1) = int g(y) log(g(y) / q_T(y)) dy,   g(y) = q_1(F(y)) F'(y),

(g is q_1 pulled back to the start), with F and F' = prod_t (A_t + B_t s_t'(y_t)) carried
along each node of a uniform grid of starts: no interpolation and no inversion; the trapezoid
rule on g, a smooth density. The mode weight of p_1 is the q_T mass of {y : F(y) > 0}.

Grids on the signal level a = sqrt(abar) = 1 / sqrt(1 + sigma^2), from a_min to a_max:

- ``uniform``: a uniform in [a_min, a_max] (the variance-preserving interpolant x = a x_0 +
  sqrt(1 - a^2) z on a uniform time grid, a(t) = t: the "standard" schedule as read);
- ``dilated``: half of the steps uniform in a over [a_min, kappa / m], the other half over
  [kappa / m, a_max]: the speciation window a m = O(1), of width 1 / m in a, gets a fixed
  share of the steps (a two-phase time dilation in the spirit of the paper's; their exact
  dilation was not recovered from their notebooks, so this is the suite's own).

Notation: ``m`` = |mu|; ``w`` = weight; ``a`` = sqrt(abar); ``F``/``J`` the flow map and its
derivative at the grid of starts; ``n`` the number of DDIM steps (n + 1 levels).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from simulate._validation import check_choice, check_int, check_real
from simulate.samplers import coefficients
from simulate.schedules import Schedule
from simulate.sigma_grid import to_schedule

__all__ = ["GRIDS", "FlowResult", "flow_kl", "level_grid", "steps_to_accuracy"]

GRIDS = ("uniform", "dilated")
#: Starts per unit length of the grid in y and its half-width: q_T is N(0, 1) to within
#: a_min m (1e-4 here), so +-12 holds all but 1e-32 of it. With ``X_NODES_PER_UNIT`` = 20
#: and 2 ``REFINEMENTS`` the KL agrees with a 4x finer grid (200, 50, 4 passes) to 2e-3
#: relative or better at m = 4 and 100, n = 32 and 512 (measured): T*(eps) moves by less
#: than one step for it wherever the KL falls faster than 0.2% per step.
NODES_PER_UNIT = 50
HALF_WIDTH = 12.0
#: The pulled-back q_1 must integrate to 1 within this on the grid of starts, or the KL is
#: unresolved (inf): on resolved maps the trapezoid's mass error was <= 2e-5 (m = 4..100,
#: n = 4..1024, measured), on unresolved ones (a few steps at large m) 6e-4 to 1.
MASS_TOL = 1e-4
#: Preimages of this many points per unit of x = F(y) are added to the starts (the modes
#: have unit width; see ``NODES_PER_UNIT`` for the accuracy this buys).
X_NODES_PER_UNIT = 20
#: Passes that re-place the preimages of the x-grid by interpolating the last pass's F: where
#: the flow stretches one grid cell over the gap between the modes, each pass refines it.
REFINEMENTS = 2


def level_grid(
    kind: str, n: int, m: float, a_min: float, a_max: float, kappa: float = 6.0
) -> np.ndarray:
    """The n + 1 signal levels a_0 = a_min < ... < a_n = a_max of ``kind`` (module
    docstring), increasing (the order the sampler visits them)."""
    kind = check_choice("kind", kind, GRIDS)
    n = check_int("n", n, low=2)
    m = check_real("m", m, low=0.0, low_open=True)
    a_min = check_real("a_min", a_min, low=0.0, high=1.0, low_open=True, high_open=True)
    a_max = check_real("a_max", a_max, low=a_min, high=1.0, low_open=True, high_open=True)
    kappa = check_real("kappa", kappa, low=0.0, low_open=True)
    if kind == "uniform":
        return np.linspace(a_min, a_max, n + 1)
    mid = kappa / m
    if not a_min < mid < a_max:
        raise ValueError(f"kappa / m = {mid:.4g} must lie in (a_min, a_max) = ({a_min:.4g}, "
                         f"{a_max:.4g}); take kappa or m accordingly")  # fmt: skip
    first = n // 2
    return np.concatenate(
        (np.linspace(a_min, mid, first + 1)[:-1], np.linspace(mid, a_max, n - first + 1))
    )


def schedule_from_levels(levels: np.ndarray) -> Schedule:
    """The discrete schedule with abar = a^2 at the levels (sigma = sqrt(1 / a^2 - 1))."""
    a = np.asarray(levels, dtype=np.float64)
    return to_schedule(np.sqrt(1.0 / (a * a) - 1.0))


class FlowResult:
    """KL(q_1 || p_1) of the projection, p_1's weight on the + mode, the true weight, and the
    q_T mass outside the grid of starts (the quadrature's truncation)."""

    __slots__ = ("kl", "weight_p", "weight_q", "outside")

    def __init__(self, kl: float, weight_p: float, weight_q: float, outside: float) -> None:
        self.kl, self.weight_p, self.weight_q, self.outside = kl, weight_p, weight_q, outside


def _log_mixture(y: np.ndarray, a: float, m: float, w: float) -> np.ndarray:
    """log q_a(y) = log(w N(y; a m, 1) + (1 - w) N(y; -a m, 1)), by logaddexp."""
    c = -0.5 * math.log(2.0 * math.pi)
    return np.logaddexp(
        math.log(w) + c - 0.5 * (y - a * m) ** 2, math.log1p(-w) + c - 0.5 * (y + a * m) ** 2
    )


def _flow(
    schedule: Schedule, coef, amp: np.ndarray, h: float, y0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """F(y0) and log F'(y0) of the DDIM steps t = T..2 (module docstring)."""
    y, log_j = y0.copy(), np.zeros_like(y0)
    for t in range(schedule.T, 1, -1):
        z = amp[t - 1] * y + h
        s = -y + amp[t - 1] * np.tanh(z)
        with np.errstate(over="ignore"):  # sech^2 -> 0 where cosh overflows
            ds = -1.0 + (amp[t - 1] / np.cosh(z)) ** 2
        slope = coef.A[t - 1] + coef.B[t - 1] * ds
        if np.any(slope <= 0):
            raise FloatingPointError(f"the DDIM map is not increasing at step t={t}")
        y = coef.A[t - 1] * y + coef.B[t - 1] * s
        log_j += np.log(slope)
    return y, log_j


def flow_kl(schedule: Schedule, m: float, weight: float) -> FlowResult:
    """KL(q_1 || p_1) along mu of DDIM on ``schedule`` from the exact start q_T (module
    docstring: g = q_1(F) F', KL = int g log(g / q_T) by the trapezoid rule).

    The starts: a uniform grid in y (``NODES_PER_UNIT`` on +-``HALF_WIDTH``) joined with the
    preimages of a uniform grid in x = F(y) (``X_NODES_PER_UNIT``, by interpolating the
    previous pass's F, ``REFINEMENTS`` passes), so that the narrow y-interval the flow
    stretches over the gap between the modes is resolved; F and F' are then recomputed
    exactly at every start. The mode weight of p_1 is the q_T mass beyond the start y* with F(y*) = 0 (closed form in y*)."""
    m = check_real("m", m, low=0.0, low_open=True)
    w = check_real("weight", weight, low=0.0, high=1.0, low_open=True, high_open=True)
    h = math.atanh(2.0 * w - 1.0)
    coef = coefficients(schedule, "ddim")
    amp = np.sqrt(schedule.alpha_bar) * m  # a_t m, index t - 1
    y0 = np.linspace(-HALF_WIDTH, HALF_WIDTH, int(2 * HALF_WIDTH * NODES_PER_UNIT) + 1)
    starts = y0
    x, log_j = _flow(schedule, coef, amp, h, starts)
    xs = np.linspace(x[0], x[-1], int((x[-1] - x[0]) * X_NODES_PER_UNIT) + 2)
    for _ in range(REFINEMENTS):  # each pass places the x-grid's preimages more exactly
        starts = np.unique(np.concatenate((y0, np.interp(xs, x, starts))))
        x, log_j = _flow(schedule, coef, amp, h, starts)
    log_qT = _log_mixture(starts, float(amp[-1]), 1.0, w)
    log_g = _log_mixture(x, float(amp[0]), 1.0, w) + log_j
    g = np.exp(log_g)
    kl = float(np.trapezoid(g * (log_g - log_qT), starts))
    mass = float(np.trapezoid(g, starts))
    if not abs(mass - 1.0) <= MASS_TOL:
        # q_1 pulled back is not resolved by the starts: report it as unresolved
        kl = math.inf
    y_star = float(np.interp(0.0, x, starts))
    a_T = float(amp[-1])
    weight_p = w * float(ndtr(a_T - y_star)) + (1.0 - w) * float(ndtr(-a_T - y_star))
    outside = float(max(0.0, 1.0 - np.trapezoid(np.exp(log_qT), starts)))
    return FlowResult(kl, weight_p, w, outside)


def steps_to_accuracy(
    kind: str,
    eps: float,
    m: float,
    weight: float,
    a_min: float,
    a_max: float,
    kappa: float = 6.0,
    n_max: int = 1 << 14,
) -> tuple[int, float]:
    """T*(eps) = the smallest n with KL(q_1 || p_1) <= eps along mu, found by doubling from
    n = 2 and bisecting (assumes the KL falls with n past the first n that meets eps; the
    bracket's ends are evaluated exactly). Returns (T*, KL at T*); (n_max + 1, inf) if even
    n_max steps do not reach eps."""
    eps = check_real("eps", eps, low=0.0, low_open=True)

    def kl(n: int) -> float:
        levels = level_grid(kind, n, m, a_min, a_max, kappa)
        return flow_kl(schedule_from_levels(levels), m, weight).kl

    lo, hi = 1, 2
    k_hi = kl(hi)
    while k_hi > eps:
        lo, hi = hi, hi * 2
        if hi > n_max:
            return n_max + 1, math.inf
        k_hi = kl(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        k_mid = kl(mid)
        if k_mid <= eps:
            hi, k_hi = mid, k_mid
        else:
            lo = mid
    return hi, k_hi
