"""The pipeline: cells and their cache, executors (processes, Dask), seeds by name, and the
figures driver. ``simulate.cli`` only parses arguments and calls into here."""

from simulate.pipeline.cells import (
    CellCache,
    CellOutcome,
    Task,
    assemble,
    make_executor,
    run_tasks,
    tasks_for,
)
from simulate.pipeline.seeds import seed_for

__all__ = [
    "CellCache",
    "CellOutcome",
    "Task",
    "assemble",
    "make_executor",
    "run_tasks",
    "seed_for",
    "tasks_for",
]
