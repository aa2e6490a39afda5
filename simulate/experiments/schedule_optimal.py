"""The KL-optimal DDIM schedule on a sigma grid, against EDM, log-SNR, the tangent law and li
(issue 31, item 1; Sabour, Fidler, Kreis 2024, "Align Your Steps", arXiv 2404.14507).

Setting of AYS Fig. 3: sigma in [0.002, 80], DDIM (Euler in y = x / sqrt(alpha_bar) and
sigma) with the exact score, the exact start N(0, lambda + sigma_max^2), and the KL of the
exact probability-flow ODE output N(0, lambda + sigma_min^2) to the sampler's output, summed
over the eigenvalues lambda (exact: ``simulate.sigma_grid``; one step multiplies the variance
ratio by cos^2 of the step in theta = atan(sigma / sqrt(lambda)), ``theory/sigma_grid.py``).

Parts of the table:

- ``spectrum``: the CIFAR-10 covariance spectrum (``simulate/data``, 3072 eigenvalues, every
  ``stride``-th kept): exact KL of ``optimal`` (minimized over the n - 1 interior log sigma_i),
  EDM (rho = 7), uniform log-SNR, the tangent law at c = 1 (ComfyUI's ``kl_optimal``) and the
  shape of ``li(n + 1)`` mapped onto the same ends (``sigma_grid.li_shape``), per n.
- ``single``: one scale lambda = c^2: the tangent law at c, its numerical rival (L-BFGS-B from
  log-SNR and from EDM), and the mis-specified tangent law at c = 1.

Claims (``theory.claims``): ``schedule.tangent_single_scale_optimal`` (domain over c x n),
``schedule.tangent_misspecified`` (the factor by which c = 1 is worse at c = 0.1, 0.5, 2),
``schedule.optimal_beats_named`` (the optimized grid is at least as good as each named one on
the spectrum) and ``schedule.kl_optimal_transfers`` (AYS's single-scale law at c = 1, as
shipped by ComfyUI, is no worse than EDM on the CIFAR-10 spectrum).

Notation: ``kl`` = KL(exact ODE output || DDIM output), nats; ``n`` = number of DDIM steps;
``sigmas`` = the grid, sigma_max first, as text ("; "-separated, 17 significant digits).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulate import judge, sigma_grid
from simulate.experiments.gaussian_schemes import cifar10_eigenvalues
from simulate.pipeline.cells import run_in_process

NAME = "schedule_optimal"

#: The named schedules of the spectrum part, in the table's order.
NAMED = ("edm", "log_snr", "tangent_c1", "li_shape")
#: ``schedule.tangent_single_scale_optimal``: the tangent law is the exact optimum, so the
#: optimizer can only match it; KL_tangent / KL_optimizer may exceed 1 by the rounding of two
#: sums of at most 50 terms each accurate to a few ulps (~1e-14 relative), far below this.
SINGLE_RTOL = 1e-12
#: ``schedule.optimal_beats_named``: the optimizer's KL is compared with each named grid's
#: without slack (both exact; a named grid that beats it would expose a poor local optimum).
NAMED_RTOL = 0.0


def _text(sigmas: np.ndarray) -> str:
    return "; ".join(f"{v:.17g}" for v in sigmas)


def parse_sigmas(text: str) -> np.ndarray:
    """The grid of a table row (the inverse of the ``sigmas`` column's formatting)."""
    return np.array([float(v) for v in str(text).split(";")])


@dataclass(frozen=True)
class Config:
    """Defaults: the full setting (AYS Fig. 3's range, the whole CIFAR-10 spectrum)."""

    n_values: tuple[int, ...] = (10, 20, 50)
    sigma_min: float = sigma_grid.SIGMA_MIN
    sigma_max: float = sigma_grid.SIGMA_MAX
    rho: float = 7.0
    #: every stride-th eigenvalue of the spectrum (1: all 3072)
    stride: int = 1
    #: the single-scale domain: c x n, corners included
    single_c: tuple[float, ...] = (0.01, 0.1, 0.5, 1.0, 2.0, 10.0)
    single_n: tuple[int, ...] = (2, 5, 10, 20, 50)
    #: the scales at which the mis-specified c = 1 is measured against the optimum
    misspecified_c: tuple[float, ...] = (0.1, 0.5, 2.0)

    @classmethod
    def quick(cls) -> Config:
        return cls(n_values=(10, 20), stride=8, single_c=(0.1, 0.5, 2.0), single_n=(2, 10, 20))

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        if any(n < 10 for n in self.n_values):
            raise ValueError(f"n_values must be >= 10 (li(n + 1) needs it); got {self.n_values}")
        if any(n < 2 for n in self.single_n) or len(self.single_n) < 2:
            raise ValueError(f"single_n needs >= 2 values, each >= 2; got {self.single_n}")
        if any(c <= 0 for c in (*self.single_c, *self.misspecified_c)) or len(self.single_c) < 2:
            raise ValueError("single_c (>= 2 values) and misspecified_c must be > 0")
        if not set(self.misspecified_c) <= set(self.single_c):
            raise ValueError("misspecified_c must be among single_c")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max; got {self.sigma_min}, "
                             f"{self.sigma_max}")
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1; got {self.stride}")


