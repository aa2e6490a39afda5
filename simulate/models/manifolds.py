"""Uniform laws on spheres, flat tori and boxes in a few coordinates (SCIENCE.md 4.5, 4.6).

Notation (code -> SCIENCE.md 4):

=============  =============================================================
``k``          number of active coordinates (the first k); the rest are 0
``radius``     R, the radius of the sphere (of each circle for a torus)
``u``          the active coordinates of a point x
``kappa``      a R ||u|| / v, the concentration of the posterior direction
``A_nu``       I_nu / I_{nu-1}, a ratio of modified Bessel functions
``low, high``  the box prod_i [low_i, high_i]
=============  =============================================================

Sphere (4.5): score_u = -u/v + (a R / v) A_{k/2}(kappa) u / ||u||, other coordinates -x/v;
D_t(x)_u = R A_{k/2}(kappa) u / ||u|| (the mean of the von Mises-Fisher posterior
direction). A flat torus is a product of circles (k = 2 blocks), one factor per block.
Box (4.6): per box coordinate score(u) = (phi(z_lo) - phi(z_hi)) / (sqrt(v) (Phi(z_lo) -
Phi(z_hi))), z_lo = (u - a low) / sqrt(v), z_hi = (u - a high) / sqrt(v).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from simulate._kernels.models import (
    _bessel_ratio_array,
    _score_box,
    _score_sphere_product,
)
from simulate._validation import check_finite_array, check_int, check_real
from simulate.models.base import DataModel, denoiser_from_score
from simulate.noise_level import noise_scales

__all__ = ["Box", "Sphere", "Torus", "bessel_ratio"]


def bessel_ratio(nu: float, x: Any) -> np.ndarray:
    """A_nu(x) = I_nu(x) / I_{nu-1}(x) for nu > 0 and x >= 0 (Perron's continued fraction).

    Computed without any Bessel function (so without their overflow); equals
    ``scipy.special.ive(nu, x) / scipy.special.ive(nu - 1, x)`` where that is finite.
    """
    nu = check_real("nu", nu, low=0.0, low_open=True)
    arr = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(arr.reshape(-1))
    if np.any(np.isnan(flat)) or np.any(flat < 0):
        raise ValueError("x must be >= 0 (and not NaN) for the Bessel ratio A_nu(x)")
    out = np.empty_like(flat)
    _bessel_ratio_array(nu, flat, out)
    return out.reshape(arr.shape)


class _SphereProduct(DataModel):
    """Product of uniform spheres on consecutive blocks of coordinates (shared machinery)."""

    def _setup(self, d: int, sizes: np.ndarray, radii: np.ndarray) -> None:
        self.d = d
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self._starts = starts
        self._sizes = sizes.astype(np.int64)
        self._radii = np.ascontiguousarray(radii, dtype=np.float64)
        active = int(np.sum(sizes))
        self.support = np.arange(d) < active
        self._params = (self._starts, self._sizes, self._radii)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = np.zeros((n, self.d))
        for start, size, radius in zip(self._starts, self._sizes, self._radii, strict=True):
            g = rng.standard_normal((n, size))
            norm = np.linalg.norm(g, axis=1, keepdims=True)
            while np.any(norm == 0.0):  # probability 0; kept for exactness
                bad = norm[:, 0] == 0.0
                g[bad] = rng.standard_normal((int(bad.sum()), size))
                norm = np.linalg.norm(g, axis=1, keepdims=True)
            x[:, start : start + size] = radius * g / norm
        return x

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_sphere_product, self._params

    def independent_blocks(self) -> list[np.ndarray]:
        """Blocks of coordinates with independent laws (``DataModel.independent_blocks``):
        the spheres (those of equal size and radius share a law) and the pure-noise rest."""
        out: list[np.ndarray] = []
        kinds = sorted({(int(k), float(r)) for k, r in zip(self._sizes, self._radii, strict=True)})
        for size, radius in kinds:
            starts = [int(s) for s, k, r in zip(self._starts, self._sizes, self._radii, strict=True)
                      if (int(k), float(r)) == (size, radius)]  # fmt: skip
            out.append(np.array([np.arange(s, s + size) for s in starts]))
        active = int(np.sum(self._sizes))
        return out + ([np.arange(active, self.d)[:, None]] if active < self.d else [])

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        a, v = noise_scales(alpha_bar)
        out = np.zeros_like(x)
        for start, size, radius in zip(self._starts, self._sizes, self._radii, strict=True):
            u = x[:, start : start + size]
            big = np.max(np.abs(u), axis=1)
            scale = np.where(big > 0, big, 1.0)
            norm = big * np.linalg.norm(u / scale[:, None], axis=1)  # no underflow
            kappa = np.ascontiguousarray(a * radius * norm / v)
            ratio = np.empty_like(kappa)
            _bessel_ratio_array(0.5 * size, kappa, ratio)
            safe = np.where(norm > 0, norm, 1.0)
            out[:, start : start + size] = (radius * ratio / safe)[:, None] * u
        return out


class Sphere(_SphereProduct):
    """Uniform law on the sphere of radius R in the first k coordinates (SCIENCE.md 4.5).

    Parameters
    ----------
    d : int
        Ambient dimension, d >= 1.
    k : int
        Number of active coordinates, 1 <= k <= d; the sphere S^(k-1) has dimension k - 1
        (``intrinsic_dim``; k = 1 is the two points +-R).
    radius : float
        R > 0.
    """

    def __init__(self, d: int, k: int, radius: float = 1.0) -> None:
        d = check_int("d", d, low=1)
        self.k = check_int("k", k, low=1, high=d)
        self.radius = check_real("radius", radius, low=0.0, low_open=True)
        self._setup(d, np.array([self.k]), np.array([self.radius]))
        self.intrinsic_dim = self.k - 1
        self.name = f"sphere(d={d}, k={self.k}, radius={self.radius:g})"


class Torus(_SphereProduct):
    """Flat torus: a product of m circles in coordinates (0, 1), (2, 3), ... (SCIENCE.md 4.5).

    Parameters
    ----------
    d : int
        Ambient dimension, d >= 2 m.
    circles : int or sequence of float
        The number m >= 1 of unit circles, or their m radii (each > 0).
    """

    def __init__(self, d: int, circles: int | Sequence[float]) -> None:
        d = check_int("d", d, low=2)
        if isinstance(circles, (int, np.integer)) and not isinstance(circles, bool):
            m = check_int("circles", circles, low=1, high=d // 2)
            radii = np.ones(m)
        else:
            radii = check_finite_array("circles", circles, ndim=1)
            m = radii.size
            if m < 1 or 2 * m > d:
                raise ValueError(f"circles has {m} radii; allowed: 1 to d // 2 = {d // 2} circles")
            if np.any(radii <= 0):
                raise ValueError(f"circles (radii) must all be > 0, got min {float(radii.min()):g}")
        self.radii = radii
        self._setup(d, np.full(m, 2), radii)
        self.intrinsic_dim = m
        self.name = f"torus(d={d}, circles={m})"


class Box(DataModel):
    """Uniform law on the box prod_i [low_i, high_i] in the first k coordinates (SCIENCE.md 4.6).

    Parameters
    ----------
    d : int
        Ambient dimension, d >= 1.
    k : int
        Number of box coordinates, 1 <= k <= d (``intrinsic_dim``); the rest are 0.
    low, high : float or array (k,)
        Edges, low_i < high_i.

    Notes
    -----
    The denoiser is Tweedie's formula applied to the score, clipped to the box; for alpha_bar
    near 0 it loses relative accuracy (about 1e-16 / alpha_bar) to cancellation in x + v s.
    """

    def __init__(self, d: int, k: int, low: Any = -1.0, high: Any = 1.0) -> None:
        self.d = check_int("d", d, low=1)
        self.k = check_int("k", k, low=1, high=self.d)
        lo = np.broadcast_to(check_finite_array("low", low), (self.k,)).copy()
        hi = np.broadcast_to(check_finite_array("high", high), (self.k,)).copy()
        if np.any(lo >= hi):
            i = int(np.argmax(lo >= hi))
            raise ValueError(
                f"low must be < high in every coordinate; got low[{i}]={lo[i]:g} >= "
                f"high[{i}]={hi[i]:g}"
            )
        self.low = lo
        self.high = hi
        self.intrinsic_dim = self.k
        self.support = np.arange(self.d) < self.k
        self.name = f"box(d={self.d}, k={self.k})"
        self._params = (np.ascontiguousarray(lo), np.ascontiguousarray(hi))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = np.zeros((n, self.d))
        x[:, : self.k] = self.low + (self.high - self.low) * rng.random((n, self.k))
        return x

    def independent_blocks(self) -> list[np.ndarray]:
        """Blocks of coordinates with independent laws (``DataModel.independent_blocks``):
        one coordinate each; the box coordinates with equal [low, high] share a law, and so
        does the pure-noise rest."""
        pairs = np.stack([self.low, self.high], axis=1)
        _, which = np.unique(pairs, axis=0, return_inverse=True)
        groups = [np.flatnonzero(which.reshape(-1) == g) for g in range(int(which.max()) + 1)]
        groups += [np.arange(self.k, self.d)] if self.k < self.d else []
        return [g[:, None] for g in groups]

    def score_kernel(self) -> tuple[Any, tuple]:
        return _score_box, self._params

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        out = denoiser_from_score(x, self.score(x, alpha_bar), alpha_bar)
        out[:, : self.k] = np.clip(out[:, : self.k], self.low, self.high)
        out[:, self.k :] = 0.0
        return out
