"""The paper's Fig. 1, with numbers: do regularized score estimators keep the samples of the
3-D toy on its 2-D plane?

Data: :class:`~simulate.models.PaperToy3D` (a ring of J = 8 Gaussian blobs in the Y-Z plane,
X = 0; the paper's exact toy law is not known, SCIENCE.md 1: this is the stated choice). Each
estimator of ``_common.PAPER_ESTIMATORS`` (exact; the score network without and with an l1
penalty on its weights or its output; the affine DSM fit without and with the lasso; the
empirical score without and with soft-thresholding) is trained on n draws, fitted to the Li et
al. schedule li(T) (the paper samples with T = 50 and T = 20), and sampled with every discrete
sampler from N(0, I).

Measured per (T, n, estimator, sampler), from ``n_samples`` samples:

* ``off_plane_ms`` = E[X^2], the off-plane mass of the generated samples, and its standard
  error (from the samples); its targets are ``off_plane_target`` = v_1 = 1 - abar_1, the
  off-plane variance of q_1 (what the sampler aims at), and ``off_plane_exact_score``, the
  exact-score sampler's own off-plane variance in closed form (``exact.coordinate_law`` of a
  pure-noise coordinate: discretization only);
* ``mmd2`` of the in-plane coordinates (Y, Z) against ``n_samples`` held-out data draws (a
  fixed Gaussian-kernel bandwidth, the median distance of the data), its standard error and
  the data-vs-data ``mmd2_floor``;
* the network's share of zero weights and whether its X input and output are cut off;
* where the estimate's off-plane denoiser is a constant c (``constant_off_plane_denoiser``:
  then its off-plane score depends on x_X alone and the X coordinate evolves on its own), the
  X coordinate's exact law, its second moment ``off_plane_ms_exact_law`` (the Monte Carlo
  E[X^2] is checked against it in the tests) and ``off_plane_kl_exact`` = KL(q_1,X || p_1,X)
  in closed form (``off_plane_factorizes``; NaN where the estimate mixes X with the plane).

A few samples of the networks at (T_scatter, the largest n, ddpm_posterior) are kept as rows
of kind "sample" for the paper-style scatter (``plotting.plot_toy``), and each network's
training objective (penalty included, averaged over blocks of ``LOSS_EVERY`` Adam steps) as
rows of kind "loss".

Claims: ``toy.on_plane``: an estimator's samples carry the exact score's off-plane mass
(Monte Carlo, per estimator and n, over T and samplers); ``toy.regularization_on_plane``: the
regularized estimator's off-plane mass is below its unregularized counterpart's with every
sampler (per pair, n and T: threshold on the largest ratio over the samplers, with a 4-SE
band; where both sit at the exact score's level, as at T = 10, the difference is below what
the samples resolve and the verdict reads "inconclusive"). A pair whose unregularized member
is already exactly on the plane (bit-identical X coordinates) is "not applicable".

The networks are trained once per n on li(``T_train``) and tabulated for every li(T)
(``L1NetworkDSM(train_schedule=...)``), as a trained diffusion model is sampled with any T.

Premise first (DESIGN.md): the schedule is li(T, c0, c1) with c0 = 2, c1 = 4 (``Config``),
where abar_T < 6e-4 and the start N(0, I) is within 1e-7 nats of q_T; every row records
``start_kl`` = KL(q_T || N(0, I)) (``divergences.start_kl``) and every verdict states it. On
the paper's c0 = c1 = 4 (``--set c0=4``, an ablation; abar_T 0.80-0.93) the start is 1-2
nats from q_T, the exact score's own samples keep most of the start's off-plane variance, and
the claims read "not applicable: start-limited" (``judge.start_limited``): the effect, as a
KL between the off-plane Gaussians it compares (``_common.variance_ratio_kl``, at least the
4-SE resolution), must exceed the start's KL ten times over.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulate import divergences, exact, judge, models, samplers, schedules
from simulate.experiments._common import (
    PAPER_ESTIMATORS,
    PAPER_NETWORK,
    PAPER_PAIRS,
    QUICK_NETWORK,
    check_paper_estimators,
    paper_estimator,
    start_columns,
    start_text,
    variance_ratio_kl,
)
from simulate.pipeline.cells import run_in_process

NAME = "toy"
DISCRETE: tuple[str, ...] = samplers.DISCRETE_SAMPLERS
#: Bands of the Monte Carlo comparisons: at least 4 standard errors (DESIGN.md).
K_SE = 4.0
#: Family-wise error rate of the per-estimator Monte Carlo verdicts (Bonferroni band).
FAMILYWISE = 1e-3
#: The held-out data of the in-plane MMD come from this seed (the training draws use ``seed``).
HELD_OUT_SEED = 10_001
#: The training loss curve is kept as the mean over each block of this many Adam steps.
LOSS_EVERY = 50


@dataclass(frozen=True)
class Config:
    """The sweeps and the estimators' settings (defaults: the full setting)."""

    T_values: tuple[int, ...] = (10, 20, 50, 100)
    n_values: tuple[int, ...] = (200, 2000)
    estimators: tuple[str, ...] = PAPER_ESTIMATORS
    samplers: tuple[str, ...] = DISCRETE
    n_samples: int = 2000
    network: tuple[tuple[str, object], ...] = PAPER_NETWORK
    #: The networks are trained once on li(T_train) and tabulated for every li(T).
    T_train: int = 1000
    T_scatter: int = 50
    n_scatter: int = 600
    #: li(T, c0, c1) for training and sampling; c0 = 4 is the paper's (an ablation: the start
    #: is then far from q_T, ``samplers.StartFarFromNoise``).
    c0: float = schedules.DEFAULT_C0
    c1: float = schedules.DEFAULT_C1
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        return cls(
            T_values=(20, 50),
            n_values=(500,),
            estimators=("exact", "network", "network_l1", "linear", "linear_l1"),
            samplers=("ddpm_posterior", "ddim"),
            n_samples=2000,
            network=QUICK_NETWORK,
        )  # fmt: skip

    @classmethod
    def full(cls) -> Config:
        return cls()

    def __post_init__(self) -> None:
        check_paper_estimators(self.estimators)
        bad = set(self.samplers) - set(DISCRETE)
        if bad:
            raise ValueError(f"samplers {sorted(bad)}: allowed: {', '.join(DISCRETE)}")
        if self.n_samples < 100:
            raise ValueError(f"n_samples={self.n_samples} is out of range; allowed: >= 100")


