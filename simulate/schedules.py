"""Noise schedules of the forward chain (SCIENCE.md section 1.1).

Notation (code -> SCIENCE.md):

=============  =====================================================
``beta``       beta_t = 1 - alpha_t, the per-step noise variance
``alpha``      alpha_t
``alpha_bar``  abar_t = prod_{i <= t} alpha_i
``T``          number of steps; array index ``t - 1`` holds step t
``c0, c1``     constants of the Li, Wei, Chen, Chi (2024) schedule
=============  =====================================================

``li(T)`` defaults to c0 = 2, c1 = 4, where abar_T is about 1e-4 or less from T = 10 on
(T^-(c1 - c0) for large T), so that a sampler started from N(0, I) starts near q_T. The
setting of the paper's experiments, c0 = c1 = 4, is ``li_paper(T)`` (``PAPER_C0``,
``PAPER_C1``): there abar_T is 0.93 / 0.88 / 0.80 at T = 10 / 50 / 100 and tends to e^-1, so
the chain starts far from q_T (``samplers.StartFarFromNoise``).

The forward chain is X_t = sqrt(alpha_t) X_{t-1} + sqrt(1 - alpha_t) W_t, so
X_t = sqrt(abar_t) X_0 + sqrt(1 - abar_t) Wbar_t.

``v`` holds v_t = 1 - abar_t computed as -expm1(sum_{i<=t} log1p(-beta_i)), never as
1 - abar_t (which cancels when abar_t is near 1; ``simulate.noise_level``), and
``level(t)`` hands abar_t and v_t on together as a :class:`NoiseLevel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulate._validation import checked, check_int, check_real
from simulate.noise_level import NoiseLevel

__all__ = [
    "DEFAULT_C0",
    "DEFAULT_C1",
    "PAPER_C0",
    "PAPER_C1",
    "Schedule",
    "VPSchedule",
    "cosine",
    "from_beta",
    "li",
    "li_paper",
    "linear",
    "vp_sde",
]

#: Largest beta_t any schedule may produce: beta_t = 1 would make alpha_t = 0 and the
#: sampler's division by sqrt(alpha_t) undefined (the cap used by Nichol & Dhariwal 2021).
MAX_BETA = 0.999
#: ``li``'s default constants: beta_1 = T^-2 and c1 = 4 > c0, so abar_T <= T^-(c1 - c0) for
#: T >= 100 and abar_T < 6e-4 for every T in [10, 100] (``tests/test_schedules.py``).
DEFAULT_C0, DEFAULT_C1 = 2.0, 4.0
#: The constants of the paper's experiments (and of SCIENCE.md's preliminary computation):
#: c0 = c1 = 4, where the sum of beta_t tends to 1 and abar_T to e^-1 (``li_paper``).
PAPER_C0, PAPER_C1 = 4.0, 4.0


@dataclass(frozen=True, eq=False)
class Schedule:
    """A discretized forward chain: float64 arrays of length T, index ``t - 1`` is step t.

    Attributes
    ----------
    name : str
        Family and parameters, e.g. ``"li(T=100, c0=4.0, c1=4.0)"``.
    beta, alpha, alpha_bar : numpy.ndarray
        beta_t, alpha_t = 1 - beta_t and abar_t = prod_{i<=t} alpha_i (SCIENCE.md 1.1).
    v : numpy.ndarray
        v_t = 1 - abar_t = -expm1(sum_{i<=t} log1p(-beta_i)), accurate to a few ulps in
        relative terms even where abar_t rounds to 1 (beta_1 = T^(-4) at T = 1e5).
    """

    name: str
    beta: np.ndarray
    alpha: np.ndarray = field(init=False)
    alpha_bar: np.ndarray = field(init=False)
    v: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        beta = np.array(self.beta, dtype=np.float64)
        if beta.ndim != 1 or beta.size < 2:
            raise ValueError(f"beta must be a 1-D array of length T >= 2, got shape {beta.shape}")
        if not np.all(np.isfinite(beta)) or np.any(beta <= 0) or np.any(beta >= 1):
            raise ValueError("every beta_t must be finite and in the open interval (0, 1)")
        alpha = 1.0 - beta
        alpha_bar = np.cumprod(alpha)
        v = -np.expm1(np.cumsum(np.log1p(-beta)))
        for arr in (beta, alpha, alpha_bar, v):
            arr.setflags(write=False)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "alpha_bar", alpha_bar)
        object.__setattr__(self, "v", v)

    @property
    def T(self) -> int:
        """Number of steps T."""
        return int(self.beta.size)

    def level(self, t: int) -> NoiseLevel:
        """abar_t with its accurate v_t, for step t in [1, T] (``simulate.noise_level``)."""
        t = check_int("t", t, low=1, high=self.T)
        return NoiseLevel(self.alpha_bar[t - 1], self.v[t - 1])

    def __repr__(self) -> str:
        return f"Schedule({self.name}, alpha_bar_T={self.alpha_bar[-1]:.3e})"


@checked
def from_beta(beta: np.ndarray, name: str = "custom") -> Schedule:
    """Schedule from an explicit array of beta_t, t = 1..T (each in (0, 1))."""
    return Schedule(name=name, beta=np.asarray(beta, dtype=np.float64))


@checked
def li(T: int, c0: float = DEFAULT_C0, c1: float = DEFAULT_C1) -> Schedule:
    """The schedule of Li, Wei, Chen & Chi (ICLR 2024), SCIENCE.md 1.1.

    beta_1 = T^(-c0),  beta_{t+1} = (c1 log T / T) * min{beta_1 (1 + c1 log T / T)^t, 1}.

    Parameters
    ----------
    T : int
        Number of steps, T >= 2.
    c0, c1 : float
        Positive finite constants; default c0 = 2, c1 = 4 (``DEFAULT_C0``, ``DEFAULT_C1``),
        where abar_T is about 1e-4 from T = 10 on. Note that abar_T is small only when c1 is
        large enough compared with c0 (the growth (1 + c1 log T / T)^t must reach 1/beta_1
        well before t = T): at c0 = c1 = 4 (the paper's setting, :func:`li_paper`) it is 0.93
        at T = 10 and tends to e^-1. ``tests/test_schedules.py`` measures abar_T over a grid.

    Returns
    -------
    Schedule
        Raises ``ValueError`` if some beta_t >= 1 (c1 log T / T >= 1: take T larger).
    """
    T = check_int("T", T, low=2)
    c0 = check_real("c0", c0, low=0.0, low_open=True)
    c1 = check_real("c1", c1, low=0.0, low_open=True)
    h = c1 * math.log(T) / T
    if h >= 1.0:
        raise ValueError(
            f"c1 log T / T = {h:.4g} must be < 1 so that every beta_t < 1; "
            f"got c1={c1}, T={T} (take T larger or c1 smaller)"
        )
    beta1 = float(T) ** (-c0)
    t = np.arange(1, T, dtype=np.float64)
    # beta_1 (1 + h)^t in the log domain, capped at 1 before the exponential overflows.
    log_growth = math.log(beta1) + t * math.log1p(h)
    later = h * np.exp(np.minimum(log_growth, 0.0))
    beta = np.concatenate(([beta1], later))
    return Schedule(name=f"li(T={T}, c0={c0:g}, c1={c1:g})", beta=beta)


@checked
def li_paper(T: int) -> Schedule:
    """li(T, c0=4, c1=4): the constants of the paper's experiments (``PAPER_C0``, ``PAPER_C1``).

    Bit for bit the schedule ``li(T)`` gave before its default became (2, 4). Its abar_T is
    0.93 / 0.88 / 0.80 at T = 10 / 50 / 100 (-> e^-1 as T grows, SCIENCE.md 1.1): a chain
    started from N(0, I) starts far from q_T. Kept for ablations and exact checks of the old
    numbers; sampling on it warns (``samplers.StartFarFromNoise``).
    """
    return li(T, PAPER_C0, PAPER_C1)


@checked
def linear(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """Ho, Jain & Abbeel (2020): beta linear from 1e-4 to 0.02 over 1000 steps.

    For T != 1000 both ends are multiplied by 1000 / T (the rescaling of Nichol & Dhariwal
    2021), so that abar_T is about the same for every T; beta_t is capped at ``MAX_BETA``.
    """
    T = check_int("T", T, low=2)
    beta_start = check_real(
        "beta_start", beta_start, low=0.0, high=1.0, low_open=True, high_open=True
    )
    beta_end = check_real("beta_end", beta_end, low=beta_start, high=1.0, high_open=True)
    scale = 1000.0 / T
    beta = np.linspace(scale * beta_start, scale * beta_end, T)
    return Schedule(name=f"linear(T={T})", beta=np.minimum(beta, MAX_BETA))


@checked
def cosine(T: int, offset: float = 0.008) -> Schedule:
    """Nichol & Dhariwal (2021): abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s)/(1 + s)).

    beta_t = min(1 - abar(t) / abar(t - 1), ``MAX_BETA``), with offset s = 0.008.
    """
    T = check_int("T", T, low=2)
    offset = check_real("offset", offset, low=0.0, low_open=True)
    grid = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((grid + offset) / (1.0 + offset) * np.pi / 2.0) ** 2
    beta = 1.0 - f[1:] / f[:-1]
    return Schedule(name=f"cosine(T={T})", beta=np.clip(beta, 1e-12, MAX_BETA))


@dataclass(frozen=True, eq=False)
class VPSchedule(Schedule):
    """A time grid of the VP SDE (Song et al. 2021), indexed like a discrete schedule.

    dX = -beta(t)/2 X dt + sqrt(beta(t)) dW,  beta(t) = beta_min + t (beta_max - beta_min),
    so X_t = exp(-B(t)/2) X_0 + sqrt(1 - exp(-B(t))) W with B(t) = int_0^t beta. The grid
    has N points from ``horizon`` down to ``eps``; array index t - 1 holds *step* t, the grid
    point times[t - 1] (increasing: step 1 is ``eps``, step N is ``horizon``), so that a
    sampler runs t = N, ..., 2 like the discrete ones and returns Y at ``eps``.

    Attributes
    ----------
    times : numpy.ndarray
        t of each step (N,), increasing from eps to horizon.
    B : numpy.ndarray
        B(times) = int_0^t beta (N,).
    alpha_bar, v : numpy.ndarray
        exp(-B) and 1 - exp(-B) = -expm1(-B) at each grid time (v_1 = 0 when eps = 0).
    beta : numpy.ndarray
        The implied discrete beta_t = 1 - abar_t / abar_{t-1} = -expm1(-(B_t - B_{t-1})) for
        t >= 2, and beta_1 = v_1. Not a sampler coefficient: samplers on this grid use
        ``beta_at`` and the grid steps.
    """

    beta: np.ndarray = field(init=False)
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beta_min: float = 0.1
    beta_max: float = 20.0
    eps: float = 0.0
    horizon: float = 1.0
    grid: str = "uniform"
    B: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        times = np.array(self.times, dtype=np.float64)
        if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0) or times[0] < 0:
            raise ValueError("times must be an increasing 1-D grid of >= 2 points in [0, inf)")
        B = self.integral(times)
        beta = np.concatenate(([-np.expm1(-B[0])], -np.expm1(-np.diff(B))))
        alpha_bar = np.exp(-B)
        v = -np.expm1(-B)
        alpha = 1.0 - beta
        for name, arr in (("times", times), ("B", B), ("beta", beta), ("alpha", alpha),
                          ("alpha_bar", alpha_bar), ("v", v)):  # fmt: skip
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def beta_at(self, t: np.ndarray | float) -> np.ndarray | float:
        """beta(t) = beta_min + t (beta_max - beta_min)."""
        return self.beta_min + np.asarray(t) * (self.beta_max - self.beta_min) + 0.0

    def integral(self, t: np.ndarray | float) -> np.ndarray:
        """B(t) = beta_min t + (beta_max - beta_min) t^2 / 2."""
        t = np.asarray(t, dtype=np.float64)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t

    def level_at(self, t: float) -> NoiseLevel:
        """The noise level of the marginal at time t: abar = exp(-B(t)), v = -expm1(-B(t))."""
        b = float(self.integral(t))
        return NoiseLevel(math.exp(-b), -math.expm1(-b))

    def __repr__(self) -> str:
        return f"VPSchedule({self.name}, alpha_bar_T={self.alpha_bar[-1]:.3e})"


@checked
def vp_sde(
    beta_min: float = 0.1,
    beta_max: float = 20.0,
    N: int = 1000,
    eps: float = 0.0,
    horizon: float = 1.0,
    grid: str = "uniform",
) -> VPSchedule:
    """The VP SDE of Song et al. (2021) on a grid of N points from ``horizon`` down to ``eps``.

    Uniform grid: t_k = horizon - (horizon - eps) k / (N - 1), k = 0..N-1 (N - 1 steps).
    The score at a grid time uses that time's exact marginal (``VPSchedule.level``).

    Parameters
    ----------
    beta_min, beta_max : float
        0 < beta_min <= beta_max (Song et al.: 0.1 and 20).
    N : int
        Grid points, N >= 2.
    eps : float
        Early-stopping time, 0 <= eps < horizon (eps = 0: the sampler ends at the data law).
    horizon : float
        Final time of the forward SDE, > 0.
    grid : {"uniform"}
    """
    beta_min = check_real("beta_min", beta_min, low=0.0, low_open=True)
    beta_max = check_real("beta_max", beta_max, low=beta_min)
    N = check_int("N", N, low=2)
    horizon = check_real("horizon", horizon, low=0.0, low_open=True)
    eps = check_real("eps", eps, low=0.0, high=horizon, high_open=True)
    if grid != "uniform":
        raise ValueError(f"grid={grid!r} is not supported; allowed: uniform")
    times = eps + (horizon - eps) * np.arange(N, dtype=np.float64) / (N - 1)
    times[-1] = horizon
    name = f"vp_sde(beta_min={beta_min:g}, beta_max={beta_max:g}, N={N}, eps={eps:g}"
    name += f", horizon={horizon:g})" if horizon != 1.0 else ")"
    return VPSchedule(
        name=name, times=times, beta_min=beta_min, beta_max=beta_max, eps=eps,
        horizon=horizon, grid=grid,
    )  # fmt: skip
