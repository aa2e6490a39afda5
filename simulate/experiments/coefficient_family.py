"""Which DDPM coefficients adapt to the intrinsic dimension: the exact KL per pure-noise
coordinate (the slope of KL(q_1 || p_1) in d at fixed s) of two coefficient families, over
their parameter and T, from q_T and from N(0, I) (issue 31, item 4; Cai, Jiao, Li, arXiv
2606.23627, "a broad class of update coefficients"; Li & Yan, Huang-Wei-Chen, Potaptchik et al.
for the posterior variance).

Families (``simulate.pure_noise``): ``gamma``, sigma_t^2 = beta_t ((alpha_t - abar_t) / (1 -
abar_t))^gamma (0: beta, 1: posterior); ``eta``, DDIM-DDPM (0: DDIM, 1: posterior). Schedule:
``schedules.li(T)`` (c0 = 2, c1 = 4, the suite's default). Everything is exact (a product of
T scalar steps), no Monte Carlo.

Claims (``theory.claims``): ``coef.qT_eta_d_free`` (from q_T every eta is free of d),
``coef.qT_only_gamma_one`` (from q_T gamma = 1 is, every gamma < 1 is not: the KL moves by
the resolution before d = 1e12), ``coef.gamma_decay_in_T`` (for gamma < 1 the slope decays
like (log T / T)^2, derived here: the excess noise beta (x^gamma - x) ~ (1 - gamma) beta^2 / v
per step against a relaxation rate ~ beta / v leaves u ~ (1 - gamma) h, KL ~ u^2 / 4),
``coef.normal_slope`` (from N(0, I): the slope and the d at which it moves the KL by the
resolution, at T = ``T_ref``).

Notation: ``kl`` = KL per pure-noise coordinate (nats) = the exact slope in d;
``d_move`` = resolution / kl (the d at which the slope alone moves the KL by the resolution).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulate import judge, pure_noise, schedules
from simulate.pipeline.cells import run_in_process
from theory.claims import RESOLUTION

NAME = "coefficient_family"

#: ``coef.gamma_decay_in_T``: local exponents of T settle within this much and must match
#: -2 (with the (log T)^2 factor) to this much (theory.claims.RESOLUTION["disc.T_decay"]'s
#: reason: 0.05 in the exponent is below the log powers the rates differ by).
DECAY_TOL = 0.05


@dataclass(frozen=True)
class Config:
    """Defaults: the full setting."""

    T_values: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000, 3000, 10000, 30000, 100000)
    gammas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
    etas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    inits: tuple[str, ...] = ("q_T", "normal")
    #: the T of the N(0, I) verdicts (the suite's usual T)
    T_ref: int = 100

    @classmethod
    def quick(cls) -> Config:
        return cls(T_values=(10, 100, 1000, 3000, 10000), gammas=(0.0, 0.5, 1.0),
                   etas=(0.0, 0.5, 1.0))  # fmt: skip

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if len(self.T_values) < 3 or min(self.T_values) < 10:
            raise ValueError(f"T_values needs >= 3 values, each >= 10; got {self.T_values}")
        if list(self.T_values) != sorted(set(self.T_values)):
            raise ValueError(f"T_values must increase; got {self.T_values}")
        if self.T_ref not in self.T_values:
            raise ValueError(f"T_ref={self.T_ref} must be among T_values")
        for name, vals in (("gammas", self.gammas), ("etas", self.etas)):
            if not vals or any(not 0.0 <= v <= 1.0 for v in vals):
                raise ValueError(f"{name} must be non-empty values in [0, 1]; got {vals}")
        if 1.0 not in self.gammas:
            raise ValueError("gammas must include 1 (the posterior variance)")
        if not set(self.inits) <= {"q_T", "normal"} or not self.inits:
            raise ValueError(f"inits must be among 'q_T', 'normal'; got {self.inits}")


def cells(config: Config) -> list[tuple]:
    """(init, T) per start and T."""
    return [(init, T) for init in config.inits for T in config.T_values]


def run_cell(config: Config, cell: tuple) -> list[dict]:
    init, T = str(cell[0]), int(cell[1])
    sch = schedules.li(T)
    rows = []
    for family, params in (("gamma", config.gammas), ("eta", config.etas)):
        for p in params:
            kl = pure_noise.kl_per_coordinate(sch, family, p, init)
            rows.append({
                "family": family, "param": float(p), "init": init, "T": T,
                "schedule": sch.name, "alpha_bar_T": float(sch.alpha_bar[-1]), "kl": kl,
            })  # fmt: skip
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """Every row of ``config`` (module docstring)."""
    return run_in_process(sys.modules[__name__], config, progress)


CLAIMS = (
    "coef.qT_eta_d_free",
    "coef.qT_only_gamma_one",
    "coef.gamma_decay_in_T",
    "coef.normal_slope",
)


def _series(df: pd.DataFrame, family: str, p: float, init: str) -> pd.DataFrame:
    sel = (df["family"] == family) & (df["param"] == p) & (df["init"] == init)
    return df[sel].sort_values("T")


def _d_move_text(grp: pd.DataFrame, resolution: float) -> str:
    return ", ".join(
        f"T = {int(r.T)}: {r.kl:.3g} (d {resolution / r.kl:.3g})" if r.kl > 0 else
        f"T = {int(r.T)}: 0" for r in grp.itertuples()
    )  # fmt: skip


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """The four claims (module docstring)."""
    out: list[judge.Verdict] = []
    q = df[df["init"] == "q_T"]
    schedule = "li(T), c0 = 2, c1 = 4"
    if not q.empty:
        res, res_text = RESOLUTION["coef.qT_eta_d_free"]
        for eta in sorted(set(q[q["family"] == "eta"]["param"])):
            grp = _series(q, "eta", eta, "q_T")
            out.append(judge.d_free(
                "coef.qT_eta_d_free", {"eta": eta, "init": "q_T", "schedule": schedule},
                slope=float(grp["kl"].max()), resolution=res,
                prediction=f"from q_T the KL per pure-noise coordinate of every eta is 0 "
                f"(resolution {res:g} nats: {res_text})",
                detail=f"largest over T = {int(grp['T'].min())}..{int(grp['T'].max())}",
            ))  # fmt: skip
        res, res_text = RESOLUTION["coef.qT_only_gamma_one"]
        one = _series(q, "gamma", 1.0, "q_T")
        out.append(judge.d_free(
            "coef.qT_only_gamma_one", {"gamma": 1.0, "init": "q_T", "schedule": schedule},
            slope=float(one["kl"].max()), resolution=res,
            prediction=f"gamma = 1 (the posterior variance) is free of d from q_T "
            f"(resolution {res:g} nats: {res_text})",
            detail=f"largest over T = {int(one['T'].min())}..{int(one['T'].max())}",
        ))  # fmt: skip
        below = q[(q["family"] == "gamma") & (q["param"] < 1.0)]
        if not below.empty:
            gs, Ts = sorted(set(below["param"])), sorted(set(below["T"]))
            kl = below.set_index(["param", "T"])["kl"]
            points = [{"gamma": g, "T": T} for g in gs for T in Ts]
            vals = [
                (res / float(kl[(g, T)]) if kl[(g, T)] > 0 else math.inf) / judge.D_CEILING
                for g in gs for T in Ts
            ]  # fmt: skip
            corners = [{"gamma": g, "T": T} for g in (gs[0], gs[-1]) for T in (Ts[0], Ts[-1])]
            worst = int(np.argmax(vals))
            out.append(judge.domain(
                "coef.qT_only_gamma_one", {"gamma": f"[{gs[0]:g}, {gs[-1]:g}]", "init": "q_T",
                                           "schedule": schedule},
                points=points, values=vals, limit=1.0, corners=corners, rtol=0.0,
                prediction="every gamma < 1 is not free of d: the slope moves the KL by the "
                f"resolution ({res:g} nats) before d = {judge.D_CEILING:.0e} (value: d_move / "
                "1e12)",
                detail=f"largest d_move {vals[worst] * judge.D_CEILING:.3g} at gamma "
                f"{points[worst]['gamma']:g}, T {points[worst]['T']}",
            ))  # fmt: skip
            for g in gs:
                grp = _series(q, "gamma", g, "q_T")
                x, y = grp["T"].to_numpy(float), grp["kl"].to_numpy(float)
                loc = judge.local_exponents(x, y)
                out.append(judge.asymptotic(
                    "coef.gamma_decay_in_T", {"gamma": g, "init": "q_T", "schedule": schedule},
                    x=x, y=y, predicted=-2.0, h=lambda t: np.log(t) ** 2, upper=False,
                    settle_tol=DECAY_TOL, exponent_tol=DECAY_TOL,
                    prediction="KL per pure-noise coordinate ~ (1 - gamma)^2 (c1 log T / T)^2 "
                    "/ 4: exponent -2 with a (log T)^2 factor",
                    detail=f"local exponents {', '.join(f'{v:.3f}' for v in loc)}; "
                    f"KL x 4 / ((1 - gamma) h)^2 at T = {int(x[-1])}: "
                    f"{4 * y[-1] / ((1 - g) * 4 * math.log(x[-1]) / x[-1]) ** 2:.4f}",
                ))  # fmt: skip
    nrm = df[df["init"] == "normal"]
    if not nrm.empty:
        res, res_text = RESOLUTION["coef.normal_slope"]
        Ts = sorted(set(nrm["T"]))
        T_ref = 100 if 100 in Ts else int(Ts[len(Ts) // 2])  # Config.T_ref's default
        for family, p in [("eta", e) for e in sorted(set(nrm[nrm["family"] == "eta"]["param"]))] \
                + [("gamma", 1.0)]:  # fmt: skip
            grp = _series(nrm, family, p, "normal")
            at = grp[grp["T"] == T_ref]
            out.append(judge.d_free(
                "coef.normal_slope", {family: p, "init": "N(0, I)", "T": T_ref,
                                      "schedule": schedule},
                slope=float(at["kl"].iloc[0]), resolution=res,
                prediction=f"from N(0, I) the start's distance to q_T leaves a slope per "
                f"pure-noise coordinate; it moves the KL by {res:g} nats ({res_text}) at "
                "d_move (the finding)",
                detail=f"abar_T = {float(at['alpha_bar_T'].iloc[0]):.3g}; slope (d_move) by "
                "T: " + _d_move_text(grp, res),
            ))  # fmt: skip
    return out


def report_section(df: pd.DataFrame) -> str:
    """The KL per pure-noise coordinate by parameter and T, from both starts."""
    lines = [
        "Exact KL per pure-noise coordinate (the slope of KL(q_1 || p_1) in d at fixed s) on "
        "li(T) (c0 = 2, c1 = 4) (`simulate/experiments/coefficient_family.py`). gamma: "
        "sigma_t^2 = beta_t ((alpha_t - abar_t) / (1 - abar_t))^gamma; eta: DDIM-DDPM.",
    ]
    for init in ("q_T", "normal"):
        part = df[df["init"] == init]
        if part.empty:
            continue
        tab = part.pivot_table(index=["family", "param"], columns="T", values="kl")
        lines += [
            "",
            f"Start {'q_T' if init == 'q_T' else 'N(0, I)'}:",
            "",
            "| family | param | " + " | ".join(f"T = {T}" for T in tab.columns) + " |",
            "|---|---|" + "---|" * len(tab.columns),
        ]
        for (fam, p), row in tab.iterrows():
            lines.append(f"| {fam} | {p:g} | " + " | ".join(f"{v:.3g}" for v in row) + " |")
    return "\n".join(lines)
