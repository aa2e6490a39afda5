"""Argument checks shared by the public API.

Every check raises ``ValueError`` (or ``TypeError``) whose message names the parameter, the
value received and the allowed range, so that a user can fix the call without reading code.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from simulate.noise_level import NoiseLevel


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={value} is out of range; allowed: {_interval(low, high, True)}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` in the given interval; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    allowed = _interval(low, high, False, low_open, high_open)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} is not finite; allowed: {allowed}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name}={value} is out of range; allowed: {allowed}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name}={value} is out of range; allowed: {allowed}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``; raise a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; allowed: {', '.join(choices)}")
    return str(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """A counter-based seed: an integer in ``[0, 2**64 - 1]``."""
    return check_int(name, value, low=0, high=2**64 - 1)


def check_finite_array(name: str, x: Any, *, ndim: int | None = None) -> np.ndarray:
    """Return a C-contiguous float64 copy-or-view of ``x``; reject NaN/inf and wrong rank."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf); all must be finite"
        )
    return arr


def check_alpha_bar(value: Any, name: str = "alpha_bar") -> NoiseLevel:
    """The cumulative signal level of a noised law, as a :class:`NoiseLevel`.

    A plain real must lie in the open interval (0, 1). A ``NoiseLevel`` may have the float
    value 1.0 when its accurate complement ``v`` is positive (abar_t = 1 - 1e-20 rounds to 1
    in float64, yet the law is a noised one); its ``v`` must lie in (0, 1].
    """
    if isinstance(value, NoiseLevel):
        check_real(name, float(value), low=0.0, high=1.0, low_open=True)
        check_real(f"{name}.v", value.v, low=0.0, high=1.0, low_open=True)
        return value
    return NoiseLevel(check_real(name, value, low=0.0, high=1.0, low_open=True, high_open=True))


def _interval(
    low: float | None,
    high: float | None,
    integer: bool,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    kind = "integer" if integer else "real"
    if low is None and high is None:
        return f"any finite {kind}"
    if high is None:
        return f"{kind} {'>' if low_open else '>='} {low}"
    if low is None:
        return f"{kind} {'<' if high_open else '<='} {high}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"{kind} in {left}{low}, {high}{right}"


def check_points(x: Any, d: int, name: str = "x") -> np.ndarray:
    """Rows of points in R^d: a finite float64 (n, d) array (one point (d,) becomes (1, d))."""
    arr = check_finite_array(name, x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != d:
        raise ValueError(f"{name} must have shape (n, {d}), got {arr.shape}")
    return arr