def cells(config: Config) -> list[tuple]:
    """("spectrum", n) per n and ("single", c) per scale c."""
    return [("spectrum", n) for n in config.n_values] + [("single", c) for c in config.single_c]


def _named(config: Config, name: str, n: int) -> np.ndarray:
    lo, hi = config.sigma_min, config.sigma_max
    if name == "edm":
        return sigma_grid.edm(n, lo, hi, config.rho)
    if name == "log_snr":
        return sigma_grid.log_snr(n, lo, hi)
    if name == "tangent_c1":
        return sigma_grid.tangent(n, 1.0, lo, hi)
    return sigma_grid.li_shape(n, lo, hi)


def run_cell(config: Config, cell: tuple) -> list[dict]:
    lo, hi = config.sigma_min, config.sigma_max
    if cell[0] == "spectrum":
        n = int(cell[1])
        lam = cifar10_eigenvalues()[:: config.stride]
        grids = {name: _named(config, name, n) for name in NAMED}
        grids["optimal"], _ = sigma_grid.optimal(lam, n, lo, hi)
        return [
            {"part": "spectrum", "schedule": name, "n": n, "c": np.nan, "d": int(lam.size),
             "sigma_min": lo, "sigma_max": hi, "kl": sigma_grid.ddim_kl(lam, s),
             "sigmas": _text(s)}
            for name, s in grids.items()
        ]  # fmt: skip
    c = float(cell[1])
    lam = np.array([c * c])
    rows = []
    for n in config.single_n:
        grids = {
            "tangent": sigma_grid.tangent(n, c, lo, hi),
            "tangent_c1": sigma_grid.tangent(n, 1.0, lo, hi),
            "edm": sigma_grid.edm(n, lo, hi, config.rho),
            "log_snr": sigma_grid.log_snr(n, lo, hi),
        }
        grids["optimizer"], _ = sigma_grid.optimal(
            lam, n, lo, hi, starts=(grids["log_snr"], grids["edm"])
        )
        rows += [
            {"part": "single", "schedule": name, "n": n, "c": c, "d": 1, "sigma_min": lo,
             "sigma_max": hi, "kl": sigma_grid.ddim_kl(lam, s), "sigmas": _text(s)}
            for name, s in grids.items()
        ]  # fmt: skip
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """Every row of ``config`` (module docstring)."""
    return run_in_process(sys.modules[__name__], config, progress)


CLAIMS = (
    "schedule.tangent_single_scale_optimal",
    "schedule.tangent_misspecified",
    "schedule.optimal_beats_named",
    "schedule.kl_optimal_transfers",
)


