"""Outside samplers: a protocol for anyone's sampler, and its exact law on Gaussian data
(issue 28; SCIENCE.md 3).

A sampler of the protocol (:class:`OutsideSampler`) is a callable

    y = sampler(x_T, model, schedule, noise)

with ``x_T`` the (n, d) start rows (drawn by the suite from N(0, sigma_T^2 I), sigma_T the
sampler's ``init_noise_sigma``, default 1), ``model(x, level)`` the model's prediction at the
noise level ``level`` (a :class:`~simulate.noise_level.NoiseLevel`, abar with its accurate
v = 1 - abar) in the sampler's ``parametrization`` (``PARAMETRIZATIONS``; x is VP-scaled,
x = sqrt(abar) x_0 + sqrt(v) eps), ``schedule`` whatever the sampler was built for (passed
through), and ``noise(shape)`` the suite's source of standard normal draws: the sampler must
take every random draw from it.

Exact law by probing. On Gaussian data with independent coordinates (the eigenbasis of any
spectrum: the eigenvalues lam_i run along the columns) the exact prediction is affine and acts
coordinate by coordinate, so a sampler built from model calls, state-independent linear
combinations and added noise maps each coordinate as

    Y_i = a_i x_{T,i} + sum_k b_{k,i} z_{k,i} + c_i,        z_k = the k-th noise draw,   (P)

and its output law is N(c, diag(sigma_T^2 a^2 + sum_k b_k^2)). One batch of K + 2 rows reads
off (a, b, c): a zero row, a row with x_T = 1, and one row per noise draw k that receives
z_k = 1 (K = the number of noise calls, counted by a dry run). Columns are independent, so d is
processed in column blocks (memory O(K * block)). The affine test runs two random inputs
through the sampler and through (P); a mismatch beyond the sampler's arithmetic
(``AFFINE_RTOL``) means "not an affine sampler, exact law unavailable", and the moments are
then estimated by Monte Carlo with standard errors (as for a sampler that draws its own noise).

Notation (code -> symbol):

==================  ===========================================================
``lam``, ``mu``     eigenvalues lam_i and mean mu_i of the data law q_0
``gain``            a (d,), the coefficient of x_T in (P)
``noise_gain``      b (K, d), the coefficients of the noise draws
``offset``          c (d,)
``init_sigma``      sigma_T, the start's standard deviation
==================  ===========================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from simulate.laws import GaussianLaw
from simulate.metrics import kl_gaussian, w2_gaussian
from simulate.noise_level import NoiseLevel, noise_scales
from simulate.samplers import MULTI_STAGE, coefficients, ode_stages
from simulate.schedules import Schedule

__all__ = [
    "AFFINE_RTOL",
    "BuiltinSampler",
    "PARAMETRIZATIONS",
    "GaussianPrediction",
    "ModelFunction",
    "MonteCarloMoments",
    "NoiseSource",
    "OutsideSampler",
    "ProbedLaw",
    "SamplerReport",
    "monte_carlo_moments",
    "probe_law",
    "verify_sampler",
]

#: The model outputs a sampler may ask for: epsilon-hat, x0-hat ("sample", diffusers' name),
#: v-hat = sqrt(abar) eps-hat - sqrt(v) x0-hat (Salimans & Ho 2022), and the score.
PARAMETRIZATIONS: tuple[str, ...] = ("epsilon", "sample", "v", "score")
#: Relative tolerance of the affine test by the dtype of the sampler's output: float64
#: arithmetic over ~1000 steps accumulates ~1e-13 relative error, so 1e-8 leaves five orders
#: of margin while any genuine non-affinity (thresholding, adaptive steps) is far larger;
#: float32 (eps 6e-8, ~100x that accumulated) gets 1e-5 (issue 28).
AFFINE_RTOL: dict[str, float] = {"float64": 1e-8, "float32": 1e-5}
#: Columns per probe block: bounds the probe's memory at (K + 2) * block floats.
PROBE_BLOCK = 4096
#: Monte Carlo draws of the fallback (per-coordinate moments with standard errors).
MC_SAMPLES = 2000


class NoiseSource(Protocol):
    """``noise(shape) -> array``: the next standard normal draw, of the state's shape."""

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray: ...


class ModelFunction(Protocol):
    """``model(x, level) -> prediction`` in ``model.parametrization`` at noise level abar."""

    parametrization: str

    def __call__(self, x: np.ndarray, level: Any) -> np.ndarray: ...