def cells(config: Config) -> list[tuple]:
    """(n, estimator): one trained estimator, fitted to every li(T), sampled by every sampler."""
    return [(n, e) for n in config.n_values for e in config.estimators]


def _held_out(config: Config) -> np.ndarray:
    return models.PaperToy3D().sample(config.n_samples, HELD_OUT_SEED)


def run_cell(config: Config, cell: tuple) -> list[dict]:
    n, name = cell
    model = models.PaperToy3D()
    network = {
        **dict(config.network),
        "train_schedule": schedules.li(config.T_train, config.c0, config.c1),
    }
    base = paper_estimator(name, model, config.seed, network, n=int(n))
    held = _held_out(config)[:, 1:]
    bandwidth = divergences.median_bandwidth(held, held)
    half = config.n_samples // 2
    floor = divergences.mmd2(held[:half], held[half:], bandwidth)
    rows: list[dict] = []
    for T in config.T_values:
        rows += _rows_at_T(config, base, int(T), int(n), name, held, bandwidth, floor)
    curve = getattr(base, "loss_curve", None)  # base was fitted in place at the first T
    if curve is not None:  # the network's training objective, every LOSS_EVERY-th step
        for k in range(0, curve.size, LOSS_EVERY):
            rows.append(
                {"row_kind": "loss", "n": int(n), "estimator": name, "seed": config.seed,
                 "iteration": k, "loss": float(np.mean(curve[k : k + LOSS_EVERY]))}
            )  # fmt: skip
    return rows


#: Rounding allowed between the per-step constants c_t of an off-plane denoiser read back from
#: the score by Tweedie, c = (x_X + v s_X) / a: a few ulps of x_X / a (|x| < 10 here).
OFF_PLANE_C_ATOL = 1e-12


