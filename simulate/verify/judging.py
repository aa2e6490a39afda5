"""The battery's verdicts, each over the whole sweep, each with its role.

Checks of the user's model (role ``check``: only these set ``regdiff verify``'s exit code):

- ``verify.score_first_order`` (Monte Carlo, Bonferroni over every statistic at every noise
  level the samplers use; a non-finite score fails it),
- ``verify.score_finite`` (identity: no problem found at the extremes or by Tweedie),
- ``verify.off_support_law`` (Monte Carlo: with a declared ``support``, the samplers'
  off-support moments equal the closed form of pure noise, which holds exactly when the
  data is 0 there and its score is -x / v there).

Findings about the samplers and estimators on that model (role ``finding``: reported, never
a failure of a correct model):

- ``verify.sampler_matches_data`` (Monte Carlo: at the largest T the MMD^2 to q_1 is at the
  noise floor),
- ``verify.d_free`` (the exact KL per pure-noise coordinate and the d at which it adds the
  battery's resolution to the KL: ``judge.d_free``),
- ``verify.l1_helps`` (threshold: the l1 denoiser's eps_score^2 below least squares'),
- ``verify.block_law`` (Monte Carlo: the numba samplers' moments at t0 equal the grid
  oracle's exact law; both use the model's score, so this tests the samplers, not the model).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from simulate import judge

__all__ = ["CHECKS", "CLAIMS", "CLAIMS_OF_PART", "FINDINGS", "verdicts"]

CHECKS = ("verify.score_first_order", "verify.score_finite", "verify.off_support_law")
FINDINGS = (
    "verify.sampler_matches_data",
    "verify.d_free",
    "verify.l1_helps",
    "verify.block_law",
    "verify.bound",
)
CLAIMS = (*CHECKS, *FINDINGS)
#: The claims each kind of cell feeds (a failed cell leaves them inconclusive).
CLAIMS_OF_PART = {
    "score": ("verify.score_first_order", "verify.score_finite"),
    "geometry": ("verify.l1_helps",),
    "estimation": ("verify.l1_helps",),
    "floor": ("verify.sampler_matches_data",),
    "sampler": ("verify.sampler_matches_data", "verify.off_support_law", "verify.d_free"),
    "oracle": ("verify.block_law",),
}
#: Family-wise error of the Monte Carlo comparisons of one battery (Bonferroni over all).
MC_FAMILYWISE = 1e-3
#: A coordinate-sparse denoiser (the premise of verify.l1_helps): at least this share of its
#: squared mass on s coordinates at every alpha_bar (as in the sparsity experiment).
SPARSE_SHARE = 0.9


def role_of(claim_id: str) -> str:
    return "check" if claim_id in CHECKS else "finding"


def with_role(v: judge.Verdict) -> judge.Verdict:
    return dataclasses.replace(v, role=role_of(v.claim_id))


def _setting(rows: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """Model, d (a range over a sweep) and ``extra``."""
    d = sorted({int(x) for x in rows["d"]})
    out: dict[str, Any] = {"model": rows["model"].iloc[-1]}
    out["d"] = d[0] if len(d) == 1 else f"{d[0]}..{d[-1]}"
    return {**out, **extra}


def _part(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[df["part"] == name] if "part" in df else df.iloc[0:0]


def verdicts(df: pd.DataFrame, resolution: float = 0.01) -> list[judge.Verdict]:
    """The battery's verdicts (module docstring), from whatever parts ``df`` holds."""
    out: list[judge.Verdict] = []
    score = _part(df, "score")
    if len(score):
        out += _score_verdicts(score)
    out += _estimation_verdicts(_part(df, "estimation"), _part(df, "geometry"))
    out += _oracle_verdicts(_part(df, "oracle"))
    out += _sampler_verdicts(
        _part(df, "sampler"), _part(df, "floor"), resolution, _part(df, "power")
    )
    return [with_role(v) for v in out]


