"""Lasso fitting time of the l1-regularized DSM estimator: our numba solver vs scikit-learn.

    python -m benchmarks.bench_lasso [--d 200 --n 1000 --T 100 --k 10]

The workload is the denoiser reading of ``estimators.L1DSM``: at each of T steps, d lasso
problems (one per output coordinate of x_0) on the n training pairs (x_t, x_0) with d
features, at the level alpha_t = sigma_t sqrt(2 log d / n) (the "null" rule: sigma_t the
largest output standard deviation; a level that does not depend on either solver). Data:
``SubspaceGaussian(d, k)`` with correlated latent covariance, aligned and rotated.

Compared on the same problems, each warm-started from the previous step's solution:

- ours: ``lasso.GramProblem`` + the Gram coordinate descent, at scikit-learn's default
  relative tolerance 1e-4 and at our default ``LASSO_TOL`` = 1e-10;
- scikit-learn ``Lasso(alpha, tol=1e-4, warm_start=True)``, default ``precompute=False``
  and ``precompute=True``.

Times include forming X^T X and X^T Y (ours) and exclude drawing the data and numba's
compilation (one warm-up step first). The largest coefficient difference between the two
solvers is printed as a sanity check (it is of the order of the looser tolerance).

On a machine shared with other jobs the timings vary by several times from run to run:
use ``--repeat 3`` (best of three), and compare single-core runs with
``NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` (scikit-learn's coordinate descent is
single-threaded; our lasso runs its serial build at this size, see
``lasso.LASSO_PARALLEL_WORK``).
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np
from sklearn.linear_model import Lasso

from simulate import estimators, lasso, models, schedules


def steps_data(model, n: int, T: int, seed: int = 0):
    """Per-step (x_t, x_0, alpha_t), as L1DSM draws them."""
    x0 = model.sample(n, seed)
    sch = schedules.li(T, 2.0, 4.0)
    d = model.d
    alpha = float(np.max(x0.std(axis=0))) * math.sqrt(2.0 * math.log(d) / n)
    out = []
    for t in range(1, T + 1):
        xt, _ = estimators.training_pairs(x0, seed, t, float(sch.alpha_bar[t - 1]))
        out.append((xt, x0, alpha))
    return out


def time_ours(data, tol: float) -> tuple[float, np.ndarray]:
    d = data[0][0].shape[1]
    W = np.zeros((d, d))
    start = time.perf_counter()
    for xt, x0, alpha in data:
        prob = lasso.GramProblem(xt, x0, True)
        W, *_ = prob.solve(np.full(d, alpha), W, tol, lasso.LASSO_MAX_SWEEPS, "bench")
    return time.perf_counter() - start, W.copy()


def time_sklearn(data, precompute: bool) -> tuple[float, np.ndarray]:
    alpha = data[0][2]
    model = Lasso(alpha=alpha, tol=1e-4, warm_start=True, precompute=precompute, max_iter=10**5)
    start = time.perf_counter()
    for xt, x0, _ in data:
        model.fit(xt, x0)
    return time.perf_counter() - start, model.coef_.copy()


def best_of(repeat: int, fn, *args):
    """(smallest time, result) over ``repeat`` calls of ``fn(*args)`` -> (time, result)."""
    runs = [fn(*args) for _ in range(max(repeat, 1))]
    return min(runs, key=lambda run: run[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many timings")
    args = parser.parse_args()
    d, n, T, k = args.d, args.n, args.T, args.k
    print(
        f"lasso per DSM step: d={d} outputs x {d} features, n={n}, T={T} steps; "
        f"numba threads={numba.get_num_threads()}"
    )
    cov = 0.5 * np.eye(k) + 0.5
    for rotate in (False, True):
        model = models.SubspaceGaussian(d, k, rotate=rotate, cov=cov, seed=0)
        data = steps_data(model, n, T)
        time_ours(data[:1], 1e-4)  # compile
        t_ours4, w4 = best_of(args.repeat, time_ours, data, 1e-4)
        t_ours10, w10 = best_of(args.repeat, time_ours, data, estimators.LASSO_TOL)
        t_sk, w_sk = best_of(args.repeat, time_sklearn, data, False)
        t_skg, _ = best_of(args.repeat, time_sklearn, data, True)
        label = "rotated" if rotate else "aligned"
        print(f"\n{label} SubspaceGaussian(d={d}, k={k}):")
        print(f"  ours      tol=1e-4   {t_ours4:8.2f} s")
        print(f"  ours      tol=1e-10  {t_ours10:8.2f} s")
        print(f"  sklearn   tol=1e-4   {t_sk:8.2f} s   (precompute=False, the default)")
        print(f"  sklearn   tol=1e-4   {t_skg:8.2f} s   (precompute=True, Gram)")
        print(f"  ratio sklearn / ours (both tol=1e-4):        {t_sk / t_ours4:6.1f}x")
        print(f"  ratio sklearn Gram / ours (both tol=1e-4):   {t_skg / t_ours4:6.1f}x")
        print(f"  ratio sklearn tol=1e-4 / ours tol=1e-10:     {t_sk / t_ours10:6.1f}x")
        print(
            f"  max |coef difference| at step T, ours(1e-10) vs sklearn(1e-4): "
            f"{np.max(np.abs(w10 - w_sk)):.2e}  (ours 1e-4: {np.max(np.abs(w4 - w_sk)):.2e})"
        )


if __name__ == "__main__":
    main()
