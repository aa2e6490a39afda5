"""Cost of the exact Gaussian law against d, measured in one run.

    python -m benchmarks.bench_exact [--T 60]

For aligned data (``SubspaceGaussian(d, 3)``) with a correlated 3 x 3 support covariance
(the support-block + diagonal structure) and with a diagonal one, times
``exact.output_law`` + ``exact.target_law`` + ``metrics.kl_gaussian`` for the posterior
sampler at d = 10^4, 10^5, 10^6, and fits the cost exponent in d over that range (expected
1: O(T (s^3 + d))). Each timing is the best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from simulate import exact, metrics, models, schedules

CORRELATED = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sch = schedules.li(args.T, 2.0, 4.0)
    ds = [10**4, 10**5, 10**6]
    print(f"exact law + target + KL, posterior sampler, Li T = {args.T}")
    print(f"{'support covariance':20s} " + " ".join(f"{'d=' + format(d, '.0e'):>10s}" for d in ds)
          + "   exponent in d")  # fmt: skip
    for label, cov in (("correlated 3 x 3", CORRELATED), ("diagonal", [2.0] * 3)):
        seconds = []
        for d in ds:
            model = models.SubspaceGaussian(d, 3, cov=cov)

            def run(model=model) -> float:
                law = exact.output_law(model, sch, "posterior")
                return metrics.kl_gaussian(exact.target_law(model, sch), law)

            best = np.inf
            for _ in range(args.repeat):
                start = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - start)
            seconds.append(best)
        slope = np.polyfit(np.log(ds), np.log(seconds), 1)[0]
        print(f"{label:20s} " + " ".join(f"{s:9.3f}s" for s in seconds) + f"   {slope:.2f}")


if __name__ == "__main__":
    main()
