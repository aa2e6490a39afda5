"""Experiments: one module per experiment, discovered automatically.

Contract of a module ``simulate/experiments/NAME.py``:

- ``NAME: str``;
- ``Config``: a frozen dataclass whose defaults are the full setting, with class methods
  ``quick()`` and ``full()``;
- ``run(config) -> pandas.DataFrame``: a pure function of the config, one tidy row per
  setting x replicate, with a column for every parameter, the seed, each metric and the
  theory's prediction;
- ``verdicts(df) -> list[dict]``: one dict per (claim, setting) with keys ``claim_id``,
  ``setting``, ``predicted``, ``measured``, ``verdict`` ("holds" | "fails" |
  "inconclusive") and ``detail``.

An experiment never plots; ``simulate.plotting.plot_NAME(df)`` draws its table.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["get", "names", "registry"]

_REQUIRED = ("NAME", "Config", "run", "verdicts")


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
