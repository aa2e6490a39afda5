"""diffusers' schedulers on the CIFAR-10 Gaussian: exact W2 and KL by probing (issue 28).

Each cell wraps one scheduler of ``simulate.diffusers_adapter.SCHEDULERS`` at one number of
inference steps N and probes its exact output law on Gaussian data (``simulate.outside``):

- ``cifar10``: N(0, diag(lam)), lam the 3072 eigenvalues of the CIFAR-10 covariance
  (``simulate/data``; nine are 0, so KL to the data law is infinite): W2 to the data law q_0,
  and KL(q_l || p_l) and W2 at the scheduler's last noise level l (its state before its last
  step; both laws have densities there);
- ``aligned``: s unit eigenvalues and d - s zeros (aligned sparse data): the same numbers at
  several d. Coordinates are independent, so W2^2 and KL are exactly affine in d - s; the
  slope per added coordinate (``w2sq_per_coordinate``, ``kl_per_coordinate``) says whether
  the error is free of d (slope 0: an x0-prediction's last step returns exactly 0 on
  pure-noise coordinates, so W2 to q_0 is trivially d-free; at the last level it is not).

The measured order is the local exponent of W2 in NFE between consecutive grid points
(``judge.local_exponents``), with where it settles, and an OLS fit of log W2 on log NFE over
the last three points with its 95% interval (``stats.fit_power_law``); the documented order
is ``diffusers_adapter.DOCUMENTED_ORDER``.

Needs the extra (``pip install -e ".[diffusers]"``); without it ``regdiff figures`` keeps the
committed table (``available``). Notation: N -> num_inference_steps; nfe -> model calls.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulate import judge
from simulate.diffusers_adapter import DOCUMENTED_ORDER, float32_rtol, scheduler_sampler
from simulate.exact import coordinate_law
from simulate.experiments.gaussian_schemes import DATA_FILE
from simulate.outside import probe_law, verify_sampler
from simulate.pipeline.cells import run_in_process
from simulate.stats import fit_power_law

NAME = "diffusers_schedulers"
CLAIMS: tuple[str, ...] = ("diffusers.ddpm_ddim_equal_ours", "diffusers.documented_order")
#: diffusers' scheduler -> our sampler it implements (issue 28: DDPM with Ho's posterior
#: variance, DDIM with eta = 0).
OURS = {"DDPM": "ddpm_posterior", "DDIM": "ddim"}
#: Resolution of the order claim, in the exponent of NFE: 0.1 is a factor 10^0.1 = 1.26 in W2
#: per decade of NFE, below the gap between consecutive orders (1) the claim is about;
#: the asymptote has settled when the last two local exponents differ by at most it.
ORDER_TOL = 0.1
#: What to install when the extra is missing.
EXTRA = 'pip install -e ".[diffusers]"'
ALL_SCHEDULERS: tuple[str, ...] = (
    "DDPM", "DDIM", "DPMSolverMultistep-1", "DPMSolverMultistep-2", "DPMSolverMultistep-3",
    "DPMSolverSinglestep", "UniPCMultistep", "EulerDiscrete", "EulerAncestralDiscrete",
    "HeunDiscrete", "LMSDiscrete", "DEISMultistep",
)  # fmt: skip
#: A pure-noise coordinate's KL at the last level below this is float32 round-off, not a
#: slope in d: a relative variance error e gives KL ~ e^2 / 4, and the float32 probe's e stays
#: below 2e-4 over <= 1000 steps (measured <= 4e-5 against our float64 laws), so 1e-8.
KL_ROUNDOFF = 1e-8
#: The schedulers of the table that draw noise in ``step`` (default configuration).
STOCHASTIC = ("DDPM", "EulerAncestralDiscrete")
#: Points of the order fit: the last three NFE of the grid.
FIT_POINTS = 3


def available() -> bool:
    """True when diffusers and torch are importable (the extra is installed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("diffusers", "torch"))


