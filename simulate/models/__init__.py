"""Data models with closed-form noised scores (SCIENCE.md section 4)."""

from simulate.models.base import (
    DataModel,
    UserModel,
    as_model,
    denoiser_from_score,
    score_from_denoiser,
)
from simulate.models.gaussian import SubspaceGaussian

__all__ = [
    "DataModel",
    "SubspaceGaussian",
    "UserModel",
    "as_model",
    "denoiser_from_score",
    "score_from_denoiser",
]
