"""Files that several runs may share: owned temporary names, stale sweeps, safe moves.

A run's temporary files and staging folders are named after their owner,

    <stem>.<host>.<pid>.<token><suffix>     host = 8 hex digits of the host name's sha256,

so that a run's start-up sweep removes only what a dead process of this host left behind
(``os.kill(pid, 0)`` fails) or what is older than ``STALE_AGE_SECONDS`` (a process of another
host on a shared file system, or a name of an older format); never the files of a live run
on the same folder (issue 32: a run's cleanup deleted another live run's temporary files).

``move_into_place`` is ``os.replace`` with a fallback for a destination on another file
system (``EXDEV``; issue 32: ``--out`` on another file system failed at the very end): copy
beside the destination under an owned name, then rename there (atomic on the destination's
file system), then remove the source.

``make_staging`` and ``move_outputs`` are the output writer of ``regdiff figures`` and
``regdiff verify``: everything is written into an owned staging folder beside the output
folder (the staging folders dead runs left there are removed first), then moved in.

Notation: none (file handling only).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterable
from pathlib import Path

from simulate.pipeline import stops

__all__ = [
    "STALE_AGE_SECONDS",
    "is_stale",
    "make_staging",
    "move_into_place",
    "move_outputs",
    "owned_name",
    "owner_of",
    "remove_stale",
    "write_new",
]

#: A temporary file or staging folder older than this is removed at start-up whoever owns
#: it: no cell or output write takes a day, so its owner is gone (or hung).
STALE_AGE_SECONDS = 24 * 3600.0


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def owned_name(stem: str, suffix: str = "") -> str:
    """``<stem>.<host>.<pid>.<token><suffix>``: a name no other process uses (module
    docstring); ``stem`` must not be empty."""
    if not stem:
        raise ValueError("owned_name: stem must not be empty")
    return f"{stem}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


def owner_of(name: str, suffix: str = "") -> tuple[str, int] | None:
    """The (host tag, pid) in a name made by ``owned_name``; None for any other name."""
    if suffix:
        if not name.endswith(suffix):
            return None
        name = name[: -len(suffix)]
    parts = name.rsplit(".", 3)
    if len(parts) != 4:
        return None
    _, host, pid, token = parts
    if len(host) != 8 or len(token) != 8 or not pid.isdigit():
        return None
    return host, int(pid)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` of this host exists (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(pid, 0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_stale(path: Path, suffix: str = "", now: float | None = None) -> bool:
    """Whether ``path`` (an owned temporary file or folder) may be removed by anyone: its
    owner is a dead process of this host, or it is older than ``STALE_AGE_SECONDS``. A
    name of another format is stale only by age."""
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AGE_SECONDS:
        return True
    owner = owner_of(path.name, suffix)
    if owner is None or owner[0] != _host_tag():
        return False
    return owner[1] != os.getpid() and not _alive(owner[1])


def remove_stale(paths: Iterable[Path], suffix: str = "") -> list[Path]:
    """Remove the stale ones of ``paths`` (files or folders); the removed paths."""
    removed = []
    for path in paths:
        if not is_stale(path, suffix):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to the new file ``path`` (it must not exist: an owned name)."""
    with path.open("xb") as fh:
        fh.write(data)


def write_atomic(path: Path, data: bytes | str, suffix: str = ".tmp") -> None:
    """Write ``data`` to ``path`` so that no reader ever sees it half-written: to an owned
    temporary name beside it (``owned_name``), then renamed into place (``os.replace`` is
    atomic). The temporary file is removed if anything fails, and the error re-raised."""
    path = Path(path)
    tmp = path.parent / owned_name(f".{path.name}", suffix)
    try:
        write_new(tmp, data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def move_into_place(source: Path, target: Path) -> None:
    """Move the file ``source`` to ``target`` atomically (``os.replace``); if they are on
    different file systems (``EXDEV``), copy to an owned temporary name beside ``target``,
    rename it to ``target`` and remove ``source``. ``target`` is never seen half-written."""
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp = target.parent / owned_name(f".{target.name}", ".tmp")
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    source.unlink()


def make_staging(out: Path) -> Path:
    """A new staging folder beside ``out``, named after this process, after removing the
    staging folders beside it that dead (or day-old) runs left."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent.glob(".staging-*"))
    staging = out.parent / owned_name(f".staging-{out.name}")
    staging.mkdir()
    return staging


def move_outputs(staging: Path, out: Path) -> None:
    """Move every file of ``staging`` to the same place under ``out`` (each move atomic;
    copy and rename across file systems); a first Ctrl-C waits until all are moved."""
    with stops.uninterrupted():
        for path in sorted(staging.rglob("*")):
            target = out / path.relative_to(staging)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                move_into_place(path, target)