def constant_off_plane_denoiser(
    est: object, sch: schedules.Schedule, seed: int = 0
) -> float | None:
    """c when the estimate's off-plane score is (a c - x_X) / v with one constant c at every
    step, else None.

    Checked on a probe (64 points of each q_t, and the same X coordinates with other, 3x
    wider, in-plane coordinates): c = (x_X + v s_X) / a must be the same at every probe point
    and step within ``OFF_PLANE_C_ATOL`` (Tweedie's rounding), so the off-plane score depends
    on x_X alone and is affine in it with slope -1/v. Then the X coordinate of every sampler
    evolves on its own and its law is ``exact.coordinate_law([0], c, ...)`` exactly: the exact
    score, the affine and empirical fits (whose training targets have X = 0), and a network
    whose output F_X the penalty cut off (F_X = its bias). A probe cannot prove this everywhere;
    for these estimators it holds by construction.
    """
    probe = models.PaperToy3D().sample(64, seed)
    other = models.PaperToy3D().sample(64, seed + 1)
    cs = []
    for t in range(1, sch.T + 1):
        level = sch.level(t)
        a, v = math.sqrt(float(level)), level.v
        z = np.random.default_rng([seed, t]).standard_normal(probe.shape)
        x = np.ascontiguousarray(a * probe + math.sqrt(v) * z)
        swapped = x.copy()
        swapped[:, 1:] = 3.0 * (a * other[:, 1:] + math.sqrt(v) * z[:, 1:])
        for points in (x, swapped):
            cs.append((points[:, 0] + v * est.score(points, t)[:, 0]) / a)
    c = np.concatenate(cs)
    return float(np.median(c)) if np.max(np.abs(c - c[0])) <= OFF_PLANE_C_ATOL else None


