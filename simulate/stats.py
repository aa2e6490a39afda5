"""Fits with confidence intervals, shared by every experiment and the report.

Scaling exponents are the slopes of least-squares lines on log-log axes; their 95%
intervals use the Student t quantile with n - 2 degrees of freedom (classical OLS).
For deterministic inputs (the exact path) the interval measures departure from an exact
power law, not noise; the report says which is which.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

import numpy as np
from scipy import stats as sps

from simulate._validation import checked
__all__ = ["Fit", "fit_line", "fit_power_law", "fit_power_laws", "mean_ci"]

#: Confidence level of every interval in the report.
LEVEL = 0.95


@dataclass(frozen=True)
class Fit:
    """y = intercept + slope * x, with a LEVEL interval on the slope."""

    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    n: int
    r2: float

    def contains(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high

    def __str__(self) -> str:
        return f"{self.slope:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}]"


@checked
def fit_line(x: np.ndarray, y: np.ndarray, level: float = LEVEL) -> Fit:
    """OLS fit of y on x with a two-sided ``level`` interval on the slope (needs n >= 3)."""
    x, y, level = _vector("x", x), _vector("y", y), _level(level)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(
            f"x and y must be paired (the same length) with >= 3 points; got {x.size} and {y.size}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite (a line fit of NaN or inf has no meaning)")
    if np.ptp(x) == 0.0:
        raise ValueError(f"x must take at least two values, got all x = {x[0]:g}")
    res = sps.linregress(x, y)
    q = sps.t.ppf(0.5 + level / 2, x.size - 2)
    half = q * res.stderr if np.ptp(y) > 0.0 else 0.0  # y constant: an exact, flat line
    return Fit(
        float(res.slope),
        float(res.slope - half),
        float(res.slope + half),
        float(res.intercept),
        int(x.size),
        # y constant: rvalue is 0/0, but the (flat) line is exact, so r^2 = 1
        float(res.rvalue**2) if np.ptp(y) > 0.0 else 1.0,
    )


@checked
def fit_power_law(x: np.ndarray, y: np.ndarray, level: float = LEVEL) -> Fit:
    """Exponent p of y ~ x^p: OLS of log y on log x (positive finite points only)."""
    x, y, level = _vector("x", x), _vector("y", y), _level(level)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    return fit_line(np.log(x[keep]), np.log(y[keep]), level)


@checked
def mean_ci(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of replicates and its t interval: (mean, low, high); NaN bounds for one value."""
    v, level = _vector("values", values), _level(level)
    if v.size == 0:
        raise ValueError("values must hold at least one value, got none")
    m = float(v.mean())
    if v.size < 2:
        return m, float("nan"), float("nan")
    half = float(sps.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


@checked
def fit_power_laws(
    columns: dict[str, np.ndarray], y: np.ndarray, level: float = LEVEL
) -> dict[str, Fit]:
    """Joint exponents of y ~ prod_j x_j^(p_j): OLS of log y on every log x_j with an intercept.

    Each returned Fit is one exponent p_j with its two-sided ``level`` interval (Student t,
    n - m - 1 degrees of freedom for m regressors); ``r2`` is that of the whole model.
    Needs positive finite values and more points than regressors + 1.
    """
    names = list(columns)
    y = np.asarray(y, dtype=np.float64)
    X = np.column_stack([np.asarray(columns[k], dtype=np.float64) for k in names])
    if X.shape[0] != y.size or y.size < len(names) + 2:
        raise ValueError(
            f"fit_power_laws needs > {len(names) + 1} paired points for {len(names)} "
            f"regressors, got {y.size}"
        )
    if np.any(~np.isfinite(X) | (X <= 0)) or np.any(~np.isfinite(y) | (y <= 0)):
        raise ValueError("fit_power_laws needs positive finite values")
    A = np.column_stack([np.ones(y.size), np.log(X)])
    ly = np.log(y)
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    resid = ly - A @ coef
    dof = y.size - A.shape[1]
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.pinv(A.T @ A)
    half = sps.t.ppf(0.5 + level / 2, dof) * np.sqrt(np.diag(cov))
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else 1.0
    return {
        name: Fit(
            float(coef[j + 1]),
            float(coef[j + 1] - half[j + 1]),
            float(coef[j + 1] + half[j + 1]),
            float(coef[0]),
            int(y.size),
            r2,
        )
        for j, name in enumerate(names)
    }


def _vector(name: str, x: Any) -> np.ndarray:
    """``x`` as a 1-D float64 array (NaN allowed: the fits skip non-positive/non-finite
    points); TypeError/ValueError naming ``name`` otherwise."""
    from simulate._validation import _array_ok

    reason = _array_ok(x)
    if reason:
        raise TypeError(f"{name} must be a 1-D array of real numbers, {reason}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _level(level: Any) -> float:
    """A confidence level in the open interval (0, 1)."""
    from simulate._validation import check_real

    return check_real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
