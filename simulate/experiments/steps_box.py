"""Steps to accuracy on non-Gaussian data, by the exact grid oracle: T*(epsilon) against s and
d for data whose s signal coordinates are uniform on [-1, 1] (issue 12, item 6, "where the
exact non-Gaussian oracle applies").

Data: X_0 = (U_1, ..., U_s, 0, ..., 0), U_i iid uniform on [-1, 1] (``models.Box(d, s)``: a
compact support, a score with edges, no Gaussian closed form), and as the control the same
with U_i ~ N(0, 1/3) (the same variance). With the exact score every sampler acts on each
coordinate alone, so

    KL(q_t0 || p_t0)(s, d, T) = s k_signal(T) + (d - s) k_noise(T),

k_signal and k_noise the KL of one signal and one pure-noise coordinate, each computed by
the grid oracle of one-dimensional blocks (``simulate.oracle.block_laws``: quadrature on
``grid``, no Monte Carlo; its grid error is measured in ``tests/test_oracle.py``). The laws
are compared at the early stop t0, the first step with v_t >= ``v_min`` (the uniform law
has no density at v = 0 that a grid resolves; ``simulate.verify`` stops at the same level),
from Y_T ~ N(0, I). T* is found by doubling from ``T_min`` and bisection
(``steps_to_accuracy.steps_to_accuracy``) to within ``rtol`` (2%), every T evaluated by the
oracle.

Samplers: the discrete ones on li(T, c0, c1). Claims: ``steps.box_s_exponent`` (T* = O(s^2)
at fixed d and with d = s, upper-bound rate) and ``steps.box_d_free`` (T* does not move with d
at fixed s: the slope is the pure-noise coordinate's KL at t0 in closed form,
``noise_coordinate_kl``), judged per (sampler, signal) as in ``steps_to_accuracy``. T* here is
the doubling-and-bisection crossing to ``rtol`` (``T_star``), neither proved the smallest nor
stable: each oracle evaluation costs T steps, too many for the scan of ``steps_to_accuracy``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache

import pandas as pd

import numpy as np

from simulate import judge, models, oracle, samplers, schedules
from simulate.experiments.steps_to_accuracy import (
    DISCRETE,
    check_sweeps,
    steps_to_accuracy,
    sweep_verdicts,
)
from simulate.pipeline.cells import run_in_process
from simulate.report import markdown_table

NAME = "steps_box"

SIGNALS: tuple[str, ...] = ("box", "gaussian")
#: Variance of a coordinate uniform on [-1, 1]: the Gaussian control's.
BOX_VARIANCE = 1.0 / 3.0


@dataclass(frozen=True)
class Config:
    """The sweeps (defaults: the full setting)."""

    epsilon: float = 0.01
    signals: tuple[str, ...] = SIGNALS
    #: ddpm_beta is left out of the full setting: its pure-noise coordinate is the same law as
    #: in ``steps_to_accuracy`` (whose exact path measures its d-dependence to T = 65536), and
    #: its T* ~ 1000-1700 here cost 86 of this experiment's 111 CPU-s (measured).
    samplers: tuple[str, ...] = ("ddpm_posterior", "ddim")
    s_values: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    d_for_s: int = 64
    s_full_values: tuple[int, ...] = (2, 8, 32, 128)
    d_values: tuple[int, ...] = (8, 16, 32, 64, 128)
    s_for_d: int = 4
    #: The laws are compared at the first step with v_t >= v_min.
    v_min: float = 0.01
    c0: float = 2.0
    c1: float = 4.0
    T_min: int = 10
    #: li(T) with T > 2048 has a step noise C_t below the grid's spacing before t0 (the
    #: oracle refuses it): a finer grid would cost 4x per step.
    T_max: int = 1 << 11
    #: The oracle's grid (lo, hi, nodes): spacing 0.01, as ``simulate.verify``'s, on [-8, 8]
    #: (the mass of N(0, 1) beyond 8 is 1e-15; ``lost_mass`` reports what left the grid).
    grid: tuple[float, float, int] = (-8.0, 8.0, 1601)
    #: T* is found to this relative resolution (bisection stops within it; each T costs T
    #: oracle steps).
    rtol: float = 0.02

    @classmethod
    def quick(cls) -> Config:
        return cls(
            samplers=("ddpm_posterior",), signals=("box",), s_values=(1, 2, 4), d_for_s=8,
            s_full_values=(1, 2, 4), d_values=(4, 8, 16), T_max=1 << 8,
        )  # fmt: skip

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if not self.epsilon > 0:
            raise ValueError(f"epsilon={self.epsilon} is out of range; allowed: real > 0")
        if not 0.0 <= self.rtol < 0.5:
            raise ValueError(f"rtol={self.rtol} is out of range; allowed: [0, 0.5)")
        if not 0.0 < self.v_min < 1.0:
            raise ValueError(f"v_min={self.v_min} is out of range; allowed: (0, 1)")
        check_sweeps(self.s_values, self.d_for_s, self.d_values, self.s_for_d, self.s_full_values)
        for name, given, allowed in (
            ("signals", self.signals, SIGNALS), ("samplers", self.samplers, DISCRETE)
        ):  # fmt: skip
            unknown = set(given) - set(allowed)
            if unknown:
                raise ValueError(
                    f"unknown {name} {sorted(unknown)}; allowed: {', '.join(allowed)}"
                )
        if self.T_min < 10 or self.T_max < 2 * self.T_min:
            raise ValueError(
                f"T_min={self.T_min}, T_max={self.T_max}: need T_min >= 10 (the li schedule) "
                "and T_max >= 2 T_min"
            )


@cache
def _block_model(signal: str) -> models.DataModel:
    """Two coordinates: coordinate 0 a signal coordinate, coordinate 1 a pure-noise one."""
    if signal == "box":
        return models.Box(2, 1)
    return models.SubspaceGaussian(2, 1, cov=[BOX_VARIANCE])


def _block_kl(config: Config, sampler: str, model, coordinate: int, T: int) -> tuple:
    """(KL, lost mass, t0, v_t0) of one coordinate block at the early stop of li(T)."""
    from simulate.verify import early_stop

    sch = schedules.li(T, config.c0, config.c1)
    t0 = early_stop(sch, config.v_min)
    f = oracle.coordinate_score(model, coordinate)
    laws = oracle.block_laws(f, sch, sampler, oracle.Grid(*config.grid), t0)
    return laws.kl, abs(laws.lost_mass), t0, float(sch.v[t0 - 1])


def noise_coordinate_kl(config: Config, sampler: str, T: int) -> float:
    """Exact KL(q_t0 || p_t0) of one pure-noise coordinate (data 0 there, whatever the signal
    coordinates hold), in closed form: with the exact score -y / v_t every step is
    y <- (A_t - B_t / v_t) y + C_t Z (``samplers.coefficients``), so from Y_T ~ N(0, 1) the
    variance composes as c <- (A_t - B_t / v_t)^2 c + C_t^2 for t = T, ..., t0 + 1 (the steps
    ``oracle.block_laws`` applies), and with r = c / v_t0 and x = r - 1,
    KL = (x - log(1 + x)) / 2 (SCIENCE.md 3, lambda = 0). This is the exact slope of the KL
    in d at fixed s, which the grid oracle resolves only to its quadrature error (~1e-13)."""
    from simulate.verify import early_stop

    sch = schedules.li(T, config.c0, config.c1)
    t0 = early_stop(sch, config.v_min)
    coef = samplers.coefficients(sch, sampler)
    v = np.asarray(sch.v, dtype=np.float64)
    c = 1.0
    for t in range(T, t0, -1):
        m = coef.A[t - 1] - coef.B[t - 1] / v[t - 1]
        c = m * m * c + coef.C[t - 1] ** 2
    x = (c - v[t0 - 1]) / v[t0 - 1]
    if abs(x) < 1e-4:  # the series: x - log1p(x) would lose the leading x^2 / 2 to round-off
        return 0.5 * (x * x / 2.0 - x**3 / 3.0 + x**4 / 4.0)
    return 0.5 * (x - math.log1p(x))


def cells(config: Config) -> list[tuple]:
    """One cell per sampler: its signals share the pure-noise coordinate's KL curve."""
    return [(sampler,) for sampler in config.samplers]


