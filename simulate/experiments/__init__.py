"""Experiments: one module per experiment, discovered automatically.

Contract of a module ``simulate/experiments/NAME.py``:

- ``NAME: str``;
- ``Config``: a frozen dataclass whose defaults are the full setting, with class methods
  ``quick()`` and ``full()``;
- ``cells(config) -> list[tuple]``: the experiment's cells (each a pure function of its
  settings; the pipeline caches each finished cell, ``simulate.pipeline.cells``);
- ``run_cell(config, cell) -> dict | list[dict]``: the tidy rows of one cell, with a column
  for every parameter, the seed, each metric and the theory's prediction;
- ``run(config) -> pandas.DataFrame``: every cell in order, in this process (a convenience;
  ``regdiff`` runs cells through the pipeline);
- ``verdicts(df) -> list[simulate.judge.Verdict]``: one verdict per (claim, setting), each
  decided by the judging rule of its claim's kind;
- ``CLAIMS``: the ids of the claims it decides (a failed cell makes each "inconclusive").
- optionally ``report_section(df) -> str``: Markdown (a table it publishes) that
  ``regdiff figures`` puts in ``figures/REPORT.md`` after the verdicts.

An experiment never plots; ``simulate.plotting.plot_NAME(df)`` draws its table.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["get", "names", "registry"]

_REQUIRED = ("NAME", "Config", "cells", "run_cell", "run", "verdicts", "CLAIMS")


def registry() -> dict[str, ModuleType]:
    """Every experiment module of this package, by NAME (modules starting with _ excluded)."""
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        missing = [attr for attr in _REQUIRED if not hasattr(module, attr)]
        if missing:
            raise ImportError(f"experiment module {module.__name__} lacks {', '.join(missing)}")
        found[module.NAME] = module
    return found


def names() -> list[str]:
    return list(registry())


def get(name: str) -> ModuleType:
    """The experiment module called ``name``; a ValueError lists the known names."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(reg)}")
    return reg[name]
