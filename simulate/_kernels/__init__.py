"""Every numba kernel of the project (DESIGN.md, numba conventions).

Kernels are private (``_verb_noun``), take contiguous float64/int64 arrays, write into an
``out`` argument and never use numba's global RNG; each is wrapped by a validating public
function elsewhere in ``simulate`` and has a NumPy twin in ``tests/reference.py``.

Deliberate change from DESIGN.md: ``_kernels`` is a package rather than one file, one module
per topic (``rng``, ``sampling``, ``models``, ...), all re-exported here, so that the import
path ``simulate._kernels`` is unchanged and decorator options still live in one place
(``config``).
"""

from simulate._kernels.config import JIT_OPTIONS, jit
from simulate._kernels.rng import (
    STREAM_SAMPLER,
    _box_muller_words,
    _fill_normals,
    _fill_normals_row,
    _fill_normals_serial,
    _philox_words,
)
from simulate._kernels.sampling import (
    _apply_step,
    _apply_step_serial,
    _init_normal,
    _init_normal_serial,
    _ode_batch,
    _ode_batch_serial,
    fused_ode_sampler,
    fused_sampler,
    rowwise_score,
)

__all__ = [
    "JIT_OPTIONS",
    "STREAM_SAMPLER",
    "_apply_step",
    "_apply_step_serial",
    "_box_muller_words",
    "_fill_normals",
    "_fill_normals_row",
    "_fill_normals_serial",
    "_init_normal",
    "_init_normal_serial",
    "_ode_batch",
    "_ode_batch_serial",
    "_philox_words",
    "fused_ode_sampler",
    "fused_sampler",
    "jit",
    "rowwise_score",
]

from simulate._kernels.models import _score_subspace_gaussian

__all__ += ["_score_subspace_gaussian"]