def run_cell(config: Config, cell: tuple) -> list[dict]:
    (sampler,) = cell
    memo: dict[tuple[str, int], tuple] = {}

    def block(kind: str, T: int) -> tuple:
        if (kind, T) not in memo:
            model = _block_model("box" if kind == "noise" else kind)
            memo[kind, T] = _block_kl(config, sampler, model, int(kind == "noise"), T)
        return memo[kind, T]

    sweeps = [("s", s, config.d_for_s) for s in config.s_values]
    sweeps += [("s_full", s, s) for s in config.s_full_values]
    sweeps += [("d", config.s_for_d, d) for d in config.d_values]
    rows = []
    for signal in config.signals:
        for sweep, s, d in sweeps:

            def total(T: int, s: int = s, d: int = d, signal: str = signal) -> float:
                noise = block("noise", T)[0] if d > s else 0.0
                return s * block(signal, T)[0] + (d - s) * noise

            T_star, kl_star, checked = steps_to_accuracy(
                total, config.epsilon, config.T_min, config.T_max, config.rtol
            )
            row = {
                "sampler": sampler, "signal": signal, "sweep": sweep, "s": s, "d": d,
                "epsilon": config.epsilon, "v_min": config.v_min, "init": "normal",
                "T_star": T_star, "kl_at_T_star": kl_star, "rtol": config.rtol,
                "k_signal": math.nan, "k_noise": math.nan, "k_noise_exact": math.nan,
                "t0": math.nan, "v_t0": math.nan,
                "lost_mass": math.nan, "bisection_checked": checked,
                # T* = T_min only says T* <= T_min (censored): left out of the fits
                "at_floor": bool(T_star == config.T_min), "T_max": config.T_max,
            }  # fmt: skip
            if math.isfinite(T_star):
                k1, lost1, t0, v_t0 = block(signal, int(T_star))
                k0, lost0 = block("noise", int(T_star))[:2] if d > s else (math.nan, 0.0)
                exact_k0 = noise_coordinate_kl(config, sampler, int(T_star))
                row.update(k_signal=k1, k_noise=k0, t0=t0, v_t0=v_t0,
                           lost_mass=max(lost1, lost0), k_noise_exact=exact_k0)  # fmt: skip
            rows.append(row)
    for row in rows:
        row["oracle_evaluations"] = len(memo)
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """One row per (sampler, signal, sweep point)."""
    return run_in_process(sys.modules[__name__], config, progress)


