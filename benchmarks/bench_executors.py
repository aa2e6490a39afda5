"""Cell-parallel speed-up of the executors, measured in one run, printed as ratios.

    python -m benchmarks.bench_executors [--experiment catalogue] [--preset quick] [--warm]

Runs every cell of one experiment (no cell cache, cold: every way starts fresh processes
with an empty kernel cache of its own, so each compiles its kernels as a first run does;
with ``--warm``, every way loads the kernels that an untimed first run compiled into one
shared cache, as on a machine that has run the suite before; kernels numba cannot cache are
still compiled by each process) four ways: one worker process with one numba thread (the
baseline of cell parallelism), one worker with every thread (``--jobs 1``), 2 local worker
processes with cores / 2 threads each (``--jobs 2``) and a 2-worker Dask LocalCluster
(``--scheduler local --jobs 2``; needs ``pip install -e ".[cluster]"``), the same cluster
started before the clock, and a one-worker cluster (Dask's own scaling). Also checks that
all give identical value columns. Two speed-ups are printed: against one thread (what cell
parallelism gives) and against one worker with every thread (what it adds on top of the
kernels' own thread parallelism, prange over samples).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from simulate import experiments
from simulate.pipeline.cells import (
    CellCache,
    DaskExecutor,
    ProcessExecutor,
    assemble,
    local_cluster,
    run_tasks,
    tasks_for,
    value_columns,
)
from simulate.pipeline.figures import preset_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="catalogue")
    parser.add_argument("--preset", choices=("quick", "full"), default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warm", action="store_true", help="kernels compiled beforehand")
    args = parser.parse_args()
    module = experiments.get(args.experiment)
    config = preset_config(module, args.preset)
    tasks = tasks_for(module, config)
    cores = os.cpu_count() or 1
    print(f"{args.experiment} ({args.preset}): {len(tasks)} cells; {cores} cores")
    cache = CellCache(None)
    ways = {
        "one worker process, one thread": (ProcessExecutor(1), 1),
        "one worker process, all threads": (ProcessExecutor(1), cores),
        f"{args.workers} worker processes": (ProcessExecutor(args.workers), cores // args.workers),
    }
    try:
        import distributed  # noqa: F401

        ways[f"Dask LocalCluster, {args.workers} workers"] = (
            DaskExecutor("local", args.workers),
            cores // args.workers,
        )
        # the same cluster started before the clock (as a running tcp:// scheduler is): the
        # difference to the row above is the cluster's start-up
        ways[f"Dask, {args.workers} workers already up"] = (None, cores // args.workers)
        # Dask's own scaling: one worker of the same kind (a Dask worker runs each task in a
        # thread of its own, measured ~8% slower per cell than a process's main thread)
        ways["Dask, 1 worker already up, one thread"] = (None, 1)
    except ImportError:
        print("(dask.distributed not installed: skipped)")
    seconds, tables = {}, {}
    if args.warm:
        os.environ["REGDIFF_NUMBA_CACHE"] = tempfile.mkdtemp(prefix="bench-kernels-")
        start = time.perf_counter()
        run_tasks(tasks, ProcessExecutor(1), cache, threads=1)
        print(f"untimed warm-up run (compiles into the shared kernel cache): "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    for name, (executor, threads) in ways.items():
        if not args.warm:
            # an empty kernel cache per way: no way loads what an earlier one compiled
            os.environ["REGDIFF_NUMBA_CACHE"] = tempfile.mkdtemp(prefix="bench-kernels-")
        cluster = None
        if executor is None:
            workers = 1 if name.startswith("Dask, 1 worker") else args.workers
            cluster = local_cluster(workers)
            executor = DaskExecutor(cluster.scheduler_address, workers)
        start = time.perf_counter()
        outcomes = run_tasks(tasks, executor, cache, threads=threads)
        seconds[name] = time.perf_counter() - start
        if cluster is not None:
            cluster.close()
        tables[name], failed = assemble(outcomes)
        if failed:
            raise SystemExit(f"{name}: {len(failed)} cell(s) failed")
    one = seconds["one worker process, one thread"]
    base = seconds["one worker process, all threads"]
    first = next(iter(tables.values()))
    columns = value_columns(first)
    head = f"{'executor':36s} {'seconds':>8s} {'vs 1 thread':>12s} {'vs 1 worker':>12s}"
    print(head + "  identical values")
    for name, sec in seconds.items():
        same = tables[name][columns].equals(first[columns])
        print(f"{name:36s} {sec:8.1f} {one / sec:12.2f} {base / sec:12.2f}  {same}")
    dask_one = seconds.get("Dask, 1 worker already up, one thread")
    dask_up = seconds.get(f"Dask, {args.workers} workers already up")
    if dask_one and dask_up:
        print(f"Dask's own speed-up, {args.workers} workers over 1 (both already up): "
              f"{dask_one / dask_up:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
