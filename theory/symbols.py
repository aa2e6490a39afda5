"""Every SymPy symbol of the theory, defined once with its assumptions (SCIENCE.md 1-5).

Notation (code name -> symbol in SCIENCE.md):

==============  ==========================================================================
``d``           ambient dimension d (positive integer)
``s``           sparsity / size of the support S, s <= d (positive integer)
``k``           intrinsic dimension k of a subspace model (positive integer)
``n``           training sample size n (positive integer)
``T``           number of sampling steps T (positive integer)
``t``           step index t, 1 <= t <= T (positive integer)
``c0, c1``      constants of the Li, Wei, Chen, Chi (2024) schedule (positive)
``h``           step size h = c1 log T / T of that schedule (positive)
``beta1``       beta_1 = T^(-c0) (positive)
``r``           l1 tuning parameter r (positive)
``eps``         target accuracy epsilon of a bound (positive)
``eps_score``   score error eps_score (positive), SCIENCE.md 1.1
``lam``         data variance lambda of one coordinate (lambda = 0 off the support)
``mu``          data mean mu of one coordinate (real)
``alpha``       alpha_t = 1 - beta_t, one step of the forward chain, 0 < alpha_t < 1
``beta``        beta_t = 1 - alpha_t
``abar``        abar_t = prod_{i <= t} alpha_i (generic)
``abar_prev``   abar_{t-1}
``abar_1``      abar_1 = alpha_1 = 1 - beta_1
``abar_T``      abar_T
``delta``       relative variance error c_1 / sigma2_1 - 1 of one output coordinate
``C``           an unspecified absolute constant of a bound (positive)
``L``           Lipschitz constant of the score (positive)
``early``       early-stopping time delta of Benton et al. (2024) (positive, < 1)
``q, w``        positive reparametrization abar_{t-1} = 1/(1+q), alpha_t = 1/(1+w), used
                so that SymPy can split square roots (every factor is then positive)
==============  ==========================================================================
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "C",
    "L",
    "T",
    "a",
    "abar",
    "abar_1",
    "abar_T",
    "abar_prev",
    "alpha",
    "beta",
    "beta1",
    "c0",
    "c1",
    "d",
    "delta",
    "early",
    "eps",
    "eps_score",
    "h",
    "k",
    "lam",
    "m",
    "mu",
    "n",
    "q",
    "r",
    "s",
    "t",
    "tau",
    "u",
    "w",
    "x",
    "z",
]

# Dimensions and counts.
d = sp.Symbol("d", integer=True, positive=True)
s = sp.Symbol("s", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
n = sp.Symbol("n", integer=True, positive=True)
T = sp.Symbol("T", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)

# Schedule of Li, Wei, Chen, Chi (2024), SCIENCE.md 1.1.
c0 = sp.Symbol("c0", positive=True)
c1 = sp.Symbol("c1", positive=True)
h = sp.Symbol("h", positive=True)
beta1 = sp.Symbol("beta1", positive=True)

# One step of the forward chain (0 < alpha < 1 is not expressible as an assumption; the
# positive reparametrization q, w below is used where the upper bound matters).
alpha = sp.Symbol("alpha", positive=True)
beta = sp.Symbol("beta", positive=True)
abar = sp.Symbol("abar", positive=True)
abar_prev = sp.Symbol("abar_prev", positive=True)
abar_1 = sp.Symbol("abar_1", positive=True)
abar_T = sp.Symbol("abar_T", positive=True)
q = sp.Symbol("q", positive=True)
w = sp.Symbol("w", positive=True)

# Data of one coordinate.
lam = sp.Symbol("lambda", nonnegative=True)
mu = sp.Symbol("mu", real=True)

# Errors, bounds, tuning.
delta = sp.Symbol("delta", real=True)
r = sp.Symbol("r", positive=True)
eps = sp.Symbol("epsilon", positive=True)
eps_score = sp.Symbol("epsilon_score", positive=True)
C = sp.Symbol("C", positive=True)
L = sp.Symbol("L", positive=True)
early = sp.Symbol("delta_early", positive=True)

# Generic real / positive variables of pointwise problems (regularized.py).
x = sp.Symbol("x", real=True)
z = sp.Symbol("z", real=True)
m = sp.Symbol("m", real=True)
a = sp.Symbol("a", positive=True)
u = sp.Symbol("u", positive=True)
tau = sp.Symbol("tau", positive=True)
