"""The project's jit: IEEE semantics kept (why fastmath stays off), and the on-disk kernel
cache keyed by the source tree and the build."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from simulate._kernels import JIT_OPTIONS, config, jit, rng
from simulate._sources import source_hash


def _absorb(x, y):
    return (x - y) + y


def test_project_jit_keeps_ieee_semantics():
    assert JIT_OPTIONS["fastmath"] is False
    strict = jit(_absorb)
    assert math.isnan(strict(np.inf, np.inf))  # (inf - inf) + inf is NaN under IEEE


def test_fastmath_would_hide_the_nan():
    """With full fastmath LLVM may fold (x - y) + y to x: a diverging chain would look finite."""
    fast = numba.njit(fastmath=True)(_absorb)
    assert not math.isnan(fast(np.inf, np.inf))


# -- the on-disk kernel cache (simulate._kernels.config, module docstring) ----------------------

_SECOND_PROCESS = """
import json, sys
import numpy as np
from simulate.models import PaperToy3D
from simulate._kernels import sampling
from simulate._kernels.models import _score_lowrank_mixture
x = np.random.default_rng(0).standard_normal((64, 3))
score = PaperToy3D().score(x, 0.5)
kernels = [k for (fn, _), k in sampling._ROWWISE_CACHE.items() if fn is _score_lowrank_mixture]
stats = kernels[0].stats
print(json.dumps({"hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()),
                  "path": stats.cache_path, "score": score.tolist()}))
"""


def _run_in_fresh_process(cache: Path) -> dict:
    env = {**os.environ, "REGDIFF_NUMBA_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", _SECOND_PROCESS], env=env, capture_output=True, text=True,
        check=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_kernels_the_first_compiled(tmp_path: Path) -> None:
    """The model's row kernel is a closure over another kernel; numba's own key (a pickle
    with a per-process id) would miss in every process. Ours hits, and gives the same
    numbers."""
    first = _run_in_fresh_process(tmp_path)
    second = _run_in_fresh_process(tmp_path)
    assert first["hits"] == 0 and first["misses"] >= 1
    assert second["hits"] >= 1 and second["misses"] == 0
    assert second["score"] == first["score"]
    folder = Path(second["path"])
    assert folder.is_relative_to(tmp_path / source_hash(("simulate",), digits=16) / "parallel")


def test_the_cache_folder_separates_builds_and_skips_foreign_functions() -> None:
    folder = config.kernel_cache_dir()
    if folder is None:
        pytest.skip("the kernel cache is off in this environment")
    assert folder.name == source_hash(("simulate",), digits=16)
    serial = jit(rng._philox_words.py_func)  # a project function: cached, per build
    parallel = jit(rng._philox_words.py_func, parallel=True)
    assert Path(serial.stats.cache_path).is_relative_to(folder / "serial")
    assert Path(parallel.stats.cache_path).is_relative_to(folder / "parallel")
    # a function from outside simulate (here, this test module) compiles in memory only
    assert type(jit(_absorb)._cache).__name__ == "NullCache"


def test_the_cache_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("REGDIFF_NUMBA_CACHE", "off")
    config.kernel_cache_dir.cache_clear()
    try:
        assert config.kernel_cache_dir() is None
        assert type(jit(rng._philox_words.py_func)._cache).__name__ == "NullCache"
    finally:
        monkeypatch.undo()
        config.kernel_cache_dir.cache_clear()


def test_closure_digest_names_kernels_not_objects() -> None:
    """Two builds of the same closure get one key; another captured kernel, another key."""
    from simulate._kernels.models import _score_box, _score_lowrank_mixture
    from simulate._kernels.sampling import rowwise_score

    a = rowwise_score(_score_lowrank_mixture).py_func
    b = rowwise_score(_score_box).py_func
    digest = [config._digest(c.cell_contents) for c in a.__closure__]
    assert digest == [config._digest(c.cell_contents) for c in a.__closure__]
    assert digest != [config._digest(c.cell_contents) for c in b.__closure__]
