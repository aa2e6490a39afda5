"""The paper's 3-D toy: data on a 2-D sub-manifold of R^3, the Y-Z plane (SCIENCE.md 4.7).

Taheri & Lederer's Fig. 1 shows whether generated samples stay on the Y-Z plane; the exact
distribution they used on it is not known (SCIENCE.md 1). This module makes a stated choice
with a closed-form noised score:

    X_0 = (0, Y, Z),  (Y, Z) ~ (1/J) sum_j N((R cos(2 pi j / J), R sin(2 pi j / J)), sigma^2 I_2),

a ring of J Gaussian blobs in the plane x = 0 (defaults J = 8, R = 2, sigma = 0.25). It is a
mixture of rank-2 Gaussians (SCIENCE.md 4.2) whose bases are the Y and Z axes, so the score
and the denoiser are those of :class:`~simulate.models.mixtures.LowRankMixture`: off the plane
the score is exactly -x_X / v (the denoiser is 0 there), and the plane's own score is a
softmax-weighted sum of Gaussian scores.

Notation: ``ring_radius`` -> R, ``std`` -> sigma, ``n_components`` -> J.
"""

from __future__ import annotations

import numpy as np

from simulate._validation import check_int, check_real
from simulate.models.mixtures import LowRankMixture

__all__ = ["PaperToy3D"]


class PaperToy3D(LowRankMixture):
    """A ring of J isotropic Gaussian blobs in the Y-Z plane of R^3 (module docstring).

    Parameters
    ----------
    n_components : int
        J >= 1 blobs, equally spaced on the circle.
    ring_radius : float
        R >= 0, the radius of the circle of blob centres.
    std : float
        sigma > 0, the in-plane standard deviation of each blob.

    ``intrinsic_dim`` is 2 and ``support`` is (False, True, True): the X coordinate is 0.
    """

    def __init__(self, n_components: int = 8, ring_radius: float = 2.0, std: float = 0.25) -> None:
        n_components = check_int("n_components", n_components, low=1)
        ring_radius = check_real("ring_radius", ring_radius, low=0.0)
        std = check_real("std", std, low=0.0, low_open=True)
        angle = 2.0 * np.pi * np.arange(n_components) / n_components
        means = np.zeros((n_components, 3))
        means[:, 1] = ring_radius * np.cos(angle)
        means[:, 2] = ring_radius * np.sin(angle)
        plane = np.zeros((3, 2))
        plane[1, 0] = 1.0
        plane[2, 1] = 1.0
        bases = np.broadcast_to(plane, (n_components, 3, 2)).copy()
        super().__init__(means, bases, np.full((n_components, 2), std**2))
        self.ring_radius, self.std = ring_radius, std
        self.support = np.array([False, True, True])
        self.intrinsic_dim = 2
        self.name = f"paper_toy_3d(J={n_components}, R={ring_radius:g}, std={std:g})"

    def independent_blocks(self) -> list[np.ndarray]:
        """The Y-Z plane and the pure-noise X coordinate (``DataModel.independent_blocks``)."""
        return [np.array([[1, 2]]), np.array([[0]])]
