"""RandomSupportSparse score at d = 1e4, s = 50 on 1000 points (the issue-3 target: < 1 s).

    python -m benchmarks.bench_models [--repeat 5]

Prints the best wall time of ``model.score`` over the repeats (compilation excluded), the
points per second, and the ratio to the 1 s target.
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from simulate import models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    model = models.RandomSupportSparse(10_000, 50, 1.0)
    alpha_bar = 0.5
    x0 = model.sample(1000, seed=9)
    noise = np.random.default_rng(10).standard_normal(x0.shape)
    x = math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * noise
    model.score(x[:2], alpha_bar)  # compile
    best = math.inf
    for _ in range(args.repeat):
        start = time.perf_counter()
        s = model.score(x, alpha_bar)
        best = min(best, time.perf_counter() - start)
    assert np.all(np.isfinite(s))
    print(
        f"RandomSupportSparse d=10000 s=50, 1000 points, {numba.get_num_threads()} threads: "
        f"best {best:.3f} s ({1000 / best:.0f} points/s; target 1 s -> ratio {best:.2f})"
    )


if __name__ == "__main__":
    main()
