"""Loading a user's data model and checking its protocol before any cell runs.

The protocol (the README's "Verify your own model" states it for users):

=====================  ===========================================================================
member                 what the battery passes, and what it expects back
=====================  ===========================================================================
``d``                  an int >= 1: the ambient dimension (the width of every array below)
``sample(n, seed)``    ``n`` a Python int >= 1, ``seed`` a Python int in [0, 2**32): an (n, d)
                       array of real, finite numbers, the same for the same seed (two calls agree
                       bit for bit) and different for another seed. ``np.random.default_rng(seed)``
                       and ``np.random.RandomState(seed)`` both work: the battery never passes a
                       Generator to a user's model.
``score(x, ab)``       ``x`` a C-contiguous float64 (m, d) array, ``ab`` abar_t as a float in
                       (0, 1) (a ``simulate.noise_level.NoiseLevel``: its ``.v`` is 1 - abar_t
                       without cancellation, use it when v is small): grad log q_t at the rows,
                       an (m, d) array of finite reals. Or ``denoiser(x, ab)``: E[X_0 | X_t = x]
                       (the other follows by Tweedie), or ``score_kernel()`` (a jitted row kernel).
optional               ``support`` (a boolean mask of length d: the data is 0 off it),
                       ``intrinsic_dim`` (a number), ``independent_blocks()`` (lists of
                       coordinate indices partitioning 0..d-1: the score factorizes over them),
                       ``name`` (a string).
=====================  ===========================================================================

Everything here is checked without statistics; a violation is a :class:`VerifyInputError`
(the command prints one line naming the member and what was expected, exit code 2), raised
before anything is written.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from simulate.models.base import DataModel, UserModel, as_model

__all__ = [
    "VerifyInputError",
    "build_model",
    "check_keys",
    "describe",
    "factory_parameters",
    "load_factory",
    "model_sources",
    "normalize_target",
    "preflight",
    "source_digest",
]

#: The preflight's seeds and draw count (any two distinct seeds do).
PREFLIGHT_SEEDS = (20_240_601, 7)
PREFLIGHT_N = 64


class VerifyInputError(ValueError):
    """Bad input to ``regdiff verify``: the CLI prints it and exits with code 2."""


# -- the target ------------------------------------------------------------------------------


def _import_target(module_part: str) -> Any:
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise VerifyInputError(f"module file {module_part!r} not found")
        name = "regdiff_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise VerifyInputError(
                f"importing {module_part!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        return module
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise VerifyInputError(f"module {module_part!r} not found ({exc})") from None


def normalize_target(target: str) -> str:
    """MODULE:FACTORY with a ``.py`` path made absolute (so workers find it from anywhere)."""
    module_part, sep, name = str(target).rpartition(":")
    if not sep or not module_part or not name:
        raise VerifyInputError(
            f"target {target!r} must be MODULE:FACTORY (an importable module or a .py path, "
            "and the name of a callable returning a data model)"
        )
    if module_part.endswith(".py") or "/" in module_part:
        module_part = str(Path(module_part).resolve())
    return f"{module_part}:{name}"


def load_factory(target: str) -> Any:
    """The callable named by MODULE:FACTORY (VerifyInputError when it is not there)."""
    module_part, _, name = normalize_target(target).rpartition(":")
    module = _import_target(module_part)
    factory = getattr(module, name, None)
    if factory is None:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise VerifyInputError(
            f"{module_part!r} has no attribute {name!r}; it has: {', '.join(public[:30])}"
        )
    if not callable(factory):
        raise VerifyInputError(f"{target!r} is not callable (a {type(factory).__name__})")
    return factory


def factory_parameters(factory: Any) -> tuple[list[str], bool]:
    """(names of the factory's keyword parameters, whether it takes **kwargs)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return [], True
    names = [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return names, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def _required_parameters(factory: Any) -> list[str]:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty
    ]


def check_keys(factory: Any, keys: list[str], option: str, given: list[str] | None = None) -> None:
    """Every key is a parameter of the factory, and every parameter without a default is
    given (``given``: the keys of --set and --sweep together); else VerifyInputError listing
    the factory's parameters."""
    names, open_ended = factory_parameters(factory)
    listing = ", ".join(names) or "(none)"
    for key in keys:
        if not open_ended and key not in names:
            raise VerifyInputError(
                f"{option}: the factory has no parameter {key!r}; parameters: {listing}"
            )
    if given is not None:
        missing = [p for p in _required_parameters(factory) if p not in given]
        if missing:
            raise VerifyInputError(
                f"the factory's parameter(s) {', '.join(missing)} have no default: give them "
                f"with --set KEY=VALUE (or --sweep); parameters: {listing}"
            )


def build_model(config: Any, value: Any = None) -> DataModel:
    """The model of the factory at ``config.params`` (and ``sweep_key=value``), wrapped."""
    factory = load_factory(config.target)
    kwargs = dict(config.params)
    if config.sweep_key:
        kwargs[config.sweep_key] = value
    try:
        obj = factory(**kwargs)
    except Exception as exc:
        tb = "".join(traceback.format_exception(exc)[-6:])
        raise VerifyInputError(
            f"the factory {config.target} raised {type(exc).__name__} with {kwargs}:\n{tb}"
        ) from exc
    try:
        return as_model(obj)
    except (TypeError, ValueError) as exc:
        raise VerifyInputError(str(exc)) from None


# -- the model's sources (part of every cell's cache key) -----------------------------------


def _excluded_roots() -> tuple[Path, ...]:
    """The standard library, site-packages and this suite's own packages (whose sources the
    code version already hashes)."""
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    here = Path(__file__).resolve().parents[1]  # simulate/
    out = [Path(r).resolve() for r in roots if r]
    return (*out, here, here.parent / "theory")


def _is_project_file(path: Path, excluded: tuple[Path, ...]) -> bool:
    return path.suffix == ".py" and not any(path.is_relative_to(r) for r in excluded)


def _imported_names(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    package = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the file's package, if it has one
                package = package or _package_of(path)
                if package is None:
                    continue
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names.append(mod)
            names += [f"{mod}.{a.name}" for a in node.names]
    return names


def _package_of(path: Path) -> str | None:
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) and Path(module.__file__).resolve() == path:
            return name if path.name == "__init__.py" else name.rpartition(".")[0] or None
    return None


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) if module is not None else None
    if file is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            return None
        file = spec.origin if spec is not None and spec.has_location else None
    return Path(file).resolve() if file else None


