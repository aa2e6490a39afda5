"""The verify battery on every catalogue model: the bounds held against non-Gaussian data.

For each model of ``simulate.models.catalogue`` the battery of ``simulate.verify`` runs as it
would for a user's model (``regdiff verify simulate.models.catalogue:catalogue_model --set
name=NAME``), over a sweep of d at fixed s where the model has a dimension to sweep: the
score's DSM first-order test, intrinsic dimension and sparsity, and every sampler with the
exact score over a T grid, judged against noise floors, the exact off-support law and the
paper's d-free reading. Each cell is one battery cell of one model; the verdicts are the
battery's (``simulate.verify.CLAIMS``), per model.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

import pandas as pd

from simulate import judge, verify
from simulate.models.catalogue import CATALOGUE, FIXED_DIMENSION
from simulate.pipeline.cells import run_in_process

NAME = "catalogue"
CLAIMS = verify.CLAIMS
TARGET = "simulate.models.catalogue:catalogue_model"


@dataclass(frozen=True)
class Config:
    """Models, the d sweep at fixed s, and the battery's settings (defaults: full)."""

    models: tuple[str, ...] = CATALOGUE
    d_grid: tuple[int, ...] = (8, 32, 128)
    s: int = 4
    T_grid: tuple[int, ...] = (10, 30, 100)
    n: int = 1000
    score_n: int = 20_000
    floor_replicates: int = 4
    estimators: tuple[str, ...] = ("ls", "l1_denoiser")
    est_n_grid: tuple[int, ...] = (250, 1000)
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        # T = 30, not 100: the exact plane oracle of the paper's toy costs O(T) and was half
        # of the quick preset's time at T = 100
        return cls(d_grid=(16,), T_grid=(10, 30), n=600, score_n=10_000, est_n_grid=(250,))

    @classmethod
    def full(cls) -> Config:
        return cls()


def battery_config(config: Config, name: str) -> verify.Config:
    """The verify battery of catalogue model ``name`` (a d sweep unless its d is fixed)."""
    sweep = () if name in FIXED_DIMENSION else tuple(config.d_grid)
    return verify.Config(
        target=TARGET,
        params=(("name", name), ("s", config.s), ("seed", config.seed)),
        sweep_key="d" if sweep else "",
        sweep_values=sweep,
        T_grid=config.T_grid,
        n=config.n,
        score_n=config.score_n,
        floor_replicates=config.floor_replicates,
        estimators=config.estimators,
        est_n_grid=config.est_n_grid,
        seed=config.seed,
    )


def cells(config: Config) -> list[tuple]:
    """(model, *battery cell) for every model and every cell of its battery."""
    return [
        (name, *c) for name in config.models for c in verify.cells(battery_config(config, name))
    ]


def run_cell(config: Config, cell: tuple) -> list[dict]:
    out = verify.run_cell(battery_config(config, cell[0]), tuple(cell[1:]))
    rows = [out] if isinstance(out, dict) else out
    return [{"catalogue_model": cell[0], **row} for row in rows]


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    return run_in_process(sys.modules[__name__], config, progress)


#: The library bounds judged on every catalogue model with a truth (``verify --bound``).
LIBRARY_BOUNDS = ("paper", "li2024", "huang_wei_chen")


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """The battery's verdicts per model, and the library bounds where the model has an exact
    truth (a bound with none is left out here; ``regdiff verify --bound`` says why)."""
    from simulate.verify import bounds as bounds_mod
    from simulate.verify.judging import with_role

    specs = [bounds_mod.resolve_bound(b) for b in LIBRARY_BOUNDS]
    out: list[judge.Verdict] = []
    for name in dict.fromkeys(df["catalogue_model"]):
        rows = df[df["catalogue_model"] == name]
        out += verify.verdicts(rows)
        samplers = tuple(dict.fromkeys(rows["sampler"].dropna()))
        found, _ = bounds_mod.bound_verdicts(rows, specs, {}, samplers)
        out += [
            with_role(dataclasses.replace(v, setting={"model": name, **v.setting}))
            for v in found
            if v.verdict != "not applicable"
        ]  # fmt: skip
    return out
