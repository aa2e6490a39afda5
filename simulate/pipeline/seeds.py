"""Seeds derived from names: a table is a function of its settings, never of list positions.

``seed_for(experiment, key, replicate, stream)`` hashes each string part to a 64-bit integer
(SHA-256) and feeds the parts, in order, to ``numpy.random.SeedSequence``; integer parts are
used as they are, so a derivation from integers alone equals
``SeedSequence([ints...]).generate_state(1)[0]`` (what the experiments used before, which
keeps their tables unchanged).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["seed_for"]


def _part(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | str):
        raise TypeError(f"seed parts are ints or strings, got {value!r} ({type(value).__name__})")
    if isinstance(value, str):
        return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "little")
    if value < 0:
        raise ValueError(f"integer seed parts must be >= 0, got {value}")
    return int(value)


def seed_for(*parts: int | str) -> int:
    """A 32-bit seed that is a pure function of ``parts`` (ints >= 0 or strings)."""
    if not parts:
        raise ValueError("seed_for needs at least one part")
    return int(np.random.SeedSequence([_part(p) for p in parts]).generate_state(1)[0])
