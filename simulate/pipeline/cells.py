"""Cells, their on-disk cache, and the executors that run them (DESIGN.md, "Scale").

A *cell* is one element of ``module.cells(config)``; ``module.run_cell(config, cell)`` is a
pure function of the experiment's config and the cell, returning one row (a dict) or
several. Each finished cell is stored at once, by the process that computed it, under

    CACHE/cells/<experiment>/<key>.cell.json,
    key = sha256(experiment | config | cell | code version)

in a format that runs no code on load and carries a checksum (``simulate.pipeline.cellfile``),
written to a temporary file named after its process (``simulate.pipeline.files``) and renamed
(``os.replace`` is atomic), so a run killed at any point (kill -9 included) loses no finished
cell and leaves no half-written one; started again, it recomputes only the cells that are
missing. A cell file that is damaged or unreadable is logged (naming the file), removed and
recomputed. A cell that raises, or whose write fails (a full disk), is recorded with its
error and the run goes on (its experiment's claims then read "inconclusive: cell failed");
failed cells are not cached, so the next run retries them. Start-up removes only temporary
files whose process is dead or that are older than a day, so runs may share a cache folder.

Executors (all yield the same rows: a cell's numbers do not depend on where it runs, its
noise being a pure function of its seeds):

- ``SerialExecutor``: in this process;
- ``ProcessExecutor(jobs)``: local worker processes;
- ``DaskExecutor(scheduler, jobs)``: an existing Dask cluster (``tcp://HOST:PORT``) or a
  ``distributed.LocalCluster`` (``"local"``). The cache folder must be visible to the workers
  (a shared file system on a cluster).

Worker processes die with the parent and ignore Ctrl-C, which stops the run in the parent:
queued cells are cancelled and workers killed at once (``simulate.pipeline.stops``).

Each worker sets its numba thread count (``threads``) before a cell, so N workers on an
N-core machine do not oversubscribe it, and runs every cell with one BLAS thread, so dense
linear algebra sums in the same order on every executor (bit-identical tables).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from simulate.pipeline import cellfile, files, stops

__all__ = [
    "CellCache",
    "CellOutcome",
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "Task",
    "assemble",
    "cell_key",
    "compute_cell",
    "local_cluster",
    "make_executor",
    "run_in_process",
    "run_tasks",
    "tasks_for",
    "value_columns",
]

#: Cache warnings (a damaged cell file, a failed write) go here; with no logging set up,
#: Python prints them on stderr.
logger = logging.getLogger("regdiff.cache")

#: The suffix of a temporary cell file (``files.owned_name``).
TMP_SUFFIX = ".tmp"


def cell_key(experiment: str, config: Any, cell: tuple) -> str:
    """Hash of the cell's settings and the code version (24 hex digits)."""
    from simulate.experiments._common import code_version

    text = f"{experiment}|{config!r}|{cell!r}|{code_version()}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Task:
    """One cell of one experiment, with its cache key and the module that computes it (by
    import name, so that any worker process can find it: an experiment of
    ``simulate.experiments`` or another module following the same contract, such as
    ``simulate.verify``)."""

    experiment: str
    config: Any
    cell: tuple
    index: int
    key: str
    module: str = ""

    @property
    def kind(self) -> str:
        """The cell's kind for the timing summary: its first entry if a string."""
        first = self.cell[0] if self.cell else ""
        return f"{self.experiment}:{first}" if isinstance(first, str) else self.experiment


@dataclass
class CellOutcome:
    """What became of a task: its rows, or the error it raised."""

    task: Task
    rows: list[dict] | None
    error: str | None
    seconds: float
    reused: bool = False
    #: Of ``seconds``, the time numba spent compiling kernels (or loading them from its
    #: cache) inside the cell: the cost of a cold start, paid by whichever cell first
    #: calls a kernel in its worker.
    compile_seconds: float = 0.0


