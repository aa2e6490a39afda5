"""The battery run on any data model: ``regdiff verify MODULE:FACTORY`` (DESIGN.md, use 3).

A data model is anything with ``d``, ``sample(n, seed)`` and ``score(x, alpha_bar)`` or
``denoiser(x, alpha_bar)`` (``simulate.models.as_model``), returned by a factory: a callable
in an importable module or in a ``.py`` file, ``MODULE:FACTORY``. ``--set key=value`` passes
keyword arguments; ``--sweep key=v1,v2,...`` runs the battery at every value (typically d at
fixed s). The battery is a set of cells of the pipeline (``simulate.pipeline.cells``: cached,
resumable, on local processes or Dask), each a pure function of the config, judged by
``simulate.judge``:

==============  ==============================================================================
cell            what it measures
==============  ==============================================================================
``score``       the DSM first-order test of the score, finiteness at the extremes of
                alpha_bar, Tweedie consistency (``simulate.score_check``)
``geometry``    intrinsic dimension (TwoNN, MLE) of X_0 and the sparsity of the score and the
                denoiser over alpha_bar (``simulate.sparsity``)
``floor``       the sample divergences between two independent draws of q_1 (noise floor)
``sampler``     each sampler with the exact score, over a T grid: MMD^2, energy distance and
                sliced W2 to a fresh draw of q_1; for models with a support, the exact law of
                the off-support coordinates and a Monte Carlo check of it; for Gaussian
                models, the exact KL
``estimation``  least squares and both l1 readings fitted on n training points, over an n
                grid: eps_score^2 and its support / off-support parts
``oracle``      for a product of independent blocks (``independent_blocks()``) of one or two
                coordinates: the exact KL(q_t0 || p_t0) by the grid oracles
                (``simulate.oracle``, ``simulate.oracle_plane``) at the first step t0 with
                v_t0 >= 1e-2, and the numba samplers' moments there against it
==============  ==============================================================================

The off-support coordinates of a model with an aligned support are pure noise (score -x/v), so
every sampler with the exact score acts on them alone and independently (the factorization of
SCIENCE.md 3): their output law is the closed form of ``theory.gaussian`` with lambda = 0, and
KL(q_1 || p_1) = KL(support block) + (d - s) kl_off exactly. kl_off is therefore the exact
slope of the KL in d at fixed s, whatever the data on the support.

Claims (one verdict per setting): ``verify.score_first_order`` (Monte Carlo, Bonferroni),
``verify.score_finite`` (identity: no problem found), ``verify.sampler_matches_data``
(Monte Carlo: at the largest T the MMD^2 to q_1 is at the noise floor), ``verify.off_support_law``
(Monte Carlo: the samplers' off-support moments equal the closed form),
``verify.d_free`` (identity: kl_off = 0, the paper's reading that the KL does not grow with d),
``verify.l1_helps`` (threshold: the l1 denoiser's eps_score^2 below least squares' at the
largest d and smallest n), ``verify.block_law`` (Monte Carlo: the samplers' moments at t0
equal the grid oracle's exact law).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulate import divergences, judge, metrics, samplers, schedules
from simulate.models.base import BlockModel, GaussianModel, as_model
from simulate.oracle import Grid
from simulate.pipeline.seeds import seed_for
from simulate.report import markdown_table

__all__ = [
    "CLAIMS",
    "NAME",
    "Config",
    "VerifyInputError",
    "build_model",
    "cells",
    "load_factory",
    "run_cell",
    "verdicts",
]

NAME = "verify"
CLAIMS = (
    "verify.score_first_order",
    "verify.score_finite",
    "verify.sampler_matches_data",
    "verify.off_support_law",
    "verify.d_free",
    "verify.l1_helps",
    "verify.block_law",
)
#: The ``sweep_value`` column of a battery without a sweep.
NO_SWEEP = "-"
#: Family-wise error of the Monte Carlo comparisons of one battery (Bonferroni over all).
MC_FAMILYWISE = 1e-3
#: The grid oracle compares laws at the first step whose v_t reaches this (its grid, of
#: spacing 0.01, resolves q_t there; v_1 = T^-c0 is far below it on the Li schedule).
ORACLE_V_MIN = 1e-2
#: The oracle's grid: [-10, 10] holds the samplers' mass, spacing 0.01 (tests/test_oracle.py).
ORACLE_GRID_SPEC = (-10.0, 10.0, 2001)
#: |1 - int p| above this means the grid lost the sampler's mass: the oracle is not used.
ORACLE_LOST_MASS = 1e-5
ORACLE_GRID = Grid(*ORACLE_GRID_SPEC)
#: The plane oracle's grid (each axis): [-7, 7] holds N(0, I_2) but 5e-11 of its mass;
#: spacing 0.04 needs C_t >= 0.04 at every step (on the Li schedule: T <= 50; larger T
#: are reported as unresolved).
ORACLE_PLANE_GRID = Grid(-7.0, 7.0, 351)
#: A coordinate-sparse denoiser (the premise of verify.l1_helps): at least this share of its
#: squared mass on s coordinates at every alpha_bar (as in the sparsity experiment).
SPARSE_SHARE = 0.9
#: kl_off per coordinate below this counts as d-free: float64 round-off of the closed form
#: (the same tolerance as ``disc.posterior_ddim_d_free``).
D_FREE_ATOL = 1e-10


class VerifyInputError(ValueError):
    """Bad input to ``regdiff verify``: the CLI prints it and exits with code 2."""


@dataclass(frozen=True)
class Config:
    """The battery's settings (defaults: the full preset).

    The schedule is Li et al.'s with (c0, c1) = (2, 4), so abar_T ~ T^-2 and the start
    N(0, I) is close to q_T: what the samplers leave is their discretization error (with
    c0 = c1 = 4, abar_T stays near 0.8 and the initialization error dominates, SCIENCE.md 3).
    ``target`` is MODULE:FACTORY (a ``.py`` path is stored absolute); ``params`` the keyword
    arguments of the factory; ``sweep_key`` and ``sweep_values`` the swept argument.
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

    @classmethod
    def full(cls, **kw: Any) -> Config:
        return cls(**kw)

    @classmethod
    def quick(cls, **kw: Any) -> Config:
        kw = {"T_grid": (10, 30, 100), "n": 1500, "score_n": 30_000, "est_n_grid": (250, 1000),
              **kw}  # fmt: skip
        return cls(**kw)