@runtime_checkable
class OutsideSampler(Protocol):
    """A sampler of the protocol (module docstring). Optional attributes:
    ``init_noise_sigma`` (float, default 1.0), ``final_level`` (the noise level its output
    stands for; default 0, the data law), ``name``."""

    parametrization: str

    def __call__(
        self, x_T: np.ndarray, model: ModelFunction, schedule: Any, noise: NoiseSource
    ) -> np.ndarray: ...


def _check_parametrization(value: Any) -> str:
    if value not in PARAMETRIZATIONS:
        raise ValueError(
            f"parametrization={value!r} is not supported; allowed: {', '.join(PARAMETRIZATIONS)}"
        )
    return str(value)


@dataclass
class GaussianPrediction:
    """The exact prediction of N(mu, diag(lam)) data at a noise level (Tweedie):

    x0-hat = mu + lam sqrt(abar) (x - sqrt(abar) mu) / (abar lam + v),
    eps-hat = (x - sqrt(abar) x0-hat) / sqrt(v), score = -eps-hat / sqrt(v),
    v-hat = sqrt(abar) eps-hat - sqrt(v) x0-hat (SCIENCE.md 1.2; Salimans & Ho 2022 eq. 6).

    ``calls`` counts evaluations (the NFE the sampler spent, per row).
    """

    lam: np.ndarray
    mu: np.ndarray
    parametrization: str
    calls: int = field(default=0)

    def __post_init__(self) -> None:
        self.parametrization = _check_parametrization(self.parametrization)

    def __call__(self, x: np.ndarray, level: Any) -> np.ndarray:
        """The prediction at rows ``x`` of shape (n, d) and noise level ``level``."""
        a, v = noise_scales(level)
        if not (0.0 < v <= 1.0) or not math.isfinite(a):
            raise ValueError(
                f"model: noise level abar={float(level)!r} needs v = 1 - abar in (0, 1]"
            )
        self.calls += 1
        x = np.asarray(x)
        x0 = self.mu + self.lam * a * (x - a * self.mu) / (a * a * self.lam + v)
        eps = (x - a * x0) / math.sqrt(v)
        if self.parametrization == "sample":
            return x0
        if self.parametrization == "epsilon":
            return eps
        if self.parametrization == "score":
            return -eps / math.sqrt(v)
        return a * eps - math.sqrt(v) * x0


class _CountingNoise:
    """Returns zeros of the requested shape and counts the calls (the probe's dry run)."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape, self.calls = shape, 0

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        _check_noise_shape(shape, self.shape)
        self.calls += 1
        return np.zeros(self.shape)


class _ProbeNoise:
    """Draw k (0-based) is 1 on row k + 2 and 0 elsewhere (the probe of (P))."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape, self.calls = shape, 0

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        _check_noise_shape(shape, self.shape)
        z = np.zeros(self.shape)
        if self.calls + 2 < self.shape[0]:
            z[self.calls + 2] = 1.0
        self.calls += 1
        return z


class _StreamNoise:
    """Standard normal draws from a seeded generator, each draw recorded."""

    def __init__(self, shape: tuple[int, int], seed: int) -> None:
        self.shape, self.rng, self.draws = shape, np.random.default_rng(seed), []

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        _check_noise_shape(shape, self.shape)
        z = self.rng.standard_normal(self.shape)
        self.draws.append(z)
        return z


def _check_noise_shape(shape: Any, expected: tuple[int, int]) -> None:
    if tuple(int(s) for s in shape) != expected:
        raise ValueError(f"noise: shape={tuple(shape)} requested; the state has shape {expected}")


