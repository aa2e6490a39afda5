"""Sampler throughput, measured in one run, printed as ratios.

    python -m benchmarks.bench_sampler [--n 20000 --d 200 --T 100]

Element-steps per second = n * d * (T - 1) / seconds (the sampler applies T - 1 steps).
Compared in the same run: the fused numba path, the batch path, the NumPy twin of
tests/reference.py (on a subset of rows: same per-element work), the bare cost of the same
number of normals from our counter-based generator and from NumPy's default generator, and
PyTorch (if installed) doing the same affine DDPM steps with torch.randn noise.
Compilation is excluded (one warm-up call first); each timing is the best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from simulate import kernels, models, samplers, schedules
from tests import reference


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--twin-rows", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, d, T = args.n, args.d, args.T
    model = models.SubspaceGaussian(d, 4, cov=[2.0] * 4)
    sch = schedules.li(T, 2.0, 4.0)
    work = n * d * (T - 1)
    print(
        f"n={n} d={d} T={T} float64; numba threads={numba.get_num_threads()}; "
        f"element-steps per run = {work:.3g}"
    )

    def fused():
        samplers.sample(model, sch, n, seed=1, variance="posterior", method="fused")

    def batch():
        samplers.sample(model, sch, n, seed=1, variance="posterior", method="batch")

    rows = args.twin_rows

    def twin():
        def score(x, t):
            return reference.subspace_gaussian_score(
                x, sch.alpha_bar[t - 1], model.U, model.mean, model.cov
            )

        reference.sample_ddpm(score, sch.alpha, sch.alpha_bar, rows, d, 1, "posterior")

    out = np.empty((n, d))

    def counter_normals():
        for t in range(T):
            kernels.fill_counter_normals(out, 1, t, stream=0)

    gen = np.random.default_rng(1)

    def numpy_normals():
        for _ in range(T):
            gen.standard_normal(out=out)

    for fn in (fused, batch, counter_normals):  # compile
        fn()
    results = {
        "fused numba sampler": work / best_of(args.repeat, fused),
        "batch path (Python score per step)": work / best_of(args.repeat, batch),
        "NumPy twin (tests/reference.py)": rows * d * (T - 1) / best_of(1, twin),
        "counter-based normals alone (numba)": n * d * T / best_of(args.repeat, counter_normals),
        "NumPy default_rng normals alone": n * d * T / best_of(args.repeat, numpy_normals),
    }
    try:
        import torch

        torch.manual_seed(0)
        y = torch.randn(n, d, dtype=torch.float64)
        alpha = torch.tensor(sch.alpha)
        coef = samplers.coefficients(sch, "posterior")

        def torch_ddpm():
            yy = y.clone()
            v_inv = torch.ones(d, dtype=torch.float64)
            for t in range(T, 1, -1):
                s = -yy * v_inv  # same arithmetic shape: one affine score per step
                yy = (
                    coef.A[t - 1] * yy
                    + coef.B[t - 1] * s
                    + coef.C[t - 1] * torch.randn(n, d, dtype=torch.float64)
                )
            return yy, alpha

        torch_ddpm()
        results[f"PyTorch {torch.__version__} (CPU, same steps, torch.randn)"] = work / best_of(
            args.repeat, torch_ddpm
        )
    except ImportError:
        print("(PyTorch not installed: skipped)")

    fused_rate = results["fused numba sampler"]
    print(f"{'path':58s} {'element-steps/s':>16s} {'fused / this':>13s}")
    for name, rate in results.items():
        print(f"{name:58s} {rate:16.3e} {fused_rate / rate:13.2f}")


if __name__ == "__main__":
    main()