# -- the user's model -------------------------------------------------------------------------


def _import_target(module_part: str) -> Any:
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise VerifyInputError(f"module file {module_part!r} not found")
        name = "regdiff_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise VerifyInputError(
                f"importing {module_part!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        return module
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise VerifyInputError(f"module {module_part!r} not found ({exc})") from None


def normalize_target(target: str) -> str:
    """MODULE:FACTORY with a ``.py`` path made absolute (so workers find it from anywhere)."""
    module_part, sep, name = str(target).rpartition(":")
    if not sep or not module_part or not name:
        raise VerifyInputError(
            f"target {target!r} must be MODULE:FACTORY (an importable module or a .py path, "
            "and the name of a callable returning a data model)"
        )
    if module_part.endswith(".py") or "/" in module_part:
        module_part = str(Path(module_part).resolve())
    return f"{module_part}:{name}"


def load_factory(target: str) -> Any:
    """The callable named by MODULE:FACTORY (VerifyInputError when it is not there)."""
    module_part, _, name = normalize_target(target).rpartition(":")
    module = _import_target(module_part)
    factory = getattr(module, name, None)
    if factory is None:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise VerifyInputError(
            f"{module_part!r} has no attribute {name!r}; it has: {', '.join(public[:30])}"
        )
    if not callable(factory):
        raise VerifyInputError(f"{target!r} is not callable (a {type(factory).__name__})")
    return factory