def _score_verdicts(score: pd.DataFrame) -> list[judge.Verdict]:
    z = score["worst_z"].to_numpy(dtype=np.float64)
    z = np.where(np.isnan(z), np.inf, z)
    worst = score.iloc[int(np.argmax(z))]
    nonfinite = score[score["nonfinite_rows"] > 0]
    where = (
        "; non-finite scores at "
        + ", ".join(f"alpha_bar {r.alpha_bar:.10g} ({int(r.nonfinite_rows)} rows)"
                    for r in nonfinite.itertuples())  # fmt: skip
        if len(nonfinite)
        else ""
    )
    out = [
        judge.monte_carlo(
            "verify.score_first_order",
            _setting(score),
            z=list(z),
            n_tests=int(score["n_tests"].sum()),
            familywise=0.01,
            prediction="E[(s_t(X_t) + (X_t - a X_0)/v) . g(X_t)] = 0 for every test field, "
            f"v from {score['v'].min():.3g} to {score['v'].max():.3g}",
            detail=f"worst field {worst['worst_field']} at alpha_bar "
            f"{worst['alpha_bar']:.10g} (v = {worst['v']:.3g}), d = {int(worst['d'])}{where}",
        )
    ]
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
    return out


def _power(power: pd.DataFrame, floor: pd.DataFrame, T: int) -> tuple[float, str]:
    """The smallest z, over the sweep, of the MMD^2 of a shift with KL = resolution against
    the noise floor (``battery._power_row``): below the band, "indistinguishable" at this
    sample size says nothing at the resolution."""
    at = power[power["T"] == T] if len(power) else power
    if at.empty:
        return math.nan, ""
    zs, notes = [], []
    for _, row in at.iterrows():
        fl = floor[(floor["T"] == T) & (floor["sweep_value"] == row["sweep_value"])]["mmd2"]
        spread = math.sqrt(row["mmd2_shift_se"] ** 2 + float(np.var(fl, ddof=1)))
        zs.append((row["mmd2_shift"] - float(np.mean(fl))) / spread)
        notes.append(f"d={int(row['d'])}: z {zs[-1]:.3g} for a shift {row['shift']:.3g}")
    return float(min(zs)), "; ".join(notes)


def _sampler_verdicts(
    samp: pd.DataFrame, floor: pd.DataFrame, resolution: float, power: pd.DataFrame
) -> list[judge.Verdict]:
    out: list[judge.Verdict] = []
    if samp.empty:
        return out
    T_max = int(samp["T"].max())
    n_tests = len(samp) * 3
    z_power, power_notes = _power(power, floor, T_max)
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
        if "kl_exact" in last and last["kl_exact"].notna().any():
            notes.append(f"exact KL(q_1 || p_1) {float(last['kl_exact'].max()):.4g}")
        v = judge.monte_carlo(
            "verify.sampler_matches_data",
            _setting(last, sampler=sampler, T=T_max, n=int(last["n"].iloc[0])),
            z=z,
            n_tests=n_tests,
            familywise=MC_FAMILYWISE,
            prediction="MMD^2(p_1, q_1) at the noise floor of two q_1 samples",
            detail="; ".join(notes)
            + (f"; power: a shift of q_1 with KL {resolution:g} gives {power_notes}"
               if power_notes else ""),
        )  # fmt: skip
        if v.verdict == "holds" and not z_power >= v.interval[1]:
            # no difference seen, but none of the resolution's size could have been seen
            v = dataclasses.replace(
                v, verdict="inconclusive", reason="underpowered",
                detail=v.detail + f" (underpowered: the shift's z {z_power:.3g} is within the "
                f"band {v.interval[1]:.3g})",
            )  # fmt: skip
        out.append(v)
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
        for sampler, g in off.groupby("sampler", sort=False):
            per_T = g.drop_duplicates("T", keep="last").sort_values("T")  # the largest d
            row = per_T.iloc[-1]
            moves = ", ".join(
                f"T={int(r.T)}: {r.kl_off_coord:.3g} per coordinate"
                + (f", d = {resolution / r.kl_off_coord:.3g}" if r.kl_off_coord > 0 else "")
                for r in per_T.itertuples()
            )
            out.append(
                judge.d_free(
                    "verify.d_free",
                    {"model": row["model"], "sampler": sampler, "T": T_max, "init": "N(0,I)"},
                    slope=float(row["kl_off_coord"]),
                    resolution=resolution,
                    prediction="KL does not grow with d at fixed s: the exact KL per added "
                    f"pure-noise coordinate adds {resolution:g} only beyond "
                    f"d = {judge.D_CEILING:g}",
                    detail=f"exact (closed form, lambda = 0); {moves}",
                )
            )
    return out


