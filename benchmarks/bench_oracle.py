"""The grid oracle's stochastic step and the empirical score, against their NumPy twins.

    python -m benchmarks.bench_oracle [--repeat 5]

Prints, measured in one run (best of the repeats, compilation excluded):

- one stochastic step of the one-dimensional oracle on its 2001-node grid
  (``simulate._kernels.oracle._smooth_gaussian_1d``: a recurrence along the nodes) against the
  dense NumPy quadrature (``tests/reference.py::smooth_gaussian_1d``, what the oracle computed
  before), at a small and a large step noise; and a whole oracle run (box coordinate,
  ``ddpm_posterior``, li(1000), stopped at v >= 0.01);
- the empirical law's score (n = 2048 points, d = 64, 400 query rows; the kernel's
  coordinate-major distance pass) against ``tests/reference.py::empirical_score``.
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from simulate import estimators, models, oracle, schedules
from simulate.verify import early_stop
from tests import reference


def _best(fn, repeat: int) -> float:
    fn()  # compile / warm
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    threads = numba.get_num_threads()
    grid = oracle.Grid(-10.0, 10.0, 2001)
    y = grid.nodes
    p = np.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    m = 0.99 * y
    for c in (0.02, 0.2):
        ours = _best(lambda c=c: oracle._stochastic_step(p, m, c, grid), args.repeat)
        twin = _best(
            lambda c=c: reference.smooth_gaussian_1d(grid.h * p, m, c, grid.lo, grid.h, grid.n),
            args.repeat,
        )
        print(
            f"oracle step, 2001 nodes, C_t = {c}: kernel {ours * 1e3:.3f} ms, dense NumPy "
            f"{twin * 1e3:.1f} ms ({twin / ours:.0f}x; {threads} threads)"
        )
    sch = schedules.li(1000, 2.0, 4.0)
    t0 = early_stop(sch)
    f = oracle.coordinate_score(models.Box(2, 1), 0)
    run = _best(lambda: oracle.block_laws(f, sch, "ddpm_posterior", grid, t0), 1)
    print(
        f"oracle run, box coordinate, ddpm_posterior, li(1000) stopped at t0 = {t0}: "
        f"{run:.2f} s ({1000 - t0} steps)"
    )
    model = models.SubspaceGaussian(64, 8, cov=[1.0] * 8)
    est = estimators.Empirical(model, 2048, seed=1)
    x = model.sample(400, seed=2)
    sch10 = schedules.li(20, 2.0, 4.0)
    est = est.fit(sch10)
    alpha_bar = float(sch10.level(10))
    ours = _best(lambda: est.score(x, 10), args.repeat)
    twin = _best(lambda: reference.empirical_score(x, est.points, alpha_bar), args.repeat)
    print(
        f"empirical score, n = 2048, d = 64, 400 rows: kernel {ours * 1e3:.1f} ms, NumPy twin "
        f"{twin * 1e3:.1f} ms ({twin / ours:.1f}x; {threads} threads)"
    )


if __name__ == "__main__":
    main()
