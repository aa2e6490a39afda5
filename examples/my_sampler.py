"""An outside sampler in 20 lines: DDIM with eta (Song, Meng & Ermon 2021, eq. 12), epsilon
parametrization, on a schedule of ``simulate.schedules``. It follows ``simulate.outside``'s
protocol: every random draw comes from the suite's ``noise``. Run the battery with
``regdiff verify-sampler examples/my_sampler.py:make_sampler --set eta=0.5``.
"""

import numpy as np

from simulate import schedules


class DDIMEta:
    parametrization = "epsilon"

    def __init__(self, T: int = 50, eta: float = 1.0) -> None:
        self.schedule, self.eta, self.name = schedules.linear(T), eta, f"DDIM(eta={eta}, T={T})"

    def __call__(self, x_T, model, schedule, noise):
        sch, y = self.schedule, np.asarray(x_T, dtype=np.float64)
        for t in range(sch.T, 1, -1):
            ab, ab_prev, v, v_prev = (sch.alpha_bar[t - 1], sch.alpha_bar[t - 2],
                                      sch.v[t - 1], sch.v[t - 2])  # fmt: skip
            eps = model(y, sch.level(t))
            x0 = (y - np.sqrt(v) * eps) / np.sqrt(ab)
            sigma2 = self.eta**2 * (v_prev / v) * (1.0 - ab / ab_prev)
            y = np.sqrt(ab_prev) * x0 + np.sqrt(v_prev - sigma2) * eps
            if self.eta > 0:  # a deterministic sampler draws nothing
                y = y + np.sqrt(sigma2) * noise(y.shape)
        return y


def make_sampler(T: int = 50, eta: float = 1.0) -> DDIMEta:
    return DDIMEta(T, eta)
