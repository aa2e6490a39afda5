"""Sample-based divergences between a generated sample and a data sample (SCIENCE.md 7).

For laws without a closed form (non-Gaussian data, estimated scores that couple coordinates)
the output law p_1 is known only through samples. Each divergence here comes with a standard
error, and :func:`noise_floor` gives its value between two independent data samples of the
same size, the level below which a difference cannot be seen.

==================  ===========================================================================
function            definition
==================  ===========================================================================
``mmd2``            unbiased U-statistic of MMD^2 with the Gaussian kernel
                    k(x, y) = exp(-||x - y||^2 / (2 h^2)), h the median pairwise distance of
                    the pooled sample (Gretton et al. 2012, eq. 3, and their median heuristic)
``energy``          unbiased energy distance 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||
                    (Szekely & Rizzo 2013)
``prdc``            precision, recall, density, coverage with k nearest neighbours
                    (Kynkaanniemi et al. 2019; Naeem et al. 2020, eqs. 1-4)
``sliced_w2``       sliced Wasserstein-2 (POT), in ``simulate.metrics``
``start_kl``        KL(q_T || N(0, I)), how far the sampler's start is from q_T: exact for
                    Gaussian models; for mixtures the moment-matched Gaussian G's KL (exact)
                    plus a Monte Carlo estimate of KL(q_T || G) with its standard error
==================  ===========================================================================

Standard errors of the U-statistics are the first-order (Hoeffding) term,
2 sd_i(hbar_i) / sqrt(m) with hbar_i the mean of the kernel h(z_i, z_j) over j != i; it is
the error of a statistic away from zero, and it vanishes where the two laws are equal, which
is why :func:`noise_floor` is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from scipy.special import logsumexp

from simulate._validation import checked, MAX_DRAWS, check_finite_array, check_int, check_seed
from simulate.laws import GaussianLaw
from simulate.metrics import kl_gaussian
from simulate.models.mixtures import _Mixture
from simulate.schedules import Schedule

__all__ = ["Estimate", "energy", "mmd2", "noise_floor", "prdc", "start_kl"]

#: Rows of a distance block, bounding memory to about 8 * ROWS * m bytes.
_BLOCK_ROWS = 2048


@dataclass(frozen=True)
class Estimate:
    """A divergence value and its standard error."""

    value: float
    se: float


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x = check_finite_array("a", a, ndim=2)
    y = check_finite_array("b", b, ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"a has width {x.shape[1]}, b has {y.shape[1]} (must match)")
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(
            f"a and b must hold the same number m >= 2 of points; got {x.shape[0]} and "
            f"{y.shape[0]}"
        )
    return x, y


def _ustat(x: np.ndarray, y: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray]) -> Estimate:
    """Unbiased U-statistic of h_ij = k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i)."""
    m = x.shape[0]
    row = np.zeros(m)  # sum over j != i of h_ij
    for start in range(0, m, _BLOCK_ROWS):
        sl = slice(start, min(start + _BLOCK_ROWS, m))
        kxx = kernel(cdist(x[sl], x))
        kyy = kernel(cdist(y[sl], y))
        kxy = kernel(cdist(x[sl], y))
        kyx = kernel(cdist(y[sl], x))
        h = kxx + kyy - kxy - kyx
        idx = np.arange(sl.start, sl.stop)
        h[idx - sl.start, idx] = 0.0  # drop i = j
        row[sl] = h.sum(axis=1)
    hbar = row / (m - 1)
    return Estimate(float(np.mean(hbar)), float(2.0 * np.std(hbar, ddof=1) / math.sqrt(m)))


def median_bandwidth(x: np.ndarray, y: np.ndarray, max_points: int = 1000) -> float:
    """Median pairwise distance of the pooled sample (its first ``max_points`` of each)."""
    z = np.vstack([x[:max_points], y[:max_points]])
    dist = cdist(z, z)
    return float(np.median(dist[np.triu_indices(z.shape[0], k=1)]))


@checked
def mmd2(a: Any, b: Any, bandwidth: float | None = None) -> Estimate:
    """Unbiased MMD^2 with a Gaussian kernel (module docstring); bandwidth h by the median
    heuristic unless given."""
    x, y = _pair(a, b)
    h = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth={h!r} is out of range; allowed: real > 0")
    return _ustat(x, y, lambda dist: np.exp(-(dist * dist) / (2.0 * h * h)))


@checked
def energy(a: Any, b: Any) -> Estimate:
    """Unbiased energy distance (module docstring): the U-statistic of h with k = -||x - y||."""
    x, y = _pair(a, b)
    return _ustat(x, y, lambda dist: -dist)


def _kth_neighbour_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point of x to its k-th nearest other point of x."""
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        dist = cdist(x[start : start + _BLOCK_ROWS], x)
        # the point itself is at distance 0: the k-th other point is the (k+1)-th smallest
        out[start : start + _BLOCK_ROWS] = np.partition(dist, k, axis=1)[:, k]
    return out


