"""The one place where numba decorator options are set (DESIGN.md, numba conventions).

``fastmath`` stays off everywhere: the suite must see NaN and inf, and IEEE semantics make the
serial and parallel builds, the fused and batch paths, and the NumPy twins comparable.
``tests/test_kernels_config.py`` shows what fastmath would break.

Compiled kernels are kept on disk (numba's ``cache=True``), so a second process (a worker of
``regdiff figures``, a later run, the test suite) loads them instead of compiling them again;
compilation is most of the cost of a small run. numba's own cache invalidation looks only at
the file a function is written in and ignores its flags, which is not safe here: a kernel
inlines helpers from other files (the normal generator), and the same Python function is
compiled both serially and in parallel. So the cache folder is keyed by

    BASE / <hash of every source file of simulate> / ("serial" | "parallel")

and any edit anywhere in ``simulate`` starts a new folder. Only the project's own kernels are
cached: a function written outside ``simulate`` (a user's score kernel, a notebook's), or a
closure over one, compiles in memory as before, since its source is not in the hash (and a
kernel defined in a notebook cannot be reloaded by another process).

BASE is ``$REGDIFF_NUMBA_CACHE``, else ``$NUMBA_CACHE_DIR/regdiff``, else
``~/.cache/regdiff/numba`` (``$XDG_CACHE_HOME`` respected); ``REGDIFF_NUMBA_CACHE=off``
compiles in memory only, as does a folder that cannot be written. Old folders are not
removed (delete BASE to reclaim the space; a folder holds about 10 MB).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numba
from numba.core.caching import FunctionCache

from simulate._sources import source_hash

#: Options of every jitted kernel. ``error_model="numpy"`` makes 1/0 give inf instead of
#: raising, as NumPy does, so the twins and kernels follow the same rules.
JIT_OPTIONS: dict[str, Any] = {"fastmath": False, "error_model": "numpy"}

_OFF = ("0", "off", "no", "false", "none")


@functools.lru_cache(maxsize=1)
def kernel_cache_dir() -> Path | None:
    """The folder of this source tree's compiled kernels (module docstring), or None when the
    disk cache is off or cannot be written."""
    setting = os.environ.get("REGDIFF_NUMBA_CACHE", "").strip()
    if setting.lower() in _OFF:
        return None
    if setting:
        base = Path(setting)
    elif os.environ.get("NUMBA_CACHE_DIR"):
        base = Path(os.environ["NUMBA_CACHE_DIR"]) / "regdiff"
    else:
        home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = Path(home) / "regdiff" / "numba"
    folder = base.expanduser() / source_hash(("simulate",), digits=16)
    try:
        for build in ("serial", "parallel"):
            (folder / build).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder / build):
                pass
    except OSError:
        return None
    return folder


@contextlib.contextmanager
def _numba_cache_dir(folder: Path) -> Iterator[None]:
    # numba picks a dispatcher's cache folder from config.CACHE_DIR when caching is enabled
    # (at decoration), so setting it around the decoration binds this kernel to ``folder``.
    before = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = before


def _project_owned(value: Any) -> bool:
    """True for a plain constant or a project kernel (a closure cell a cached kernel may hold)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, tuple):
        return all(_project_owned(v) for v in value)
    py_func = getattr(value, "py_func", None)
    return py_func is not None and _cacheable(py_func)


def _cacheable(f: Any) -> bool:
    """A function of the ``simulate`` package whose closure holds only project kernels and
    constants."""
    if not getattr(f, "__module__", "").startswith("simulate."):
        return False
    cells = getattr(f, "__closure__", None) or ()
    try:
        return all(_project_owned(c.cell_contents) for c in cells)
    except ValueError:  # an empty cell
        return False


def _digest(value: Any) -> str:
    """A text that identifies a closure cell across processes: a constant by its repr, a
    project kernel by its name, flags, bytecode and (recursively) its own closure."""
    py_func = getattr(value, "py_func", None)
    if py_func is None:
        return repr(value)
    options = sorted((k, repr(v)) for k, v in getattr(value, "targetoptions", {}).items())
    cells = tuple(_digest(c.cell_contents) for c in (py_func.__closure__ or ()))
    code = hashlib.sha256(py_func.__code__.co_code).hexdigest()
    return f"{py_func.__module__}.{py_func.__qualname__}|{options}|{code}|{cells}"


class _ProjectFunctionCache(FunctionCache):
    """numba's function cache with a closure key that is the same in every process.

    numba keys a closure by the pickle of its cells, and a pickled kernel carries a random
    per-process id: every process would miss and add an entry. ``_digest`` names a captured
    kernel by what determines its code instead (the folder's source hash covers the rest).
    """

    def _index_key(self, sig: Any, codegen: Any) -> tuple:
        code = hashlib.sha256(self._py_func.__code__.co_code).hexdigest()
        cells = "|".join(_digest(c.cell_contents) for c in (self._py_func.__closure__ or ()))
        return (sig, codegen.magic_tuple(), (code, hashlib.sha256(cells.encode()).hexdigest()))


def jit(
    func: Any = None, *, parallel: bool = False, cache: bool = True, inline: str = "never"
) -> Any:
    """``numba.njit`` with the project's options (usable bare or with arguments).

    ``inline="always"`` inlines the function into its jitted callers at numba's IR level, so
    that LLVM sees one loop body and can vectorize it (the normal generator's helpers).
    ``cache`` keeps the compiled kernel on disk in ``kernel_cache_dir()`` (module docstring);
    an inlined helper is never compiled on its own and is not cached, nor is a function from
    outside ``simulate`` or a closure over one.
    """

    def wrap(f: Any) -> Any:
        dispatcher = numba.njit(parallel=parallel, inline=inline, **JIT_OPTIONS)(f)
        cached = cache and inline == "never" and _cacheable(f)
        folder = kernel_cache_dir() if cached else None
        if folder is not None:
            with _numba_cache_dir(folder / ("parallel" if parallel else "serial")):
                # what ``cache=True`` does (Dispatcher.enable_caching), with the keyed cache
                dispatcher._cache = _ProjectFunctionCache(f)
        return dispatcher

    return wrap if func is None else wrap(func)
