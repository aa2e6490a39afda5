"""The one place where numba decorator options are set (DESIGN.md, numba conventions).

``fastmath`` stays off everywhere: the suite must see NaN and inf, and IEEE semantics make the
serial and parallel builds, the fused and batch paths, and the NumPy twins comparable.
``tests/test_kernels_config.py`` shows what fastmath would break.
"""

from __future__ import annotations

from typing import Any

import numba

#: Options of every jitted kernel. ``error_model="numpy"`` makes 1/0 give inf instead of
#: raising, as NumPy does, so the twins and kernels follow the same rules.
JIT_OPTIONS: dict[str, Any] = {"fastmath": False, "error_model": "numpy"}


def jit(
    func: Any = None, *, parallel: bool = False, cache: bool = False, inline: str = "never"
) -> Any:
    """``numba.njit`` with the project's options (usable bare or with arguments).

    ``inline="always"`` inlines the function into its jitted callers at numba's IR level, so
    that LLVM sees one loop body and can vectorize it (the normal generator's helpers).
    """

    def wrap(f: Any) -> Any:
        return numba.njit(parallel=parallel, cache=cache, inline=inline, **JIT_OPTIONS)(f)

    return wrap if func is None else wrap(func)
