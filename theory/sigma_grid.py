"""One DDIM step on N(0, lambda) data, symbolically (Align Your Steps, arXiv 2404.14507,
Theorem 3.1; issue 31, item 1).

With alpha_bar = 1 / (1 + sigma^2) and y = x / sqrt(alpha_bar), the DDIM step of
SCIENCE.md 2 (x' = sqrt(abar') x0hat + sqrt(1 - abar') epshat, x0hat = (x + (1 - abar) s) /
sqrt(abar), epshat = -sqrt(1 - abar) s) with the exact score s = -x / (abar lambda + 1 - abar)
is Euler in (y, sigma): y' = y + (sigma' - sigma) epshat. Writing sigma = sqrt(lambda)
tan(theta), it multiplies y by cos(theta - theta') cos(theta) / cos(theta'), hence the ratio
of the state's variance to the exact marginal variance lambda + sigma^2 by cos^2(theta -
theta').

Notation (code -> symbol): ``lam`` lambda > 0, ``th``/``th2`` theta, theta' in (0, pi/2),
``sig``/``sig2`` sigma, sigma' > 0, ``y`` the state.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "ddim_x_step",
    "euler_y_step",
    "scale_factor",
    "variance_ratio_factor",
]

lam = sp.Symbol("lambda", positive=True)
th, th2 = sp.symbols("theta theta_prime", positive=True)
sig, sig2 = sp.symbols("sigma sigma_prime", positive=True)
y = sp.Symbol("y", real=True)


def ddim_x_step() -> sp.Expr:
    """y' = x' / sqrt(abar') for the x-space DDIM step of SCIENCE.md 2 at x = sqrt(abar) y,
    abar = 1 / (1 + sigma^2), exact score s = -x / (abar lambda + 1 - abar)."""
    abar, abar2 = 1 / (1 + sig**2), 1 / (1 + sig2**2)
    x = sp.sqrt(abar) * y
    s = -x / (abar * lam + 1 - abar)
    x0hat = (x + (1 - abar) * s) / sp.sqrt(abar)
    epshat = -sp.sqrt(1 - abar) * s
    x_next = sp.sqrt(abar2) * x0hat + sp.sqrt(1 - abar2) * epshat
    return x_next / sp.sqrt(abar2)


def euler_y_step() -> sp.Expr:
    """Euler in (y, sigma): y' = y + (sigma' - sigma) epshat, epshat = sigma y / (lambda +
    sigma^2) = E[noise | y] on N(0, lambda) data (Karras et al. 2022, eq. 4 with D exact)."""
    return y + (sig2 - sig) * sig * y / (lam + sig**2)


def scale_factor() -> sp.Expr:
    """cos(theta - theta') cos(theta) / cos(theta'): the claimed factor y' / y."""
    return sp.cos(th - th2) * sp.cos(th) / sp.cos(th2)


def variance_ratio_factor() -> sp.Expr:
    """(y'/y)^2 (lambda + sigma^2) / (lambda + sigma'^2) at sigma = sqrt(lambda) tan(theta):
    the factor applied to var / (lambda + sigma^2) by one step."""
    at = {sig: sp.sqrt(lam) * sp.tan(th), sig2: sp.sqrt(lam) * sp.tan(th2)}
    factor = (euler_y_step() / y).subs(at)
    return factor**2 * (lam + at[sig] ** 2) / (lam + at[sig2] ** 2)
