"""The battery's settings and cells: each a pure function of (config, cell), run by the
pipeline (``simulate.pipeline.cells``: cached, resumable, on local processes or Dask).

==============  ==============================================================================
cell            what it measures
==============  ==============================================================================
``score``       the DSM first-order test of the score at every noise level a sampler of the
                battery evaluates (down to the smallest v_1 of the largest T), one row per
                level; finiteness at the extremes of alpha_bar, Tweedie consistency
                (``simulate.score_check``)
``geometry``    intrinsic dimension (TwoNN, MLE) of X_0 and the sparsity of the score and the
                denoiser over alpha_bar (``simulate.sparsity``)
``floor``       the sample divergences between two independent draws of q_1 (noise floor)
``sampler``     each sampler with the exact score, over a T grid: MMD^2, energy distance and
                sliced W2 to a fresh draw of q_1; for models with a support, the exact law of
                the off-support coordinates, its KL per coordinate and the d at which that
                slope moves the KL by the battery's resolution, and a Monte Carlo check of
                the law; for Gaussian models, the exact KL
``estimation``  least squares and both l1 readings fitted on n training points, over an n
                grid: eps_score^2 and its support / off-support parts
``oracle``      for a product of independent blocks (``independent_blocks()``) of one or two
                coordinates: the exact KL(q_t0 || p_t0) by the grid oracles
                (``simulate.oracle``, ``simulate.oracle_plane``; a 1-D block's window widened
                until its tails are resolved) at the first step t0 with v_t0 >= 1e-2, and
                the numba samplers' moments there against it
==============  ==============================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulate import divergences, metrics, samplers, schedules
from simulate.models.base import BlockModel, GaussianModel
from simulate.noise_level import NoiseLevel
from simulate.oracle import Grid
from simulate.pipeline.seeds import seed_for
from simulate.verify.load import build_model, describe

__all__ = [
    "NAME",
    "NO_SWEEP",
    "ORACLE_GRID",
    "Config",
    "cells",
    "early_stop",
    "run_cell",
    "score_levels",
]

NAME = "verify"
#: The ``sweep_value`` column of a battery without a sweep.
NO_SWEEP = "-"
#: The grid oracle compares laws at the first step whose v_t reaches this (its grid, of
#: spacing 0.01, resolves q_t there; v_1 = T^-c0 is far below it on the Li schedule).
ORACLE_V_MIN = 1e-2
#: The oracle's first grid: [-10, 10], spacing 0.01 (tests/test_oracle.py); a 1-D block's
#: window is then widened until its tails are resolved (``oracle.resolved_block_laws``).
ORACLE_GRID_SPEC = (-10.0, 10.0, 2001)
ORACLE_GRID = Grid(*ORACLE_GRID_SPEC)
#: The plane oracle's grid (each axis): [-7, 7] holds N(0, I_2) but 5e-11 of its mass;
#: spacing 0.04 needs C_t >= 0.04 at every step (on the Li schedule: T <= 50; larger T
#: are reported as unresolved).
ORACLE_PLANE_GRID = Grid(-7.0, 7.0, 351)
#: |1 - int p| above this on the plane oracle's fixed grid: the grid lost the sampler's mass.
ORACLE_LOST_MASS = 1e-5
#: The score check's noise levels below v = 1e-3 (where ``score_check.DEFAULT_ALPHA_BARS``
#: stops): v = 10^(-3 - j/2) down to the smallest v_1 of the battery's schedules, and v_1.
SMALL_V_PER_DECADE = 2


@dataclass(frozen=True)
class Config:
    """The battery's settings (defaults: the full preset).

    The schedule is Li et al.'s with (c0, c1) = (2, 4), so abar_T ~ T^-2 and the start
    N(0, I) is close to q_T: what the samplers leave is their discretization error (with
    c0 = c1 = 4, abar_T stays near 0.8 and the initialization error dominates, SCIENCE.md 3).
    ``target`` is MODULE:FACTORY (a ``.py`` path is stored absolute); ``params`` the keyword
    arguments of the factory; ``sweep_key`` and ``sweep_values`` the swept argument;
    ``resolution`` the smallest change of a KL the findings are about (the d-free finding's
    d is where the off-support slope adds it; the sample comparison's power is stated for a
    perturbation of that KL); ``train_draws`` the training draws pooled where the estimation
    finding is decided (k >= 4; one draw at the other settings); ``source_digest`` the hash of the model's
    source files (``load.source_digest``), set by ``run_battery`` so that every cell's
    cache key sees the model's code.
    """

    target: str = "simulate.models:PaperToy3D"
    params: tuple[tuple[str, Any], ...] = ()
    sweep_key: str = ""
    sweep_values: tuple[Any, ...] = ()
    T_grid: tuple[int, ...] = (10, 20, 50, 100, 200)
    samplers: tuple[str, ...] = samplers.VARIANCES
    c0: float = 2.0
    c1: float = 4.0
    n: int = 4000
    score_n: int = 100_000
    floor_replicates: int = 4
    sparsity_alpha_bars: tuple[float, ...] = (1e-3, 0.1, 0.5, 0.9, 0.999)
    estimators: tuple[str, ...] = ("ls", "l1_denoiser", "l1_score")
    est_n_grid: tuple[int, ...] = (250, 1000, 4000)
    est_T: int = 20
    est_n_eval: int = 500
    seed: int = 0
    resolution: float = 0.01
    train_draws: int = 4
    source_digest: str = ""

    @classmethod
    def full(cls, **kw: Any) -> Config:
        return cls(**kw)

    @classmethod
    def quick(cls, **kw: Any) -> Config:
        kw = {"T_grid": (10, 30, 100), "n": 1500, "score_n": 30_000, "est_n_grid": (250, 1000),
              **kw}  # fmt: skip
        return cls(**kw)


def score_levels(config: Config) -> tuple[Any, ...]:
    """The score check's alpha_bar grid: ``score_check.DEFAULT_ALPHA_BARS`` (v from 1e-3 to
    0.999) and the small-v levels every sampler of the battery reaches: v = 10^(-3 - j / 2)
    above the smallest v_1 = T^-c0 of its schedules (the largest T of the grid, and the
    estimation's T), and v_1 itself (``NoiseLevel``s carrying the accurate v)."""
    from simulate.score_check import DEFAULT_ALPHA_BARS

    Ts = {*config.T_grid, config.est_T}
    v_min = min(float(schedules.li(T, config.c0, config.c1).v[0]) for T in Ts)
    small = []
    j = 1
    while (v := 10.0 ** (-3.0 - j / SMALL_V_PER_DECADE)) > v_min * (1 + 1e-9):
        small.append(v)
        j += 1
    small.append(v_min)
    return (*DEFAULT_ALPHA_BARS, *(NoiseLevel(1.0 - v, v) for v in small))


def _values(config: Config) -> tuple[Any, ...]:
    return tuple(config.sweep_values) if config.sweep_key else (None,)


def cells(config: Config) -> list[tuple]:
    """("score", v), ("geometry", v), ("floor", v, T), ("sampler", v, sampler, T),
    ("estimation", v, estimator, n), and ("oracle", values, sampler, T) for product models.

    An oracle cell covers every sweep value whose model is a product of blocks (one row per
    value): the values' blocks often have the same law (a circle, a box edge, the pure-noise
    coordinate at every d), and within one process the oracle propagates each law once
    (``oracle.STEP_MEMO``; exact: a hit is bit-identical to recomputing)."""
    out: list[tuple] = []
    blocks: list[Any] = []
    for v in _values(config):
        out += [("score", v), ("geometry", v)]
        out += [("floor", v, T) for T in config.T_grid]
        out += [("sampler", v, name, T) for name in config.samplers for T in config.T_grid]
        out += [("estimation", v, e, n) for e in config.estimators for n in config.est_n_grid]
        if isinstance(build_model(config, v), BlockModel):
            blocks.append(v)
    if blocks:
        values = tuple(blocks)
        out += [("oracle", values, name, T) for name in config.samplers for T in config.T_grid]
    return out


def _x1(model: Any, sch: schedules.Schedule, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of q_1 = law(a_1 X_0 + sqrt(v_1) W)."""
    a, v = math.sqrt(sch.alpha_bar[0]), float(sch.v[0])
    x0 = model.sample(n, rng)
    return a * x0 + math.sqrt(v) * rng.standard_normal(x0.shape)


def _distances(y: np.ndarray, x: np.ndarray, seed: int) -> dict[str, float]:
    mmd = divergences.mmd2(y, x)
    en = divergences.energy(y, x)
    return {
        "mmd2": mmd.value,
        "mmd2_se": mmd.se,
        "energy": en.value,
        "energy_se": en.se,
        "sliced_w2": metrics.sliced_w2(y, x, seed=seed),
    }


def run_cell(config: Config, cell: tuple) -> dict | list[dict]:
    kind, value = cell[0], cell[1]
    if kind == "oracle":
        return [_oracle_row(config, v, cell[2], int(cell[3])) for v in value]
    model = build_model(config, value)
    base = {"part": kind, "sweep_value": NO_SWEEP if value is None else value, **describe(model)}
    if kind == "score":
        return _score_rows(config, model, base)
    if kind == "geometry":
        return _geometry(config, model, base)
    if kind == "estimation":
        n = int(cell[3])
        return _estimation_row(config, model, base, cell[2], n, _draws(config, value, n))
    T = int(cell[-1])
    sch = schedules.li(T, config.c0, config.c1)
    if kind == "floor":
        rows = []
        for r in range(config.floor_replicates):
            rng = np.random.default_rng(seed_for(NAME, "floor", config.seed, T, r))
            a, b = _x1(model, sch, config.n, rng), _x1(model, sch, config.n, rng)
            rows.append({**base, "T": T, "replicate": r, **_distances(a, b, r)})
        return [*rows, _power_row(config, model, base, sch)]
    return _sampler_row(config, model, base, cell[2], sch)


def _power_row(config: Config, model: Any, base: dict, sch: schedules.Schedule) -> dict:
    """The sample comparison's power at the battery's resolution: MMD^2 between a draw of q_1
    and another draw shifted by delta along the coordinate j of least Fisher information,
    delta chosen so that KL(q_1 || q_1 shifted) = delta^2 I_jj / 2 = ``resolution`` (to
    second order in delta; I_jj = E[s_j(X_1)^2] from the model's score). This is the most
    detectable perturbation of that KL by a shift; an MMD^2 that cannot see it cannot show
    that two laws agree to the resolution."""
    rng = np.random.default_rng(seed_for(NAME, "power", config.seed, sch.T))
    a, b = _x1(model, sch, config.n, rng), _x1(model, sch, config.n, rng)
    fisher = np.mean(model.score(b, sch.level(1)) ** 2, axis=0)
    j = int(np.argmin(fisher))
    delta = math.sqrt(2.0 * config.resolution / float(fisher[j]))
    b[:, j] += delta
    mmd = divergences.mmd2(b, a)
    return {**base, "part": "power", "T": sch.T, "n": config.n, "shift": delta,
            "shift_coord": j, "fisher": float(fisher[j]), "mmd2_shift": mmd.value,
            "mmd2_shift_se": mmd.se}  # fmt: skip


def _score_rows(config: Config, model: Any, base: dict) -> list[dict]:
    """One row per noise level of ``score_levels``: the worst |z| of the first-order test
    there (inf where the score is not finite), the field it came from, the number of
    statistics and of non-finite rows; the first row carries the problems found at the
    extremes and by Tweedie."""
    from simulate.score_check import check_score

    result = check_score(
        model, score_levels(config), n=config.score_n, seed=seed_for(NAME, "score", config.seed)
    )
    rows = []
    for i, level in enumerate(result.by_level().to_dict("records")):
        rows.append(
            {
                **base,
                **level,
                "problems": " | ".join(result.problems) if i == 0 else "",
                "n_problems": len(result.problems) if i == 0 else 0,
            }
        )
    return rows


def _geometry(config: Config, model: Any, base: dict) -> list[dict]:
    from simulate.intrinsic import estimate_intrinsic_dim
    from simulate.sparsity import measure_sparsity

    x0 = model.sample(2000, np.random.default_rng(seed_for(NAME, "geometry", config.seed)))
    ids = {}
    for method in ("twonn", "mle"):
        try:
            ids[method] = estimate_intrinsic_dim(x0, method)
        except ValueError:  # e.g. a finite support with fewer distinct points than needed
            ids[method] = math.nan
    twonn, mle = ids["twonn"], ids["mle"]
    s = base["support_size"] or base["intrinsic_dim"] or (1 if math.isnan(twonn) else round(twonn))
    s = int(min(max(s, 1), model.d))
    table = measure_sparsity(model, config.sparsity_alpha_bars, n=500, seed=config.seed, s=s)
    keep = ["alpha_bar", "score_eff_frac", "score_top_share", "denoiser_eff_frac",
            "denoiser_top_share"]  # fmt: skip
    return [
        {**base, "id_twonn": twonn, "id_mle": mle, "s_used": s, **row}
        for row in table[keep].to_dict("records")
    ]


def _draws(config: Config, value: Any, n: int) -> int:
    """``train_draws`` at the setting the estimation finding decides on (the largest d of the
    sweep, the smallest n), one training draw elsewhere (those cells only fill tables)."""
    values = _values(config)
    dims = [build_model(config, v).d for v in values]
    decisive = value == values[int(np.argmax(dims))] and n == min(config.est_n_grid)
    return config.train_draws if decisive else 1


def _estimation_row(
    config: Config, model: Any, base: dict, name: str, n: int, draws: int = 1
) -> list[dict]:
    """eps_score^2 (SCIENCE.md 1.1) of a fitted estimator, with its support / off-support
    parts (exact for an affine estimate of a Gaussian model, else Monte Carlo), one row per
    training draw. Draw r's seed does not depend on the estimator, so the estimators of one
    draw see the same training data (paired comparisons)."""
    from simulate.estimators import AffineScore
    from simulate.experiments._common import fitted_estimator

    sch = schedules.li(config.est_T, config.c0, config.c1)
    rows = []
    for r in range(draws):
        seed = seed_for(NAME, "estimation", config.seed, n, r)
        est = fitted_estimator(name, model, seed, n=n).fit(sch)
        exact = isinstance(est, AffineScore) and isinstance(model, GaussianModel)
        err = metrics.score_error(
            est, model, sch, n_eval=config.est_n_eval, seed=seed,
            method="exact" if exact else "mc",
        )  # fmt: skip
        eps2, eps2_se = err.average()
        rows.append({
            **base, "estimator": name, "n_train": n, "draw": r, "T": config.est_T,
            "eps2": eps2, "eps2_se": eps2_se, "eps2_support": err.average("support")[0],
            "eps2_off_support": err.average("off_support")[0], "method": err.method,
        })  # fmt: skip
    return rows


def early_stop(schedule: schedules.Schedule, v_min: float = ORACLE_V_MIN) -> int:
    """The smallest step t with v_t >= ``v_min``: where the grid oracle compares laws."""
    return int(np.argmax(schedule.v >= v_min)) + 1


def _oracle_row(config: Config, value: Any, sampler: str, T: int) -> dict:
    """Exact KL(q_t0 || p_t0) of a block model by the grid oracles, summed over its blocks,
    and the numba sampler's moments at t0 against it (z per group of identical blocks).

    Blocks of one coordinate: first and second moments, on a window widened until its
    tails are resolved (``oracle.resolved_block_laws``); of two: the five moments of order
    one and two, on the plane oracle's grid. A block the oracles cannot resolve (more than
    two coordinates, a grid too coarse for the step noise, a DDIM map that folds, tails the
    widest window still truncates) leaves the KL undefined (NaN) and a note; its moments are
    not compared."""
    from simulate import oracle, oracle_plane

    model = build_model(config, value)
    base = {"part": "oracle", "sweep_value": NO_SWEEP if value is None else value,
            **describe(model)}  # fmt: skip
    sch = schedules.li(T, config.c0, config.c1)
    t0 = early_stop(sch)
    seed = seed_for(NAME, "oracle", config.seed, sampler, T)
    _, paths = samplers.sample(model, sch, config.n, seed=seed, sampler=sampler, path_steps=[t0])
    y = paths[0]
    row = {**base, "sampler": sampler, "T": T, "t0": t0, "n": config.n,
           "v_t0": float(sch.v[t0 - 1])}  # fmt: skip
    kl, z, worst_lost, notes, widest, too_big = 0.0, [], 0.0, [], 0.0, 0
    groups = model.independent_blocks()
    for g in groups:
        g = np.asarray(g, dtype=np.int64)
        if g.size == 0:  # an empty group (e.g. no pure-noise coordinates when k = d)
            continue
        g = g.reshape(len(g), -1)
        f = oracle.block_score(model, g[0])
        try:
            if g.shape[1] == 1:
                laws: Any
                laws, res = oracle.resolved_block_laws(f, sch, sampler, ORACLE_GRID, t0)
                widest = max(widest, res.half_widths[-1])
                if not res.resolved:
                    raise ValueError(res.note)
                lost = max(res.q_tail, res.p_lost)
                powers = [(1,), (2,)]
            elif g.shape[1] == 2:
                laws = oracle_plane.plane_laws(f, sch, sampler, ORACLE_PLANE_GRID, t0)
                lost = abs(laws.lost_mass)
                if lost > ORACLE_LOST_MASS:
                    raise ValueError(
                        f"unresolved: the plane grid lost {lost:.2g} of the sampler's mass"
                    )
                powers = [(1, 0), (0, 1), (2, 0), (0, 2), (1, 1)]
            else:
                too_big += 1
                raise ValueError(f"a block of {g.shape[1]} coordinates (the oracles take 1 or 2)")
        except ValueError as exc:
            notes.append(str(exc))
            kl = math.nan
            continue
        kl += len(g) * laws.kl
        worst_lost = max(worst_lost, lost)
        blocks = y[:, g]  # (n, copies, b)
        for k in powers:
            values = np.prod(blocks ** np.asarray(k)[None, None, :], axis=2).ravel()
            se = float(np.std(values, ddof=1)) / math.sqrt(values.size)
            z.append((float(np.mean(values)) - laws.moment(*k)) / se)
    row.update(
        kl_oracle=kl, oracle_lost_mass=worst_lost, oracle_groups=len(groups),
        oracle_window=widest, oracle_worst_z=float(np.max(np.abs(z))) if z else math.nan,
        oracle_n_z=len(z), oracle_notes=" | ".join(dict.fromkeys(notes)),
        oracle_blocks_too_big=too_big,
    )  # fmt: skip
    return row


def _sampler_row(
    config: Config, model: Any, base: dict, sampler: str, sch: schedules.Schedule
) -> dict:
    from theory.gaussian import coordinate_terms

    T = sch.T
    seed = seed_for(NAME, "sampler", config.seed, sampler, T)
    y = samplers.sample(model, sch, config.n, seed=seed, sampler=sampler)
    x = _x1(model, sch, config.n, np.random.default_rng(seed_for(NAME, "target", config.seed, T)))
    row = {**base, "sampler": sampler, "T": T, "n": config.n, **_distances(y, x, seed)}
    support = getattr(model, "support", None)
    off = None if support is None else ~np.asarray(support, dtype=bool)
    if off is not None and off.any():
        exact = coordinate_terms(np.asarray(sch.beta), np.zeros(1), 0.0, sampler, "standard")
        c1, m = float(exact.c_1[0]), int(off.sum())
        yo = y[:, off]
        slope = float(exact.kl[0])
        row.update(
            off_coords=m,
            off_var_exact=c1,
            off_var=float(np.mean(yo * yo)),
            off_var_z=(float(np.mean(yo * yo)) - c1) / (c1 * math.sqrt(2.0 / yo.size)),
            off_mean_z=float(np.mean(yo)) / math.sqrt(c1 / yo.size),
            kl_off_coord=slope,
            kl_off_total=slope * m,
            # the d at which the off-support slope adds the battery's resolution to the KL
            d_move=math.inf if slope == 0 else config.resolution / abs(slope),
        )
    if isinstance(model, GaussianModel):
        from simulate import exact as exact_law

        law = exact_law.output_law(model, sch, sampler)
        row["kl_exact"] = metrics.kl_gaussian(exact_law.target_law(model, sch), law)
    return row