def tasks_for(module: Any, config: Any) -> list[Task]:
    """The tasks of every cell of ``module`` at ``config``, in the module's cell order."""
    return [
        Task(
            module.NAME,
            config,
            tuple(cell),
            i,
            cell_key(module.NAME, config, tuple(cell)),
            module.__name__,
        )
        for i, cell in enumerate(module.cells(config))
    ]


@dataclass(frozen=True)
class CellCache:
    """Finished cells on disk; ``root=None`` caches nothing (module docstring)."""

    root: Path | None

    def path(self, task: Task) -> Path:
        """Where ``task``'s cell file lives."""
        if self.root is None:
            raise ValueError("this cache has no folder")
        return Path(self.root) / "cells" / task.experiment / f"{task.key}{cellfile.SUFFIX}"

    def load(self, task: Task) -> list[dict] | None:
        """The cached rows of ``task``, or None if it must be computed: no file, or a file
        that is damaged or unreadable (then logged, naming the file, and removed)."""
        if self.root is None:
            return None
        path = self.path(task)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a folder in its place, no permission, an I/O error
            reason = f"unreadable ({type(exc).__name__}: {exc.strerror or exc})"
        else:
            try:
                return cellfile.read(data, task.experiment, task.key)
            except cellfile.CellFormatError as exc:
                reason = f"damaged ({exc})"
        logger.warning("regdiff: cache: %s is %s; the cell is recomputed", path, reason)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:  # the store will then fail and record the cell as failed
            logger.warning("regdiff: cache: could not remove %s: %s", path, exc)
        return None

    def remove_stale(self) -> int:
        """Delete what dead or day-old runs left (never a live run's temporary file, never a
        finished cell of this format): owned temporary files (``files.is_stale``) and cell
        files of the older pickle format. Their count."""
        cells = None if self.root is None else Path(self.root) / "cells"
        if cells is None or not cells.is_dir():
            return 0
        removed = files.remove_stale(cells.rglob(f".*{TMP_SUFFIX}"), TMP_SUFFIX)
        old_format = list(cells.rglob("*.pkl"))  # pickle runs code when loaded: never read
        for path in old_format:
            path.unlink(missing_ok=True)
        return len(removed) + len(old_format)

    def store(self, task: Task, rows: list[dict]) -> None:
        """Write ``task``'s rows: to an owned temporary file, then renamed into place.
        ``cellfile.CellFormatError`` for rows the format cannot hold; ``OSError`` if the
        write fails (the temporary file is removed)."""
        if self.root is None:
            return
        data = cellfile.write(rows, task.experiment, task.key)
        path = self.path(task)
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(path, data, TMP_SUFFIX)


def compute_cell(task: Task, cache_root: str | None, threads: int) -> CellOutcome:
    """Run one cell (in whatever process the executor chose) and store it if it finished."""
    import importlib

    import numba
    from numba.core import event
    from threadpoolctl import threadpool_limits

    from simulate import experiments

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    module = (
        importlib.import_module(task.module) if task.module else experiments.get(task.experiment)
    )
    start = time.perf_counter()
    compiling = event.TimingListener()  # outermost numba compilations only (nested once)
    try:
        # One BLAS thread in every cell: a threaded BLAS sums in an order that depends on
        # its thread count, which would make dense results differ (by ~1e-12) between
        # executors and job counts. numba's own kernels are bit-identical at any count.
        with threadpool_limits(limits=1, user_api="blas"):
            with event.install_listener("numba:compile", compiling):
                out = module.run_cell(task.config, task.cell)
    except Exception as exc:  # recorded, never swallowed: the report names it
        tb = traceback.format_exc()
        error = f"{type(exc).__name__}: {exc}\n{tb}"
        return CellOutcome(task, None, error, time.perf_counter() - start)
    rows = [out] if isinstance(out, dict) else list(out)
    cache = CellCache(Path(cache_root) if cache_root else None)
    try:
        cache.store(task, rows)
    except (OSError, cellfile.CellFormatError) as exc:  # a full disk: this cell failed
        where = cache.path(task)
        error = f"cache write failed for {where}: {type(exc).__name__}: {exc}"
        logger.warning("regdiff: %s", error)
        return CellOutcome(task, None, error, time.perf_counter() - start)
    compile_seconds = compiling.duration if compiling.done else 0.0
    return CellOutcome(task, rows, None, time.perf_counter() - start, False, compile_seconds)


