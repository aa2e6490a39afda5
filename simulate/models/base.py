"""The data-model protocol, Tweedie's formula, and the base class of built-in models.

Notation (code -> SCIENCE.md):

==================  ==============================================
``alpha_bar``       abar_t, so a = sqrt(abar_t), v = 1 - abar_t (a float, or a
                    ``NoiseLevel`` carrying an accurate v: ``simulate.noise_level``)
``score(x, ab)``    grad log q_t(x), q_t = law(sqrt(abar) X_0 + sqrt(v) W)
``denoiser(x, ab)`` D_t(x) = E[X_0 | X_t = x]
==================  ==============================================

Tweedie (SCIENCE.md 2): grad log q_t(x) = (sqrt(abar_t) D_t(x) - x) / (1 - abar_t).

A user's model is any object with ``d``, ``sample(n, seed)`` and at least one of ``score`` /
``denoiser``; :func:`as_model` checks it and supplies the missing one by Tweedie. A user's
model may instead (or also) give ``score_kernel() -> (kernel, params)``, a jitted row kernel
with the signature of ``simulate._kernels.sampling``: then the fused sampler path is open to
it, and when it has no Python ``score`` its score is that kernel applied row by row, so that
the fused and batch paths give identical numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from simulate._validation import checked, check_alpha_bar, check_int, check_points, check_rng, check_seed
from simulate.kernels import apply_row_kernel, as_score_kernel
from simulate.noise_level import noise_scales

if TYPE_CHECKING:
    from simulate.laws import GaussianLaw
    from simulate.linalg import StructuredMatrix

__all__ = [
    "BlockModel",
    "DataModel",
    "GaussianModel",
    "UserModel",
    "as_model",
    "denoiser_from_score",
    "score_from_denoiser",
]


@runtime_checkable
class GaussianModel(Protocol):
    """Capability: a Gaussian data model, whose q_t and exact score are known in closed form.

    ``noised_law(alpha_bar)`` is q_t as a :class:`simulate.laws.GaussianLaw`, and
    ``affine_score(alpha_bar) -> (S, b)`` gives grad log q_t(x) = S x + b with S a
    :class:`simulate.linalg.StructuredMatrix`. ``simulate.exact`` needs both.
    """

    d: int

    def noised_law(self, alpha_bar: float) -> GaussianLaw: ...

    def affine_score(self, alpha_bar: float) -> tuple[StructuredMatrix, np.ndarray]: ...


@runtime_checkable
class BlockModel(Protocol):
    """Capability: X_0 is a product of independent blocks of coordinates, so the exact score
    acts on each block alone and every sampler with it factorizes over the same blocks
    (``tests/test_factorization.py``; the grid oracles of ``simulate.oracle`` and
    ``simulate.oracle_plane`` use it).

    ``independent_blocks()`` lists arrays of shape (copies, b): each row is one block of b
    coordinates, and the rows of one array have one and the same law. The blocks partition
    the coordinates 0..d-1.
    """

    d: int

    def independent_blocks(self) -> list[np.ndarray]: ...


@checked
def score_from_denoiser(x: np.ndarray, denoised: np.ndarray, alpha_bar: float) -> np.ndarray:
    """Tweedie: score = (sqrt(abar) D(x) - x) / (1 - abar) (SCIENCE.md 2)."""
    a, v = noise_scales(alpha_bar)
    return (a * denoised - x) / v


@checked
def denoiser_from_score(x: np.ndarray, score: np.ndarray, alpha_bar: float) -> np.ndarray:
    """Tweedie inverted: D(x) = (x + (1 - abar) score) / sqrt(abar) (SCIENCE.md 2)."""
    a, v = noise_scales(alpha_bar)
    return (x + v * score) / a


class DataModel:
    """Base of the built-in models: validation, Tweedie, and the numba score path.

    Subclasses set ``d``, ``name``, ``intrinsic_dim``, ``support`` (boolean mask or None) and
    implement ``_sample(n, rng)``; they provide a score kernel through
    ``score_kernel() -> (kernel, params)`` (signature in ``simulate._kernels.sampling``),
    and may override ``denoiser``.
    """

    d: int
    name: str = "model"
    intrinsic_dim: int | None = None
    support: np.ndarray | None = None

    # -- sampling -------------------------------------------------------------------------
    def sample(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """``n`` independent draws of X_0, shape (n, d), float64."""
        n = check_int("n", n, low=1)
        return np.ascontiguousarray(self._sample(n, check_rng(seed)), dtype=np.float64)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    # -- scores ---------------------------------------------------------------------------
    def score_kernel(self) -> tuple[Any, tuple] | None:
        """``(kernel, params)`` for the fused sampler, or None if there is no kernel."""
        return None

    def score(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        """grad log q_t at the rows of ``x`` (n, d), where abar_t = ``alpha_bar``."""
        x = self._check_points(x)
        alpha_bar = check_alpha_bar(alpha_bar)
        kernel = self.score_kernel()
        if kernel is None:
            return score_from_denoiser(x, self._denoiser(x, alpha_bar), alpha_bar)
        fn, params = kernel
        return apply_row_kernel(fn, x, 0, alpha_bar, params)

    def denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        """E[X_0 | X_t = x] at the rows of ``x`` (n, d) (Tweedie unless overridden)."""
        x = self._check_points(x)
        alpha_bar = check_alpha_bar(alpha_bar)
        return self._denoiser(x, alpha_bar)

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        return denoiser_from_score(x, self.score(x, alpha_bar), alpha_bar)

    def _check_points(self, x: Any) -> np.ndarray:
        return check_points(x, self.d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class UserModel(DataModel):
    """Adapter for a user's object with ``d``, ``sample`` and ``score``, ``denoiser`` or
    ``score_kernel`` (see the module docstring)."""

    def __init__(self, obj: Any) -> None:
        missing = [m for m in ("d", "sample") if not hasattr(obj, m)]
        if missing:
            raise TypeError(
                f"a data model needs the member(s) {', '.join(missing)}; "
                f"{type(obj).__name__} lacks them (required: d, sample(n, seed), "
                "and score(x, alpha_bar) or denoiser(x, alpha_bar))"
            )
        has_score = callable(getattr(obj, "score", None))
        has_denoiser = callable(getattr(obj, "denoiser", None))
        self._kernel = self._user_kernel(obj)
        if not (has_score or has_denoiser or self._kernel is not None):
            raise TypeError(
                f"a data model needs score(x, alpha_bar) or denoiser(x, alpha_bar) "
                f"(or score_kernel()); {type(obj).__name__} has none of them"
            )
        self.obj = obj
        self.d = check_int("d", obj.d, low=1)
        self.name = str(getattr(obj, "name", type(obj).__name__))
        self.intrinsic_dim = getattr(obj, "intrinsic_dim", None)
        self.support = getattr(obj, "support", None)
        self._has_score = has_score
        self._has_denoiser = has_denoiser
        if callable(getattr(obj, "independent_blocks", None)):
            # an instance attribute, so that only such models satisfy ``BlockModel``
            self.independent_blocks = self._checked_blocks

    def _checked_blocks(self) -> list[np.ndarray]:
        """The user's ``independent_blocks()`` as (copies, b) integer arrays, checked to
        partition the coordinates 0..d-1 (``BlockModel``)."""
        blocks = [np.asarray(g, dtype=np.int64) for g in self.obj.independent_blocks()]
        blocks = [g for g in blocks if g.size]  # an empty group (e.g. no pure-noise block)
        blocks = [g.reshape(len(g), -1) if g.ndim != 2 else g for g in blocks]
        used = np.concatenate([g.ravel() for g in blocks]) if blocks else np.empty(0, np.int64)
        if np.sort(used).tolist() != list(range(self.d)):
            raise ValueError(
                f"independent_blocks() of {self.name} must partition the coordinates "
                f"0..{self.d - 1} (each once); it lists {used.size} indices"
            )
        return blocks

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """The user's ``sample(n, seed)``, always called with a Python int seed: a Generator
        passed here gives one integer draw from it (so ``RandomState(seed)`` works too)."""
        n = check_int("n", n, low=1)
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**32))
        else:
            seed = int(check_seed(seed))
        x = np.ascontiguousarray(self.obj.sample(n, seed), dtype=np.float64)
        if x.shape != (n, self.d):
            raise ValueError(
                f"sample({n}) of the user model returned shape {x.shape}, expected ({n}, {self.d})"
            )
        return x

    @staticmethod
    def _user_kernel(obj: Any) -> tuple[Any, tuple] | None:
        """The object's ``score_kernel()``, checked to be None or a (kernel, params) pair."""
        method = getattr(obj, "score_kernel", None)
        if not callable(method):
            return None
        kernel = method()
        if kernel is None:
            return None
        if not (isinstance(kernel, tuple) and len(kernel) == 2 and callable(kernel[0])):
            raise TypeError(
                f"{type(obj).__name__}.score_kernel() must return None or (kernel, params) "
                f"with a jitted kernel(x, t, alpha_bar_t, v_t, params, out); got {kernel!r}"
            )
        if not isinstance(kernel[1], tuple):
            raise TypeError(
                f"{type(obj).__name__}.score_kernel() params must be a tuple, "
                f"got {type(kernel[1]).__name__}"
            )
        fn = as_score_kernel(kernel[0], f"{type(obj).__name__}.score_kernel()")
        return fn, kernel[1]

    def score_kernel(self) -> tuple[Any, tuple] | None:
        return self._kernel

    def score(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        x = self._check_points(x)
        alpha_bar = check_alpha_bar(alpha_bar)
        if self._has_score:
            return self._checked(self.obj.score(x, alpha_bar), x, "score", alpha_bar)
        if self._kernel is not None:
            fn, params = self._kernel
            return apply_row_kernel(fn, x, 0, alpha_bar, params)
        return score_from_denoiser(x, self._denoiser(x, alpha_bar), alpha_bar)

    def _denoiser(self, x: np.ndarray, alpha_bar: float) -> np.ndarray:
        if self._has_denoiser:
            return self._checked(self.obj.denoiser(x, alpha_bar), x, "denoiser", alpha_bar)
        return denoiser_from_score(x, self.score(x, alpha_bar), alpha_bar)

    def _checked(self, out: Any, x: np.ndarray, what: str, alpha_bar: float) -> np.ndarray:
        out = np.asarray(out, dtype=np.float64)
        if out.shape != x.shape:
            raise ValueError(
                f"the user model's {what} returned shape {out.shape} for x of "
                f"shape {x.shape} (alpha_bar={alpha_bar:.6g}); expected {x.shape}"
            )
        return np.ascontiguousarray(out)


@checked
def as_model(obj: Any) -> DataModel:
    """Return ``obj`` if it is a built-in model, else wrap it as a :class:`UserModel`."""
    return obj if isinstance(obj, DataModel) else UserModel(obj)
