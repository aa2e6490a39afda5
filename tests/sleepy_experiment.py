"""A test-only experiment whose cells can be made slow: the pipeline's stop and concurrency
tests run it in real ``regdiff figures`` processes (``tests/regdiff_with_sleepy.py``).

It follows the experiment contract of ``simulate.experiments`` (it decides no claim). Each
cell's rows are a pure function of its index (a seeded draw), in the types a cell file holds
(Python and NumPy floats and ints, a float32, a bool, None, a string). With
``REGDIFF_TEST_SLEEPY_DIR`` set, a cell first writes ``<pid>-<index>`` there (so a test knows
which processes run cells) and then sleeps ``REGDIFF_TEST_SLEEPY_SECONDS`` (default 0), except the first
``REGDIFF_TEST_SLEEPY_FAST`` cells (default 0).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulate import judge
from simulate.pipeline.cells import run_in_process

NAME = "sleepy"
CLAIMS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """``cells`` cells of ``rows`` rows each."""

    cells: int = 6
    rows: int = 3

    @classmethod
    def quick(cls) -> Config:
        return cls()

    @classmethod
    def full(cls) -> Config:
        return cls(cells=12)


def cells(config: Config) -> list[tuple]:
    return [("draw", i) for i in range(config.cells)]


def run_cell(config: Config, cell: tuple) -> list[dict]:
    folder = os.environ.get("REGDIFF_TEST_SLEEPY_DIR")
    if folder:
        (Path(folder) / f"{os.getpid()}-{cell[1]}").touch()
        if cell[1] >= int(os.environ.get("REGDIFF_TEST_SLEEPY_FAST", "0")):
            time.sleep(float(os.environ.get("REGDIFF_TEST_SLEEPY_SECONDS", "0")))
    rng = np.random.default_rng([20261207, cell[1]])
    x = rng.standard_normal(config.rows)
    return [
        {
            "kind": cell[0],
            "index": cell[1],
            "row": j,
            "value": float(x[j]),
            "value_np": x[j],
            "value_f32": np.float32(x[j]),
            "count": np.int64(j * 7),
            "positive": bool(x[j] > 0),
            "note": None,
        }
        for j in range(config.rows)
    ]


def run(config: Config) -> pd.DataFrame:
    return run_in_process(sys.modules[__name__], config)


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    return []
