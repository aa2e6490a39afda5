"""Sampler throughput, measured in one run, printed as ratios.

    python -m benchmarks.bench_sampler [--n 20000 --d 200 --T 100]

Element-steps per second = n * d * (T - 1) / seconds (the sampler applies T - 1 steps).
Compared in the same run: the fused numba path, the batch path, the NumPy twin of
tests/reference.py (on a subset of rows: same per-element work), the bare cost of the same
number of normals from our counter-based generator (on every numba thread and on one) and
from NumPy's default generator (one thread), and PyTorch and JAX (each if installed; neither
is a dependency: ``pip install torch==2.13.0 jax``) doing the same affine DDPM steps with
their own normals, in float32 and float64. Compilation is excluded (one warm-up call first);
each timing is the best of ``--repeat``. The closing lines print the issue's targets as
ratios measured in this run.
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
        samplers.sample(model, sch, n, seed=1, sampler="posterior", method="fused")

    def batch():
        samplers.sample(model, sch, n, seed=1, sampler="posterior", method="batch")

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
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    counter_normals()
    results["counter-based normals alone, one thread"] = n * d * T / best_of(
        args.repeat, counter_normals
    )
    numba.set_num_threads(threads)
    coef = samplers.coefficients(sch, "posterior")
    try:
        import torch

        for dtype in (torch.float32, torch.float64):
            torch.manual_seed(0)
            v_inv = torch.ones(d, dtype=dtype)

            def torch_ddpm(dtype=dtype, v_inv=v_inv):
                yy = torch.randn(n, d, dtype=dtype)
                for t in range(T, 1, -1):
                    s = -yy * v_inv  # one affine score per step, as cheap as ours or cheaper
                    yy = (
                        coef.A[t - 1] * yy
                        + coef.B[t - 1] * s
                        + coef.C[t - 1] * torch.randn(n, d, dtype=dtype)
                    )
                return yy

            def torch_randn(dtype=dtype):
                for _ in range(T):
                    torch.randn(n, d, dtype=dtype)

            torch_ddpm()
            name = str(dtype).replace("torch.", "")
            results[f"PyTorch {torch.__version__} CPU {name}, same steps"] = work / best_of(
                args.repeat, torch_ddpm
            )
            results[f"torch.randn {name} alone"] = n * d * T / best_of(args.repeat, torch_randn)
    except ImportError:
        print("(PyTorch not installed: skipped)")
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        for dtype in (jnp.float32, jnp.float64):
            A = jnp.asarray(coef.A, dtype=dtype)
            B = jnp.asarray(coef.B, dtype=dtype)
            C = jnp.asarray(coef.C, dtype=dtype)

            @jax.jit
            def jax_ddpm(key, A=A, B=B, C=C, dtype=dtype):
                y0 = jax.random.normal(key, (n, d), dtype=dtype)

                def body(k, y):
                    t = T - k
                    z = jax.random.normal(jax.random.fold_in(key, t), (n, d), dtype=dtype)
                    return A[t - 1] * y + B[t - 1] * (-y) + C[t - 1] * z

                return jax.lax.fori_loop(0, T - 1, body, y0)

            key = jax.random.PRNGKey(0)
            jax_ddpm(key).block_until_ready()
            name = jnp.dtype(dtype).name
            results[f"JAX {jax.__version__} CPU jit (fori_loop) {name}"] = work / best_of(
                args.repeat, lambda f=jax_ddpm, k=key: f(k).block_until_ready()
            )
    except ImportError:
        print("(JAX not installed: skipped)")

    fused_rate = results["fused numba sampler"]
    print(f"{'path':58s} {'element-steps/s':>16s} {'fused / this':>13s}")
    for name, rate in results.items():
        print(f"{name:58s} {rate:16.3e} {fused_rate / rate:13.2f}")
    ours = results["counter-based normals alone (numba)"]
    numpy_rate = results["NumPy default_rng normals alone"]
    print(f"\ntarget: counter normals on {threads} threads / NumPy on one >= 2: "
          f"{ours / numpy_rate:.2f}")
    for name, rate in results.items():
        if ("PyTorch" in name or "JAX" in name) and "float32" in name:
            print(f"target: fused float64 / {name} >= 1: {fused_rate / rate:.2f}")


if __name__ == "__main__":
    main()