def model_sources(target: str) -> list[Path]:
    """The target's file and every module it imports, directly or not, from outside the
    standard library, site-packages and this suite (sorted)."""
    module_part, _, _ = normalize_target(target).rpartition(":")
    if module_part.endswith(".py") or "/" in module_part:
        first = Path(module_part).resolve()
    else:
        _import_target(module_part)
        first = _module_file(module_part)
    excluded = _excluded_roots()
    if first is None or not _is_project_file(first, excluded):
        return []
    seen, todo = {first}, [first]
    while todo:
        for name in _imported_names(todo.pop()):
            path = _module_file(name)
            if path is not None and path not in seen and _is_project_file(path, excluded):
                seen.add(path)
                todo.append(path)
    return sorted(seen)


def source_digest(target: str) -> str:
    """Hash of the contents of :func:`model_sources` (16 hex digits; "" when there are none:
    a model of this suite is covered by the code version)."""
    files = model_sources(target)
    if not files:
        return ""
    h = hashlib.sha256()
    for path in files:
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# -- preflight -------------------------------------------------------------------------------


def _member_error(model: DataModel, member: str, exc: BaseException) -> VerifyInputError:
    return VerifyInputError(f"{model.name}.{member} raised {type(exc).__name__}: {exc}")


def _draw(model: DataModel, seed: int) -> np.ndarray:
    """``sample(PREFLIGHT_N, seed)`` of the user's object as it returns it, checked."""
    obj = model.obj if isinstance(model, UserModel) else model
    try:
        raw = obj.sample(PREFLIGHT_N, seed)
    except Exception as exc:
        raise _member_error(model, f"sample({PREFLIGHT_N}, seed={seed})", exc) from None
    x = np.asarray(raw)
    if x.dtype.kind not in "fiub":
        raise VerifyInputError(
            f"{model.name}.sample returned an array of dtype {x.dtype}; expected real numbers "
            "(float64)"
        )
    if x.shape != (PREFLIGHT_N, model.d):
        raise VerifyInputError(
            f"{model.name}.sample({PREFLIGHT_N}, seed) returned shape {x.shape}; expected "
            f"({PREFLIGHT_N}, d) = ({PREFLIGHT_N}, {model.d}) (d is the model's attribute)"
        )
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x).all(axis=1)))
        raise VerifyInputError(
            f"{model.name}.sample returned {bad} row(s) with NaN or inf; expected finite values"
        )
    return x


