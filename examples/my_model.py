"""A user's data model in 20 lines: X_0 uniform on the 2^k corners {-1, 1}^k of a cube in R^d.

Per corner coordinate q_t = (N(a, v) + N(-a, v)) / 2, so score_i = (a tanh(a x_i / v) - x_i) / v;
other coordinates -x_i / v (a = sqrt(alpha_bar); v = 1 - alpha_bar, handed to the kernel
computed without cancellation: use it rather than forming 1 - alpha_bar). The jitted row kernel
is the whole score, so both sampler paths use it: ``python examples/my_model.py`` checks they agree,
and ``regdiff verify examples/my_model.py:make_model --sweep d=8,16,32,64`` runs the battery.
"""

import math

import numpy as np

from simulate import samplers, schedules
from simulate.kernels import jit


@jit
def cube_score(x, t, alpha_bar, v, params, out):
    (k,) = params
    a = math.sqrt(alpha_bar)
    for i in range(x.shape[0]):
        out[i] = ((a * math.tanh(a * x[i] / v) if i < k else 0.0) - x[i]) / v


class CubeCorners:
    def __init__(self, d: int = 10, k: int = 3) -> None:
        self.d, self.k, self.intrinsic_dim, self.support = d, k, 0, np.arange(d) < k

    def sample(self, n, seed=0):
        x = np.zeros((n, self.d))
        x[:, : self.k] = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n, self.k))
        return x

    def score_kernel(self):
        return cube_score, (np.int64(self.k),)

    def independent_blocks(self):  # k corner coordinates, d - k pure-noise ones (optional)
        return [np.arange(self.k)[:, None], np.arange(self.k, self.d)[:, None]]


def make_model(d: int = 10, k: int = 3) -> CubeCorners:
    return CubeCorners(d, k)


if __name__ == "__main__":
    model, schedule = make_model(), schedules.li(50)
    fused = samplers.sample(model, schedule, 2000, seed=0, sampler="posterior", method="fused")
    batch = samplers.sample(model, schedule, 2000, seed=0, sampler="posterior", method="batch")
    print("fused == batch:", np.array_equal(fused, batch))
    print("mean |y_i| on the corner coordinates:", np.abs(fused[:, : model.k]).mean(axis=0))
