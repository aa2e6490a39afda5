"""Provenance columns recorded in every experiment row (DESIGN.md, reproducibility)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulate._sources import source_hash

__all__ = [
    "check_paper_estimators",
    "code_version",
    "correlated_subspace_gaussian",
    "figures_lock",
    "fitted_estimator",
    "paper_data",
    "paper_estimator",
    "provenance",
    "with_provenance",
]

_PACKAGES = ("numpy", "numba", "scipy", "sympy", "pandas")
#: Exact versions for regenerating figures/ (repository root; issue 32).
FIGURES_LOCK = "requirements-figures.lock"


@cache
def figures_lock() -> tuple[str, bool]:
    """(first 12 hex digits of the lock file's sha256, whether every package it pins is
    installed at that exact version); ("absent", False) without the file (an installed
    wheel)."""
    path = Path(__file__).resolve().parents[2] / FIGURES_LOCK
    if not path.is_file():
        return "absent", False
    text = path.read_text()
    match = True
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        try:
            match = match and importlib.metadata.version(name) == version
        except importlib.metadata.PackageNotFoundError:
            match = False
    return hashlib.sha256(text.encode()).hexdigest()[:12], match


@cache
def code_version() -> str:
    """Hash of the sources of ``simulate`` and ``theory`` (12 hex digits).

    It changes exactly when the code that produced a result changes, with or without git.
    """
    return source_hash(("simulate", "theory"))


def provenance() -> dict[str, object]:
    """Code version, package versions, the numba thread count, and the figure lock file's
    hash with whether the installed versions match it (``figures_lock``)."""
    import numba

    info: dict[str, object] = {
        "code_version": code_version(),
        "numba_threads": int(numba.get_num_threads()),
        "cpu_count": os.cpu_count(),
    }
    for name in _PACKAGES:
        info[f"{name}_version"] = importlib.metadata.version(name)
    lock, match = figures_lock()
    info["figures_lock"] = lock
    info["figures_lock_match"] = match
    return info


def with_provenance(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the provenance columns appended (same value on every row)."""
    out = df.copy()
    for key, value in provenance().items():
        out[key] = value
    return out


def correlated_subspace_gaussian(
    d: int, s: int, rho: float, *, rotate: bool = False, seed: int = 0
) -> Any:
    """SubspaceGaussian with s latent coordinates of covariance (1 - rho) I + rho 1 1^T.

    rho > 0 makes the s x s denoiser block dense (s^2 non-zeros), the setting of the
    estimation experiments; ``rotate`` embeds it by a random orthogonal matrix.
    """
    from simulate import models

    cov = (1.0 - rho) * np.eye(s) + rho * np.ones((s, s))
    return models.SubspaceGaussian(d, s, rotate=rotate, cov=cov, seed=seed)


#: Names of the trained estimators shared by the experiments (``fitted_estimator``).
FITTED_ESTIMATORS: tuple[str, ...] = ("ls", "l1_denoiser", "l1_score", "empirical")


def fitted_estimator(name: str, model: Any, seed: int, **data: Any) -> Any:
    """A trained score estimator by short name; ``data`` is ``n=`` or ``points=``.

    ``ls`` -> LinearDSM, ``l1_denoiser`` / ``l1_score`` -> L1DSM with the penalty on the
    denoiser / on the score (r by the default rule), ``empirical`` -> Empirical.
    """
    from simulate import estimators

    if name == "ls":
        return estimators.LinearDSM(model, seed=seed, **data)
    if name in ("l1_denoiser", "l1_score"):
        parametrization = name.removeprefix("l1_")
        return estimators.L1DSM(model, seed=seed, parametrization=parametrization, **data)
    if name == "empirical":
        return estimators.Empirical(model, seed=seed, **data)
    raise ValueError(f"estimator {name!r} is not known; allowed: {', '.join(FITTED_ESTIMATORS)}")


#: The estimators of the paper's experiments (``toy``, ``fewer_steps``), in pairs: each
#: regularized estimator beside its unregularized counterpart of the same function class.
PAPER_ESTIMATORS: tuple[str, ...] = (
    "exact",
    "network",
    "network_l1",
    "network_l1_output",
    "linear",
    "linear_l1",
    "empirical",
    "empirical_l1",
)
#: The network settings of the paper experiments' full and quick presets (``paper_estimator``'s
#: ``network`` keywords: ``L1NetworkDSM`` options, r of the weight penalty, r of the output one).
PAPER_NETWORK: tuple[tuple[str, object], ...] = (
    ("width", 64), ("depth", 2), ("iterations", 4000), ("r", 1e-3), ("r_output", 1e-2),
)  # fmt: skip
QUICK_NETWORK: tuple[tuple[str, object], ...] = (
    ("width", 32), ("depth", 2), ("iterations", 1500), ("r", 1e-3), ("r_output", 1e-2),
)  # fmt: skip
#: (regularized, unregularized) pairs compared by the paper's claims.
PAPER_PAIRS: tuple[tuple[str, str], ...] = (
    ("network_l1", "network"),
    ("network_l1_output", "network"),
    ("linear_l1", "linear"),
    ("empirical_l1", "empirical"),
)