def _rows_at_T(
    config: Config, base: object, T: int, n: int, name: str,
    held: np.ndarray, bandwidth: float, floor: divergences.Estimate,
) -> list[dict]:
    """The rows of one T; ``held`` (the in-plane held-out draws), the kernel ``bandwidth``
    and the data-vs-data MMD^2 ``floor`` are the cell's, shared by every T."""
    sch = schedules.li(T, config.c0, config.c1)
    est = base.fit(sch)
    v1 = float(sch.level(1).v)
    start = {"c0": config.c0, "c1": config.c1, **start_columns(models.PaperToy3D(), sch, config.seed)}
    extra = {}
    if hasattr(est, "zero_fraction"):
        cut = est.disconnected()
        extra = {
            "zero_fraction": est.zero_fraction,
            "x_input_cut": bool(cut["inputs"][0]),
            "x_output_cut": bool(cut["outputs"][0]),
            "final_loss": float(np.mean(est.loss_curve[-max(1, len(est.loss_curve) // 10):])),
        }
    c = constant_off_plane_denoiser(est, sch, config.seed)
    rows: list[dict] = []
    for sampler in config.samplers:
        y = samplers.sample(est, sch, config.n_samples, seed=config.seed + 1, sampler=sampler)
        x2 = y[:, 0] ** 2
        off_exact = float(exact.coordinate_law([0.0], 0.0, sch, sampler, "normal").variances[0])
        law_ms, law_kl = math.nan, math.nan
        if c is not None:  # the X coordinate's exact law (constant_off_plane_denoiser)
            law = exact.coordinate_law([0.0], c, sch, sampler, "normal")
            m, var = float(law.mean[0]), float(law.variances[0])
            law_ms = var + m * m
            # KL(q_1,X || p_1,X) with q_1,X = N(0, v_1): 1-D Gaussians in closed form
            law_kl = 0.5 * (v1 / var + m * m / var - 1.0 - math.log(v1 / var))
        mmd = divergences.mmd2(y[:, 1:], held, bandwidth)
        rows.append(
            {
                "row_kind": "summary",
                "T": int(T),
                "n": int(n),
                "estimator": name,
                "sampler": sampler,
                "seed": config.seed,
                "n_samples": config.n_samples,
                "off_plane_ms": float(x2.mean()),
                "off_plane_se": float(x2.std(ddof=1) / math.sqrt(x2.size)),
                "off_plane_target": v1,
                "off_plane_exact_score": off_exact,
                "off_plane_factorizes": c is not None,
                "off_plane_ms_exact_law": law_ms,
                "off_plane_kl_exact": law_kl,
                "mmd2": mmd.value,
                "mmd2_se": mmd.se,
                "mmd2_floor": floor.value,
                "mmd2_floor_se": floor.se,
                "in_plane_var": float(np.mean(y[:, 1:].var(axis=0))),
                **start,
                **extra,
            }
        )
        if (
            int(T) == config.T_scatter
            and int(n) == max(config.n_values)
            and sampler == "ddpm_posterior"
            and name in ("exact", "network", "network_l1")
        ):
            for i, point in enumerate(y[: config.n_scatter]):
                rows.append(
                    {"row_kind": "sample", "T": int(T), "n": int(n), "estimator": name,
                     "sampler": sampler, "seed": config.seed, "sample": i,
                     "x": float(point[0]), "y": float(point[1]), "z": float(point[2])}
                )  # fmt: skip
    return rows


def run(config: Config, progress: bool = False) -> pd.DataFrame:
    """One summary row per (T, n, estimator, sampler), and the scatter's sample rows."""
    return run_in_process(sys.modules[__name__], config, progress)


CLAIMS = ("toy.on_plane", "toy.regularization_on_plane")


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """The summary rows (not the scatter's samples)."""
    return df[df["row_kind"] == "summary"]


def _ratio_effect(log_ratio: float) -> float:
    """A ratio exp(m) of off-plane masses as a KL, the smaller of its two directions
    (``variance_ratio_kl`` of exp(|m|) and exp(-|m|)): the conservative size of the effect."""
    m = abs(log_ratio)
    return min(variance_ratio_kl(math.exp(m)), variance_ratio_kl(math.exp(-m)))


def _start(grp: pd.DataFrame) -> tuple[float, float, str]:
    """The farthest start of a group of rows (its KL, SE) and its text for the verdicts."""
    if "start_kl" not in grp:  # a table from before the start was recorded
        return math.nan, math.nan, ""
    i = int(np.argmax((grp["start_kl"] + K_SE * grp["start_kl_se"]).to_numpy()))
    kl, se = float(grp["start_kl"].iloc[i]), float(grp["start_kl_se"].iloc[i])
    return kl, se, "; " + start_text(kl, se) + f" (at most, T = {int(grp['T'].iloc[i])})"


def _premise(
    claim_id: str, setting: dict, kind: str, prediction: str, grp: pd.DataFrame, effect_kl: float,
    detail: str,
) -> judge.Verdict | None:
    """``judge.start_limited`` on the farthest start of ``grp``; None where it is close."""
    kl, se, _ = _start(grp)
    if math.isnan(kl):
        return None
    return judge.start_limited(
        claim_id, setting, kind, prediction, start_kl=kl, start_kl_se=se, effect_kl=effect_kl,
        k=K_SE, detail=detail,
    )  # fmt: skip


def verdicts(df: pd.DataFrame) -> list[judge.Verdict]:
    out: list[judge.Verdict] = []
    table = summary(df)
    for (name, n), grp in table.groupby(["estimator", "n"], sort=False):
        z = (grp["off_plane_ms"] - grp["off_plane_exact_score"]) / grp["off_plane_se"]
        ratio = grp["off_plane_ms"] / grp["off_plane_exact_score"]
        setting = {"estimator": name, "n": int(n)}
        prediction = (
            "off-plane mass E[X^2] of the samples = the exact score's (closed form), at every T "
            "and sampler"
        )
        detail = (
            f"E[X^2] / exact-score value from {ratio.min():.3g} to {ratio.max():.3g} "
            f"over T = {sorted(set(grp['T']))} and {grp['sampler'].nunique()} samplers; "
            f"target v_1 = 1 - abar_1 from {grp['off_plane_target'].min():.3g}"
            + _start(grp)[2]
        )
        # the effect: the largest deviation from the exact score's, at least the finest row's
        # 4-SE band (what the comparison resolves), as a KL of off-plane Gaussians
        resolution = K_SE * grp["off_plane_se"] / grp["off_plane_exact_score"]
        effect = max(
            _ratio_effect(math.log1p(float(resolution.min()))),
            _ratio_effect(math.log(float(ratio.min()))),
            _ratio_effect(math.log(float(ratio.max()))),
        )
        premise = _premise("toy.on_plane", setting, "monte_carlo", prediction, grp, effect, detail)
        if premise is not None:
            out.append(premise)
            continue
        out.append(
            judge.monte_carlo(
                "toy.on_plane", setting, z=z.to_numpy(float), familywise=FAMILYWISE,
                prediction=prediction, detail=detail,
            )
        )  # fmt: skip
    for reg, unreg in PAPER_PAIRS:
        for n in sorted(set(table["n"])):
            a = table[(table["estimator"] == reg) & (table["n"] == n)]
            b = table[(table["estimator"] == unreg) & (table["n"] == n)]
            if a.empty or b.empty:
                continue
            merged = a.merge(b, on=["T", "sampler"], suffixes=("_reg", "_unreg"))
            setting = {"estimator": reg, "versus": unreg, "n": int(n)}
            prediction = (
                f"off-plane mass of {reg} < that of {unreg} with every sampler (the largest "
                "ratio at this T, 4-SE band)"
            )
            if np.array_equal(merged["off_plane_ms_reg"], merged["off_plane_ms_unreg"]):
                out.append(
                    judge.not_applicable(
                        "toy.regularization_on_plane", setting, "threshold", prediction,
                        f"{unreg} is already on the plane: its samples' X coordinates are "
                        f"those of {reg}, bit for bit (its off-plane denoiser is exactly 0, "
                        "the training targets x_0 having X = 0), so there is nothing to reduce"
                        + _start(a)[2],
                    )
                )  # fmt: skip
                continue
            for T, at_T in merged.groupby("T", sort=True):
                log_ratio = np.log(at_T["off_plane_ms_reg"] / at_T["off_plane_ms_unreg"])
                se = np.hypot(
                    at_T["off_plane_se_reg"] / at_T["off_plane_ms_reg"],
                    at_T["off_plane_se_unreg"] / at_T["off_plane_ms_unreg"],
                )
                worst = int(np.argmax(log_ratio.to_numpy()))
                est, s = float(log_ratio.iloc[worst]), float(se.iloc[worst])
                rows_T = a[a["T"] == T]
                detail = (
                    f"ratio from {math.exp(log_ratio.min()):.3g} to "
                    f"{math.exp(log_ratio.max()):.3g} over {len(at_T)} samplers; the "
                    f"largest with {at_T['sampler'].iloc[worst]}" + _start(rows_T)[2]
                )
                # the effect: the decisive ratio's distance from 1, at least its 4-SE band
                effect = _ratio_effect(max(abs(est), K_SE * s))
                premise = _premise(
                    "toy.regularization_on_plane", {**setting, "T": int(T)}, "threshold",
                    prediction, rows_T, effect, detail,
                )  # fmt: skip
                if premise is not None:
                    out.append(premise)
                    continue
                out.append(
                    judge.threshold(
                        "toy.regularization_on_plane", {**setting, "T": int(T)},
                        estimate=math.exp(est), low=math.exp(est - K_SE * s),
                        high=math.exp(est + K_SE * s), threshold=1.0, side="below",
                        prediction=prediction, detail=detail,
                    )
                )  # fmt: skip
    return out


def report_section(df: pd.DataFrame) -> str:
    """The off-plane mass relative to the exact score's, per estimator, at each T (ddpm_posterior
    where run, else the first sampler; the largest n)."""
    table = summary(df)
    sampler = "ddpm_posterior" if "ddpm_posterior" in set(table["sampler"]) else table[
        "sampler"
    ].iloc[0]
    n = int(table["n"].max())
    part = table[(table["sampler"] == sampler) & (table["n"] == n)]
    pivot = part.pivot_table(index="estimator", columns="T", values="off_plane_ms", sort=False)
    exact_row = part.groupby("T")["off_plane_exact_score"].first()
    lines = [
        f"Off-plane mass E[X^2] of the generated samples / the exact score's (closed form), "
        f"{sampler}, n = {n} training points:",
        "",
        "| estimator | " + " | ".join(f"T = {int(T)}" for T in pivot.columns) + " |",
        "|---|" + "---|" * len(pivot.columns),
    ]
    for name, row in pivot.iterrows():
        cells_ = " | ".join(f"{row[T] / exact_row[T]:.3g}" for T in pivot.columns)
        lines.append(f"| {name} | {cells_} |")
    kl = part.pivot_table(
        index="estimator", columns="T", values="off_plane_kl_exact", sort=False, dropna=False
    )
    lines += [
        "",
        "Exact KL(q_1 || p_1) of the off-plane coordinate, where the estimate's off-plane score "
        "depends on x_X alone (its law is then closed-form; blank where it mixes X with the "
        "plane):",
        "",
        "| estimator | " + " | ".join(f"T = {int(T)}" for T in kl.columns) + " |",
        "|---|" + "---|" * len(kl.columns),
    ]
    for name, row in kl.iterrows():
        cells_ = " | ".join("" if np.isnan(row[T]) else f"{row[T]:.3g}" for T in kl.columns)
        lines.append(f"| {name} | {cells_} |")
    return "\n".join(lines) + "\n"
