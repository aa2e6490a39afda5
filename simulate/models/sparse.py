"""Coordinate-sparse data: spike-and-slab and exactly-s-sparse vectors (SCIENCE.md 4.3, 4.4).

Notation (code -> SCIENCE.md 4):

===========  ================================================================
``rho``      rho, P(coordinate is non-zero) of the spike-and-slab law
``tau``      tau, standard deviation of a non-zero coordinate
``s``        s, the exact number of non-zeros (uniform random support S)
``a, v``     a = sqrt(abar_t), v = 1 - abar_t
``v1``       v1 = a^2 tau^2 + v, the noised variance of a non-zero coordinate
``r_i``      N(x_i; 0, v1) / N(x_i; 0, v), the likelihood ratio of "i in S"
===========  ================================================================

Spike-and-slab (4.3): q_t is a product of two-component mixtures (1 - rho) N(0, v) +
rho N(0, v1), so the score is coordinatewise. Exactly s non-zeros (4.4):
score_i(x) = -x_i / v + P(i in S | x) (x_i / v - x_i / v1) with
P(i in S | x) = r_i e_{s-1}(r_{-i}) / e_s(r), e_j the elementary symmetric polynomials,
computed in O(d s) in a scaled domain (``simulate._kernels.models._random_support_posterior``).
The denoiser is D_t(x)_i = P(i in S | x) a tau^2 x_i / v1 in both models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulate._kernels.models import (
    RANDOM_SUPPORT_DENOISER,
    RANDOM_SUPPORT_SCORE,
    _score_random_support,
    _score_spike_slab,
)
from simulate._validation import check_int, check_real
from simulate.kernels import apply_row_kernel
from simulate.models.base import DataModel
from simulate.noise_level import noise_scales, noise_variance

__all__ = ["RandomSupportSparse", "SpikeSlab"]


class SpikeSlab(DataModel):
    """x_0i = b_i g_i with b_i ~ Bern(rho), g_i ~ N(0, tau^2), all independent (SCIENCE.md 4.3).

    Parameters
    ----------
    d : int
        Dimension, d >= 1.
    rho : float
        Probability that a coordinate is non-zero, in [0, 1]; the expected number of
        non-zeros is rho d (``expected_nonzeros``).
    tau : float
        Standard deviation of the non-zero coordinates, > 0.

    Notes
    -----
    The support is random, so no fixed coordinate mask and no single intrinsic dimension
    exist: ``support`` and ``intrinsic_dim`` are None (the data lie on a union of coordinate
    subspaces whose dimension is Binomial(d, rho)).
    """

    def __init__(self, d: int, rho: float, tau: float = 1.0) -> None:
        self.d = check_int("d", d, low=1)
        self.rho = check_real("rho", rho, low=0.0, high=1.0)
        self.tau = check_real("tau", tau, low=0.0, low_open=True)
        self.expected_nonzeros = self.rho * self.d
        self.name = f"spike_slab(d={self.d}, rho={self.rho:g}, tau={self.tau:g})"
        with np.errstate(divide="ignore"):
            log_odds = float(np.log(self.rho) - np.log1p(-self.rho))
        self._params = (log_odds, self.tau)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        mask = rng.random((n, self.d)) < self.rho
        return np.where(mask, self.tau * rng.standard_normal((n, self.d)), 0.0)

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_spike_slab, self._params

    def independent_blocks(self) -> list[np.ndarray]:
        """Every coordinate is a block, all with the same law (``DataModel.independent_blocks``)."""
        return [np.arange(self.d)[:, None]]

    def slab_probability(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        """P(b_i = 1 | X_t = x) per coordinate, the logistic of the log odds L_i (4.3)."""
        x = self._check_points(x)
        c = alpha_bar * self.tau**2
        v = noise_variance(alpha_bar)
        log_odds = self._params[0] - 0.5 * math.log1p(c / v) + 0.5 * (c / v) / (c + v) * x * x
        e = np.exp(-np.abs(log_odds))  # in [0, 1]: no overflow
        return np.where(log_odds >= 0, 1.0, e) / (1.0 + e)

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        a, v = noise_scales(alpha_bar)
        v1 = alpha_bar * self.tau**2 + v
        return self.slab_probability(x, alpha_bar) * (a * self.tau**2 / v1) * x


class RandomSupportSparse(DataModel):
    """Exactly s non-zeros on a uniformly random support, iid N(0, tau^2) (SCIENCE.md 4.4).

    Parameters
    ----------
    d : int
        Dimension, d >= 1.
    s : int
        Number of non-zeros, 1 <= s <= d.
    tau : float
        Standard deviation of the non-zero coordinates, > 0.

    Notes
    -----
    ``intrinsic_dim`` is s (the data lie on a union of s-dimensional coordinate subspaces);
    ``support`` is None (the support is random). The score costs O(d s) time per point and
    stays finite and accurate for every alpha_bar in (0, 1) (scaled-domain recursion).
    """

    def __init__(self, d: int, s: int, tau: float = 1.0) -> None:
        self.d = check_int("d", d, low=1)
        self.s = check_int("s", s, low=1, high=self.d)
        self.tau = check_real("tau", tau, low=0.0, low_open=True)
        self.intrinsic_dim = self.s
        self.name = f"random_support(d={self.d}, s={self.s}, tau={self.tau:g})"
        self._params = (np.int64(self.s), self.tau, np.int64(RANDOM_SUPPORT_SCORE))
        self._denoiser_params = (np.int64(self.s), self.tau, np.int64(RANDOM_SUPPORT_DENOISER))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        # the s smallest of d iid uniforms sit at a uniformly random s-subset
        keys = rng.random((n, self.d))
        support = np.argpartition(keys, self.s - 1, axis=1)[:, : self.s]
        x = np.zeros((n, self.d))
        np.put_along_axis(x, support, self.tau * rng.standard_normal((n, self.s)), axis=1)
        return x

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_random_support, self._params

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        return apply_row_kernel(_score_random_support, x, 0, alpha_bar, self._denoiser_params)
