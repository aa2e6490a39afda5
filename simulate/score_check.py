"""Is a data model's score right? Checks that need no density (SCIENCE.md 2).

The DSM first-order condition. With X_t = a X_0 + sqrt(v) W (a = sqrt(abar_t), v = 1 - abar_t),
the conditional mean of the DSM target -(X_t - a X_0)/v given X_t is the score, so for the true
score s_t and every test field g,

    E[(s_t(X_t) + (X_t - a X_0) / v) . g(X_t)] = 0.

Each (alpha_bar, g) gives one statistic: the mean of r_i = (s_t(x_t^i) + sqrt(v) w^i / v) .
g(x_t^i) over fresh pairs, its standard error sd(r) / sqrt(n), and z = mean / SE. The fields:

==================  =========================================================  ==========
field               g(x)                                                       catches
==================  =========================================================  ==========
``shift[j]``        e_j                                                        an offset
``scale[j]``        x_j e_j  (Stein: E[s_j X_j] = -1)                          a scale
``radial``          x                                                          any scale
``feature[k]``      cos(w_k . x + c_k) u_k, w_k ~ N(0, I / d), c_k ~ U[0, 2pi),  the rest
                    u_k a random unit vector
==================  =========================================================  ==========

Every z is judged together (``simulate.judge.monte_carlo``: a band of max(4, Bonferroni)
standard errors over all statistics). Beside it: finite scores of the right shape from
alpha_bar = 1e-12 to 1 - 1e-12, Tweedie consistency when the model gives both a score and a
denoiser, and identical fused and batch sampler paths when it gives a score kernel.

Notation: ``alpha_bars`` the grid of abar_t, ``n`` the pairs per alpha_bar, ``z`` the
statistics above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from simulate import judge
from simulate._validation import check_alpha_bar, check_int, check_seed
from simulate.models.base import UserModel, as_model
from simulate.noise_level import NoiseLevel, noise_scales

__all__ = [
    "DEFAULT_ALPHA_BARS",
    "EXTREME_ALPHA_BARS",
    "FAMILYWISE",
    "ROUNDOFF_RTOL",
    "TWEEDIE_RTOL",
    "ScoreCheck",
    "check_score",
]

#: The alpha_bar grid of the first-order test: from nearly pure noise to nearly clean data.
DEFAULT_ALPHA_BARS = (1e-3, 0.05, 0.3, 0.7, 0.95, 0.999)
#: Where only finiteness and shape are checked (the ends of the open interval (0, 1)).
EXTREME_ALPHA_BARS = (1e-12, 1e-6, 1.0 - 1e-6, 1.0 - 1e-12)
#: Family-wise error rate of the first-order test over all its statistics.
FAMILYWISE = 0.01
#: Tweedie consistency: score and (a D - x)/v computed by two routes agree to float64
#: round-off amplified by 1/v (a few ulps of the larger of the two terms).
TWEEDIE_RTOL = 1e-8
#: Round-off floor of a statistic, relative to the mean size of the two terms it cancels
#: (|s . g| and |w / sqrt(v) . g|): off the support s_t(x_t) = -x_t / v cancels the noise
#: term exactly up to a few ulps, whose systematic sign would otherwise give a huge z.
ROUNDOFF_RTOL = 64 * np.finfo(np.float64).eps
#: ``numpy.random.default_rng([seed, STREAM, ...])`` streams of this module.
_STREAM_PAIRS, _STREAM_FEATURES, _STREAM_EXTREMES = 11, 12, 13


@dataclass(frozen=True)
class ScoreCheck:
    """Result of :func:`check_score`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per statistic: alpha_bar, v (accurate), field, index, mean, se, z (inf where
        the score had a non-finite row at that alpha_bar), nonfinite_rows.
    verdict : judge.Verdict
        The first-order test (kind "monte_carlo").
    problems : list of str
        Non-finite or misshapen scores at the extreme alpha_bar values, and Tweedie
        mismatches; empty when there are none.
    """

    table: pd.DataFrame
    verdict: judge.Verdict
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict.verdict == "holds" and not self.problems

    def by_level(self) -> pd.DataFrame:
        """One row per noise level, to localize an error: alpha_bar, v, the worst |z| there
        (inf where the score was not finite), its field and index, the number of statistics
        and of rows whose score was not finite there (of the n pairs)."""
        rows = []
        for (alpha_bar, v), g in self.table.groupby(["alpha_bar", "v"], sort=False):
            z = g["z"].abs().to_numpy()
            z = np.where(np.isnan(z), np.inf, z)
            worst = int(np.argmax(z))
            rows.append(
                {
                    "alpha_bar": alpha_bar, "v": v, "worst_z": float(z[worst]),
                    "worst_field": f"{g['field'].iloc[worst]}[{int(g['index'].iloc[worst])}]",
                    "n_tests": int(z.size), "nonfinite_rows": int(g["nonfinite_rows"].iloc[0]),
                }
            )  # fmt: skip
        return pd.DataFrame(rows)


def _statistics(
    score: np.ndarray, target: np.ndarray, xt: np.ndarray, features: tuple
) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """(field, index, s . g, target . g) per test field of the module docstring."""
    w, c, u = features
    d = xt.shape[1]
    out = [("shift", j, score[:, j], target[:, j]) for j in range(d)]
    out += [("scale", j, score[:, j] * xt[:, j], target[:, j] * xt[:, j]) for j in range(d)]
    out.append(
        ("radial", 0, np.einsum("ij,ij->i", score, xt), np.einsum("ij,ij->i", target, xt))
    )
    if w.shape[0]:
        phase = np.cos(xt @ w.T + c)  # (n, K)
        ps, pt = phase * (score @ u.T), phase * (target @ u.T)
        out += [("feature", k, ps[:, k], pt[:, k]) for k in range(w.shape[0])]
    return out


def check_score(
    model: Any,
    alpha_bars: Any = DEFAULT_ALPHA_BARS,
    n: int = 100_000,
    seed: int = 0,
    n_features: int = 8,
) -> ScoreCheck:
    """The DSM first-order test, finiteness and Tweedie consistency (module docstring).

    Parameters
    ----------
    model : data model (built-in or a user's object with ``d``, ``sample`` and a score)
    alpha_bars : sequence of floats in (0, 1)
    n : int
        Fresh (X_0, X_t) pairs per alpha_bar, n >= 100.
    seed : int
    n_features : int
        Random-feature test fields, >= 0.
    """
    m = as_model(model)
    n = check_int("n", n, low=100)
    seed = check_seed(seed)
    n_features = check_int("n_features", n_features, low=0)
    grid = [
        check_alpha_bar(ab if isinstance(ab, NoiseLevel) else float(ab), f"alpha_bars[{i}]")
        for i, ab in enumerate(alpha_bars)
    ]
    if not grid:
        raise ValueError("alpha_bars must hold at least one value in (0, 1)")
    d = m.d
    frng = np.random.default_rng([seed, _STREAM_FEATURES])
    w = frng.standard_normal((n_features, d)) / math.sqrt(d)
    c = frng.uniform(0.0, 2.0 * math.pi, n_features)
    u = frng.standard_normal((n_features, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    rows = []
    for i, alpha_bar in enumerate(grid):
        rng = np.random.default_rng([seed, _STREAM_PAIRS, i])
        a, v = noise_scales(alpha_bar)
        x0 = m.sample(n, rng)
        noise = rng.standard_normal((n, d))
        xt = a * x0 + math.sqrt(v) * noise
        score = np.asarray(m.score(xt, alpha_bar), dtype=np.float64)
        target = noise / math.sqrt(v)  # (x_t - a x_0) / v
        # a score that is NaN or inf on any row fails every statistic at this level (a mean
        # over the finite rows alone would hide it)
        nonfinite = int(np.count_nonzero(~np.all(np.isfinite(score), axis=1)))
        for name, index, gs, gt in _statistics(score, target, xt, (w, c, u)):
            r = gs + gt  # (s_t(x_t) + (x_t - a x_0) / v) . g(x_t), one value per pair
            if nonfinite:
                mean, se, z = math.nan, math.nan, math.inf
            else:
                mean = float(np.mean(r))
                se = float(np.std(r, ddof=1) / math.sqrt(n))
                floor = ROUNDOFF_RTOL * float(np.mean(np.abs(gs)) + np.mean(np.abs(gt)))
                spread = math.hypot(se, floor)
                z = mean / spread if spread > 0 else 0.0
            rows.append(
                {"alpha_bar": float(alpha_bar), "v": v, "field": name, "index": index,
                 "mean": mean, "se": se, "z": z, "nonfinite_rows": nonfinite}
            )  # fmt: skip
    table = pd.DataFrame(rows)
    verdict = judge.monte_carlo(
        "verify.score_first_order",
        {"model": getattr(m, "name", type(m).__name__), "d": d, "n": n},
        z=table["z"].to_numpy(),
        familywise=FAMILYWISE,
        prediction="E[(s_t(X_t) + (X_t - a X_0)/v) . g(X_t)] = 0 for every test field g",
        detail=f"{len(grid)} alpha_bar values, fields shift/scale per coordinate, radial, "
        f"{n_features} random features, n = {n} pairs each",
    )
    return ScoreCheck(table, verdict, _problems(m, seed))


def _problems(m: Any, seed: int) -> list[str]:
    """Non-finite or misshapen scores at the extreme alpha_bar values; Tweedie mismatches."""
    problems = []
    rng = np.random.default_rng([seed, _STREAM_EXTREMES])
    x0 = m.sample(64, rng)
    noise = rng.standard_normal(x0.shape)
    for alpha_bar in EXTREME_ALPHA_BARS:
        a, v = noise_scales(alpha_bar)
        xt = a * x0 + math.sqrt(v) * noise
        try:
            s = np.asarray(m.score(xt, alpha_bar), dtype=np.float64)
        except (ValueError, FloatingPointError, ZeroDivisionError) as err:
            problems.append(f"score raised at alpha_bar={alpha_bar:.12g}: {err}")
            continue
        if s.shape != xt.shape:
            problems.append(f"score has shape {s.shape} at alpha_bar={alpha_bar:.12g}")
        elif not np.all(np.isfinite(s)):
            bad = int(s.size - np.count_nonzero(np.isfinite(s)))
            problems.append(f"score has {bad} non-finite value(s) at alpha_bar={alpha_bar:.12g}")
    if m.score_kernel() is not None:  # the fused path must give the batch path's numbers
        from simulate import samplers, schedules

        sch = schedules.li(12, 2.0, 4.0)
        for variance in samplers.VARIANCES:
            fused = samplers.sample(m, sch, 16, seed=seed, sampler=variance, method="fused")
            batch = samplers.sample(m, sch, 16, seed=seed, sampler=variance, method="batch")
            if not np.array_equal(fused, batch):
                problems.append(
                    f"the fused and batch samplers differ ({variance}): the score kernel and "
                    "score() disagree"
                )
    if isinstance(m, UserModel) and m._has_score and m._has_denoiser:
        for alpha_bar in DEFAULT_ALPHA_BARS:
            a, v = noise_scales(alpha_bar)
            xt = a * x0 + math.sqrt(v) * noise
            s = m.score(xt, alpha_bar)
            via = (a * m.denoiser(xt, alpha_bar) - xt) / v
            scale = float(np.max(np.abs(xt))) / v + float(np.max(np.abs(s)))
            err = float(np.max(np.abs(s - via)))
            if err > TWEEDIE_RTOL * scale:
                problems.append(
                    f"score and denoiser disagree by Tweedie at alpha_bar={alpha_bar:g}: "
                    f"max |s - (a D - x)/v| = {err:.3g} > {TWEEDIE_RTOL:g} x {scale:.3g}"
                )
    return problems