def _oracle_verdicts(orc: pd.DataFrame) -> list[judge.Verdict]:
    """verify.block_law: the numba samplers' moments at t0 equal the grid oracle's, per
    sampler over the sweep and the T grid (Bonferroni over every z). A cell whose blocks the
    oracle could not resolve is left out. With none left: "not applicable" (premise_false)
    when some block of every cell has more coordinates than the oracles take (1 or 2: the
    claim is about blocks they can compute), else "inconclusive" (unresolved: the premise
    holds, the grid is what failed)."""
    out: list[judge.Verdict] = []
    if orc.empty:
        return out
    n_tests = max(1, int(orc["oracle_n_z"].sum()))
    for sampler, g in orc.groupby("sampler", sort=False):
        usable = g[g["kl_oracle"].notna() & g["oracle_worst_z"].notna()]
        setting = _setting(g, sampler=sampler, T=f"{int(g['T'].min())}..{int(g['T'].max())}")
        prediction = (
            "sampler moments at t0 = the grid oracle's exact law (blocks of 1 or 2 coordinates)"
        )
        if usable.empty:
            notes = "; ".join(dict.fromkeys(n for n in g["oracle_notes"] if isinstance(n, str)))
            too_big = g.get("oracle_blocks_too_big", pd.Series(0, index=g.index))
            if bool((too_big.fillna(0) > 0).all()):
                out.append(judge.not_applicable(
                    "verify.block_law", setting, "monte_carlo", prediction,
                    f"the model's blocks are larger than the oracles take: {notes}",
                ))  # fmt: skip
            else:
                out.append(judge.unresolved(
                    "verify.block_law", setting, "monte_carlo", prediction,
                    f"the grid oracles do not resolve this model's laws: {notes}",
                ))  # fmt: skip
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
    geo = geometry[geometry["d"] == d_max] if len(geometry) else geometry
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
    if "draw" in at and at["draw"].notna().all():
        # paired by training draw: a t interval of the per-draw ratios, whose spread holds
        # both the training draw's and the evaluation's variability
        pair = at.pivot_table(index="draw", columns="estimator", values="eps2")
        ratios = (pair["l1_denoiser"] / pair["ls"]).to_numpy()
        k = ratios.size
        ratio = float(np.mean(ratios))
        half = (
            float(sps.t.ppf(0.5 + judge.LEVEL / 2, k - 1) * np.std(ratios, ddof=1) / math.sqrt(k))
            if k > 1
            else math.inf
        )
        spread = f"; {k} training draws, per-draw ratios {', '.join(f'{r:.3g}' for r in ratios)}"
        ls = {"eps2": float(pair["ls"].mean()), "method": ls["method"]}
        l1 = {"eps2": float(pair["l1_denoiser"].mean())}
    else:
        ratio = l1["eps2"] / ls["eps2"]
        rel = math.hypot(l1["eps2_se"] / l1["eps2"], ls["eps2_se"] / ls["eps2"])
        half = 1.96 * ratio * rel
        spread = "; one training draw (its spread is not in the interval)"
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
            detail=f"eps^2: l1 {l1['eps2']:.4g}, least squares {ls['eps2']:.4g} "
            f"({ls['method']}){spread}",
        )
    ]