def factory_parameters(factory: Any) -> tuple[list[str], bool]:
    """(names of the factory's keyword parameters, whether it takes **kwargs)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return [], True
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def check_keys(factory: Any, keys: list[str], option: str) -> None:
    """Every key is a parameter of the factory (else VerifyInputError listing them)."""
    names, open_ended = factory_parameters(factory)
    for key in keys:
        if not open_ended and key not in names:
            raise VerifyInputError(
                f"{option}: the factory has no parameter {key!r}; parameters: "
                f"{', '.join(names) or '(none)'}"
            )


def build_model(config: Config, value: Any = None) -> Any:
    """The model of the factory at ``config.params`` (and ``sweep_key=value``), checked."""
    factory = load_factory(config.target)
    kwargs = dict(config.params)
    if config.sweep_key:
        kwargs[config.sweep_key] = value
    try:
        obj = factory(**kwargs)
    except Exception as exc:
        import traceback

        tb = "".join(traceback.format_exception(exc)[-6:])
        raise VerifyInputError(
            f"the factory {config.target} raised {type(exc).__name__} with {kwargs}:\n{tb}"
        ) from exc
    try:
        return as_model(obj)
    except (TypeError, ValueError) as exc:
        raise VerifyInputError(str(exc)) from None


def preflight(model: Any) -> None:
    """Shapes and finite values of the score at a few points (VerifyInputError, naming
    alpha_bar)."""
    x = model.sample(4, 0)
    if x.shape != (4, model.d):
        raise VerifyInputError(f"sample(4) returned shape {x.shape}, expected (4, {model.d})")
    for alpha_bar in (1e-3, 0.5, 0.999):
        try:
            s = model.score(x, alpha_bar)
        except ValueError as exc:
            raise VerifyInputError(f"score at alpha_bar={alpha_bar:g}: {exc}") from None
        if np.shape(s) != x.shape:
            raise VerifyInputError(
                f"score returned shape {np.shape(s)} at alpha_bar={alpha_bar:g}, "
                f"expected {x.shape}"
            )
        if not np.all(np.isfinite(s)):
            raise VerifyInputError(f"score returned non-finite values at alpha_bar={alpha_bar:g}")


def describe(model: Any) -> dict[str, Any]:
    """Name, d, declared intrinsic dimension and support size of a model."""
    support = getattr(model, "support", None)
    return {
        "model": str(getattr(model, "name", type(model).__name__)),
        "d": int(model.d),
        "intrinsic_dim": getattr(model, "intrinsic_dim", None),
        "support_size": None if support is None else int(np.count_nonzero(support)),
        "gaussian": isinstance(model, GaussianModel),
    }


# -- cells -----------------------------------------------------------------------------------


def _values(config: Config) -> tuple[Any, ...]:
    return tuple(config.sweep_values) if config.sweep_key else (None,)


def cells(config: Config) -> list[tuple]:
    """("score", v), ("geometry", v), ("floor", v, T), ("sampler", v, sampler, T),
    ("estimation", v, estimator, n), and ("oracle", v, sampler, T) for product models."""
    out: list[tuple] = []
    for v in _values(config):
        out += [("score", v), ("geometry", v)]
        out += [("floor", v, T) for T in config.T_grid]
        out += [("sampler", v, name, T) for name in config.samplers for T in config.T_grid]
        out += [("estimation", v, e, n) for e in config.estimators for n in config.est_n_grid]
        if _has_blocks(config, v):
            out += [("oracle", v, name, T) for name in config.samplers for T in config.T_grid]
    return out


def _has_blocks(config: Config, value: Any) -> bool:
    """The model is a product of independent blocks (``independent_blocks()``)."""
    return isinstance(build_model(config, value), BlockModel)


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
    model = build_model(config, value)
    base = {"part": kind, "sweep_value": NO_SWEEP if value is None else value, **describe(model)}
    if kind == "score":
        from simulate.score_check import check_score

        result = check_score(model, n=config.score_n, seed=seed_for(NAME, "score", config.seed))
        z = result.table["z"].abs()
        return {
            **base,
            "worst_z": float(z.max()),
            "n_tests": int(z.size),
            "worst_field": str(result.table.loc[z.idxmax(), "field"]),
            "worst_alpha_bar": float(result.table.loc[z.idxmax(), "alpha_bar"]),
            "problems": " | ".join(result.problems),
            "n_problems": len(result.problems),
        }
    if kind == "geometry":
        return _geometry(config, model, base)
    if kind == "estimation":
        return _estimation_row(config, model, base, cell[2], int(cell[3]))
    if kind == "oracle":
        return _oracle_row(config, model, base, cell[2], int(cell[3]))
    T = int(cell[-1])
    sch = schedules.li(T, config.c0, config.c1)
    if kind == "floor":
        rows = []
        for r in range(config.floor_replicates):
            rng = np.random.default_rng(seed_for(NAME, "floor", config.seed, T, r))
            a, b = _x1(model, sch, config.n, rng), _x1(model, sch, config.n, rng)
            rows.append({**base, "T": T, "replicate": r, **_distances(a, b, r)})
        return rows
    return _sampler_row(config, model, base, cell[2], sch)


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


def _estimation_row(config: Config, model: Any, base: dict, name: str, n: int) -> dict:
    """eps_score^2 (SCIENCE.md 1.1) of a fitted estimator, with its support / off-support
    parts: exact for an affine estimate of a Gaussian model, else Monte Carlo."""
    from simulate.estimators import AffineScore
    from simulate.experiments._common import fitted_estimator

    sch = schedules.li(config.est_T, config.c0, config.c1)
    seed = seed_for(NAME, "estimation", config.seed, name, n)
    est = fitted_estimator(name, model, seed, n=n).fit(sch)
    exact = isinstance(est, AffineScore) and isinstance(model, GaussianModel)
    err = metrics.score_error(
        est, model, sch, n_eval=config.est_n_eval, seed=seed, method="exact" if exact else "mc"
    )
    eps2, eps2_se = err.average()
    return {
        **base, "estimator": name, "n_train": n, "T": config.est_T, "eps2": eps2,
        "eps2_se": eps2_se, "eps2_support": err.average("support")[0],
        "eps2_off_support": err.average("off_support")[0], "method": err.method,
    }  # fmt: skip


def early_stop(schedule: schedules.Schedule, v_min: float = ORACLE_V_MIN) -> int:
    """The smallest step t with v_t >= ``v_min``: where the grid oracle compares laws."""
    return int(np.argmax(schedule.v >= v_min)) + 1


def _oracle_row(config: Config, model: Any, base: dict, sampler: str, T: int) -> dict:
    """Exact KL(q_t0 || p_t0) of a block model by the grid oracles, summed over its blocks,
    and the numba sampler's moments at t0 against it (z per group of identical blocks).

    Blocks of one coordinate: first and second moments; of two: the five moments of order
    one and two. A block the oracles cannot resolve (more than two coordinates, a grid too
    coarse for the step noise, a DDIM map that folds) leaves the KL undefined (NaN) and a
    note; its moments are not compared."""
    from simulate import oracle, oracle_plane

    sch = schedules.li(T, config.c0, config.c1)
    t0 = early_stop(sch)
    seed = seed_for(NAME, "oracle", config.seed, sampler, T)
    _, paths = samplers.sample(model, sch, config.n, seed=seed, sampler=sampler, path_steps=[t0])
    y = paths[0]
    row = {**base, "sampler": sampler, "T": T, "t0": t0, "n": config.n,
           "v_t0": float(sch.v[t0 - 1])}  # fmt: skip
    kl, z, worst_lost, notes = 0.0, [], 0.0, []
    groups = model.independent_blocks()
    for g in groups:
        g = np.asarray(g, dtype=np.int64).reshape(len(g), -1)
        if g.size == 0:
            continue
        f = oracle.block_score(model, g[0])
        try:
            if g.shape[1] == 1:
                laws: Any = oracle.block_laws(f, sch, sampler, ORACLE_GRID, t0)
                powers = [(1,), (2,)]
            elif g.shape[1] == 2:
                laws = oracle_plane.plane_laws(f, sch, sampler, ORACLE_PLANE_GRID, t0)
                powers = [(1, 0), (0, 1), (2, 0), (0, 2), (1, 1)]
            else:
                raise ValueError(f"a block of {g.shape[1]} coordinates (the oracles take 1 or 2)")
        except ValueError as exc:
            notes.append(str(exc))
            kl = math.nan
            continue
        kl += len(g) * laws.kl
        worst_lost = max(worst_lost, abs(laws.lost_mass))
        blocks = y[:, g]  # (n, copies, b)
        for k in powers:
            values = np.prod(blocks ** np.asarray(k)[None, None, :], axis=2).ravel()
            se = float(np.std(values, ddof=1)) / math.sqrt(values.size)
            z.append((float(np.mean(values)) - laws.moment(*k)) / se)
    row.update(
        kl_oracle=kl, oracle_lost_mass=worst_lost, oracle_groups=len(groups),
        oracle_worst_z=float(np.max(np.abs(z))) if z else math.nan, oracle_n_z=len(z),
        oracle_notes=" | ".join(dict.fromkeys(notes)),
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
        row.update(
            off_coords=m,
            off_var_exact=c1,
            off_var=float(np.mean(yo * yo)),
            off_var_z=(float(np.mean(yo * yo)) - c1) / (c1 * math.sqrt(2.0 / yo.size)),
            off_mean_z=float(np.mean(yo)) / math.sqrt(c1 / yo.size),
            kl_off_coord=float(exact.kl[0]),
            kl_off_total=float(exact.kl[0]) * m,
        )
    if isinstance(model, GaussianModel):
        from simulate import exact as exact_law

        law = exact_law.output_law(model, sch, sampler)
        row["kl_exact"] = metrics.kl_gaussian(exact_law.target_law(model, sch), law)
    return row


# -- verdicts --------------------------------------------------------------------------------


def _setting(rows: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """Model, d (a range over a sweep) and ``extra``."""
    d = sorted({int(x) for x in rows["d"]})
    out: dict[str, Any] = {"model": rows["model"].iloc[-1]}
    out["d"] = d[0] if len(d) == 1 else f"{d[0]}..{d[-1]}"
    return {**out, **extra}


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """The battery's verdicts, each over the whole sweep (module docstring)."""
    out: list[judge.Verdict] = []
    score = df[df["part"] == "score"]
    if len(score):
        worst = score.loc[score["worst_z"].idxmax()]
        out.append(
            judge.monte_carlo(
                "verify.score_first_order",
                _setting(score),
                z=list(score["worst_z"]),
                n_tests=int(score["n_tests"].sum()),
                familywise=0.01,
                prediction="E[(s_t(X_t) + (X_t - a X_0)/v) . g(X_t)] = 0 for every test field",
                detail=f"worst field {worst['worst_field']} at alpha_bar "
                f"{worst['worst_alpha_bar']:g}, d = {int(worst['d'])}",
            )
        )
        problems = [p for p in score["problems"] if isinstance(p, str) and p]
        out.append(
            judge.identity(
                "verify.score_finite",
                _setting(score),
                measured=float(score["n_problems"].sum()),
                predicted=0.0,
                rtol=0.0,
                prediction="finite scores of the right shape at alpha_bar in [1e-12, "
                "1 - 1e-12]; Tweedie consistency where score and denoiser are both given",
                detail=" | ".join(problems) if problems else "no problem found",
            )
        )
    out += _estimation_verdicts(df[df["part"] == "estimation"], df[df["part"] == "geometry"])
    out += _oracle_verdicts(df[df["part"] == "oracle"])
    samp = df[df["part"] == "sampler"]
    floor = df[df["part"] == "floor"]
    if samp.empty:
        return out
    T_max = int(samp["T"].max())
    n_tests = len(samp) * 3
    for sampler, g in samp.groupby("sampler", sort=False):
        last = g[g["T"] == T_max]
        z, notes = [], []
        for _, row in last.iterrows():
            fl = floor[(floor["T"] == T_max) & (floor["sweep_value"] == row["sweep_value"])]
            fl = fl["mmd2"].to_numpy()
            spread = math.sqrt(row["mmd2_se"] ** 2 + float(np.var(fl, ddof=1)))
            z.append((row["mmd2"] - float(np.mean(fl))) / spread)
            notes.append(
                f"d={int(row['d'])}: MMD^2 {row['mmd2']:.3g} +- {row['mmd2_se']:.2g}, floor "
                f"{np.mean(fl):.3g} +- {np.std(fl, ddof=1):.2g} ({fl.size} replicates)"
            )
        out.append(
            judge.monte_carlo(
                "verify.sampler_matches_data",
                _setting(last, sampler=sampler, T=T_max, n=int(last["n"].iloc[0])),
                z=z,
                n_tests=n_tests,
                familywise=MC_FAMILYWISE,
                prediction="MMD^2(p_1, q_1) at the noise floor of two q_1 samples",
                detail="; ".join(notes),
            )
        )
    if "off_var_z" in samp and samp["off_var_z"].notna().any():
        off = samp.dropna(subset=["off_var_z"])
        for sampler, g in off.groupby("sampler", sort=False):
            out.append(
                judge.monte_carlo(
                    "verify.off_support_law",
                    _setting(g, sampler=sampler, T=f"{int(g['T'].min())}..{T_max}"),
                    z=[*g["off_var_z"], *g["off_mean_z"]],
                    n_tests=n_tests,
                    familywise=MC_FAMILYWISE,
                    prediction="off-support coordinates ~ N(0, c_1), c_1 the closed form of "
                    "theory.gaussian with lambda = 0",
                    detail=f"pooled variance and mean over {int(g['off_coords'].max())} "
                    f"coordinates (largest d), at every T and d",
                )
            )
        for sampler, g in off[off["T"] == T_max].groupby("sampler", sort=False):
            row = g.iloc[-1]
            out.append(
                judge.identity(
                    "verify.d_free",
                    {"model": row["model"], "sampler": sampler, "T": T_max, "init": "N(0,I)"},
                    measured=float(row["kl_off_coord"]),
                    predicted=0.0,
                    rtol=0.0,
                    atol=D_FREE_ATOL,
                    prediction="KL does not grow with d at fixed s: the exact KL per added "
                    f"pure-noise coordinate is 0 (to {D_FREE_ATOL:g})",
                    detail="exact (closed form, lambda = 0); at d = "
                    f"{int(row['d'])} the off-support part of the KL is {row['kl_off_total']:.4g}",
                )
            )
    return out


