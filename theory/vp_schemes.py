"""The off-support (pure-noise) coordinate under each VP-SDE scheme, symbolically (issue 12).

A coordinate with data variance 0 has the marginal N(0, v(t)), v(t) = 1 - exp(-B(t)),
B(t) = b0 t + b1 t^2 / 2 (Song's beta(t) = b0 + b1 t), and the exact score s(y, t) = -y / v(t).
Every scheme maps it affinely: one step from time t to t - h sends Y ~ N(0, v(t)) to
N(0, P^2 v(t) + N), P and N the scheme's coefficients (``simulate.samplers``), while the
exact reverse process gives N(0, v(t - h)). The *local error* of the scheme on this coordinate is

    e(h) = P(h)^2 v(t) + N(h) - v(t - h),

and its leading order in h is the scheme's order plus one: h^2 for Euler-Maruyama, the
exponential integrator, the ancestral step and Euler; h^3 for Heun; h^5 for RK4. Summed over
the 1/h steps, the per-coordinate KL (about (e / v)^2 / 4 per step, propagated) is of order
h^(2p): a pure-noise coordinate costs every scheme a KL of order h^(2p), so d of them force
T* ~ d^(1/(2p)) (``simulate.experiments.steps_to_accuracy`` measures 0.55, 0.25, 0.16).

``LOCAL_ERROR[name]`` is e(h) as a SymPy expression of (h, t, b0, b1), checked numerically
against ``simulate.exact.coordinate_law`` on a one-step grid to 1e-10;
``local_error_series(name)`` its series in h (in E = exp(-B(t)) and bt = beta(t)), and
``leading_order(name)`` the first non-zero power, proved by the series
(``theory/test_vp_schemes.py``).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.polys.fields import field

__all__ = [
    "LOCAL_ERROR",
    "ORDER",
    "SCHEMES",
    "E",
    "b0",
    "b1",
    "bt",
    "h",
    "leading_coefficient",
    "leading_order",
    "local_error_series",
    "one_step_variance",
    "t",
]

t, h, b0, b1 = sp.symbols("t h b0 b1", positive=True)
y = sp.Symbol("y")

SCHEMES = ("em", "ei", "ancestral", "pf_euler", "pf_heun", "pf_rk4")
#: The order p each scheme is expected to have (the local error is O(h^(p+1))).
ORDER = {"em": 1, "ei": 1, "ancestral": 1, "pf_euler": 1, "pf_heun": 2, "pf_rk4": 4}


def _B(time: sp.Expr) -> sp.Expr:
    return b0 * time + b1 * time**2 / 2


def _beta(time: sp.Expr) -> sp.Expr:
    return b0 + b1 * time


def _v(time: sp.Expr) -> sp.Expr:
    return 1 - sp.exp(-_B(time))


def _drift(value: sp.Expr, time: sp.Expr) -> sp.Expr:
    """Probability-flow drift in reverse time, beta/2 (y + s), with s = -y / v."""
    return _beta(time) / 2 * (value - value / _v(time))


def one_step_variance(name: str) -> sp.Expr:
    """Variance after one step from N(0, v(t)) at time t to time t - h."""
    v_t, beta_t = _v(t), _beta(t)
    if name in ("em", "ei", "ancestral"):
        s_coef = -1 / v_t  # s(y) = s_coef y
        if name == "em":
            P, N = 1 + h * beta_t / 2 + h * beta_t * s_coef, h * beta_t
        elif name == "ei":
            delta = _B(t) - _B(t - h)
            P = sp.exp(delta / 2) + 2 * (sp.exp(delta / 2) - 1) * s_coef
            N = sp.exp(delta) - 1
        else:
            b = beta_t * h
            P, N = (1 + b * s_coef) / sp.sqrt(1 - b), b
        return P**2 * v_t + N
    if name == "pf_euler":
        out = y + h * _drift(y, t)
    elif name == "pf_heun":
        k1 = _drift(y, t)
        k2 = _drift(y + h * k1, t - h)
        out = y + h * (k1 + k2) / 2
    elif name == "pf_rk4":
        k1 = _drift(y, t)
        k2 = _drift(y + h / 2 * k1, t - h / 2)
        k3 = _drift(y + h / 2 * k2, t - h / 2)
        k4 = _drift(y + h * k3, t - h)
        out = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    else:
        raise ValueError(f"scheme={name!r}; allowed: {', '.join(SCHEMES)}")
    P = sp.expand(out / y)
    return P**2 * v_t


LOCAL_ERROR: dict[str, sp.Expr] = {
    name: one_step_variance(name) - _v(t - h) for name in SCHEMES
}

# -- the series in h, by truncated power-series arithmetic ----------------------------------
#
# With E = exp(-B(t)) and bt = beta(t): B(t - c h) = B(t) - c h bt + c^2 h^2 b1 / 2, so
# v(t - c h) = 1 - E exp(c h bt - c^2 h^2 b1 / 2) and beta(t - c h) = bt - c h b1. Every
# quantity of a step is then a power series in h whose coefficients are rational functions of
# (E, bt, b1); the schemes are sums, products and quotients of such series, so e(h) is computed
# exactly to h^K by truncated series arithmetic over the field Q(E, bt, b1) (seconds, where
# sympy.series on LOCAL_ERROR takes minutes for Heun and longer for RK4).

E, bt = sp.symbols("E b_t", positive=True)
#: Highest power of h kept (RK4's local error is h^5).
K = 6
_F, _E, _BT, _B1 = field("E,b_t,b1", sp.QQ)


class _Series:
    """A power series in h truncated after h^K, coefficients in Q(E, bt, b1)."""

    def __init__(self, coef: list) -> None:
        self.c = (list(coef) + [_F(0)] * (K + 1))[: K + 1]

    @classmethod
    def const(cls, value: Any) -> _Series:
        return cls([_F(value)])

    def __add__(self, other: Any) -> _Series:
        o = other if isinstance(other, _Series) else _Series.const(other)
        return _Series([a + b for a, b in zip(self.c, o.c, strict=True)])

    __radd__ = __add__

    def __neg__(self) -> _Series:
        return _Series([-a for a in self.c])

    def __sub__(self, other: Any) -> _Series:
        return self + (-(other if isinstance(other, _Series) else _Series.const(other)))

    def __rsub__(self, other: Any) -> _Series:
        return _Series.const(other) - self

    def __mul__(self, other: Any) -> _Series:
        if not isinstance(other, _Series):
            return _Series([a * _F(other) for a in self.c])
        out = [_F(0)] * (K + 1)
        for i, a in enumerate(self.c):
            if a == 0:
                continue
            for j in range(K + 1 - i):
                out[i + j] += a * other.c[j]
        return _Series(out)

    __rmul__ = __mul__

    def inverse(self) -> _Series:
        """1 / self (needs a non-zero constant term)."""
        c0 = self.c[0]
        if c0 == 0:
            raise ZeroDivisionError("series with a zero constant term")
        out = [1 / c0]
        for n in range(1, K + 1):
            out.append(-sum(self.c[k] * out[n - k] for k in range(1, n + 1)) / c0)
        return _Series(out)

    def __truediv__(self, other: Any) -> _Series:
        if not isinstance(other, _Series):
            return self * (1 / _F(other))
        return self * other.inverse()

    def exp(self) -> _Series:
        """exp(self) for a series without constant term."""
        if self.c[0] != 0:
            raise ValueError("exp of a series with a constant term")
        out, term = _Series.const(1), _Series.const(1)
        for k in range(1, K + 1):
            term = term * self / k
            out = out + term
        return out


_H = _Series([_F(0), _F(1)])


def _v_at(c: Any) -> _Series:
    """v(t - c h) = 1 - E exp(c h bt - c^2 h^2 b1 / 2)."""
    c = sp.Rational(c)
    return 1 - _E * (_H * (c * _BT) - _H * _H * (c * c * _B1 / 2)).exp()


def _beta_at(c: Any) -> _Series:
    return _Series.const(_BT) - _H * (sp.Rational(c) * _B1)


def _drift_gain(c: Any) -> _Series:
    """beta/2 (1 - 1/v) at t - c h: the probability-flow drift is this times y."""
    return _beta_at(c) * (1 - _v_at(c).inverse()) / 2


def _local_error_series(name: str) -> _Series:
    v0 = _Series.const(1 - _E)
    s_coef = _Series.const(-1 / (1 - _E))
    beta0 = _Series.const(_BT)
    if name == "em":
        P, N = 1 + _H * beta0 / 2 + _H * beta0 * s_coef, _H * beta0
        return P * P * v0 + N - _v_at(1)
    if name == "ei":
        delta = _H * _BT - _H * _H * (_B1 / 2)
        half = (delta / 2).exp()
        P, N = half + (half - 1) * s_coef * 2, delta.exp() - 1
        return P * P * v0 + N - _v_at(1)
    if name == "ancestral":
        b = _H * _BT
        return (1 + b * s_coef) * (1 + b * s_coef) / (1 - b) * v0 + b - _v_at(1)
    half, one, zero = sp.Rational(1, 2), 1, 0
    if name == "pf_euler":
        P = 1 + _H * _drift_gain(zero)
    elif name == "pf_heun":
        k1 = _drift_gain(zero)
        k2 = _drift_gain(one) * (1 + _H * k1)
        P = 1 + _H * (k1 + k2) / 2
    elif name == "pf_rk4":
        k1 = _drift_gain(zero)
        k2 = _drift_gain(half) * (1 + _H * k1 / 2)
        k3 = _drift_gain(half) * (1 + _H * k2 / 2)
        k4 = _drift_gain(one) * (1 + _H * k3)
        P = 1 + _H * (k1 + k2 * 2 + k3 * 2 + k4) / 6
    else:
        raise ValueError(f"scheme={name!r}; allowed: {', '.join(SCHEMES)}")
    return P * P * v0 - _v_at(1)


def local_error_series(name: str) -> list[sp.Expr]:
    """Coefficients c_0..c_K of e(h) = sum_k c_k h^k + O(h^(K+1)), exact rational functions
    of (E, bt, b1) with E = exp(-B(t)) and bt = beta(t)."""
    if name not in SCHEMES:
        raise ValueError(f"scheme={name!r}; allowed: {', '.join(SCHEMES)}")
    coef = _local_error_series(name).c
    return [
        sp.factor(c.as_expr().subs({sp.Symbol("E"): E, sp.Symbol("b_t"): bt, sp.Symbol("b1"): b1}))
        for c in coef
    ]


def leading_order(name: str) -> int:
    """The smallest k with a non-zero coefficient of h^k in e(h) (at most K). Zero is exact:
    the coefficients are elements of the rational function field."""
    for k, c in enumerate(_local_error_series(name).c):
        if c != 0:
            return k
    raise ValueError(f"no non-zero term up to h^{K} for {name!r}")


def leading_coefficient(name: str) -> sp.Expr:
    """The coefficient of h^(p+1) in e(h) as a function of (E, bt, b1), E = exp(-B(t))."""
    return local_error_series(name)[ORDER[name] + 1]