@dataclass(frozen=True)
class Config:
    """Schedulers, the NFE grid on CIFAR-10, the aligned d sweep (defaults: full)."""

    schedulers: tuple[str, ...] = ALL_SCHEDULERS
    nfe_grid: tuple[int, ...] = (5, 10, 20, 50, 100, 250, 1000)
    aligned_d: tuple[int, ...] = (64, 512, 4096)
    aligned_s: int = 8
    aligned_nfe: int = 50
    match_steps: tuple[int, ...] = (10, 50, 250, 1000)
    #: The probe of a scheduler that draws noise has K + 2 rows for K draws, so its cost is
    #: O(NFE^2 d): DDPM at NFE 1000 on d = 3072 takes ~10 min per probe on one core, at 250
    #: about 4 min, at 100 about 10 s. Such schedulers (``STOCHASTIC``) stop at this NFE (an
    #: adjoint probe, one backward pass for all K draws, would lift it: not built).
    stochastic_max_nfe: int = 100
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(nfe_grid=(5, 10, 20, 50), aligned_d=(64, 512), match_steps=(10, 50))

    @classmethod
    def full(cls) -> Config:
        return cls()


def steps_for(scheduler: str, nfe: int) -> int:
    """Inference steps N giving about ``nfe`` model calls: Heun spends 2N - 1, others N."""
    return max(2, (nfe + 1) // 2) if scheduler == "HeunDiscrete" else int(nfe)


def cells(config: Config) -> list[tuple]:
    """(scheduler, data, d, target nfe) for the CIFAR-10 grid (stochastic schedulers up to
    ``stochastic_max_nfe``), the aligned d sweep, and the match against ours."""
    out: list[tuple] = [
        (s, "cifar10", 3072, n) for s in config.schedulers for n in config.nfe_grid
        if s not in STOCHASTIC or n <= config.stochastic_max_nfe
    ]  # fmt: skip
    out += [(s, "aligned", d, config.aligned_nfe) for s in config.schedulers
            for d in config.aligned_d]  # fmt: skip
    out += [(s, "match", 3072, n) for s in OURS if s in config.schedulers
            for n in config.match_steps
            if s not in STOCHASTIC or n <= config.stochastic_max_nfe]  # fmt: skip
    return out


def eigenvalues(data: str, d: int, s: int) -> np.ndarray:
    """lam of ``data``: CIFAR-10's (negative zeros as 0) or s ones and d - s zeros."""
    if data in ("cifar10", "match"):
        return np.maximum(np.load(DATA_FILE).astype(np.float64), 0.0)
    if data != "aligned" or not (1 <= s <= d):
        raise ValueError(f"data={data!r} (allowed: cifar10, aligned), s={s} in [1, d={d}]")
    return np.concatenate([np.ones(s), np.zeros(d - s)])


def run_cell(config: Config, cell: tuple) -> dict:
    """One scheduler at one N on one data law: the exact W2 / KL (module docstring)."""
    scheduler, data, d, nfe = cell
    lam = eigenvalues(data, int(d), config.aligned_s)
    if data == "match":
        return _match(scheduler, lam, int(nfe), config.seed)
    start = time.perf_counter()
    sampler = scheduler_sampler(scheduler, steps_for(scheduler, int(nfe)))
    duplicates = int(len(sampler.timesteps) - len(np.unique(sampler.timesteps)))
    try:
        report = verify_sampler(sampler, lam, seed=config.seed)
    except ValueError as exc:
        if "non-finite" not in str(exc):
            raise
        # a finding about the scheduler, not a failed cell: e.g. diffusers' multistep solvers
        # at 1000 steps of a 1000-step training grid round two timesteps to the same integer
        # (``duplicate_timesteps``), their step size h is 0 and 0/0 gives NaN
        return {"scheduler": scheduler, "data": data, "d": int(d), "nfe_target": int(nfe),
                "num_inference_steps": sampler.num_inference_steps, "nfe": sampler.nfe,
                "exact": False, "w2_data": np.nan, "kl_last": np.nan, "w2_last": np.nan,
                "duplicate_timesteps": duplicates, "error": str(exc),
                "documented_order": DOCUMENTED_ORDER.get(scheduler, np.nan),
                "seed": config.seed, "seconds": time.perf_counter() - start}  # fmt: skip
    seconds = time.perf_counter() - start
    rows = report.table.set_index("against")
    row: dict[str, Any] = {
        "scheduler": scheduler, "data": data, "d": int(d), "nfe_target": int(nfe),
        "s": config.aligned_s if data == "aligned" else int(np.sum(lam > 0)),
        "num_inference_steps": sampler.num_inference_steps,
        "nfe": int(report.probed.nfe), "noise_calls": report.probed.noise_calls,
        "exact": report.passed, "affine_error": report.probed.affine_error,
        "w2_data": float(rows.loc["data", "w2"]),
        "last_alpha_bar": float(rows.loc["last level", "alpha_bar"]),
        "w2_last": float(rows.loc["last level", "w2"]),
        "kl_last": float(rows.loc["last level", "kl"]),
        "documented_order": DOCUMENTED_ORDER.get(scheduler, np.nan),
        "duplicate_timesteps": duplicates, "error": "",
        "seed": config.seed, "seconds": seconds,
    }  # fmt: skip
    if data == "aligned":
        # coordinates are independent: W2^2 and KL split per coordinate, so the value on one
        # pure-noise coordinate is the exact slope in d (lam = 0 law of this very probe)
        zero = _per_coordinate(sampler, config.seed)
        row |= zero | {"d_free_last_level": zero["kl_per_coordinate"] <= KL_ROUNDOFF,
                       "d_free_data": zero["w2sq_per_coordinate"] <= KL_ROUNDOFF}  # fmt: skip
    return row


def _match(scheduler: str, lam: np.ndarray, steps: int, seed: int) -> dict[str, Any]:
    """diffusers' DDPM / DDIM against our ``OURS[scheduler]`` on the same abar grid: the
    largest relative difference of the last-level variances (Ho et al. 2020 eq. 7; Song et
    al. 2021 eq. 12 with eta = 0), and the tolerance ``float32_rtol(steps)``."""
    sampler = scheduler_sampler(scheduler, steps)
    probed = probe_law(sampler.at_last_level(), lam, seed=seed)
    ref = coordinate_law(lam, np.zeros_like(lam), sampler.our_schedule(), OURS[scheduler])
    error = np.inf
    if probed.law is not None:
        error = float(np.max(np.abs(probed.law.variances - ref.variances) / ref.variances))
        error = max(error, float(np.max(np.abs(probed.law.mean))))
    return {"scheduler": scheduler, "data": "match", "d": lam.size, "nfe_target": steps,
            "num_inference_steps": steps, "nfe": probed.nfe, "ours": OURS[scheduler],
            "match_error": error, "match_tolerance": float32_rtol(steps), "seed": seed}  # fmt: skip


def _per_coordinate(sampler: Any, seed: int) -> dict[str, float]:
    """W2^2 to q_0 and KL at the last level of one pure-noise coordinate (lam = 0)."""
    one = verify_sampler(sampler, np.zeros(1), seed=seed).table.set_index("against")
    return {
        "w2sq_per_coordinate": float(one.loc["data", "w2"]) ** 2,
        "kl_per_coordinate": float(one.loc["last level", "kl"]),
    }


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """All cells of ``config`` as a tidy table (one row per cell)."""
    return run_in_process(sys.modules[__name__], config, progress)


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """``diffusers.ddpm_ddim_equal_ours``: an identity per (scheduler, N) at the float32
    tolerance; ``diffusers.documented_order``: per scheduler, W2 to q_0 = O(NFE^-p) with p
    the documented order, judged on the local exponent where it settles
    (``judge.asymptotic``, upper, ``ORDER_TOL``)."""
    out: list[judge.Verdict] = []
    if df.empty:
        return out
    for row in df[df["data"] == "match"].itertuples():
        out.append(judge.identity(
            "diffusers.ddpm_ddim_equal_ours",
            {"scheduler": row.scheduler, "ours": row.ours, "steps": int(row.nfe_target),
             "data": "CIFAR-10 Gaussian"},
            measured=float(row.match_error), predicted=0.0, rtol=0.0,
            atol=float(row.match_tolerance),
            prediction=f"diffusers' {row.scheduler} = our {row.ours} on its abar grid "
            "(last-level variances, relative)",
        ))  # fmt: skip
    cifar = df[df["data"] == "cifar10"]
    for name, g in cifar.groupby("scheduler", sort=False):
        g = g[np.isfinite(g["w2_data"])].sort_values("nfe")
        p = float(g["documented_order"].iloc[0]) if len(g) else np.nan
        if len(g) < 3 or not np.all(g["w2_data"] > 0):
            continue
        out.append(judge.asymptotic(
            "diffusers.documented_order",
            {"scheduler": name, "data": "CIFAR-10 Gaussian", "nfe_max": int(g["nfe"].max())},
            x=g["nfe"].to_numpy(float), y=g["w2_data"].to_numpy(float), predicted=-p,
            prediction=f"W2 to the data law = O(NFE^-{p:g}) (documented order {p:g})",
            upper=True, settle_tol=ORDER_TOL, exponent_tol=ORDER_TOL,
        ))  # fmt: skip
    return out


def orders(df: pd.DataFrame) -> pd.DataFrame:
    """Per scheduler on CIFAR-10: local exponents of W2 (to q_0) and of KL at the last level
    in NFE, the last one, and the fit over the last ``FIT_POINTS`` NFE with its interval.
    Order p means W2 ~ NFE^-p, so the order is minus the exponent."""
    out = []
    cifar = df[df["data"] == "cifar10"]
    for name, g in cifar.groupby("scheduler", sort=False):
        g = g[np.isfinite(g["w2_data"])].sort_values("nfe")
        nfe, w2, kl = g["nfe"].to_numpy(float), g["w2_data"].to_numpy(), g["kl_last"].to_numpy()
        row: dict[str, Any] = {"scheduler": name, "documented_order": g["documented_order"].iloc[0]}
        if len(g) >= 3 and np.all(w2 > 0):
            q = -judge.local_exponents(nfe, w2)
            row["w2_local_orders"] = ", ".join(f"{v:.2f}" for v in q)
            fit = fit_power_law(nfe[-FIT_POINTS:], w2[-FIT_POINTS:])
            row |= {"w2_order_fit": -fit.slope, "w2_order_low": -fit.ci_high,
                    "w2_order_high": -fit.ci_low}  # fmt: skip
        if len(g) >= 3 and np.all(kl > 0) and np.all(np.isfinite(kl)):
            # KL ~ W2^2 near equality: order in NFE of sqrt(KL)
            q = -0.5 * judge.local_exponents(nfe, kl)
            row["sqrt_kl_last_local_orders"] = ", ".join(f"{v:.2f}" for v in q)
        out.append(row)
    return pd.DataFrame(out)


def report_section(df: pd.DataFrame) -> str:
    """The table of W2 / KL by scheduler and NFE, the orders, and the aligned d-dependence."""
    cifar = df[df["data"] == "cifar10"]
    lines = ["### diffusers' schedulers on the CIFAR-10 Gaussian (exact, by probing)", ""]
    if cifar.empty:
        return "\n".join(lines + ["(no CIFAR-10 cells)"])
    w2 = cifar.pivot_table(index="scheduler", columns="nfe_target", values="w2_data", sort=False)
    lines += ["W2 to the data law, by NFE:", "", _markdown(w2, "{:.3g}"), ""]
    kl = cifar.pivot_table(index="scheduler", columns="nfe_target", values="kl_last", sort=False)
    lines += ["KL(q || p) at the scheduler's last noise level, by NFE:", "",
              _markdown(kl, "{:.3g}"), ""]  # fmt: skip
    lines += ["Measured order (W2 ~ NFE^-p; fit over the last three NFE, 95% interval):", "",
              _flat_markdown(orders(df)), ""]  # fmt: skip
    match = df[df["data"] == "match"] if "data" in df else df
    if not match.empty:
        lines += ["diffusers' DDPM / DDIM against ours on the same abar grid (largest relative "
                  "difference of the last-level variances):", "",
                  _flat_markdown(match[["scheduler", "ours", "nfe_target", "match_error",
                                        "match_tolerance"]]), ""]  # fmt: skip
    broken = cifar[~np.isfinite(cifar["w2_data"])]
    if not broken.empty:
        lines += ["Non-finite output (the scheduler returned NaN; its W2 is left out of the "
                  "orders):", "", _flat_markdown(broken[["scheduler", "nfe_target",
                  "duplicate_timesteps", "error"]]), ""]  # fmt: skip
    aligned = df[df["data"] == "aligned"]
    if not aligned.empty:
        cols = ["scheduler", "d", "w2_data", "kl_last", "w2sq_per_coordinate", "kl_per_coordinate",
                "d_free_data", "d_free_last_level"]
        lines += ["Aligned sparse data (s = 8 unit eigenvalues, d - s zeros; NFE 50): the "
                  "exact slope per added coordinate (0: free of d):", "",
                  _flat_markdown(aligned[cols]), ""]  # fmt: skip
    return "\n".join(lines)


def _markdown(table: pd.DataFrame, fmt: str) -> str:
    head = "| scheduler | " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "---|" * (len(table.columns) + 1)
    body = [f"| {i} | " + " | ".join(fmt.format(v) for v in r) + " |" for i, r in table.iterrows()]
    return "\n".join([head, rule, *body])


def _flat_markdown(table: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float | np.floating) else str(v)

    head = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(cell(v) for v in r) + " |" for r in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])