def _oracle_verdicts(orc: pd.DataFrame) -> list[judge.Verdict]:
    """verify.block_law: the numba samplers' moments at t0 equal the grid oracle's, per
    sampler over the sweep and the T grid (Bonferroni over every z)."""
    out: list[judge.Verdict] = []
    if orc.empty:
        return out
    n_tests = int(orc["oracle_n_z"].sum())
    for sampler, g in orc.groupby("sampler", sort=False):
        usable = g[(g["oracle_lost_mass"] <= ORACLE_LOST_MASS) & g["kl_oracle"].notna()]
        setting = _setting(g, sampler=sampler, T=f"{int(g['T'].min())}..{int(g['T'].max())}")
        prediction = (
            "sampler moments at t0 = the grid oracle's exact law (blocks of 1 or 2 coordinates)"
        )
        if usable.empty:
            out.append(
                judge.not_applicable(
                    "verify.block_law", setting, "monte_carlo", prediction,
                    "the grid does not resolve this model's laws (lost mass or a folded map)",
                )
            )
            continue
        last = usable.iloc[-1]
        out.append(
            judge.monte_carlo(
                "verify.block_law",
                setting,
                z=list(usable["oracle_worst_z"]),
                n_tests=n_tests,
                familywise=MC_FAMILYWISE,
                prediction=prediction,
                detail=f"exact KL(q_t0 || p_t0) = {last['kl_oracle']:.4g} at d = "
                f"{int(last['d'])}, T = {int(last['T'])}, t0 = {int(last['t0'])} "
                f"(v_t0 = {last['v_t0']:.3g}); {len(g) - len(usable)} cell(s) unresolved",
            )
        )
    return out


