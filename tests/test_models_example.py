"""The user-model protocol (DESIGN.md): ``examples/my_model.py`` samples through the fused and
the batch path with identical numbers, and its kernel score matches finite differences."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from simulate import models, samplers, schedules
from tests.reference import fd_gradient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_model.py"
#: 4th-order finite differences with h = 1e-3 sqrt(v) (see tests/test_models_catalogue.py).
FD_RTOL = 1e-6


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("my_model", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_fused_equals_batch(example):
    model = example.make_model()
    sch = schedules.li(30)
    for variance in samplers.VARIANCES:
        fused = samplers.sample(model, sch, 64, seed=3, sampler=variance, method="fused")
        batch = samplers.sample(model, sch, 64, seed=3, sampler=variance, method="batch")
        assert np.array_equal(fused, batch), variance


def test_example_score_matches_fd(example):
    model = models.as_model(example.make_model())
    assert isinstance(model, models.UserModel)
    for alpha_bar in (0.01, 0.5, 0.999):
        a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
        k = model.obj.k

        def log_q(y, a=a, v=v, k=k):
            """log q_t up to a constant: two-point mixture per corner coordinate, N(0, v) else."""
            corner = np.logaddexp(-((y[:k] - a) ** 2) / (2 * v), -((y[:k] + a) ** 2) / (2 * v))
            return float(np.sum(corner) - np.sum(y[k:] ** 2) / (2 * v))

        x = math.sqrt(alpha_bar) * model.sample(3, seed=1) + math.sqrt(v) * np.random.default_rng(
            2
        ).standard_normal((3, model.d))
        score = model.score(x, alpha_bar)
        for i in range(3):
            fd = fd_gradient(log_q, x[i], 1e-3 * math.sqrt(v))
            assert np.max(np.abs(fd - score[i])) < FD_RTOL * np.max(np.abs(score[i]))


class _NoScore:
    d = 2

    def sample(self, n, seed=0):
        return np.zeros((n, 2))


def test_user_model_protocol_errors():
    with pytest.raises(TypeError, match="score"):
        models.as_model(_NoScore())

    class BadKernel(_NoScore):
        def score_kernel(self):
            return "not a kernel"

    with pytest.raises(TypeError, match="score_kernel"):
        models.as_model(BadKernel())

    class NoSample:
        d = 2

    with pytest.raises(TypeError, match="sample"):
        models.as_model(NoSample())
