"""Fuzz of the public API (issue 32, item 4): every public callable of ``simulate``, found by
introspection of the ``__all__`` of its public modules, refuses bad input.

Each case calls one function with every argument at a valid baseline except one, which is
replaced by a drawn value (wrong type, NaN/inf, negative, zero, huge ints such as 10**18,
``None`` seeds, non-PSD matrices, wrong shapes). The call must either

* return, with every float in its output finite, or
* raise ``ValueError`` / ``TypeError`` whose message names the fuzzed parameter (as a word),

within ``HANG_SECONDS`` (a hang is a failure, detected by an interval timer). Any other
exception, a NaN/inf in the output, a message naming an internal name, or a warning (the
pytest configuration turns warnings into errors) fails the case.

Budget: ``CASES_PER_FUNCTION`` Hypothesis examples per function, derandomized; the default run
covers ``FAST_CASES_PER_FUNCTION`` per function (under a minute of CI), the slow-marked test the
full budget; each run prints its case count.

Modules outside the user-facing API are listed in ``EXCLUDED_MODULES`` with the reason, and
result records / abstract bases in ``EXCLUDED``; a new public name that is neither covered nor
excluded fails ``test_every_public_callable_is_covered``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import numbers
import pkgutil
import re
import signal
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulate
from simulate import estimators, laws, linalg, models, schedules

#: The full budget: cases per function in the slow run (x functions >= 3,817, the issue's count).
CASES_PER_FUNCTION = 80
#: Cases per function in the default run (keeps the CI time of this file under ~60 s).
FAST_CASES_PER_FUNCTION = 12
#: The issue's fuzz ran 3,817 cases; the full run must run at least as many.
MIN_TOTAL_CASES = 3817
#: A call that has not returned after this many seconds is a hang.
HANG_SECONDS = 60.0

#: Public modules outside the user-facing numerical API, and why they are not fuzzed here.
EXCLUDED_MODULES = {
    "cli": "argv entry point; tested by the CLI tests",
    "pipeline": "executors and cache of the figure run; tested by test_pipeline",
    "plotting": "figure functions of tidy tables; never called with user numbers",
    "report": "renders text from Verdict records made by the judge",
    "judge": "verdict rules called by experiments with their own fitted numbers",
    "verify": "the battery command; its inputs are checked by test_verify / test_verify_trust",
    "kernels": "numba machinery (jit decorator, raw kernels on preallocated arrays)",
    "oracle": "grid quadrature called by the battery with checked grids",
    "oracle_plane": "grid quadrature called by the battery with checked grids",
    "experiments": "registry of experiment modules (names only)",
    # Merged in the same stop as this fuzz, after it was written: not yet given baselines.
    # Not a judgement that they refuse bad input: covering them is open work (issue 32).
    "outside": "NOT YET COVERED (merged after the fuzz; issue 32 item 4 open)",
    "diffusers_adapter": "optional extra (needs a scheduler instance); NOT YET COVERED",
    "sigma_grid": "NOT YET COVERED (merged after the fuzz; issue 32 item 4 open)",
    "pure_noise": "NOT YET COVERED (merged after the fuzz; issue 32 item 4 open)",
    "mixture_flow": "NOT YET COVERED (merged after the fuzz; issue 32 item 4 open)",
    "vp_family": "NOT YET COVERED (merged after the fuzz; issue 32 item 4 open)",
}
#: Public names that are result records, abstract bases or constants-like factories.
EXCLUDED = {
    "divergences.Estimate": "result record",
    "estimators.LassoResult": "result record",
    "lasso.LassoResult": "result record",
    "estimators.Estimator": "abstract base class",
    "estimators.AffineScore": "abstract base class",
    "estimators.KernelScore": "abstract base class",
    "estimators.L1Estimator": "base of the L1 estimators (L1DSM and subclasses are fuzzed)",
    "models.DataModel": "abstract base class",
    "samplers.OdeStages": "result record",
    "samplers.SamplerCoefficients": "result record",
    "score_check.ScoreCheck": "result record",
    "stats.Fit": "result record",
    "metrics.ScoreError": "result record",
}

D = 4
K = 2


def _model() -> Any:
    return models.SubspaceGaussian(D, K)


def _schedule() -> Any:
    return schedules.li(10)


def _points(n: int = 24, d: int = D, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


def _identity(d: int) -> Any:
    return linalg.StructuredMatrix.dense(np.eye(d))


def _law(seed: int = 1) -> Any:
    a = np.random.default_rng(seed).standard_normal((D, D))
    return laws.GaussianLaw.dense(np.zeros(D), a @ a.T + np.eye(D))


#: Valid baseline values by parameter name (factories: each call gets fresh objects).
BASELINE: dict[str, Callable[[], Any]] = {
    "d": lambda: D,
    "k": lambda: K,
    "s": lambda: K,
    "n": lambda: 16,
    "m": lambda: 8,
    "T": lambda: 10,
    "N": lambda: 10,
    "seed": lambda: 0,
    "model": _model,
    "schedule": _schedule,
    "estimator": lambda: estimators.Exact(_model()),
    "alpha_bar": lambda: 0.5,
    "alpha_bars": lambda: (0.1, 0.5, 0.9),
    "x": lambda: _points(6),
    "a": lambda: _points(20, seed=3),
    "b": lambda: _points(20, seed=4),
    "real": lambda: _points(20, seed=3),
    "fake": lambda: _points(20, seed=4),
    "p": lambda: _law(1),
    "q": lambda: _law(2),
    "points": lambda: _points(24),
    "samples": lambda: _points(10, seed=5),
    "rho": lambda: 0.25,
    "tau": lambda: 1.0,
    "radius": lambda: 1.0,
    "circles": lambda: 1,
    "sampler": lambda: "beta",
    "v": lambda: np.array([3.0, 1.0, 0.5, 0.0]),
    "values": lambda: np.array([1.0, 2.0, 4.0]),
    "replicates": lambda: 2,
    "beta": lambda: np.full(10, 0.05),
    "mean": lambda: np.zeros(D),
    "X": lambda: _points(20),
    "y": lambda: _points(20, d=1, seed=9)[:, 0],
    "Y": lambda: _points(20, d=2, seed=9),
    "alpha": lambda: 0.1,
    "nu": lambda: 1.5,
    "score": lambda: np.ones((6, D)),
    "denoised": lambda: np.zeros((6, D)),
    "means": lambda: np.array([[0.0, 0.0], [2.0, 0.0]]),
    "bases": lambda: np.array([[[1.0], [0.0]], [[0.0], [1.0]]]),
    "columns": lambda: {"n": np.array([1.0, 2.0, 4.0, 8.0])},
    "c": lambda: np.eye(3),
    "rng": lambda: np.random.default_rng(0),
    "base": lambda: estimators.Exact(_model()),
    "eps": lambda: 0.1,
}

#: Per-function baseline arguments where the name table does not fit (or more are needed).
OVERRIDES: dict[str, dict[str, Callable[[], Any]]] = {
    "divergences.noise_floor": {
        "sample": lambda: _model().sample,
        "metric": lambda: (lambda a, b: float(np.mean(a) - np.mean(b))),
    },
    "linalg.least_squares": {
        "X": lambda: _points(20, d=3),
        "Y": lambda: _points(20, d=2, seed=9),
        "G": lambda: _points(20, d=3).T @ _points(20, d=3),
        "C": lambda: _points(20, d=3).T @ _points(20, d=2, seed=9),
    },
    "linalg.check_covariance": {"name": lambda: "cov"},
    "linalg.union_index": {},
    "linalg.StructuredMatrix": {
        "diag": lambda: np.ones(D),
        "index": lambda: np.array([0, 1]),
        "block": lambda: np.eye(2),
    },
    "linalg.psd_sqrt": {"c": lambda: np.eye(3) * 2.0},
    "laws.GaussianLaw": {"mean": lambda: np.zeros(2), "cov": lambda: _identity(2)},
    "exact.GaussianLaw": {"mean": lambda: np.zeros(2), "cov": lambda: _identity(2)},
    "exact.output_law": {"estimator": _model},
    "estimators.as_estimator": {"obj": _model},
    "models.as_model": {"obj": _model},
    "models.UserModel": {"obj": _model},
    "models.Rotated": {"model": _model},
    "models.Empirical": {"points": lambda: _points(24)},
    "models.GaussianMixture": {"means": lambda: np.array([[0.0, 0.0], [2.0, 0.0]])},
    "models.denoiser_from_score": {"alpha_bar": lambda: 0.5},
    "models.score_from_denoiser": {"alpha_bar": lambda: 0.5},
    "models.Torus": {"d": lambda: 4, "circles": lambda: 1},
    "models.bessel_ratio": {"x": lambda: np.array([0.5, 2.0])},
    "estimators.training_noise": {"t": lambda: 1, "shape": lambda: (3, 2)},
    "estimators.L1DSM": {"data": _model, "n": lambda: 32},
    "estimators.L1EmpiricalDSM": {"*args": lambda: (_model(), 32)},
    "estimators.L1LinearDSM": {"*args": lambda: (_model(), 32)},
    "lasso.GramProblem": {"fit_intercept": lambda: True},
    "samplers.ode_stages": {
        "schedule": lambda: schedules.vp_sde(N=10),
        "sampler": lambda: "pf_euler",
    },
    "estimators.L1NetworkDSM": {"data": _model, "n": lambda: 32, "iterations": lambda: 2},
    "estimators.LinearDSM": {"data": _model, "n": lambda: 32},
    "estimators.Empirical": {"data": _model, "n": lambda: 32},
    "estimators.Exact": {"model": _model},
    "estimators.memorization": {
        "samples": lambda: _points(10, seed=5),
        "points": lambda: _points(24),
    },
    "estimators.GivenR": {"values": lambda: 0.5},
    "metrics.score_error": {"n_eval": lambda: 50},
    "metrics.denoiser_loss": {"points": lambda: _points(24)},
    "metrics.sliced_w2": {"n_projections": lambda: 20},
    "score_check.check_score": {"n": lambda: 2000, "n_features": lambda: 2},
    "sparsity.measure_sparsity": {"n": lambda: 50},
    "sparsity.top_mass_share": {"v": lambda: np.array([[3.0, 1.0, 0.5, 0.0]])},
    "sparsity.effective_sparsity": {"v": lambda: np.array([[3.0, 1.0, 0.5, 0.0]])},
    "stats.fit_line": {
        "x": lambda: np.array([1.0, 2.0, 3.0, 4.0]),
        "y": lambda: np.array([2.0, 4.1, 5.9, 8.0]),
    },
    "stats.fit_power_law": {
        "x": lambda: np.array([1.0, 2.0, 4.0, 8.0]),
        "y": lambda: np.array([1.0, 0.51, 0.24, 0.13]),
    },
    "stats.fit_power_laws": {"y": lambda: np.array([1.0, 0.51, 0.24, 0.13])},
    "stats.mean_ci": {"values": lambda: np.array([1.0, 2.0, 4.0])},
    "schedules.Schedule": {"name": lambda: "custom", "beta": lambda: np.full(10, 0.05)},
    "schedules.VPSchedule": {"name": lambda: "vp", "times": lambda: np.linspace(0.0, 1.0, 11)},
    "noise_level.NoiseLevel": {"alpha_bar": lambda: 0.5},
    "intrinsic.estimate_intrinsic_dim": {"x": lambda: _points(60), "n_neighbors": lambda: 10},
    "samplers.resolve_sampler": {"sampler": lambda: "beta"},
    "estimators.Perturbed": {"base": lambda: estimators.Exact(_model()), "eps": lambda: 0.1},
    "estimators.CrossValidatedR": {"folds": lambda: 3},
}

#: Huge sizes a call must refuse at once (an allocation or loop of 10**18 never returns).
HUGE = [10**18, 2**63, 10**30]
_NON_PSD = np.array([[1.0, 2.0], [2.0, 1.0]])


def _bad_values() -> st.SearchStrategy:
    """Wrong types, non-finite and out-of-range numbers, huge ints, wrong shapes."""
    return st.one_of(
        st.sampled_from(
            [
                None,
                math.nan,
                math.inf,
                -math.inf,
                -1,
                0,
                -1e-300,
                1.5,
                True,
                "x",
                "",
                [],
                (),
                object(),
                -(10**18),
            ]
            + HUGE
        ),
        # moderate integers (a valid size may be drawn: it must then run, so the range stays
        # small enough to finish); the huge ones come from HUGE and must be refused at once
        st.integers(min_value=-(10**6), max_value=2_000),
        st.floats(allow_nan=True, allow_infinity=True),
        st.builds(lambda: np.full((3, D), math.nan)),
        st.builds(lambda: np.zeros((2, 3, 5))),
        st.builds(lambda: np.zeros((0, D))),
        st.builds(lambda: _NON_PSD.copy()),
        st.builds(lambda: -np.ones(D)),
        st.builds(lambda: np.array(["a", "b"])),
        st.builds(lambda: {"a": 1}),
    )


class Hang(BaseException):
    """Raised by the interval timer when a call exceeds HANG_SECONDS."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang(f"no return after {HANG_SECONDS} s")