@checked
def prdc(real: Any, fake: Any, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al.
    2020, eqs. 1-4), with the k-nearest-neighbour balls of each sample.

    With r_i the k-NN radius of real point i among the real points and s_j that of fake point
    j among the fake points: precision = share of fake points inside some real ball; recall =
    share of real points inside some fake ball; density = mean over fake points of the number
    of real balls containing it, over k; coverage = share of real balls containing a fake
    point. "Inside" is a strict inequality.
    """
    x = check_finite_array("real", real, ndim=2)
    y = check_finite_array("fake", fake, ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"real has width {x.shape[1]}, fake has {y.shape[1]} (must match)")
    k = check_int("k", k, low=1, high=min(x.shape[0], y.shape[0]) - 1)
    r_real = _kth_neighbour_radius(x, k)
    r_fake = _kth_neighbour_radius(y, k)
    in_real_balls = np.zeros(y.shape[0])  # per fake point: how many real balls contain it
    real_covered = np.zeros(x.shape[0], dtype=bool)
    real_recalled = np.zeros(x.shape[0], dtype=bool)
    for start in range(0, x.shape[0], _BLOCK_ROWS):
        sl = slice(start, min(start + _BLOCK_ROWS, x.shape[0]))
        dist = cdist(x[sl], y)  # real rows, fake columns
        inside = dist < r_real[sl, None]
        in_real_balls += inside.sum(axis=0)
        real_covered[sl] = dist.min(axis=1) < r_real[sl]
        real_recalled[sl] = (dist < r_fake[None, :]).any(axis=1)
    return {
        "precision": float(np.mean(in_real_balls > 0)),
        "recall": float(np.mean(real_recalled)),
        "density": float(np.mean(in_real_balls) / k),
        "coverage": float(np.mean(real_covered)),
    }


#: Most replicates of :func:`noise_floor` (each draws two samples; 10**4 is far beyond any
#: use, and a fuzzed 10**18 would never return).
MAX_REPLICATES = 10_000


@checked
def noise_floor(
    sample: Callable[[int, np.random.Generator], np.ndarray],
    m: int,
    metric: Callable[[np.ndarray, np.ndarray], Any],
    replicates: int = 4,
    seed: int = 0,
) -> list[Any]:
    """``metric`` between two independent data samples of size m, per replicate.

    ``sample(m, rng)`` draws data (a model's ``sample``); replicate r compares the draws of
    ``numpy.random.default_rng([seed, 2r])`` and ``default_rng([seed, 2r + 1])``.
    """
    if not callable(sample):
        raise TypeError(f"sample must be a callable sample(m, rng), got {type(sample).__name__}")
    if not callable(metric):
        raise TypeError(f"metric must be a callable metric(a, b), got {type(metric).__name__}")
    m = check_int("m", m, low=2, high=MAX_DRAWS)
    replicates = check_int("replicates", replicates, low=1, high=MAX_REPLICATES)
    seed = check_seed(seed)
    out = []
    for r in range(replicates):
        a = sample(m, np.random.default_rng([seed, 2 * r]))
        b = sample(m, np.random.default_rng([seed, 2 * r + 1]))
        out.append(metric(a, b))
    return out


@checked
def start_kl(model: Any, schedule: Schedule, n: int = 2000, seed: int = 0) -> Estimate:
    """KL(q_T || N(0, I)): the distance of the sampler's start Y_T ~ N(0, I) from q_T, the law
    of X_T = sqrt(abar_T) X_0 + sqrt(1 - abar_T) W (SCIENCE.md 1.1), with its standard error.

    * a Gaussian model (``noised_law``): the closed form (``metrics.kl_gaussian``), SE 0;
    * a mixture (``models.mixtures``: the toy, the digits' empirical law): with G the Gaussian
      of q_T's mean and covariance, KL(q_T || N(0, I)) = KL(G || N(0, I)) + KL(q_T || G)
      exactly (log N(0, I) is quadratic, so E_q log N = E_G log N). The first term is closed
      form; the second is the mean of log q_T(x) - log G(x) over ``n`` draws of q_T (seeded),
      with SE sd / sqrt(n). It is small where q_T is nearly Gaussian (small abar_T), and so
      is its SE, so a small distance is resolved (a bound by convexity, sum_j w_j KL(q_T,j ||
      N(0, I)), would be first order in abar_T where the truth is second order).

    The sampler is a Markov kernel applied to either start, so the law it outputs from
    N(0, I) is within this KL of the law it outputs from q_T (data processing).
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    n = check_int("n", n, low=2, high=MAX_DRAWS)
    seed = check_seed(seed)
    level = schedule.level(schedule.T)
    abar, v = float(level), float(level.v)
    if hasattr(model, "noised_law"):
        law = model.noised_law(level)
        return Estimate(float(kl_gaussian(law, GaussianLaw.standard(law.d))), 0.0)
    if not isinstance(model, _Mixture):
        raise TypeError(
            f"start_kl needs a Gaussian model (noised_law) or a mixture model; got "
            f"{type(model).__name__}"
        )
    a, d = math.sqrt(abar), model.d
    w = model.weights
    mean0 = w @ model.means
    second = np.einsum("j,jk,jl->kl", w, model.means, model.means)
    if model.lams.shape[1]:
        second += np.einsum("j,jkr,jr,jlr->kl", w, model.bases, model.lams, model.bases)
    sigma, vecs = np.linalg.eigh(second - np.outer(mean0, mean0))
    sigma = np.maximum(sigma, 0.0)
    # G = N(a mean0, a^2 Sigma + v I): eigenvalues 1 + delta_i, delta_i = abar (sigma_i - 1)
    delta = abar * (sigma - 1.0)
    kl_g = 0.5 * (abar * float(mean0 @ mean0) + float(np.sum(delta - np.log1p(delta))))
    rng = np.random.default_rng([seed, n])
    x = a * model.sample(n, rng) + math.sqrt(v) * rng.standard_normal((n, d))
    # log G(x) + d/2 log(2 pi), in G's eigenbasis
    u = (x - a * mean0) @ vecs
    log_g = -0.5 * np.sum(u * u / (1.0 + delta), axis=1) - 0.5 * np.sum(np.log1p(delta))
    # log q_T(x) + d/2 log(2 pi): q_T,j = N(a mu_j, a^2 B_j diag(lam_j) B_j^T + v I)
    if model.lams.shape[1] == 0:  # point masses (an empirical law): one matrix product
        sq = (
            np.sum(x * x, axis=1)[:, None]
            - 2.0 * a * (x @ model.means.T)
            + abar * np.sum(model.means**2, axis=1)[None, :]
        )
        terms = model.log_weights[None, :] - 0.5 * np.maximum(sq, 0.0) / v - 0.5 * d * math.log(v)
    else:
        terms = np.empty((n, model.n_components))
        for j in range(model.n_components):
            quad, log_det, _, _ = model._component(x, j, a, v)
            terms[:, j] = model.log_weights[j] - 0.5 * quad - 0.5 * log_det
    diff = logsumexp(terms, axis=1) - log_g
    return Estimate(kl_g + float(np.mean(diff)), float(np.std(diff, ddof=1) / math.sqrt(n)))
