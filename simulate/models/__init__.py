"""Data models with closed-form noised scores (SCIENCE.md section 4)."""

from simulate.models.base import (
    DataModel,
    UserModel,
    as_model,
    denoiser_from_score,
    score_from_denoiser,
)
from simulate.models.empirical import Digits, Empirical
from simulate.models.gaussian import SubspaceGaussian
from simulate.models.manifolds import Box, Sphere, Torus, bessel_ratio
from simulate.models.mixtures import GaussianMixture, LowRankMixture
from simulate.models.rotated import Rotated, haar_orthogonal
from simulate.models.sparse import RandomSupportSparse, SpikeSlab
from simulate.models.toy import PaperToy3D

__all__ = [
    "Box",
    "DataModel",
    "Digits",
    "Empirical",
    "GaussianMixture",
    "LowRankMixture",
    "PaperToy3D",
    "RandomSupportSparse",
    "Rotated",
    "Sphere",
    "SpikeSlab",
    "SubspaceGaussian",
    "Torus",
    "UserModel",
    "as_model",
    "bessel_ratio",
    "denoiser_from_score",
    "haar_orthogonal",
    "score_from_denoiser",
]