def _estimation_verdicts(est: pd.DataFrame, geometry: pd.DataFrame) -> list[judge.Verdict]:
    """verify.l1_helps: eps^2(l1, denoiser) / eps^2(least squares) below 1 at the largest d
    and the smallest n of the battery (a 95% delta-method interval from the SEs).

    Its premise is a coordinate-sparse denoiser, read from the battery's own geometry cells:
    a top-s share of at least ``SPARSE_SHARE`` at every alpha_bar with s < d / 2; otherwise
    the claim is not applicable (rotated data, a random support at high noise, s ~ d).
    """
    if est.empty or not {"ls", "l1_denoiser"} <= set(est["estimator"]):
        return []
    d_max = est["d"].max()
    at = est[est["d"] == d_max]
    at = at[at["n_train"] == at["n_train"].min()]
    ls = at[at["estimator"] == "ls"].iloc[0]
    l1 = at[at["estimator"] == "l1_denoiser"].iloc[0]
    setting = _setting(at, n=int(ls["n_train"]), T=int(ls["T"]))
    prediction = "eps^2(l1, denoiser) / eps^2(least squares) < 1"
    geo = geometry[geometry["d"] == d_max]
    if len(geo):
        share, s_used = float(geo["denoiser_top_share"].min()), int(geo["s_used"].iloc[0])
        if share < SPARSE_SHARE or 2 * s_used >= d_max:
            return [
                judge.not_applicable(
                    "verify.l1_helps",
                    setting,
                    "threshold",
                    prediction,
                    f"the denoiser is not coordinate-sparse here: top-{s_used} share "
                    f"{share:.3g} (< {SPARSE_SHARE} needed) or s = {s_used} >= d / 2 = "
                    f"{d_max / 2:g}",
                )
            ]
    ratio = l1["eps2"] / ls["eps2"]
    rel = math.hypot(l1["eps2_se"] / l1["eps2"], ls["eps2_se"] / ls["eps2"])
    half = 1.96 * ratio * rel
    return [
        judge.threshold(
            "verify.l1_helps",
            setting,
            estimate=ratio,
            low=ratio - half,
            high=ratio + half,
            threshold=1.0,
            side="below",
            prediction=prediction,
            detail=f"eps^2: l1 {l1['eps2']:.4g} +- {l1['eps2_se']:.2g}, least squares "
            f"{ls['eps2']:.4g} +- {ls['eps2_se']:.2g} ({ls['method']})",
        )
    ]


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """Every cell in this process (the experiments' contract)."""
    from simulate.pipeline.cells import run_in_process

    return run_in_process(sys.modules[__name__], config, progress)