def _run(sampler: Any, x_T: np.ndarray, model: Any, schedule: Any, noise: Any) -> np.ndarray:
    """One call of the sampler, its output checked: shape (n, d), finite, as a numpy array."""
    out = sampler(x_T, model, schedule, noise)
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().cpu().numpy()
    out = np.asarray(out)
    if out.shape != x_T.shape:
        raise ValueError(f"sampler returned shape {out.shape}; expected {x_T.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("sampler returned non-finite values (NaN or inf)")
    return out


@dataclass(frozen=True)
class ProbedLaw:
    """The result of :func:`probe_law`: the affine map (P) and the output law, or why not.

    ``law`` is None when the sampler is not affine or draws its own noise (``reason``).
    ``affine_error`` is the affine test's relative mismatch, ``tolerance`` its bound.
    """

    law: GaussianLaw | None
    gain: np.ndarray | None
    offset: np.ndarray | None
    noise_calls: int
    nfe: int
    affine_error: float
    tolerance: float
    dtype: str
    reason: str


def probe_law(
    sampler: Any,
    lam: Any,
    mu: Any = None,
    schedule: Any = None,
    *,
    seed: int = 0,
    block: int = PROBE_BLOCK,
) -> ProbedLaw:
    """The exact output law of ``sampler`` on N(mu, diag(lam)) data, read off the affine map
    (P) of the module docstring: law = N(c, diag(sigma_T^2 a^2 + sum_k b_k^2)).

    Parameters
    ----------
    sampler : OutsideSampler
    lam : array_like (d,)
        Eigenvalues of the data covariance, >= 0 (zeros allowed: pure-noise coordinates).
    mu : array_like (d,), optional
        Data mean in the eigenbasis; default 0.
    schedule : any
        Passed to the sampler unchanged.
    seed : int
        Seed of the affine test's random inputs.
    block : int
        Columns per probe batch (>= 1).
    """
    lam, mu, param, sigma_T = _check_inputs(sampler, lam, mu)
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"block={block!r} must be an int >= 1")
    d = lam.size
    gains, offsets, variances = [], [], []
    worst, dtype, K, nfe = 0.0, "float64", 0, 0
    for start in range(0, d, block):
        cols = slice(start, min(start + block, d))
        lam_b, mu_b = lam[cols], mu[cols]
        width = lam_b.size
        # dry run: the number of noise draws K (and the output's dtype)
        counter = _CountingNoise((1, width))
        out = _run(sampler, np.zeros((1, width)), GaussianPrediction(lam_b, mu_b, param),
                   schedule, counter)  # fmt: skip
        K = counter.calls
        dtype = "float32" if out.dtype == np.float32 else "float64"
        rows = K + 2
        x_T = np.zeros((rows, width))
        x_T[1] = 1.0
        model = GaussianPrediction(lam_b, mu_b, param)
        probe = _ProbeNoise((rows, width))
        y = _run(sampler, x_T, model, schedule, probe).astype(np.float64)
        if probe.calls != K:
            return _not_affine(K, f"the sampler drew {probe.calls} noises on {rows} rows and {K} "
                               "on one row: its steps depend on the batch", dtype)  # fmt: skip
        nfe = model.calls
        c = y[0]
        a = y[1] - c
        b = y[2:] - c
        # the affine test: two random inputs through the sampler and through (P)
        rng_seed = int(np.random.SeedSequence([seed, start]).generate_state(1)[0])
        stream = _StreamNoise((2, width), rng_seed)
        x_rand = sigma_T * np.random.default_rng(rng_seed + 1).standard_normal((2, width))
        actual = _run(sampler, x_rand, GaussianPrediction(lam_b, mu_b, param), schedule, stream)
        actual = actual.astype(np.float64)
        z = np.stack(stream.draws) if stream.draws else np.zeros((0, 2, width))
        if z.shape[0] != K:
            why = (f"the sampler drew {z.shape[0]} noises on a second run, {K} on the first: "
                   "its number of steps depends on the input")  # fmt: skip
            return _not_affine(K, why, dtype)
        predicted = a * x_rand + c + np.einsum("kd,knd->nd", b, z)
        scale = max(1.0, float(np.max(np.abs(actual))))
        worst = max(worst, float(np.max(np.abs(actual - predicted))) / scale)
        tol = AFFINE_RTOL[dtype]
        if worst > tol:
            reason = (
                f"not an affine sampler, exact law unavailable: the probed map misses a random "
                f"input by {worst:.3g} relative (tolerance {tol:g} for {dtype})"
            )
            if K == 0:
                again = _run(sampler, x_rand, GaussianPrediction(lam_b, mu_b, param), schedule,
                             _CountingNoise((2, width)))  # fmt: skip
                if not np.array_equal(again, actual):
                    reason = ("the sampler draws its own noise (no draw from the noise source, "
                              "yet two runs differ): exact law unavailable")  # fmt: skip
            return ProbedLaw(None, None, None, K, nfe, worst, tol, dtype, reason)
        if K > 0 and not np.any(b):
            raise ValueError(
                f"the sampler draws {K} noises from the noise source but its output does not "
                "depend on them (two different noise streams give the same output)"
            )
        gains.append(a)
        offsets.append(c)
        variances.append(sigma_T**2 * a * a + np.sum(b * b, axis=0))
    law = GaussianLaw.diagonal(np.concatenate(offsets), np.concatenate(variances))
    return ProbedLaw(law, np.concatenate(gains), law.mean, K, nfe, worst, AFFINE_RTOL[dtype],
                     dtype, "exact: affine map probed")  # fmt: skip


def _not_affine(K: int, why: str, dtype: str) -> ProbedLaw:
    return ProbedLaw(None, None, None, K, 0, math.inf, AFFINE_RTOL[dtype], dtype,
                     f"not an affine sampler, exact law unavailable: {why}")  # fmt: skip