#: Claims this experiment decides (a failed cell makes each of them "inconclusive").
CLAIMS = ("steps.box_s_exponent", "steps.box_d_free")


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """Per (sampler, signal): the exponent of T* in s (upper-bound rate 2) and in d (0)."""
    out: list[judge.Verdict] = []
    for (sampler, signal), grp in df.groupby(["sampler", "signal"], sort=False):
        setting = {
            "sampler": sampler, "signal": signal, "epsilon": float(grp["epsilon"].iloc[0]),
            "stop": f"v >= {float(grp['v_min'].iloc[0]):g}",
        }  # fmt: skip
        what = (
            "uniform signal coordinates (grid oracle)"
            if signal == "box"
            else "Gaussian signal coordinates of the same variance (control, grid oracle)"
        )
        out += sweep_verdicts(
            grp, setting, "steps.box_s_exponent", "steps.box_d_free", what, column="T_star"
        )
    return out


def report_section(df: pd.DataFrame) -> str:
    """T* per sampler, signal and sweep point, with the per-coordinate KL terms there."""
    cols = ["sampler", "signal", "sweep", "s", "d", "T_star", "t0", "k_signal", "k_noise"]
    intro = (
        "Exact score, start N(0, I), li(T, 2, 4); KL(q_t0 || p_t0) at the first step with "
        "v_t >= v_min, from the grid oracle of one coordinate (signal: uniform on [-1, 1], or "
        "the Gaussian of the same variance); KL = s k_signal + (d - s) k_noise. T_star: "
        "steps to KL <= epsilon (NaN: beyond T_max); k_signal, k_noise at T_star."
    )
    return intro + "\n\n" + markdown_table(df, cols, nan="nan")
