"""The DSM first-order test of a model's score (simulate/score_check.py): the true scores of
built-in models pass; a score scaled by 1.05 on one coordinate, or computed with
v = 1 - a instead of 1 - a^2, is caught."""

import math

import numpy as np
import pytest

from simulate import models
from simulate.score_check import check_score


class _Wrong:
    """A user's model whose score is a built-in model's, deliberately corrupted."""

    def __init__(self, inner, how):
        self.inner, self.how, self.d = inner, how, inner.d

    def sample(self, n, seed=0):
        return self.inner.sample(n, seed)

    def score(self, x, alpha_bar):
        if self.how == "scale":
            s = self.inner.score(x, alpha_bar)
            s[:, 0] *= 1.05
            return s
        # v = 1 - a instead of 1 - a^2: the noise variance of a wrong schedule convention
        a = math.sqrt(alpha_bar)
        return self.inner.score(x, 1.0 - (1.0 - a))


@pytest.mark.parametrize(
    "model",
    [
        models.SubspaceGaussian(6, 2, cov=[2.0, 0.5]),
        models.SubspaceGaussian(5, 2, rotate=True, seed=3),
        models.Box(4, 2),
        models.SpikeSlab(5, 0.3),
    ],
    ids=["aligned", "rotated", "box", "spike_slab"],
)
def test_true_scores_pass(model) -> None:
    result = check_score(model, n=40_000, seed=1)
    assert result.verdict.verdict == "holds", result.verdict
    assert result.problems == [] and result.passed
    assert set(result.table["field"]) == {"shift", "scale", "radial", "feature"}


@pytest.mark.parametrize("how", ["scale", "wrong_v"])
def test_wrong_scores_are_caught(how) -> None:
    wrong = _Wrong(models.SubspaceGaussian(6, 2, cov=[2.0, 0.5]), how)
    result = check_score(wrong, n=100_000, seed=1)
    assert result.verdict.verdict == "fails", result.verdict
    worst = result.table.loc[result.table["z"].abs().idxmax()]
    if how == "scale":  # the scale field of the corrupted coordinate is what fires
        assert (worst["field"], worst["index"]) in {("scale", 0), ("radial", 0)}


def test_non_finite_and_tweedie_problems_are_reported() -> None:
    inner = models.SubspaceGaussian(3, 1)

    class NanAtTheEnds:
        d = 3

        def sample(self, n, seed=0):
            return inner.sample(n, seed)

        def score(self, x, alpha_bar):
            s = inner.score(x, alpha_bar)
            return s * np.nan if alpha_bar > 1 - 1e-9 else s

        def denoiser(self, x, alpha_bar):  # off by a constant: Tweedie fails
            return inner.denoiser(x, alpha_bar) + 0.1

    result = check_score(NanAtTheEnds(), n=2000, seed=0, alpha_bars=(0.5,))
    assert any("non-finite" in p and "alpha_bar=0.999999999999" in p for p in result.problems)
    assert any("Tweedie" in p for p in result.problems)
    assert not result.passed
    with pytest.raises(ValueError, match=r"alpha_bars\[0\]=1\.5 is out of range"):
        check_score(inner, alpha_bars=(1.5,))
    with pytest.raises(ValueError, match="n=10 is out of range"):
        check_score(inner, n=10)


def test_a_kernel_that_disagrees_with_score_is_reported() -> None:
    """A user's model whose numba kernel is not its Python score: fused != batch."""
    inner = models.SubspaceGaussian(4, 2)

    class TwoScores:
        d = 4

        def sample(self, n, seed=0):
            return inner.sample(n, seed)

        def score(self, x, alpha_bar):
            return 1.01 * inner.score(x, alpha_bar)

        def score_kernel(self):
            return inner.score_kernel()

    result = check_score(TwoScores(), n=2000, seed=0, alpha_bars=(0.5,))
    assert any("fused and batch samplers differ" in p for p in result.problems)
    assert check_score(inner, n=2000, seed=0, alpha_bars=(0.5,)).problems == []
