"""Argument checks shared by the public API.

Every check raises ``ValueError`` (or ``TypeError``) whose message names the parameter, the
value received and the allowed range, so that a user can fix the call without reading code.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from simulate.noise_level import NoiseLevel


#: The most float64 values one call may draw or allocate (2**31, 16 GiB): a size beyond it
#: (a fuzzed 10**18) is refused at once instead of failing in numpy or never returning.
MAX_DRAWS = 2**31


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}={value} is out of range; allowed: {_interval(low, high, True)}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` in the given interval; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    allowed = _interval(low, high, False, low_open, high_open)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} is not finite; allowed: {allowed}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name}={value} is out of range; allowed: {allowed}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name}={value} is out of range; allowed: {allowed}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``; raise a ``ValueError`` listing them."""
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a string, one of {', '.join(choices)}; got {_short(value)}"
        )
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; allowed: {', '.join(choices)}")
    return str(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """A counter-based seed: an integer in ``[0, 2**64 - 1]``.

    ``None`` is refused: a reproducibility suite has no unseeded draws.
    """
    if value is None:
        raise TypeError(
            f"{name}=None is not allowed (no unseeded draws); give an integer in [0, 2**64 - 1]"
        )
    return check_int(name, value, low=0, high=2**64 - 1)


def check_rng(value: Any, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (integer in ``[0, 2**64 - 1]``) or a Generator.

    ``None`` (an unseeded, different stream on every call) is refused, naming ``name``.
    """
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        raise TypeError(
            f"{name}=None is not allowed (no unseeded draws); give an integer in "
            "[0, 2**64 - 1] or a numpy.random.Generator"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer in [0, 2**64 - 1] or a numpy.random.Generator, got "
            f"{_short(value)}"
        )
    return np.random.default_rng(check_seed(value, name))


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as ``bool`` if it is a Python or NumPy boolean; raise otherwise."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_short(value)}")
    return bool(value)


def check_instance(name: str, value: Any, cls: type | tuple[type, ...]) -> Any:
    """Return ``value`` if it is an instance of ``cls``; raise a ``TypeError`` naming ``name``."""
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise TypeError(f"{name} must be a {names}, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_finite_array(name: str, x: Any, *, ndim: int | None = None) -> np.ndarray:
    """Return a C-contiguous float64 copy-or-view of ``x``; reject NaN/inf and wrong rank."""
    if x is None or isinstance(x, str | bytes | dict):
        raise TypeError(f"{name} must be an array of real numbers, got {_short(x)}")
    try:
        with np.errstate(all="ignore"):
            arr = np.ascontiguousarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise TypeError(
            f"{name} must be an array of real numbers, got {_short(x)} ({error})"
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf); all must be finite"
        )
    return arr


def check_alpha_bar(value: Any, name: str = "alpha_bar") -> NoiseLevel:
    """The cumulative signal level of a noised law, as a :class:`NoiseLevel`.

    A plain real must lie in the open interval (0, 1). A ``NoiseLevel`` may have the float
    value 1.0 when its accurate complement ``v`` is positive (abar_t = 1 - 1e-20 rounds to 1
    in float64, yet the law is a noised one); its ``v`` must lie in (0, 1].
    """
    if isinstance(value, NoiseLevel):
        check_real(name, float(value), low=0.0, high=1.0, low_open=True)
        check_real(f"{name}.v", value.v, low=0.0, high=1.0, low_open=True)
        return value
    return NoiseLevel(check_real(name, value, low=0.0, high=1.0, low_open=True, high_open=True))


def _interval(
    low: float | None,
    high: float | None,
    integer: bool,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    kind = "integer" if integer else "real"
    if low is None and high is None:
        return f"any finite {kind}"
    if high is None:
        return f"{kind} {'>' if low_open else '>='} {low}"
    if low is None:
        return f"{kind} {'<' if high_open else '<='} {high}"
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f"{kind} in {left}{low}, {high}{right}"


def check_points(x: Any, d: int, name: str = "x") -> np.ndarray:
    """Rows of points in R^d: a finite float64 (n, d) array (one point (d,) becomes (1, d))."""
    arr = check_finite_array(name, x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != d:
        raise ValueError(f"{name} must have shape (n, {d}), got {arr.shape}")
    return arr


# -- argument types from annotations -----------------------------------------------------------

#: Annotation strings (as written, ``from __future__ import annotations``) checked by
#: :func:`checked`, and the check of each. Other annotations (``Any``, models, callables'
#: own protocols) are left to the function's own validation.
_SCALAR_KINDS = {
    "int": "an integer",
    "float": "a real number",
    "bool": "True or False",
    "str": "a string",
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool | np.bool_)
    if kind == "str":
        return isinstance(value, str)
    return True


def _array_ok(value: Any) -> str | None:
    """None if ``value`` converts to a float64 array, else the reason."""
    if value is None or isinstance(value, str | bytes | dict):
        return f"got {_short(value)}"
    try:
        with np.errstate(all="ignore"):
            np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        return f"got {_short(value)} ({error})"
    return None


def checked(func: Any) -> Any:
    """Check the *types* of a public function's arguments against its annotations.

    ``int``, ``float``, ``bool``, ``str`` (and ``X | None``) and ``np.ndarray`` (convertible to
    float64) annotations are enforced with a ``TypeError`` naming the parameter; a class
    annotation ``Schedule``, ``VPSchedule``, ``GaussianLaw``, ``StructuredMatrix`` or ``Grid`` is
    checked by class name; ``Callable[...]`` by ``callable``. Values and ranges stay the
    function's own checks. The annotations are read once, at decoration.
    """
    import functools
    import inspect

    signature = inspect.signature(func)
    plans = []
    for p in signature.parameters.values():
        ann = p.annotation
        if not isinstance(ann, str) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        parts = [a.strip() for a in ann.split("|")]
        optional = "None" in parts
        parts = [a for a in parts if a != "None"]
        if len(parts) != 1:
            continue
        ann = parts[0]
        if ann in _SCALAR_KINDS:
            plans.append((p.name, "scalar", ann, optional))
        elif ann == "np.ndarray":
            plans.append((p.name, "array", ann, optional))
        elif ann in ("Schedule", "VPSchedule", "GaussianLaw", "StructuredMatrix", "Grid"):
            plans.append((p.name, "class", ann, optional))
        elif ann.startswith("Callable"):
            plans.append((p.name, "callable", ann, optional))

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{func.__name__}(): {error}") from None
        for name, how, ann, optional in plans:
            if name not in bound.arguments:
                continue
            value = bound.arguments[name]
            if value is None and optional:
                continue
            if how == "scalar" and not _type_ok(ann, value):
                raise TypeError(f"{name} must be {_SCALAR_KINDS[ann]}, got {_short(value)}")
            if how == "array":
                reason = _array_ok(value)
                if reason:
                    raise TypeError(f"{name} must be an array of real numbers, {reason}")
            if how == "class" and ann not in {c.__name__ for c in type(value).__mro__}:
                raise TypeError(f"{name} must be a {ann}, got {_short(value)}")
            if how == "callable" and not callable(value):
                raise TypeError(f"{name} must be callable, got {_short(value)}")
        return func(*args, **kwargs)

    return wrapper
