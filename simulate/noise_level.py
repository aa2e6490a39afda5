"""A noise level abar_t that carries an accurate v_t = 1 - abar_t (SCIENCE.md 1.1).

Forming v = 1 - abar from abar loses digits when abar is close to 1: on the Li et al.
schedule with c0 = 4, beta_1 = T^(-4), so at T = 1000 the first-step variance 1 - abar_1 is
wrong by 2.2e-5 relative, at T = 1e4 by 11%, and at T = 1e5 it rounds to 0 (abar_1 = 1.0 in
float64, and the score divides by zero). ``Schedule`` computes v_t = -expm1(sum_{i<=t}
log1p(-beta_i)) instead, which keeps full relative accuracy, and hands it on in one of two
forms:

- to numba score kernels as a separate argument ``v_t`` (``simulate.kernels``);
- to Python code as a :class:`NoiseLevel`: a ``float`` whose value is abar_t (so every
  function that takes ``alpha_bar`` keeps working, a user's model included) and whose
  attribute ``v`` is the accurate v_t. :func:`noise_scales` reads (sqrt(abar), v) from a
  level or from a plain float (then v = 1 - abar, the best a float can give).

This is a deliberate change of DESIGN.md's "a noise level is a float": the float stays, and
the accurate complement rides along with it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["NoiseLevel", "noise_scales", "noise_variance"]


class NoiseLevel(float):
    """abar_t as a float, with ``v`` = 1 - abar_t computed without cancellation.

    Parameters
    ----------
    alpha_bar : float
        abar_t (the float value of the level).
    v : float, optional
        1 - abar_t; default ``1.0 - alpha_bar``. Pass it when it is known more accurately
        (e.g. ``-expm1(log abar)``), as ``Schedule.level`` does.
    """

    __slots__ = ("v",)

    v: float

    def __new__(cls, alpha_bar: Any, v: Any = None) -> NoiseLevel:
        value = _level("alpha_bar", alpha_bar)
        self = super().__new__(cls, value)
        self.v = 1.0 - value if v is None else _level("v", v)
        return self

    def __repr__(self) -> str:
        return f"NoiseLevel(alpha_bar={float(self)!r}, v={self.v!r})"

    def __reduce__(self) -> tuple:
        return (NoiseLevel, (float(self), self.v))


def _level(name: str, value: Any) -> float:
    """``value`` as a finite float in [0, 1] (a noise level or its complement); else raise."""
    if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None:
        value = value.item()  # a 0-d NumPy array or scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {value!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} is out of range; allowed: real in [0, 1]")
    return value


def noise_variance(alpha_bar: Any) -> float:
    """v = 1 - abar: the accurate ``alpha_bar.v`` of a :class:`NoiseLevel`, else 1 - abar."""
    if isinstance(alpha_bar, NoiseLevel):
        return alpha_bar.v
    return 1.0 - _level("alpha_bar", alpha_bar)


def noise_scales(alpha_bar: Any) -> tuple[float, float]:
    """(a, v) = (sqrt(abar), 1 - abar) of a noise level (``v`` accurate for a NoiseLevel)."""
    return math.sqrt(_level("alpha_bar", alpha_bar)), noise_variance(alpha_bar)