def _check_inputs(sampler: Any, lam: Any, mu: Any) -> tuple[np.ndarray, np.ndarray, str, float]:
    if not callable(sampler):
        raise TypeError(
            f"sampler must be callable (an OutsideSampler), got {type(sampler).__name__}"
        )
    param = _check_parametrization(getattr(sampler, "parametrization", None))
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    if lam.ndim != 1 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("lam must be a 1-D array of finite eigenvalues >= 0")
    mu = np.zeros_like(lam) if mu is None else np.asarray(mu, dtype=np.float64)
    if mu.shape != lam.shape or not np.all(np.isfinite(mu)):
        raise ValueError(f"mu must be finite with shape {lam.shape}; got shape {mu.shape}")
    sigma_T = float(getattr(sampler, "init_noise_sigma", 1.0))
    if not (math.isfinite(sigma_T) and sigma_T > 0):
        raise ValueError(f"init_noise_sigma={sigma_T!r} must be finite and > 0")
    return lam, mu, param, sigma_T


@dataclass(frozen=True)
class MonteCarloMoments:
    """Per-coordinate sample mean and variance of n draws, with their standard errors
    (SE of the mean sqrt(var / n); of the variance sqrt((m4 - var^2) / n), m4 the fourth
    central moment)."""

    mean: np.ndarray
    var: np.ndarray
    mean_se: np.ndarray
    var_se: np.ndarray
    n: int


def monte_carlo_moments(
    sampler: Any, lam: Any, mu: Any = None, schedule: Any = None, *, n: int = MC_SAMPLES,
    seed: int = 0,
) -> MonteCarloMoments:  # fmt: skip
    """Moments of ``n`` draws of the sampler on N(mu, diag(lam)) data (the fallback when the
    exact law is unavailable); its noise source is a seeded standard normal stream."""
    lam, mu, param, sigma_T = _check_inputs(sampler, lam, mu)
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n={n!r} must be an int >= 2")
    rng = np.random.default_rng(seed)
    x_T = sigma_T * rng.standard_normal((n, lam.size))
    noise = _StreamNoise((n, lam.size), int(rng.integers(2**63)))
    y = _run(sampler, x_T, GaussianPrediction(lam, mu, param), schedule, noise).astype(float)
    mean, var = y.mean(axis=0), y.var(axis=0, ddof=1)
    m4 = np.mean((y - mean) ** 4, axis=0)
    var_se = np.sqrt(np.maximum(m4 - var**2, 0.0) / n)
    return MonteCarloMoments(mean, var, np.sqrt(var / n), var_se, n)


def _data_law(lam: np.ndarray, mu: np.ndarray, level: Any) -> GaussianLaw:
    """q at noise level abar: N(sqrt(abar) mu, diag(abar lam + v)) (SCIENCE.md 1.1)."""
    if level is None or float(level) == 1.0:
        return GaussianLaw.diagonal(mu, lam)
    a, v = noise_scales(level)
    return GaussianLaw.diagonal(a * mu, a * a * lam + v)


@dataclass(frozen=True)
class SamplerReport:
    """What :func:`verify_sampler` found: the probed law (or Monte Carlo moments), the
    table of measurements and the checks with their verdicts."""

    name: str
    probed: ProbedLaw
    moments: MonteCarloMoments | None
    table: pd.DataFrame
    checks: pd.DataFrame

    @property
    def passed(self) -> bool:
        """True when every check holds."""
        return bool(self.checks["passed"].all())