def preflight(model: DataModel, alpha_bars: Any = (1e-3, 0.5, 0.999)) -> None:
    """The protocol of the module docstring, checked without statistics: ``sample``'s shape,
    dtype, finiteness and seed behaviour, the score's (or denoiser's) shape and finiteness at
    ``alpha_bars`` (include the smallest v the battery uses), the declared ``support`` and
    ``independent_blocks()``. Raises VerifyInputError naming the member."""
    name = model.name
    x = _draw(model, PREFLIGHT_SEEDS[0])
    again = _draw(model, PREFLIGHT_SEEDS[0])
    if not np.array_equal(x, again):
        raise VerifyInputError(
            f"{name}.sample(n, seed) is not deterministic: two calls with seed="
            f"{PREFLIGHT_SEEDS[0]} differ (draw every random number from the seed, e.g. "
            "np.random.default_rng(seed))"
        )
    other = _draw(model, PREFLIGHT_SEEDS[1])
    if np.ptp(x, axis=0).max() > 0 and np.array_equal(x, other):
        raise VerifyInputError(
            f"{name}.sample(n, seed) ignores its seed: seeds {PREFLIGHT_SEEDS[0]} and "
            f"{PREFLIGHT_SEEDS[1]} give the same draws"
        )
    support = getattr(model, "support", None)
    if support is not None:
        mask = np.asarray(support)
        if mask.shape != (model.d,) or mask.dtype != bool:
            raise VerifyInputError(
                f"{name}.support must be a boolean mask of shape ({model.d},); got dtype "
                f"{mask.dtype} and shape {mask.shape}"
            )
        off = np.abs(x[:, ~mask])
        if off.size and off.max() > 0:
            raise VerifyInputError(
                f"{name}.support declares {int((~mask).sum())} coordinate(s) off the support, "
                f"but sample() gives nonzero values there (max |x| = {off.max():.3g}); the "
                "data must be 0 off its support"
            )
    if callable(getattr(model, "independent_blocks", None)):
        try:
            model.independent_blocks()
        except (TypeError, ValueError) as exc:
            raise VerifyInputError(f"{name}.independent_blocks(): {exc}") from None
    user = model.obj if isinstance(model, UserModel) else None
    member = "score"
    if user is not None and not model._has_score:
        member = "denoiser" if model._has_denoiser else "score_kernel"
    for alpha_bar in alpha_bars:
        try:
            if user is not None and member in ("score", "denoiser"):
                s = np.asarray(getattr(user, member)(x.copy(), alpha_bar))
            else:
                s = model.score(x, alpha_bar)
        except Exception as exc:
            raise _member_error(model, f"{member}(x, alpha_bar={float(alpha_bar):.6g})", exc)
        if s.dtype.kind not in "fiu":
            raise VerifyInputError(
                f"{name}.{member} returned dtype {s.dtype} at alpha_bar={float(alpha_bar):.6g}; "
                "expected real numbers (float64)"
            )
        if np.shape(s) != x.shape:
            raise VerifyInputError(
                f"{name}.{member} returned shape {np.shape(s)} at alpha_bar="
                f"{float(alpha_bar):.6g}; expected {x.shape}"
            )
        if not np.all(np.isfinite(s)):
            bad = int(np.count_nonzero(~np.isfinite(s).all(axis=1)))
            raise VerifyInputError(
                f"{name}.{member} returned NaN or inf on {bad} of {x.shape[0]} row(s) at "
                f"alpha_bar={float(alpha_bar):.6g} (v = {1 - float(alpha_bar):.3g}); expected "
                "finite values"
            )


def describe(model: DataModel) -> dict[str, Any]:
    """Name, d, declared intrinsic dimension and support size of a model."""
    from simulate.models.base import GaussianModel

    support = getattr(model, "support", None)
    k = getattr(model, "intrinsic_dim", None)
    return {
        "model": str(getattr(model, "name", type(model).__name__)),
        "d": int(model.d),
        "intrinsic_dim": None if k is None or (isinstance(k, float) and math.isnan(k)) else k,
        "support_size": None if support is None else int(np.count_nonzero(support)),
        "gaussian": isinstance(model, GaussianModel),
    }
