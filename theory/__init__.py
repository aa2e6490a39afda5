"""regdiff theory: the claims as SymPy objects, their derivations, and the claims registry.

Modules: ``symbols`` (every symbol once), ``schedules`` (Li et al. schedule lemmas),
``gaussian`` (exact law of the samplers on Gaussian data), ``regularized`` (l1-penalized
DSM, pointwise), ``bounds`` (the paper's, the anchors', ours; exponents), ``claims``
(registry). ``pytest theory/`` checks them.
"""