class Executor(Protocol):
    """Runs tasks and yields their outcomes as they finish (any order)."""

    jobs: int

    def run(
        self, tasks: Sequence[Task], cache_root: str | None, threads: int
    ) -> Iterator[CellOutcome]: ...


@dataclass
class SerialExecutor:
    """Every task in this process, in order."""

    jobs: int = 1

    def run(
        self, tasks: Sequence[Task], cache_root: str | None, threads: int
    ) -> Iterator[CellOutcome]:
        for task in tasks:
            yield compute_cell(task, cache_root, threads)


@dataclass
class ProcessExecutor:
    """Local worker processes (``concurrent.futures``), started by *spawn*: forking a
    process whose numba kernels already run OpenMP threads is unsafe (GNU OpenMP aborts)."""

    jobs: int

    def run(
        self, tasks: Sequence[Task], cache_root: str | None, threads: int
    ) -> Iterator[CellOutcome]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        # Workers ignore SIGINT and die with this process (stops.worker_start); a run that
        # does not finish (Ctrl-C, an error, the consumer closing this generator) cancels
        # the queued cells and kills the workers instead of waiting for them.
        pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=stops.worker_start,
            initargs=(os.getpid(),),
        )
        finished = False
        try:
            futures = [pool.submit(compute_cell, t, cache_root, threads) for t in tasks]
            for future in as_completed(futures):
                yield future.result()
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:
                stops.abandon_pool(pool)


def local_cluster(workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes with one thread each, as
    ``--scheduler local`` starts it.

    Dask's statistical profiler (it walks the running task's stack every 10 ms; its output
    is shown only on the dashboard, which this cluster does not have) is turned off.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )


@dataclass
class DaskExecutor:
    """A Dask cluster: ``scheduler`` is ``tcp://HOST:PORT`` or ``"local"``."""

    scheduler: str
    jobs: int

    def run(
        self, tasks: Sequence[Task], cache_root: str | None, threads: int
    ) -> Iterator[CellOutcome]:
        from distributed import Client, as_completed

        cluster = None
        if self.scheduler == "local":
            cluster = local_cluster(self.jobs)
            client = Client(cluster)
        else:
            client = Client(self.scheduler)
        try:
            futures = [
                client.submit(compute_cell, t, cache_root, threads, pure=False) for t in tasks
            ]
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(jobs: int = 1, scheduler: str | None = None) -> Executor:
    """``scheduler`` given: Dask; else processes when ``jobs > 1``, else serial."""
    if jobs < 1:
        raise ValueError(f"jobs={jobs} must be >= 1")
    if scheduler is not None:
        if not (scheduler == "local" or scheduler.startswith(("tcp://", "tls://", "inproc://"))):
            raise ValueError(f"scheduler={scheduler!r}: 'local' or an address like tcp://HOST:PORT")
        return DaskExecutor(scheduler, jobs)
    return ProcessExecutor(jobs) if jobs > 1 else SerialExecutor()


