"""The battery run on any data model: ``regdiff verify MODULE:FACTORY`` (DESIGN.md, use 3).

A data model is anything with ``d``, ``sample(n, seed)`` and ``score(x, alpha_bar)`` or
``denoiser(x, alpha_bar)`` (the protocol: :mod:`simulate.verify.load`), returned by a factory:
a callable in an importable module or in a ``.py`` file, ``MODULE:FACTORY``. ``--set
key=value`` passes keyword arguments; ``--sweep key=v1,v2,...`` runs the battery at every
value (typically d at fixed s). The rooms:

- :mod:`~simulate.verify.load`: the target, the protocol checked before any cell runs
  (preflight), the model's source files (part of every cell's cache key);
- :mod:`~simulate.verify.battery`: the settings and the cells (what each measures);
- :mod:`~simulate.verify.judging`: the verdicts and their roles (checks of the model set
  the exit code; findings about the samplers on it never do);
- :mod:`~simulate.verify.bounds`: stated bounds (the library's or a user's expression)
  judged against the exact truth (``--bound``, :func:`check_bound`);
- :mod:`~simulate.verify.command`: the command, its report and its exit codes.

This package follows the experiments' contract (``NAME``, ``CLAIMS``, ``Config``, ``cells``,
``run_cell``, ``verdicts``), so the pipeline runs it like any experiment.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pandas as pd

from simulate.verify.battery import (
    NAME,
    NO_SWEEP,
    ORACLE_GRID,
    ORACLE_PLANE_GRID,
    ORACLE_V_MIN,
    Config,
    cells,
    early_stop,
    run_cell,
    score_levels,
)
from simulate.verify.command import EXIT, run_battery
from simulate.verify.judging import CHECKS, CLAIMS, FINDINGS, verdicts
from simulate.verify.load import (
    VerifyInputError,
    build_model,
    check_keys,
    describe,
    load_factory,
    normalize_target,
    preflight,
    source_digest,
)

__all__ = [
    "CHECKS",
    "CLAIMS",
    "EXIT",
    "FINDINGS",
    "NAME",
    "NO_SWEEP",
    "ORACLE_GRID",
    "ORACLE_PLANE_GRID",
    "ORACLE_V_MIN",
    "Config",
    "VerifyInputError",
    "build_model",
    "cells",
    "check_bound",
    "check_keys",
    "describe",
    "early_stop",
    "load_factory",
    "normalize_target",
    "preflight",
    "run",
    "run_battery",
    "run_cell",
    "score_levels",
    "source_digest",
    "verdicts",
    "with_target",
]


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """Every cell in this process (the experiments' contract)."""
    from simulate.pipeline.cells import run_in_process

    return run_in_process(sys.modules[__name__], config, progress)


def check_bound(
    target: str,
    bounds: str | tuple[str, ...],
    *,
    params: dict[str, float] | None = None,
    config: Config | None = None,
    progress: bool = False,
) -> tuple[list, pd.DataFrame, pd.DataFrame]:
    """``regdiff verify TARGET --bound B ...`` from Python, in this process and without the
    cache: (the bound verdicts, the bounds table of ``DIR/data/bounds.csv``, the battery's
    table). ``target`` is MODULE:FACTORY; ``config`` the battery's settings (default: the
    quick preset; its params and sweep say which models); ``params`` values of the bounds'
    other symbols."""
    from simulate.verify import bounds as bounds_mod

    names = (bounds,) if isinstance(bounds, str) else tuple(bounds)
    params = dict(params or {})
    specs = [bounds_mod.resolve_bound(b, tuple(params)) for b in names]
    config = with_target(config or Config.quick(), target)
    df = run(config, progress=progress)
    found, table = bounds_mod.bound_verdicts(df, specs, params, config.samplers)
    from simulate.verify.judging import with_role

    return [with_role(v) for v in found], table, df


def with_target(config: Config, target: str, **changes: Any) -> Config:
    """``config`` for another target (normalized) and settings."""
    return dataclasses.replace(config, target=normalize_target(target), **changes)