def with_target(config: Config, target: str, **changes: Any) -> Config:
    """``config`` for another target (normalized) and settings."""
    return dataclasses.replace(config, target=normalize_target(target), **changes)


# -- the command -------------------------------------------------------------------------------


def _tables(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    score = df[df["part"] == "score"]
    if len(score):
        out["Score checks"] = markdown_table(
            score, ["sweep_value", "d", "worst_z", "n_tests", "worst_field", "worst_alpha_bar",
                    "problems"]
        )
    geo = df[df["part"] == "geometry"]
    if len(geo):
        out["Intrinsic dimension and sparsity"] = markdown_table(
            geo, ["sweep_value", "d", "id_twonn", "id_mle", "s_used", "alpha_bar",
                  "score_eff_frac", "score_top_share", "denoiser_top_share"]
        )
    est = df[df["part"] == "estimation"]
    if len(est):
        out["Estimated scores"] = markdown_table(
            est, ["sweep_value", "d", "estimator", "n_train", "eps2", "eps2_se", "eps2_support",
                  "eps2_off_support", "method"]
        )
    orc = df[df["part"] == "oracle"]
    if len(orc):
        out["Exact laws of the coordinates (grid oracle, at the early-stopping step t0)"] = (
            markdown_table(orc, ["sweep_value", "d", "sampler", "T", "t0", "v_t0", "kl_oracle",
                            "oracle_lost_mass", "oracle_worst_z", "oracle_notes"])
        )
    samp = df[df["part"] == "sampler"]
    if len(samp):
        floor = df[df["part"] == "floor"].groupby(["sweep_value", "T"])["mmd2"]
        means = floor.mean().rename("floor_mmd2").reset_index()
        samp = samp.merge(means, on=["sweep_value", "T"], how="left")
        out["Samplers with the exact score"] = markdown_table(
            samp, ["sweep_value", "d", "sampler", "T", "mmd2", "mmd2_se", "floor_mmd2",
                   "energy", "sliced_w2", "off_var", "off_var_exact", "kl_off_coord",
                   "kl_off_total", "kl_exact"]
        )
    return out


def run_battery(
    config: Config,
    out: Path,
    executor: Any,
    cache: Any,
    *,
    command: str,
    threads: int = 1,
    progress: bool = False,
) -> tuple[list[judge.Verdict], int]:
    """Check the input, run the battery's cells, write DIR/REPORT.md, DIR/data/*.csv and
    DIR/verify.png atomically; returns (verdicts, exit code).

    Bad input raises VerifyInputError before anything is written. A score that fails its
    checks stops the battery after the score cells (exit code 1, the report says what
    failed); a failed cell gives exit code 1 as well.
    """
    import os
    import shutil
    import tempfile

    from simulate import plotting, report
    from simulate.experiments._common import code_version
    from simulate.pipeline.cells import assemble, run_tasks, tasks_for

    factory = load_factory(config.target)
    check_keys(factory, [k for k, _ in config.params], "--set")
    if config.sweep_key:
        check_keys(factory, [config.sweep_key], "--sweep")
    models = [build_model(config, v) for v in _values(config)]
    for model in models:
        preflight(model)
    module = sys.modules[__name__]
    tasks = tasks_for(module, config)
    first = [t for t in tasks if t.cell[0] == "score"]
    outcomes = run_tasks(first, executor, cache, threads=threads, progress=progress)
    df, failed = assemble(outcomes)
    found = verdicts(df) if not failed else []
    stop = bool(failed) or any(v.verdict != "holds" for v in found)
    if not stop:
        rest = [t for t in tasks if t.cell[0] != "score"]
        outcomes += run_tasks(rest, executor, cache, threads=threads, progress=progress)
        df, failed = assemble(outcomes)
        found = verdicts(df) if not failed else []
    if failed:
        found += [
            judge.cell_failed(
                claim, {"cell": repr(f.task.cell)}, "identity", f.error.splitlines()[0]
            )
            for f in failed[:1]
            for claim in CLAIMS
        ]
    description = {
        "factory": config.target,
        "arguments": dict(config.params) or "(defaults)",
        **({"sweep": f"{config.sweep_key} in {list(config.sweep_values)}"}
           if config.sweep_key else {}),
        **describe(models[-1]),
    }
    if stop and not failed:
        description["battery"] = "stopped after the score checks: the score failed them"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out.parent))
    try:
        (staging / "data").mkdir()
        for part, table in df.groupby("part", sort=False):
            table.dropna(axis=1, how="all").to_csv(staging / "data" / f"{part}.csv", index=False)
        pd.DataFrame([v.as_row() for v in found]).to_csv(
            staging / "data" / "verdicts.csv", index=False
        )
        figures = []
        if (df["part"] == "sampler").any():
            fig = plotting.plot_verify(df)
            fig.savefig(staging / "verify.png")
            figures.append("verify.png")
        text = report.render_verify_report(
            command, description, found, code_version(), _tables(df), figures
        )
        (staging / "REPORT.md").write_text(text)
        (out / "data").mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                os.replace(path, out / path.relative_to(staging))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    bad = stop or any(v.verdict == "inconclusive" and v.reason == "cell_failed" for v in found)
    return found, 1 if bad else 0
