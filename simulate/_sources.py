"""The hash of the project's source files: the one definition behind the code version of
every result (``experiments._common.code_version``) and the folder of the compiled kernels
(``_kernels.config.kernel_cache_dir``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_hash(packages: tuple[str, ...], digits: int = 12) -> str:
    """sha256 over the relative path and bytes of every ``.py`` file of ``packages`` (folders
    of the repository root, sorted; test files, ``test_*``, left out)."""
    h = hashlib.sha256()
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "test_" in path.name:
                continue
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:digits]