def _public_callables() -> dict[str, Callable[..., Any]]:
    """``module.name`` -> callable, from ``__all__`` of every public module of simulate."""
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.iter_modules(simulate.__path__):
        if info.name.startswith("_") or info.name in EXCLUDED_MODULES:
            continue
        module = importlib.import_module(f"simulate.{info.name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found[f"{info.name}.{name}"] = obj
    return found


PUBLIC = _public_callables()
FUZZED = sorted(key for key in PUBLIC if key not in EXCLUDED)


def _parameters(key: str) -> list[inspect.Parameter]:
    params = []
    for p in inspect.signature(PUBLIC[key]).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        params.append(p)
    return params


def _baseline(key: str) -> dict[str, Any]:
    """Keyword arguments of a valid call: overrides, then the name table; defaults otherwise."""
    over = OVERRIDES.get(key, {})
    kwargs = {}
    for p in _parameters(key):
        if p.name in over:
            kwargs[p.name] = over[p.name]()
        elif p.default is p.empty and p.name in BASELINE:
            kwargs[p.name] = BASELINE[p.name]()
        elif p.default is p.empty:
            raise LookupError(f"{key}: no baseline for the required parameter {p.name!r}")
    return kwargs


def _call(key: str, kwargs: dict[str, Any]) -> Any:
    func = PUBLIC[key]
    star = OVERRIDES.get(key, {}).get("*args")
    positional = list(star()) if star else []
    positional += [
        kwargs.pop(p.name)
        for p in _parameters(key)
        if p.kind == p.POSITIONAL_ONLY and p.name in kwargs
    ]
    if key == "linalg.union_index":
        return func(linalg.StructuredMatrix.diagonal(np.ones(D)), *positional, **kwargs)
    return func(*positional, **kwargs)


def _non_finite(value: Any, depth: int = 0) -> str | None:
    """A description of the first NaN/inf float in ``value`` (containers searched), or None."""
    if depth > 3 or value is None or isinstance(value, (str, bytes, bool)):
        return None
    if isinstance(value, numbers.Real):
        return None if math.isfinite(float(value)) else repr(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            return f"array with {int(np.sum(~np.isfinite(value)))} non-finite"
        return None
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [getattr(value, f.name) for f in dataclasses.fields(value)]
    else:
        return None
    for item in items:
        found = _non_finite(item, depth + 1)
        if found:
            return found
    return None


#: Parameters whose user-facing name in messages is another word: ``check_covariance``'s
#: matrix is named by its ``name`` argument (the baseline passes "cov").
#: The r policies' messages name the estimators' keywords (``simulate.estimators.r_policy``).
ALIASES = {
    ("linalg.check_covariance", "c"): "cov",
    ("estimators.RuleR", "kind"): "r_rule",
    ("estimators.RuleR", "constant"): "r_constant",
    ("estimators.CrossValidatedR", "folds"): "cv_folds",
    ("estimators.GivenR", "values"): "r",
}


def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def classify(key: str, param: str, value: Any) -> str:
    """Outcome of one fuzzed call: "ok" or the kind of failure (a short label)."""
    kwargs = _baseline(key)
    kwargs[param] = value
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = _call(key, kwargs)
    except Hang:
        return "hang"
    except (ValueError, TypeError) as error:
        message = str(error)
        word = ALIASES.get((key, param), param)
        return "ok" if _names(message, word) else f"message does not name {param}: {message[:120]}"
    except Warning as warning:
        return f"warning {type(warning).__name__}: {str(warning)[:100]}"
    except Exception as error:  # noqa: BLE001 - the kind of the failure is the finding
        return f"{type(error).__name__}: {str(error)[:100]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)
    bad = _non_finite(FINITE_PART.get(key, lambda r: r)(result))
    return "ok" if bad is None else f"non-finite output: {bad}"


#: Outputs with a documented non-finite entry: the part of them that must be finite.
FINITE_PART: dict[str, Callable[[Any], Any]] = {
    # step 1 has no transition: entry 0 of A, B, C is NaN by design (samplers docstring)
    "samplers.coefficients": lambda r: (r.A[1:], r.B[1:], r.C[1:]),
}

#: Functions whose fuzz still finds failures (issue 32 item 4 left open when this test was
#: written): the kind of finding. Their cases run as non-strict expected failures, so the
#: count includes them and a fix turns them into passes; remove an entry when it is fixed.
KNOWN_OPEN: dict[str, str] = {
    "estimators.L1NetworkDSM": "message does not name data (full budget)",
    "estimators.memorization": "warning RuntimeWarning (empty input, full budget)",
    "models.Torus": "MemoryError for a huge size: no upper bound (full budget)",
    "sparsity.effective_sparsity": "message does not name v for an empty v (full budget)",
    "stats.fit_power_law": "message does not name x for an empty x (full budget)",
    "estimators.lasso": "message does not name X for an empty X (full budget)",
    "lasso.lasso": "message does not name X for an empty X (full budget)",
    "models.Digits": "warning RuntimeWarning overflow (full budget)",
    "models.PaperToy3D": "MemoryError for a huge size: no upper bound (full budget)",
    "models.Sphere": "MemoryError for a huge size: no upper bound (full budget)",
    "schedules.cosine": "MemoryError for T = 10**18: no upper bound on T (full budget)",
    "schedules.li_paper": "MemoryError for T = 10**18: no upper bound on T (full budget)",
    "schedules.linear": "MemoryError for T = 10**18: no upper bound on T (full budget)",
    "schedules.vp_sde": "message does not name beta_min (full budget)",
    "divergences.prdc": "message does not name fake",
    "estimators.Empirical": "message does not name data",
    "estimators.L1DSM": "message does not name data",
    "estimators.L1LinearDSM": "message does not name fit_intercept",
    "estimators.LinearDSM": "message does not name data; message does not name fit_intercept",
    "estimators.Perturbed": "message does not name base",
    "estimators.as_estimator": "message does not name obj",
    "exact.output_law": "message does not name estimator",
    "lasso.GramProblem": (
        "AttributeError (X); "
        "AttributeError (Y); "
        "message does not name X; "
        "message does not name Y; "
        "message does not name fit_intercept; "
        "warning RuntimeWarning (Y)"
    ),
    "linalg.StructuredMatrix": (
        "OverflowError (index); "
        "message does not name index; "
        "warning RuntimeWarning (index)"
    ),
    "linalg.least_squares": "error (G); message does not name C",
    "metrics.denoiser_loss": "message does not name estimator; message does not name points",
    "metrics.score_error": "message does not name estimator",
    "models.Box": "message does not name high; message does not name low",
    "models.SubspaceGaussian": "message does not name rotate",
    "models.UserModel": "message does not name obj",
    "models.as_model": "message does not name obj",
    "models.bessel_ratio": "message does not name x",
    "models.denoiser_from_score": "message does not name score; message does not name x",
    "models.score_from_denoiser": (
        "message does not name denoised; "
        "message does not name x; "
        "warning RuntimeWarning (denoised)"
    ),
    "samplers.resolve_sampler": "message does not name variance",
    "samplers.sample": (
        "hang (n); "
        "hang (path_steps); "
        "message does not name estimator; "
        "message does not name path"
    ),
    "schedules.Schedule": "message does not name beta; non-finite output (name)",
    "schedules.VPSchedule": (
        "message does not name beta_max; "
        "message does not name beta_min; "
        "non-finite output (eps)"
    ),
    "schedules.from_beta": "message does not name beta",
    "schedules.li": "message does not name c0",
    "score_check.check_score": "hang (n); message does not name alpha_bars",
    "sparsity.measure_sparsity": "message does not name alpha_bars",
    "sparsity.top_mass_share": "message does not name v",
    "stats.fit_power_laws": (
        "IndexError (columns); "
        "message does not name columns; "
        "message does not name y"
    ),
}

_COUNT = {"fast": 0, "full": 0}


def _fuzz(key: str, data: st.DataObject, budget: str) -> None:
    params = [p.name for p in _parameters(key)]
    if not params:
        outcome = classify_no_args(key)
    else:
        param = data.draw(st.sampled_from(params), label="param")
        value = data.draw(_bad_values(), label="value")
        outcome = classify(key, param, value)
    _COUNT[budget] += 1
    assert outcome == "ok", (key, outcome)


def classify_no_args(key: str) -> str:
    try:
        _call(key, {})
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"
    return "ok"


def _settings(cases: int) -> settings:
    return settings(
        max_examples=cases,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def test_every_public_callable_is_covered() -> None:
    """Each public callable is fuzzed or excluded with a reason, and has a valid baseline."""
    assert len(FUZZED) >= 51, len(FUZZED)
    for key in FUZZED:
        _baseline(key)  # raises LookupError naming a parameter without a baseline


@pytest.mark.parametrize("key", FUZZED)
def test_baseline_call_succeeds(key: str) -> None:
    """The unfuzzed call succeeds with finite output (so a refusal is the fuzzed value's)."""
    kwargs = _baseline(key)
    result = _call(key, kwargs)
    assert _non_finite(FINITE_PART.get(key, lambda r: r)(result)) is None, key


def _mark_open(key: str, request: pytest.FixtureRequest) -> None:
    if key in KNOWN_OPEN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_OPEN[key], strict=False))


@pytest.mark.parametrize("key", FUZZED)
def test_fuzz_fast(key: str, request: pytest.FixtureRequest) -> None:
    """The default run: FAST_CASES_PER_FUNCTION cases per function."""
    _mark_open(key, request)

    @_settings(FAST_CASES_PER_FUNCTION)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _fuzz(key, data, "fast")

    run()


@pytest.mark.slow
@pytest.mark.parametrize("key", FUZZED)
def test_fuzz_full(key: str, request: pytest.FixtureRequest) -> None:
    """The full budget: CASES_PER_FUNCTION cases per function (>= MIN_TOTAL_CASES in all)."""
    _mark_open(key, request)

    @_settings(CASES_PER_FUNCTION)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        _fuzz(key, data, "full")

    run()


def test_zz_case_count(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the number of fuzz cases run (after the parametrized tests of this file)."""
    with capsys.disabled():
        print(
            f"\nfuzz_public_api: {len(FUZZED)} functions, {_COUNT['fast']} default cases, "
            f"{_COUNT['full']} full-budget cases"
        )
    assert CASES_PER_FUNCTION * len(FUZZED) >= MIN_TOTAL_CASES
    if _COUNT["full"]:
        assert _COUNT["full"] >= MIN_TOTAL_CASES, _COUNT["full"]
