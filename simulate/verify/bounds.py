"""Bounds as the unit of verification: ``regdiff verify MODULE:FACTORY --bound B``.

A bound B is the name of a library bound (``theory.bounds``; ``paper`` is the paper's
Theorem 1 as read) or an expression in the symbols ``d, s, k, T, n, eps_score, C`` and the
names given by ``--param NAME=VALUE``, with ``log, sqrt, exp, Min, Max``, numbers and
``+ - * / **``. An expression is checked against that whitelist on its Python syntax tree and
built into SymPy by walking the tree (SymPy's own parser calls ``eval``). ``s`` and ``k`` are
the model's declared support size and intrinsic dimension; C (and a library bound's C_eps)
is set to 1, so that KL / B is the constant the bound needs; ``eps_score`` is 0 (the battery
runs the exact score).

Truth: ``closed_form`` (a Gaussian model: KL(q_1 || p_1) of every sampler in closed form,
``simulate.exact``), or ``none`` (then the bound is "not applicable", said why; the
factorized truth of block models at the early-stopping step and the Monte Carlo truth of
models with a log-density are not built yet).

Judging, in the one sense a bound with an unknown constant has: KL <= C B holds on a domain
when KL / B stays bounded over it. Along d at fixed s and T the truth is affine in d, with
the exact slope kl_off per pure-noise coordinate (the factorization, SCIENCE.md 3), so the
ratio is known anywhere in the domain: the bound holds along d when the ratio at the
domain's edge (d = ``D_EDGE``) stays within ``RATIO_FACTOR`` of the grid's largest ratio,
and fails otherwise, with the d where it crosses. Without an exact slope (no declared
support) the ratio along d is known on the grid only: "inconclusive". Along T, over the
grid: a ratio still rising at the largest T reads "inconclusive" (trend_toward_bound). The
constant reported is the largest KL / B over the grid, with its worst point.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sympy as sp

from simulate import judge
from simulate.verify.load import VerifyInputError

__all__ = [
    "D_EDGE",
    "RATIO_FACTOR",
    "BoundSpec",
    "bound_verdicts",
    "library",
    "parse_expression",
    "resolve_bound",
]

#: The domain's edge along d (no data set has more coordinates; the d-free rule's ceiling).
D_EDGE = judge.D_CEILING
#: A bound holds along d when KL / B at the edge is at most this times the grid's largest.
RATIO_FACTOR = 2.0
#: The symbols an expression may use (besides ``--param`` names), and its functions.
SYMBOLS = ("d", "s", "k", "T", "n", "eps_score", "C")
FUNCTIONS = {"log": sp.log, "sqrt": sp.sqrt, "exp": sp.exp, "Min": sp.Min, "Max": sp.Max}
_BINOPS = {ast.Add: sp.Add, ast.Mult: sp.Mul}
#: Names accepted for library bounds beside their own.
ALIASES = {"paper": "paper.theorem1"}
#: The battery's samplers each library bound is about (SCIENCE.md 6), and what it assumes.
LIBRARY_SAMPLERS: dict[str, tuple[str, ...]] = {
    "li2024": ("beta",),
    "paper.theorem1": ("beta",),
    "li_yan": ("beta", "posterior"),
    "li_yan.intrinsic": ("beta", "posterior"),
    "huang_wei_chen": ("posterior",),
    "benton": (),  # the exponential integrator: no sampler of the battery
    "jiao_zhou_li": ("beta", "posterior"),
}
ASSUMPTIONS: dict[str, str] = {
    "li2024": "DDPM-type sampler on the Li schedule, start N(0, I), bounded second moment",
    "paper.theorem1": "as li2024, with an s-sparse (l1-regularized) score; as read",
    "li_yan": "DDPM, start N(0, I); TV",
    "li_yan.intrinsic": "DDPM with their coefficients, data of intrinsic dimension k; TV",
    "huang_wei_chen": "DDPM with posterior coefficients, intrinsic dimension k",
    "benton": "exponential integrator, early stopping delta, finite second moment",
    "jiao_zhou_li": "DDPM, L-Lipschitz score (L from --param)",
}


@dataclass(frozen=True)
class BoundSpec:
    """A bound to verify: its name, source, quantity ("KL": KL(q_1 || p_1), or "TV"), SymPy
    expression, the samplers it is about (None: every sampler of the battery), its
    assumptions, and whether its log powers are verified against the source (None for a
    user's expression)."""

    name: str
    source: str
    quantity: str
    expr: sp.Expr
    samplers: tuple[str, ...] | None
    assumptions: str
    log_power_verified: bool | None


def _library() -> dict[str, Any]:
    from theory import bounds

    return bounds.BOUNDS


def library() -> pd.DataFrame:
    """The library bounds (``regdiff bounds``): name, source, quantity, samplers, assumptions,
    whether the log powers are verified, and the expression."""
    rows = []
    for name, b in _library().items():
        variance = name.split(".")[1] if name.startswith("derived.") else None
        samplers = (variance,) if variance else LIBRARY_SAMPLERS.get(name, ())
        init = "N(0, I)" if (variance is None or name.endswith(".normal")) else "q_T"
        rows.append({
            "name": name, "source": b.source, "quantity": f"{b.metric}(q_1 || p_1)"
            if b.metric == "KL" else "TV(q_1, p_1)",
            "samplers": ", ".join(samplers) or "(none of the battery's)", "init": init,
            "assumptions": ASSUMPTIONS.get(name, "Gaussian data, exact score (derived here)"),
            "log_powers_verified": b.log_power_verified, "expression": str(b.expr),
        })  # fmt: skip
    return pd.DataFrame(rows)


def parse_expression(text: str, params: tuple[str, ...] = ()) -> sp.Expr:
    """A bound expression as SymPy, built from its Python syntax tree after a whitelist check
    (VerifyInputError naming the offending part)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise VerifyInputError(f"--bound {text!r}: not an expression ({exc.msg})") from None
    allowed = {*SYMBOLS, *params}
    symbols = {name: sp.Symbol(name, positive=True) for name in allowed}

    def build(node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return sp.nsimplify(node.value) if isinstance(node.value, int) else sp.Float(
                node.value
            )
        if isinstance(node, ast.Name):
            if node.id not in allowed:
                raise VerifyInputError(
                    f"--bound {text!r}: unknown symbol {node.id!r}; allowed: "
                    f"{', '.join(sorted(allowed))} (more with --param NAME=VALUE)"
                )
            return symbols[node.id]
        if isinstance(node, ast.BinOp):
            left, right = build(node.left), build(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if isinstance(node.op, ast.Pow):
                return left**right
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and not node.keywords
        ):
            return FUNCTIONS[node.func.id](*(build(a) for a in node.args))
        raise VerifyInputError(
            f"--bound {text!r}: {ast.unparse(node)!r} is not allowed (numbers, the symbols "
            f"{', '.join(sorted(allowed))}, + - * / **, and {', '.join(FUNCTIONS)})"
        )

    return build(tree)


def resolve_bound(text: str, params: tuple[str, ...] = ()) -> BoundSpec:
    """A library bound by name (or alias), else a user's expression."""
    lib = _library()
    name = ALIASES.get(text, text)
    if name in lib:
        b = lib[name]
        variance = name.split(".")[1] if name.startswith("derived.") else None
        samplers = (variance,) if variance else LIBRARY_SAMPLERS.get(name, ())
        return BoundSpec(
            name, b.source, b.metric, b.expr, samplers,
            ASSUMPTIONS.get(name, "Gaussian data, exact score (derived here)"),
            b.log_power_verified,
        )  # fmt: skip
    expr = parse_expression(text, params)
    return BoundSpec(text, "user", "KL", expr, None, "as stated by the user", None)


def _numeric(spec: BoundSpec, params: dict[str, float]) -> tuple[Any, list[str]]:
    """(a function of the grid's symbols, the symbols left unknown) with C = C_eps = 1,
    eps_score = 0 and the --param values substituted."""
    subs = {}
    for sym in spec.expr.free_symbols:
        if sym.name in ("C", "C_eps"):
            subs[sym] = 1
        elif sym.name in ("eps_score", "epsilon_score"):
            subs[sym] = 0
        elif sym.name in params:
            subs[sym] = params[sym.name]
    expr = spec.expr.subs(subs)
    grid = {"d", "s", "k", "T"}
    unknown = sorted(x.name for x in expr.free_symbols if x.name not in grid)
    ordered = sorted((x for x in expr.free_symbols if x.name in grid), key=lambda x: x.name)
    fn = sp.lambdify(ordered, expr, "math")
    names = [x.name for x in ordered]

    def value(**point: float) -> float:
        try:
            return float(fn(*(point[n] for n in names)))
        except (ZeroDivisionError, OverflowError, ValueError, TypeError):
            return math.nan

    return value, unknown


def check_on_grid(
    specs: list[BoundSpec], params: dict[str, float], points: list[dict[str, float]]
) -> None:
    """Every bound positive and finite at every grid point (d, s, k, T) where its symbols are
    known; else VerifyInputError naming the bound and the point (checked before any cell)."""
    for spec in specs:
        value, unknown = _numeric(spec, params)
        if unknown:
            continue
        for p in points:
            b = value(**p)
            if not (math.isfinite(b) and b > 0):
                raise VerifyInputError(
                    f"--bound {spec.name!r} is {b!r} at d={p['d']:g}, s={p['s']:g}, "
                    f"k={p['k']:g}, T={p['T']:g}: a bound must be positive and finite on the grid"
                )


def _truth(df: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """("closed_form", the sampler rows with their exact KL) for a Gaussian model, else
    ("none", empty)."""
    samp = df[df["part"] == "sampler"] if "part" in df else df.iloc[0:0]
    if len(samp) and "kl_exact" in samp and samp["kl_exact"].notna().all():
        return "closed_form", samp
    return "none", samp.iloc[0:0]


def _na(spec: BoundSpec, sampler: str, truth: str, why: str) -> tuple[judge.Verdict, dict]:
    v = judge.not_applicable("verify.bound", {"bound": spec.name, "sampler": sampler},
                             "upper_bound", f"KL <= C x ({spec.expr})", why)  # fmt: skip
    row = {"bound": spec.name, "sampler": sampler, "truth": truth, "constant": math.nan,
           "constant_low": math.nan, "constant_high": math.nan, "worst_ratio": math.nan,
           "worst_point": "", "edge_ratio": math.nan, "d_cross": math.nan,
           "verdict": v.verdict, "reason": v.reason}  # fmt: skip
    return v, row


def bound_verdicts(
    df: pd.DataFrame,
    specs: list[BoundSpec],
    params: dict[str, float],
    samplers: tuple[str, ...],
) -> tuple[list[judge.Verdict], pd.DataFrame]:
    """One verdict (claim ``verify.bound``, role finding) and one table row per bound x
    sampler (module docstring). A bound that is not positive and finite at a grid point is
    bad input (VerifyInputError)."""
    truth, rows = _truth(df)
    out, table = [], []
    for spec in specs:
        covered = [x for x in samplers if spec.samplers is None or x in spec.samplers]
        if not covered:
            v, row = _na(spec, "-", truth, f"the bound is about the sampler(s) "
                         f"{', '.join(spec.samplers or ()) or '(none of the battery)'}")  # fmt: skip
            out.append(v)
            table.append(row)
            continue
        value, unknown = _numeric(spec, params)
        for sampler in covered:
            if spec.quantity != "KL":
                v, row = _na(spec, sampler, truth, f"a bound on {spec.quantity}: this battery's "
                             "truth is KL(q_1 || p_1)")  # fmt: skip
            elif unknown:
                v, row = _na(spec, sampler, truth, f"the symbol(s) {', '.join(unknown)} are "
                             "unknown: give them with --param NAME=VALUE")  # fmt: skip
            elif truth == "none":
                v, row = _na(spec, sampler, truth, "no exact truth for this model: the closed "
                             "form needs a Gaussian model (block and log-density truths are "
                             "not built yet)")  # fmt: skip
            else:
                v, row = _judge_one(spec, sampler, rows[rows["sampler"] == sampler], value)
            out.append(v)
            table.append(row)
    return out, pd.DataFrame(table)


def _point(r: Any) -> dict[str, float]:
    """(d, s, k, T) of a table row (a mapping): s the support size (d without one), k the
    intrinsic dimension (s without one)."""
    s = r["support_size"] if pd.notna(r.get("support_size")) else r["d"]
    k = r["intrinsic_dim"] if pd.notna(r.get("intrinsic_dim")) else s
    return {"d": float(r["d"]), "s": float(s), "k": float(k), "T": float(r["T"])}


def _judge_one(spec: BoundSpec, sampler: str, rows: pd.DataFrame, value: Any) -> tuple:
    ratios, points = [], []
    for r in rows.to_dict("records"):
        p = _point(r)
        b = value(**p)
        if not (math.isfinite(b) and b > 0):
            raise VerifyInputError(
                f"--bound {spec.name!r} is {b!r} at d={p['d']:g}, s={p['s']:g}, T={p['T']:g}: "
                "a bound must be positive and finite on the grid"
            )
        ratios.append(float(r["kl_exact"]) / b)
        points.append(p)
    ratios_a = np.asarray(ratios)
    worst = int(np.argmax(ratios_a))
    constant = float(ratios_a[worst])
    wp = points[worst]
    worst_text = f"d={wp['d']:g}, T={wp['T']:g}"
    setting = {"bound": spec.name, "sampler": sampler, "truth": "closed_form"}
    prediction = f"KL(q_1 || p_1) / ({spec.expr}) bounded over d <= {D_EDGE:g} and the T grid"
    has_slope = "kl_off_coord" in rows and rows["kl_off_coord"].notna().all()
    edge_ratio, d_cross = math.nan, math.nan
    notes = []
    verdict, reason = "holds", "within_bound"
    for T, g in rows.groupby("T"):
        top = g.loc[g["d"].idxmax()]
        p = _point(top)
        grid_max = max(r for r, q in zip(ratios, points, strict=True) if q["T"] == float(T))
        if not has_slope:
            verdict, reason = "inconclusive", "not_settled"
            notes.append(f"T={int(T)}: no exact slope in d (no declared support)")
            continue
        slope = float(top["kl_off_coord"])

        def ratio_at(dd: float, p=p, top=top, slope=slope) -> float:
            return (float(top["kl_exact"]) + (dd - p["d"]) * slope) / value(**{**p, "d": dd})

        e = ratio_at(D_EDGE)
        edge_ratio = e if math.isnan(edge_ratio) else max(edge_ratio, e)
        if not math.isfinite(e) or e > RATIO_FACTOR * grid_max:
            ds = np.geomspace(p["d"], D_EDGE, 400)
            over = [dd for dd in ds if ratio_at(dd) > RATIO_FACTOR * grid_max]
            cross = float(over[0]) if over else D_EDGE
            d_cross = cross if math.isnan(d_cross) else min(d_cross, cross)
            verdict, reason = "fails", "exceeds_bound"
            notes.append(f"T={int(T)}: KL / B reaches {RATIO_FACTOR:g} x its grid maximum "
                         f"at d = {cross:.3g} (slope {slope:.3g} per coordinate)")  # fmt: skip
        else:
            notes.append(f"T={int(T)}: KL / B at d = {D_EDGE:g} is {e:.3g} (grid max "
                         f"{grid_max:.3g}; slope {slope:.3g} per coordinate)")  # fmt: skip
    if verdict == "holds":
        top_d = rows[rows["d"] == rows["d"].max()].sort_values("T")
        r_T = [float(r["kl_exact"]) / value(**_point(r)) for r in top_d.to_dict("records")]
        if len(r_T) >= 2 and r_T[-1] > r_T[-2] and r_T[-1] >= max(r_T):
            verdict, reason = "inconclusive", "trend_toward_bound"
            notes.append(f"KL / B still rising at the largest T ({r_T[-2]:.3g} -> {r_T[-1]:.3g})")
    v = judge.Verdict(
        "verify.bound", setting, "upper_bound", constant, (constant, constant), prediction,
        None, verdict, reason,
        f"constant C = max KL / B = {constant:.4g} at {worst_text}; " + "; ".join(notes),
    )  # fmt: skip
    row = {"bound": spec.name, "sampler": sampler, "truth": "closed_form", "constant": constant,
           "constant_low": constant, "constant_high": constant, "worst_ratio": constant,
           "worst_point": worst_text, "edge_ratio": edge_ratio, "d_cross": d_cross,
           "verdict": verdict, "reason": reason}  # fmt: skip
    return v, row
