"""Cell-parallel speed-up of the executors, measured in one run, printed as ratios.

    python -m benchmarks.bench_executors [--experiment catalogue] [--preset quick]

Runs every cell of one experiment (no cache) three ways: serially in this process with
every numba thread, on 2 local worker processes (``--jobs 2``) and on a 2-worker Dask
LocalCluster (``--scheduler local --jobs 2``; needs ``pip install -e ".[cluster]"``), each
worker with cores / 2 numba threads, as ``regdiff figures`` runs them. One warm-up of the
serial path first, so that its compilation is not counted (the workers compile their own
kernels: that cost is part of their time, as it is in a real run). Also checks that the
three give identical value columns.
"""

from __future__ import annotations

import argparse
import os
import time

import numba

from simulate import experiments
from simulate.pipeline.cells import (
    CellCache,
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    assemble,
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
    args = parser.parse_args()
    module = experiments.get(args.experiment)
    config = preset_config(module, args.preset)
    tasks = tasks_for(module, config)
    cores = os.cpu_count() or 1
    print(f"{args.experiment} ({args.preset}): {len(tasks)} cells; {cores} cores")
    cache = CellCache(None)
    run_tasks(tasks, SerialExecutor(), cache, threads=numba.get_num_threads())  # compile
    ways = {
        "serial, one process": (SerialExecutor(), numba.get_num_threads()),
        f"{args.workers} worker processes": (ProcessExecutor(args.workers), cores // args.workers),
    }
    try:
        import distributed  # noqa: F401

        ways[f"Dask LocalCluster, {args.workers} workers"] = (
            DaskExecutor("local", args.workers),
            cores // args.workers,
        )
    except ImportError:
        print("(dask.distributed not installed: skipped)")
    seconds, tables = {}, {}
    for name, (executor, threads) in ways.items():
        start = time.perf_counter()
        outcomes = run_tasks(tasks, executor, cache, threads=threads)
        seconds[name] = time.perf_counter() - start
        tables[name], failed = assemble(outcomes)
        if failed:
            raise SystemExit(f"{name}: {len(failed)} cell(s) failed")
    base = seconds["serial, one process"]
    first = next(iter(tables.values()))
    columns = value_columns(first)
    print(f"{'executor':36s} {'seconds':>8s} {'speed-up':>9s}  identical values")
    for name, s in seconds.items():
        same = tables[name][columns].equals(first[columns])
        print(f"{name:36s} {s:8.1f} {base / s:9.2f}  {same}")


if __name__ == "__main__":
    main()
