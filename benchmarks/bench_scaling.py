"""Cost scaling of the fused sampler, measured in one run: exponents in n, d and T, and memory.

    python -m benchmarks.bench_scaling [--repeat 3]

Posterior DDPM on aligned Gaussian data with its exact score (the workload of
``benchmarks.bench_sampler``). For each of n, d and T the other two are held fixed; the
exponent p of seconds ~ x^p is fitted on four points a factor 2 apart, with its 95% interval
(``simulate.judge.fit_rate``); linear cost means p near 1. Memory: the peak of Python-level
allocations during a run (``tracemalloc``: the output array and the samplers' buffers; numba
allocates nothing per step) against the output's n d 8 bytes, showing O(n d), never O(n d T).
Compilation is excluded (a warm-up call first); each timing is the best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numba

from simulate import judge, models, samplers, schedules

BASE = {"n": 10_000, "d": 100, "T": 50}
GRID = {"n": (5_000, 10_000, 20_000, 40_000), "d": (50, 100, 200, 400), "T": (25, 50, 100, 200)}


def seconds(n: int, d: int, T: int, repeat: int) -> float:
    model = models.SubspaceGaussian(d, 4, cov=[2.0] * 4)
    sch = schedules.li(T, 2.0, 4.0)
    samplers.sample(model, sch, 64, seed=1, sampler="posterior", method="fused")  # compile
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        samplers.sample(model, sch, n, seed=1, sampler="posterior", method="fused")
        best = min(best, time.perf_counter() - start)
    return best


def peak_bytes(n: int, d: int, T: int) -> int:
    model = models.SubspaceGaussian(d, 4, cov=[2.0] * 4)
    sch = schedules.li(T, 2.0, 4.0)
    samplers.sample(model, sch, 64, seed=1, sampler="posterior", method="fused")
    tracemalloc.start()
    samplers.sample(model, sch, n, seed=1, sampler="posterior", method="fused")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"fused posterior sampler, numba threads={numba.get_num_threads()}, base {BASE}")
    for name, values in GRID.items():
        times = [seconds(**{**BASE, name: v}, repeat=args.repeat) for v in values]
        fit = judge.fit_rate(list(values), times)
        cells = ", ".join(f"{v}: {s:.3f} s" for v, s in zip(values, times, strict=True))
        print(f"cost exponent in {name}: {fit}   ({cells})")
    for T in (25, 200):
        peak = peak_bytes(20_000, 200, T)
        print(
            f"peak Python allocations, n=20000 d=200 T={T}: {peak / 2**20:.1f} MiB = "
            f"{peak / (20_000 * 200 * 8):.2f} x the output's n d 8 bytes"
        )


if __name__ == "__main__":
    main()