def run_tasks(
    tasks: Sequence[Task],
    executor: Executor,
    cache: CellCache,
    *,
    threads: int = 1,
    progress: bool = False,
    after_each: Callable[[int, int], None] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[CellOutcome]:
    """Every task's outcome, in task order: cached cells are reused, the rest computed.

    The progress bar counts cells (with tqdm's rate and ETA); the cached ones are counted at
    the start. With ``weights`` (seconds per cell by ``Task.kind``, from an earlier run: a
    cell of the catalogue's oracle costs a thousand of discretization's), it counts expected
    seconds of work instead, so that its ETA does not assume every cell costs the same; a
    kind without a weight counts the median weight. ``after_each(k, m)`` is called when the
    k-th of the m cells to compute has finished (once with k = 0 before the first).
    """
    cache.remove_stale()
    outcomes: dict[int, CellOutcome] = {}
    todo: list[Task] = []
    for pos, task in enumerate(tasks):
        rows = cache.load(task)
        if rows is None:
            todo.append(task)
        else:
            outcomes[pos] = CellOutcome(task, rows, None, 0.0, reused=True)
    by_key = {(t.experiment, t.index): pos for pos, t in enumerate(tasks)}
    bar = None
    weight = cell_weights(tasks, weights)
    if progress:
        from tqdm.auto import tqdm

        if weights:
            done_w = sum(weight[p] for p in outcomes)
            bar = tqdm(total=round(sum(weight), 1), initial=round(done_w, 1), unit="s",
                       desc="work (expected s)", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} "
                       "s [{elapsed}<{remaining}{postfix}]")  # fmt: skip
        else:
            bar = tqdm(total=len(tasks), initial=len(outcomes), desc="cells", unit="cell")
    root = str(Path(cache.root).resolve()) if cache.root is not None else None
    try:
        if after_each is not None:
            after_each(0, len(todo))
        running = executor.run(todo, root, threads)
        try:
            for done, outcome in enumerate(running, start=1):
                pos = by_key[(outcome.task.experiment, outcome.task.index)]
                outcomes[pos] = outcome
                if bar is not None:
                    count = f"{len(outcomes)}/{len(tasks)} cells, " if weights else ""
                    bar.set_postfix_str(count + outcome.task.experiment, refresh=False)
                    bar.update(weight[pos] if weights else 1)
                if after_each is not None:
                    after_each(done, len(todo))
        finally:
            # Stop the executor now if we leave early (Ctrl-C between two cells), not
            # whenever the generator is garbage-collected.
            close = getattr(running, "close", None)
            if close is not None:
                close()
    finally:
        if bar is not None:
            bar.close()
    return [outcomes[p] for p in range(len(tasks))]


def cell_weights(tasks: Sequence[Task], weights: Mapping[str, float] | None) -> list[float]:
    """Each task's expected seconds (``weights`` by ``Task.kind``; a kind without one, or a
    non-positive or non-finite one, counts the median of the valid weights; 1 without any)."""
    valid = {k: float(w) for k, w in (weights or {}).items() if math.isfinite(w) and w > 0}
    fallback = float(np.median(list(valid.values()))) if valid else 1.0
    return [valid.get(t.kind, fallback) for t in tasks]


def run_in_process(module: Any, config: Any, progress: bool = False) -> pd.DataFrame:
    """Every cell of ``module`` at ``config``, in this process and without the cache: the
    experiments' ``run(config)``. A failed cell raises (RuntimeError with its traceback)."""
    import numba

    tasks = tasks_for(module, config)
    outcomes = run_tasks(
        tasks,
        SerialExecutor(),
        CellCache(None),
        threads=numba.get_num_threads(),
        progress=progress,
    )
    df, failed = assemble(outcomes)
    if failed:
        raise RuntimeError(
            f"{len(failed)} cell(s) of {module.NAME} failed; first {failed[0].task.cell!r}: "
            f"{failed[0].error}"
        )
    return df


def assemble(outcomes: Iterable[CellOutcome]) -> tuple[pd.DataFrame, list[CellOutcome]]:
    """The table of the finished cells (in cell order, with provenance) and the failures."""
    from simulate.experiments._common import with_provenance

    rows: list[dict] = []
    failed: list[CellOutcome] = []
    for outcome in outcomes:
        if outcome.error is not None:
            failed.append(outcome)
        else:
            rows.extend(outcome.rows or [])
    return with_provenance(pd.DataFrame(rows)), failed


def value_columns(df: pd.DataFrame) -> list[str]:
    """The columns that hold results: all but provenance and timings (``*_seconds``).

    These are the columns that must be identical across executors, job counts and resumed
    runs.
    """
    from simulate.experiments._common import provenance

    skip = set(provenance())
    return [c for c in df.columns if c not in skip and not c.endswith("_seconds")]