def _kl(part: pd.DataFrame) -> pd.Series:
    return part.set_index(["schedule", "n", "c"] if part["c"].notna().any() else
                          ["schedule", "n"])["kl"]  # fmt: skip


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    """The four claims (module docstring), each by the rule of its kind."""
    out: list[judge.Verdict] = []
    single = df[df["part"] == "single"]
    setting = {"sigma": f"[{df['sigma_min'].iloc[0]:g}, {df['sigma_max'].iloc[0]:g}]",
               "start": "exact"}  # fmt: skip
    if not single.empty:
        kl = _kl(single)
        cs, ns = sorted(set(single["c"])), sorted(set(single["n"]))
        points = [{"c": c, "n": n} for c in cs for n in ns]
        ratios = [float(kl[("tangent", n, c)] / kl[("optimizer", n, c)]) for c in cs for n in ns]
        corners = [{"c": c, "n": n} for c in (cs[0], cs[-1]) for n in (ns[0], ns[-1])]
        out.append(judge.domain(
            "schedule.tangent_single_scale_optimal", setting | {"lambda": "c^2"},
            points=points, values=ratios, limit=1.0, corners=corners, rtol=SINGLE_RTOL,
            prediction="KL(tangent law at c) / KL(numerical optimum from log-SNR and EDM "
            "starts) <= 1 at every c and n (the tangent law is the optimum)",
            detail=f"ratio from {min(ratios):.15g} to {max(ratios):.15g} over c in "
            f"{cs} and n in {ns}",
        ))  # fmt: skip
        for c in sorted(set(single["c"]) & {0.1, 0.5, 2.0}):
            factors = [float(kl[("tangent_c1", n, c)] / kl[("tangent", n, c)]) for n in ns]
            out.append(judge.threshold(
                "schedule.tangent_misspecified", setting | {"c": c},
                estimate=factors[-1], low=min(factors), high=max(factors), threshold=1.0,
                side="above",
                prediction="KL(tangent c = 1) / KL(tangent c) >= 1 on lambda = c^2 (c = 1 is "
                "mis-specified; the factor is the finding)",
                detail="factor by n: " + ", ".join(
                    f"n = {n}: {f:.4g}" for n, f in zip(ns, factors, strict=True)),
            ))  # fmt: skip
    spec = df[df["part"] == "spectrum"]
    if not spec.empty:
        kl = _kl(spec)
        ns = sorted(set(spec["n"]))
        setting_s = setting | {"data": "CIFAR-10 spectrum", "d": int(spec["d"].iloc[0])}
        points = [{"schedule": s, "n": n} for s in NAMED for n in ns]
        ratios = [float(kl[("optimal", n)] / kl[(s, n)]) for s in NAMED for n in ns]
        corners = [{"schedule": s, "n": n} for s in NAMED for n in (ns[0], ns[-1])]
        out.append(judge.domain(
            "schedule.optimal_beats_named", setting_s, points=points, values=ratios,
            limit=1.0, corners=corners, rtol=NAMED_RTOL,
            prediction="KL(optimized grid) / KL(named grid) <= 1 for EDM, log-SNR, tangent "
            "c = 1 and li's shape, every n",
            detail="; ".join(
                f"n = {n}: optimal {kl[('optimal', n)]:.4g}, " + ", ".join(
                    f"{s} {kl[(s, n)]:.4g}" for s in NAMED) for n in ns),
        ))  # fmt: skip
        ratios_t = [float(kl[("tangent_c1", n)] / kl[("edm", n)]) for n in ns]
        out.append(judge.domain(
            "schedule.kl_optimal_transfers", setting_s,
            points=[{"n": n} for n in ns], values=ratios_t, limit=1.0,
            corners=[{"n": ns[0]}, {"n": ns[-1]}], rtol=0.0,
            prediction="KL(tangent c = 1) / KL(EDM) <= 1 at every n on the CIFAR-10 spectrum",
            detail="ratio by n: " + ", ".join(
                f"n = {n}: {r:.4g}" for n, r in zip(ns, ratios_t, strict=True)),
        ))  # fmt: skip
    return out


def report_section(df: pd.DataFrame) -> str:
    """The exact KL per schedule and n on the CIFAR-10 spectrum."""
    spec = df[df["part"] == "spectrum"]
    if spec.empty:
        return ""
    tab = spec.pivot_table(index="schedule", columns="n", values="kl")
    tab = tab.loc[["optimal", *NAMED]]
    lines = [
        "Exact KL(exact ODE output || DDIM output) on the CIFAR-10 spectrum "
        f"(d = {int(spec['d'].iloc[0])}), sigma in [{spec['sigma_min'].iloc[0]:g}, "
        f"{spec['sigma_max'].iloc[0]:g}], exact start (`simulate/experiments/"
        "schedule_optimal.py`). li_shape: li(n + 1)'s log sigma grid mapped affinely onto "
        "the same ends.",
        "",
        "| schedule | " + " | ".join(f"n = {n}" for n in tab.columns) + " |",
        "|---|" + "---|" * len(tab.columns),
    ]
    for name, row in tab.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{v:.4g}" for v in row) + " |")
    return "\n".join(lines)
