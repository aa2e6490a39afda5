"""The bounds: the paper's (as read), the anchors' (SCIENCE.md 6) and ours (derived here).

Each bound is a SymPy expression in T and the dimensions, with its leading discretization
term written A log^k(T) / T^p. Iteration complexity T(eps) solves "leading term = eps":
exactly with the Lambert W function (branch -1, the large root), and to leading order
T ~ X log(X)^(k/p), X = (A/eps)^(1/p). Predicted exponents are exported as plain floats
(``predicted_exponents``), computed from the expressions by SymPy limits.

Log powers of the anchors are RECALLED, NOT VERIFIED against the papers (SCIENCE.md 6 says
so); each ``Bound`` carries ``log_power_verified``. Only the polynomial exponents in T and
in the dimensions are used as predictions.

Notation (code name -> symbol):

=================  ===================================================================
``T``, ``d``,      steps, ambient dimension, sparsity (support size), intrinsic dimension
``s``, ``k``
``C``              unspecified constant of a bound (positive)
``eps_score``      score error eps_score (SCIENCE.md 1.1)
``eps``            target accuracy of T(eps)
``h``              c1 log T / T (Li schedule step size)
``G_on, G_off``    per-coordinate constants of our derived bound (gaussian.bound_factor)
``D_on, D_off``    leading constants of our derived expansion (gaussian.leading_constant)
``I_on, I_off``    initialization terms per coordinate from Y_T ~ N(0, I)
=================  ===================================================================
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy as sp

from theory.symbols import C, L, T, c1, d, early, eps, eps_score, k, n, s

__all__ = [
    "ANCHORS",
    "BOUNDS",
    "DERIVED",
    "ESTIMATION_RATES",
    "Bound",
    "dimension_exponent",
    "efficiency_ratio",
    "evaluate",
    "local_T_exponent",
    "predicted_exponents",
    "steps_exact",
    "steps_leading",
    "time_exponent",
]

G_on, G_off, D_on, D_off = sp.symbols("G_on G_off D_on D_off", positive=True)
#: Exact initialization terms per support / off-support coordinate from Y_T ~ N(0, I)
#: (gaussian.coordinate_terms(..., init="standard") minus the q_T start).
I_on, I_off = sp.symbols("I_on I_off", positive=True)
C_eps = sp.Symbol("C_eps", positive=True)
H_LI = c1 * sp.log(T) / T


@dataclass(frozen=True)
class Bound:
    """One bound on the sampling error after T steps.

    Attributes
    ----------
    name, source, metric : identification; metric is "KL" or "TV".
    expr : the full bound (SymPy).
    A, log_power, T_power : its leading discretization term A log(T)^k / T^p.
    log_power_verified : False where the log power is recalled, not checked.
    """

    name: str
    source: str
    metric: str
    expr: sp.Expr
    A: sp.Expr
    log_power: int
    T_power: int
    log_power_verified: bool

    @property
    def leading(self) -> sp.Expr:
        """A log(T)^k / T^p."""
        return self.A * sp.log(T) ** self.log_power / T**self.T_power


def _b(
    name: str, source: str, metric: str, A: sp.Expr, kk: int, p: int, extra: sp.Expr, verified: bool
) -> Bound:
    expr = A * sp.log(T) ** kk / T**p + extra
    return Bound(name, source, metric, expr, A, kk, p, verified)


#: Li, Wei, Chen, Chi (2024): KL <~ d^2 log^3 T / T + eps_score^2 log T (SCIENCE.md 1.1, 6).
LI2024 = _b(
    "li2024",
    "Li, Wei, Chen, Chi 2024",
    "KL",
    C * d**2,
    3,
    1,
    C_eps * eps_score**2 * sp.log(T),
    False,
)
#: Taheri & Lederer Theorem 1 as read: d^2 replaced by s^2 (SCIENCE.md 1.1).
PAPER = _b(
    "paper.theorem1",
    "paper (as read)",
    "KL",
    C * s**2,
    3,
    1,
    C_eps * eps_score**2 * sp.log(T),
    False,
)
#: Li & Yan (2025), ambient form: TV <= c (d log^3 T / T + eps sqrt(log T)).
LI_YAN = _b(
    "li_yan", "Li & Yan 2025", "TV", C * d, 3, 1, C_eps * eps_score * sp.sqrt(sp.log(T)), False
)
#: Li & Yan (2025), with their coefficients: O(k / T) in the intrinsic dimension k.
LI_YAN_INTRINSIC = _b("li_yan.intrinsic", "Li & Yan 2025", "TV", C * k, 3, 1, 0, False)
#: Huang, Wei, Chen (2024): steps nearly linear in k (posterior coefficients), KL.
HUANG_WEI_CHEN = _b("huang_wei_chen", "Huang, Wei, Chen 2024", "KL", C * k, 3, 1, 0, False)
#: Benton et al. (2024): O~(d log^2(1/delta) / eps^2) steps for KL <= eps^2.
BENTON = _b(
    "benton",
    "Benton, De Bortoli, Doucet, Deligiannidis 2024",
    "KL",
    C * d * sp.log(1 / early) ** 2,
    0,
    1,
    0,
    False,
)
#: Jiao, Zhou, Li (2025): KL = O~(d min{d, L^2} / T^2), log factors dropped.
JIAO_ZHOU_LI = _b(
    "jiao_zhou_li", "Jiao, Zhou, Li 2025", "KL", C * d * sp.Min(d, L**2), 0, 2, 0, False
)

ANCHORS: tuple[Bound, ...] = (
    LI2024,
    PAPER,
    LI_YAN,
    LI_YAN_INTRINSIC,
    HUANG_WEI_CHEN,
    BENTON,
    JIAO_ZHOU_LI,
)


#: Per off-support coordinate (lambda = 0) the derived discretization factor G of
#: ``gaussian.bound_factor``: for posterior and ddim that factor carries lambda, so it is 0
#: there (derived, not set: ``theory/test_bounds.py`` checks it against the numeric
#: function); for beta it is (1 - abar_T / abar_1) / sigma2_T > 0, kept as the symbol G_off.
G_OFF: dict[str, sp.Expr] = {"beta": G_off, "posterior": sp.Integer(0), "ddim": sp.Integer(0)}


def _derived(variance: str, init: str = "q_T") -> Bound:
    """Our derived bound for Gaussian data with the exact score, per sampler and start.

    Discretization (gaussian.derived_bound, separated form with min(1, 1 + delta_lo) = 1):
    KL_disc <= (Hbar^2 / 2) [s G_on^2 + (d - s) G_off^2], Hbar = 2h(1+h)/(1-h)^2 = 2h + O(h^2),
    leading term 2 c1^2 [s G_on^2 + (d - s) G_off^2] log^2 T / T^2, with G_off from ``G_OFF``.
    ``init="normal"`` (Y_T ~ N(0, I)) adds the exact initialization terms, s I_on +
    (d - s) I_off (I_off > 0 for every sampler: for ddim (v_T - 1 - log v_T)/2, 0.41 at
    c0 = c1 = 4, T = 100); ``init="q_T"`` has none. Only the q_T form of posterior and ddim
    is free of d.
    """
    A = 2 * c1**2 * (s * G_on**2 + (d - s) * G_OFF[variance] ** 2)
    expr = A * sp.log(T) ** 2 / T**2
    name = f"derived.{variance}"
    if init == "normal":
        expr = expr + s * I_on + (d - s) * I_off
        name += ".normal"
    elif init != "q_T":
        raise ValueError(f"init={init!r}; allowed: 'q_T', 'normal'")
    return Bound(name, "derived here", "KL", expr, A, 2, 2, True)


def _derived_leading(variance: str) -> Bound:
    """Leading term (h^2/4)[s D_on^2 + (d - s) D_off^2] of the exact KL (gaussian.leading_kl)."""
    # The leading constant D(lambda = 0) is 1 for beta and 0 for posterior and ddim
    # (gaussian.leading_constant, checked in theory/test_gaussian.py::test_leading_term).
    off = D_off**2 if variance == "beta" else 0
    A = c1**2 * (s * D_on**2 + (d - s) * off) / 4
    return Bound(
        f"derived.{variance}.leading",
        "derived here",
        "KL",
        A * sp.log(T) ** 2 / T**2,
        A,
        2,
        2,
        True,
    )


DERIVED: dict[str, Bound] = {
    **{f"derived.{v}": _derived(v) for v in ("beta", "posterior", "ddim")},
    **{f"derived.{v}.normal": _derived(v, "normal") for v in ("beta", "posterior", "ddim")},
    **{f"derived.{v}.leading": _derived_leading(v) for v in ("beta", "posterior", "ddim")},
}

BOUNDS: dict[str, Bound] = {b.name: b for b in ANCHORS} | DERIVED

#: Score-estimation rates (eps_score^2 per step) the estimation experiment measures:
#: lasso on an s-sparse linear denoiser (s rows, s non-zeros each: s^2 log d / n) and least
#: squares (d^2 parameters: d^2 / n). Standard rates, stated here, not proved.
ESTIMATION_RATES: dict[str, sp.Expr] = {
    "estim.lasso_rate": C * s**2 * sp.log(d) / n,
    "estim.ls_rate": C * d**2 / n,
}


def evaluate(bound: Bound, **values: float) -> float:
    """The bound as a number, with its unspecified constants C = C_eps = 1.

    ``values`` give T and whichever of d, s, k, eps_score, early, L, c1 the bound uses (extra
    ones are ignored; a missing one raises). The constants are set to 1 so that a measured
    quantity divided by this value is the constant C the bound needs (experiment
    ``paper_bound``).
    """
    fn, names = _numeric(bound.name)
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"bound {bound.name} needs {', '.join(missing)}; got {sorted(values)}")
    return float(fn(*(float(values[name]) for name in names)))


@functools.cache
def _numeric(name: str):
    bound = BOUNDS[name]
    expr = bound.expr.subs({C: 1, C_eps: 1})
    code_names = {T: "T", d: "d", s: "s", k: "k", L: "L", c1: "c1"}
    code_names |= {eps_score: "eps_score", early: "early"}
    symbols = sorted(expr.free_symbols, key=lambda x: code_names[x])
    return sp.lambdify(symbols, expr, "math"), tuple(code_names[x] for x in symbols)


# -- iteration complexity ---------------------------------------------------------------------


def steps_leading(bound: Bound, target: sp.Expr = eps) -> sp.Expr:
    """Leading-order T(eps) of "A log^k T / T^p = eps": X log(X)^(k/p), X = (A/eps)^(1/p).

    Leading order only: the relative error of log T(eps) is O(log log X / log X).
    """
    X = (bound.A / target) ** sp.Rational(1, bound.T_power)
    return X * sp.log(X) ** sp.Rational(bound.log_power, bound.T_power)


def steps_exact(bound: Bound, target: sp.Expr = eps) -> sp.Expr:
    """Exact large root of "A log^k T / T^p = eps" (k >= 1): Lambert W, branch -1.

    With y = log T: A y^k exp(-p y) = eps <=> (-(p/k) y) exp(-(p/k) y) = -(p/k)(eps/A)^(1/k),
    so y = -(k/p) W_{-1}(-(p/k)(eps/A)^(1/k)); real iff (p/k)(eps/A)^(1/k) <= 1/e.
    """
    kk, p = bound.log_power, bound.T_power
    if kk == 0:
        return (bound.A / target) ** sp.Rational(1, p)
    arg = -sp.Rational(p, kk) * (target / bound.A) ** sp.Rational(1, kk)
    return sp.exp(-sp.Rational(kk, p) * sp.LambertW(arg, -1))


def efficiency_ratio(ambient: Bound = LI2024, sparse: Bound = PAPER) -> sp.Expr:
    """T_ambient(eps) / T_sparse(eps) at leading order (e.g. Li et al. over the paper)."""
    return steps_leading(ambient) / steps_leading(sparse)


# -- exponents ----------------------------------------------------------------------------------


def dimension_exponent(expr: sp.Expr, dim: sp.Symbol) -> float:
    """lim_{dim -> oo} d log(expr) / d log(dim), as a float."""
    return float(sp.limit(dim * sp.diff(sp.log(expr), dim), dim, sp.oo))


def time_exponent(bound: Bound) -> float:
    """p in "leading term ~ T^-p up to logs": lim_{T -> oo} -d log(leading) / d log T."""
    return float(sp.limit(-T * sp.diff(sp.log(bound.leading), T), T, sp.oo))


def local_T_exponent(T_lo: float, T_hi: float, log_power: int = 2, T_power: int = 2) -> float:
    """Log-log slope magnitude of log^k T / T^p between T_lo and T_hi (finite-T exponent).

    p - k log(log T_hi / log T_lo) / log(T_hi / T_lo); for our derived rate (k = p = 2) this
    is what a fit of log KL against log T over [T_lo, T_hi] should return.
    """
    return T_power - log_power * math.log(math.log(T_hi) / math.log(T_lo)) / math.log(T_hi / T_lo)


def predicted_exponents() -> dict[str, float]:
    """Predicted exponents as plain floats (a fresh copy; computed once, see below)."""
    return dict(_predicted_exponents())


@functools.cache
def _predicted_exponents() -> dict[str, float]:
    """The exponents, for simulate/ and the report (SymPy limits: ~2 s, so cached).

    Keys: ``<bound>.T`` (decay exponent in T up to logs), ``<bound>.<dim>`` (growth exponent
    in a dimension), the registry's measured claims (``disc.*``, ``estim.*``,
    ``paper.theorem1.*``) and ``efficiency.d`` (T_Li / T_paper grows like d^2).
    """
    out: dict[str, float] = {}
    for b in ANCHORS:
        out[f"{b.name}.T"] = time_exponent(b)
        for dim in (d, s, k):
            if dim in b.A.free_symbols:
                A = b.A.subs(L, sp.sqrt(d)) if b is JIAO_ZHOU_LI else b.A  # regime d <= L^2
                out[f"{b.name}.{dim}"] = dimension_exponent(A, dim)
    out["paper.theorem1.d"] = 0.0 if d not in PAPER.expr.free_symbols else math.nan
    for v in ("beta", "posterior", "ddim"):
        b = DERIVED[f"derived.{v}"]
        out[f"derived.{v}.T"] = time_exponent(b)
        out[f"derived.{v}.d"] = dimension_exponent(b.A, d)
    out["disc.T_decay"] = time_exponent(LI2024)  # as the registry states it: Li et al. rate
    out["disc.T_decay.derived"] = time_exponent(DERIVED["derived.posterior"])
    out["disc.beta_linear_in_d"] = out["derived.beta.d"]
    out["disc.posterior_ddim_d_free"] = out["derived.posterior.d"]
    out["estim.lasso_rate.s"] = dimension_exponent(ESTIMATION_RATES["estim.lasso_rate"], s)
    out["estim.lasso_rate.d"] = dimension_exponent(ESTIMATION_RATES["estim.lasso_rate"], d)
    out["estim.lasso_rate.n"] = -dimension_exponent(1 / ESTIMATION_RATES["estim.lasso_rate"], n)
    out["estim.ls_rate.d"] = dimension_exponent(ESTIMATION_RATES["estim.ls_rate"], d)
    out["estim.ls_rate.n"] = -dimension_exponent(1 / ESTIMATION_RATES["estim.ls_rate"], n)
    ratio = efficiency_ratio()
    out["efficiency.d"] = float(sp.limit(sp.log(ratio) / sp.log(d), d, sp.oo))
    return out