def paper_estimator(name: str, model: Any, seed: int, network: Any = None, **data: Any) -> Any:
    """An estimator of ``PAPER_ESTIMATORS`` by name; ``data`` is ``n=`` or ``points=``.

    ``exact`` -> the model's score; ``network`` / ``network_l1`` / ``network_l1_output`` ->
    ``L1NetworkDSM`` with r = 0 / the weight penalty ``network["r"]`` / the output penalty
    ``network["r_output"]`` (``network``: the remaining keywords of ``L1NetworkDSM``, width,
    depth, iterations, ...); ``linear`` -> ``LinearDSM``; ``linear_l1`` -> the lasso-fitted
    ``L1DSM`` (denoiser reading, r by the default rule); ``empirical`` -> ``Empirical``;
    ``empirical_l1`` -> its soft-thresholded counterpart (``L1DSM`` nonparametric, denoiser
    reading, the default rule).
    """
    from simulate import estimators

    options = dict(network or {})
    r = options.pop("r", 1e-3)
    r_output = options.pop("r_output", 1e-2)
    if name == "exact":
        return estimators.Exact(model)
    if name == "network":
        return estimators.L1NetworkDSM(model, seed=seed, r=0.0, **options, **data)
    if name == "network_l1":
        return estimators.L1NetworkDSM(model, seed=seed, r=r, **options, **data)
    if name == "network_l1_output":
        return estimators.L1NetworkDSM(
            model, seed=seed, r=r_output, penalty="output", **options, **data
        )
    if name == "linear":
        return estimators.LinearDSM(model, seed=seed, **data)
    if name == "linear_l1":
        return estimators.L1DSM(model, seed=seed, parametrization="denoiser", **data)
    if name == "empirical":
        return estimators.Empirical(model, seed=seed, **data)
    if name == "empirical_l1":
        return estimators.L1DSM(
            model, seed=seed, function_class="nonparametric", parametrization="denoiser", **data
        )
    raise ValueError(f"estimator {name!r} is not known; allowed: {', '.join(PAPER_ESTIMATORS)}")


def check_paper_estimators(names: tuple[str, ...]) -> None:
    """A ValueError naming the estimators that are not in ``PAPER_ESTIMATORS``."""
    unknown = set(names) - set(PAPER_ESTIMATORS)
    if unknown:
        raise ValueError(
            f"unknown estimators {sorted(unknown)}; allowed: {', '.join(PAPER_ESTIMATORS)}"
        )


def paper_data(
    dataset: str, seed: int, n_train: int, n_eval: int, digits_train: int, held_seeds: tuple
) -> tuple[Any, np.ndarray, list[np.ndarray]]:
    """(model, training points, held-out sets) of the paper's experiments' data sets.

    ``"toy"``: ``PaperToy3D``, ``n_train`` draws with ``seed`` and, per entry of
    ``held_seeds``, ``n_eval`` fresh draws with that seed. ``"digits"``: the 1797 images in the
    order of ``default_rng([seed, held_seeds[0]]).permutation``; the first ``digits_train``
    train, the rest is split into ``len(held_seeds)`` equal parts.
    """
    from simulate import models

    if dataset == "toy":
        model = models.PaperToy3D()
        held = [model.sample(n_eval, s) for s in held_seeds]
        return model, model.sample(n_train, seed), held
    if dataset != "digits":
        raise ValueError(f"dataset={dataset!r} is not supported; allowed: toy, digits")
    model = models.Digits()
    order = np.random.default_rng([seed, held_seeds[0]]).permutation(model.points.shape[0])
    train = model.points[order[:digits_train]]
    rest = model.points[order[digits_train:]]
    size = rest.shape[0] // len(held_seeds)
    return model, train, [rest[k * size : (k + 1) * size] for k in range(len(held_seeds))]


# -- premise first: the sampler's start (DESIGN.md, "Judging a claim") -------------------------

#: Draws of q_T behind ``divergences.start_kl``'s Monte Carlo term for a mixture: its SE is
#: far below the distances that matter here (3e-8 nats on the digits at abar_T = 2e-4 with
#: 2000 draws; it scales as 1/sqrt(n)), and 500 draws keep the digits' cost near 0.3 s per T.
START_KL_DRAWS = 500


def start_columns(model: Any, schedule: Any, seed: int) -> dict[str, float]:
    """The start's distance from q_T as table columns: ``start_kl`` = KL(q_T || N(0, I)) and
    its ``start_kl_se`` (``divergences.start_kl``), and ``alpha_bar_T``."""
    from simulate import divergences

    est = divergences.start_kl(model, schedule, n=START_KL_DRAWS, seed=seed)
    return {
        "alpha_bar_T": float(schedule.alpha_bar[-1]),
        "start_kl": est.value,
        "start_kl_se": est.se,
    }


def start_text(kl: float, se: float) -> str:
    """The start's distance as the verdicts state it."""
    return f"start: KL(q_T || N(0, I)) = {kl:.3g}" + (f" (SE {se:.2g})" if se > 0 else "")


def mmd_effect_kl(mmd2_a: float, mmd2_b: float) -> float:
    """An MMD effect as a KL: delta^2 / 2 with delta = |MMD_a - MMD_b| (MMD^2 estimates clipped
    at 0). The Gaussian kernel is <= 1, so |MMD(A, D) - MMD(B, D)| <= MMD(A, B) <= 2 TV(A, B)
    <= sqrt(2 KL(A || B)) (Pinsker): laws whose MMDs to the data differ by delta are at least
    delta^2 / 2 apart in KL."""
    delta = abs(np.sqrt(max(mmd2_a, 0.0)) - np.sqrt(max(mmd2_b, 0.0)))
    return float(delta * delta / 2.0)


def variance_ratio_kl(ratio: float) -> float:
    """KL(N(0, r s) || N(0, s)) = (r - 1 - log r) / 2: a ratio r of second moments (off-plane
    masses) as a KL between centred Gaussians with those variances (their Gaussian proxy)."""
    r = float(ratio)
    if not r > 0:
        return math.inf
    return 0.5 * (r - 1.0 - math.log(r))
