"""Effective sparsity of vectors, and of a model's true score and denoiser on q_t (SCIENCE.md 7).

Notation (code -> SCIENCE.md):

=====================  =====================================================================
``effective_sparsity``  ||v||_1^2 / ||v||_2^2 per row: in [1, d], equal to k for a vector with
                        k equal non-zero entries, about 2 d / pi for a Gaussian vector
``top_mass_share``      sum of the s largest v_i^2 / ||v||_2^2: 1 for an s-sparse vector
``score``               grad log q_t(x), the "literal" score (SCIENCE.md 2)
``denoiser``            D_t(x) = E[X_0 | X_t = x] = (x + v score) / a (Tweedie)
=====================  =====================================================================

SCIENCE.md 2: for data supported on S, the score is -x_j / v off S (dense), while the
denoiser vanishes off S (s-sparse). These functions measure both on draws of q_t.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from simulate._validation import checked, check_alpha_bar, check_finite_array, check_int, check_rng
from simulate.models.base import as_model

__all__ = ["effective_sparsity", "measure_sparsity", "top_mass_share"]


@checked
def effective_sparsity(v: Any) -> np.ndarray:
    """||v||_1^2 / ||v||_2^2 of every row of ``v`` (n, d) (a 1-D ``v`` is one row).

    Scale invariant; a row of zeros gives 0 (it has no non-zero entry).
    """
    arr = np.atleast_2d(check_finite_array("v", v))
    big = np.max(np.abs(arr), axis=1, keepdims=True)
    scaled = arr / np.where(big > 0, big, 1.0)  # no overflow or underflow of the squares
    l1 = np.sum(np.abs(scaled), axis=1)
    l2sq = np.sum(scaled * scaled, axis=1)
    return np.where(l2sq > 0, l1 * l1 / np.where(l2sq > 0, l2sq, 1.0), 0.0)


@checked
def top_mass_share(v: Any, s: int) -> np.ndarray:
    """Share of the squared mass of each row of ``v`` in its s largest coordinates.

    In [s / d, 1]; 1 exactly when the row has at most s non-zeros; a row of zeros gives 1.
    """
    arr = np.atleast_2d(check_finite_array("v", v))
    s = check_int("s", s, low=1, high=arr.shape[1])
    big = np.max(np.abs(arr), axis=1, keepdims=True)
    sq = (arr / np.where(big > 0, big, 1.0)) ** 2
    total = sq.sum(axis=1)
    top = -np.partition(-sq, s - 1, axis=1)[:, :s]
    return np.where(total > 0, top.sum(axis=1) / np.where(total > 0, total, 1.0), 1.0)


def _default_s(model: Any) -> int:
    support = getattr(model, "support", None)
    if support is not None:
        return int(np.count_nonzero(support))
    k = getattr(model, "intrinsic_dim", None)
    if k:
        return int(k)
    raise ValueError(
        f"{model!r} declares neither a support nor an intrinsic dimension: pass s explicitly"
    )


@checked
def measure_sparsity(
    model: Any,
    alpha_bars: Any,
    n: int = 1000,
    seed: int = 0,
    s: int | None = None,
) -> pd.DataFrame:
    """Effective sparsity of the true score and denoiser of ``model`` on n draws of each q_t.

    Parameters
    ----------
    model : DataModel or a user's model
        Needs ``sample`` and ``score`` / ``denoiser`` (the other by Tweedie).
    alpha_bars : sequence of float
        abar_t values in (0, 1).
    n : int
        Draws X_t = sqrt(abar) X_0 + sqrt(1 - abar) W per alpha_bar.
    seed : int
        X_0 and W come from ``numpy.random.default_rng(seed)`` (the same X_0 for every
        alpha_bar, fresh W per alpha_bar).
    s : int, optional
        The sparsity level of the top-s share; default: the size of ``model.support``, else
        ``model.intrinsic_dim``.

    Returns
    -------
    pandas.DataFrame
        One row per alpha_bar: ``model``, ``d``, ``s``, ``alpha_bar``, ``n``, ``seed`` and, for
        ``what`` in (score, denoiser): ``{what}_eff`` (mean over draws of
        ||v||_1^2 / ||v||_2^2), ``{what}_eff_se`` (its standard error), ``{what}_eff_frac``
        (= eff / d) and ``{what}_top_share`` (mean share of squared mass in the top s).
    """
    model = as_model(model)
    n = check_int("n", n, low=2)
    s = _default_s(model) if s is None else check_int("s", s, low=1, high=model.d)
    rng = check_rng(seed)
    x0 = model.sample(n, rng)
    rows = []
    for alpha_bar in alpha_bars:
        alpha_bar = check_alpha_bar(alpha_bar)
        z = rng.standard_normal(x0.shape)
        x = math.sqrt(alpha_bar) * x0 + math.sqrt(alpha_bar.v) * z
        row: dict[str, Any] = {
            "model": model.name,
            "d": model.d,
            "s": s,
            "alpha_bar": alpha_bar,
            "n": n,
            "seed": seed,
        }
        for what, values in (
            ("score", model.score(x, alpha_bar)),
            ("denoiser", model.denoiser(x, alpha_bar)),
        ):
            eff = effective_sparsity(values)
            row[f"{what}_eff"] = float(eff.mean())
            row[f"{what}_eff_se"] = float(eff.std(ddof=1) / math.sqrt(n))
            row[f"{what}_eff_frac"] = float(eff.mean()) / model.d
            row[f"{what}_top_share"] = float(top_mass_share(values, s).mean())
        rows.append(row)
    return pd.DataFrame(rows)