def verify_sampler(
    sampler: Any,
    lam: Any,
    mu: Any = None,
    schedule: Any = None,
    *,
    seed: int = 0,
    n_mc: int = MC_SAMPLES,
    block: int = PROBE_BLOCK,
) -> SamplerReport:
    """Exact W2 (and KL where both laws have densities) of ``sampler`` on the Gaussian data
    N(mu, diag(lam)) (W2: Dowson & Landau 1982; KL in closed form, ``metrics.kl_gaussian``).

    W2 and KL are to the data law q_0, and, when the sampler declares ``final_level`` (the
    noise level its output stands for) or ``last_level`` (the last noise level it visits,
    with a callable ``at_last_level()`` returning a sampler that stops there), also to q at
    that level. Falls back to Monte Carlo moments (``monte_carlo_moments``) when the exact law
    is unavailable. Returns a :class:`SamplerReport`.
    """
    lam_arr, mu_arr, _, _ = _check_inputs(sampler, lam, mu)
    name = str(getattr(sampler, "name", type(sampler).__name__))
    probed = probe_law(sampler, lam_arr, mu_arr, schedule, seed=seed, block=block)
    rows: list[dict[str, Any]] = []
    checks = [
        {"check": "output shape and finiteness", "passed": True, "detail": "ok"},
        {"check": "affine on Gaussian data", "passed": probed.law is not None,
         "detail": probed.reason},  # fmt: skip
    ]
    moments = None
    base = {"sampler": name, "d": lam_arr.size, "nfe": probed.nfe,
            "noise_calls": probed.noise_calls}  # fmt: skip
    if probed.law is not None:
        q0 = _data_law(lam_arr, mu_arr, None)
        rows.append(base | _distances(probed.law, q0, "data", 0.0, "exact"))
        final = getattr(sampler, "final_level", None)
        if final is not None and float(final) < 1.0:
            q_f = _data_law(lam_arr, mu_arr, final)
            rows.append(base | _distances(probed.law, q_f, "final level", float(final), "exact"))
        last = getattr(sampler, "at_last_level", None)
        if callable(last):
            stopped = last()
            level = stopped.final_level
            p_last = probe_law(stopped, lam_arr, mu_arr, schedule, seed=seed, block=block)
            if p_last.law is not None:
                q_l = _data_law(lam_arr, mu_arr, level)
                rows.append(base | _distances(p_last.law, q_l, "last level", float(level), "exact"))
    else:
        moments = monte_carlo_moments(sampler, lam_arr, mu_arr, schedule, n=n_mc, seed=seed)
        fit = GaussianLaw.diagonal(moments.mean, np.maximum(moments.var, 0.0))
        row = base | _distances(fit, _data_law(lam_arr, mu_arr, None), "data", 0.0,
                                f"Monte Carlo moments (n={moments.n})")  # fmt: skip
        row["mean_se_max"] = float(np.max(moments.mean_se))
        row["var_se_max"] = float(np.max(moments.var_se))
        rows.append(row)
    return SamplerReport(name, probed, moments, pd.DataFrame(rows), pd.DataFrame(checks))


def _distances(p: GaussianLaw, q: GaussianLaw, against: str, abar: float, how: str) -> dict:
    """W2(p, q) and KL(q || p) (infinite where a variance is 0) as a table row."""
    w2 = w2_gaussian(p, q)
    if np.all(p.variances > 0) and np.all(q.variances > 0):
        kl = float(kl_gaussian(q, p))
    else:
        kl = math.inf
    return {"against": against, "alpha_bar": abar, "w2": w2, "kl": kl, "method": how}


@dataclass(frozen=True)
class BuiltinSampler:
    """A built-in sampler of ``simulate.samplers`` as an :class:`OutsideSampler` (score
    parametrization), stepping with its coefficient table: Y_{t-1} = A_t Y_t + B_t s_t(Y_t) +
    C_t Z_t (one stage, ``samplers.coefficients``), or the explicit Runge-Kutta step
    Y <- Y + h sum_i b_i k_i, k_i = g_i (Y_i + s(Y_i)), Y_i = Y + h sum_j a_ij k_j
    (``samplers.ode_stages``). The protocol's witness that probing recovers the tables."""

    sampler: str
    schedule: Schedule
    parametrization: str = "score"

    @property
    def name(self) -> str:
        return f"{self.sampler} on {self.schedule.name}"

    def __call__(self, x_T: np.ndarray, model: Any, schedule: Any, noise: Any) -> np.ndarray:
        """Run steps t = T, ..., 2 from ``x_T`` (the module docstring of ``samplers``)."""
        sch = self.schedule
        y = np.array(x_T, dtype=np.float64)
        if self.sampler in MULTI_STAGE:
            st = ode_stages(sch, self.sampler)  # type: ignore[arg-type]
            for t in range(sch.T, 1, -1):
                h, ks = st.h[t - 1], []
                for i in range(int(st.n_stages[t - 1])):
                    y_i = y + h * sum((st.a[i, j] * ks[j] for j in range(i)), np.zeros_like(y))
                    s = model(y_i, NoiseLevel(st.alpha_bar[t - 1, i], st.v[t - 1, i]))
                    ks.append(st.g[t - 1, i] * (y_i + s))
                y = y + h * sum(st.b[t - 1, i] * ks[i] for i in range(len(ks)))
            return y
        coef = coefficients(sch, self.sampler)
        for t in range(sch.T, 1, -1):
            s = model(y, sch.level(t))
            y = coef.A[t - 1] * y + coef.B[t - 1] * s
            if coef.C[t - 1] != 0.0:
                y = y + coef.C[t - 1] * noise(y.shape)
        return y
