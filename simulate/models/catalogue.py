"""The catalogue: every built-in data model by name, at a dimension d and a sparsity s.

One owner for "the catalogue model NAME in dimension d with s active coordinates", used by the
sparsity experiment and by the verify battery (``simulate.experiments.catalogue``), and a
factory for ``regdiff verify simulate.models.catalogue:catalogue_model --set name=...``.
"""

from __future__ import annotations

from simulate.models.base import DataModel
from simulate.models.empirical import Digits
from simulate.models.gaussian import SubspaceGaussian
from simulate.models.manifolds import Box, Sphere, Torus
from simulate.models.mixtures import LowRankMixture
from simulate.models.sparse import RandomSupportSparse, SpikeSlab
from simulate.models.toy import PaperToy3D

__all__ = [
    "CATALOGUE",
    "COORDINATE_SPARSE",
    "FIXED_DIMENSION",
    "active_coordinates",
    "catalogue_model",
]

#: The coordinate-sparse models (a fixed or random support of size s << d).
COORDINATE_SPARSE: tuple[str, ...] = (
    "aligned_gaussian",
    "lowrank_mixture_aligned",
    "random_support",
    "spike_slab",
    "sphere",
    "torus",
    "box",
)
#: The catalogue's names, in the order of the reports: the sparse models, the rotation
#: ablation, the paper's 3-D toy and the real digits.
CATALOGUE: tuple[str, ...] = (*COORDINATE_SPARSE, "rotated_gaussian", "paper_toy", "digits")
#: Models whose dimension is fixed (d and s are ignored): the paper's 3-D toy, the 64 pixels.
FIXED_DIMENSION: tuple[str, ...] = ("paper_toy", "digits")


def catalogue_model(name: str, d: int = 16, s: int = 4, seed: int = 0) -> DataModel:
    """The catalogue model ``name`` in dimension d with s active coordinates.

    The paper's toy is always 3-D (s = 2) and the digits 64-D; spike-and-slab has
    rho = s / d (s non-zeros on average); the torus has s // 2 circles (2 (s // 2) active
    coordinates); the low-rank mixture has 3 components on the first s coordinates.
    """
    if name == "aligned_gaussian":
        return SubspaceGaussian(d, s)
    if name == "rotated_gaussian":
        return SubspaceGaussian(d, s, rotate=True, seed=seed)
    if name == "lowrank_mixture_aligned":
        return LowRankMixture.random(d, s, n_components=3, seed=seed, aligned=True)
    if name == "random_support":
        return RandomSupportSparse(d, s)
    if name == "spike_slab":
        return SpikeSlab(d, s / d)
    if name == "sphere":
        return Sphere(d, s)
    if name == "torus":
        return Torus(d, max(1, s // 2))
    if name == "box":
        return Box(d, s)
    if name == "paper_toy":
        return PaperToy3D()
    if name == "digits":
        return Digits()
    raise ValueError(f"unknown model {name!r}; known: {', '.join(CATALOGUE)}")


def active_coordinates(name: str, s: int) -> int:
    """The number of active coordinates of ``catalogue_model(name, d, s)``."""
    return {"torus": 2 * max(1, s // 2), "paper_toy": 2, "digits": 0}.get(name, s)
