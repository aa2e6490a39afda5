"""Clean stops: worker processes die with their parent, and Ctrl-C stops a run at once.

Issue 32, item 3. What each way of stopping a run does:

- ``kill -9`` or SIGTERM of the parent: each worker process watches its parent
  (``watch_parent``, a daemon thread started by ``worker_start``, the pool's initializer)
  and exits within ``PARENT_POLL_SECONDS`` once the parent is gone; the multiprocessing
  resource tracker then sees its pipe close and exits too. A helper subprocess (the claims'
  tests) is started with ``die_with_parent`` (Linux: the kernel sends it SIGKILL when the
  parent dies). Under ``stop_handlers`` SIGTERM stops the run like a first Ctrl-C (exit 143).
- Ctrl-C (SIGINT), first time: ``stop_handlers`` raises ``KeyboardInterrupt`` in the main
  thread; the process executor cancels every queued cell and kills its workers
  (``abandon_pool``) instead of waiting for them; finished cells are already in the cache
  (each stored atomically), a cell in progress leaves only an owned temporary file (removed
  by the next run), staging folders are removed, and the command exits 130.
  Workers ignore SIGINT (a terminal sends it to the whole process group): only the parent
  decides.
- Ctrl-C, second time: the process exits at once (``os._exit(130)``); its workers follow
  by watching it.
- Inside ``uninterrupted()`` (the final moves of the outputs into place, a fraction of a
  second) a first Ctrl-C is held until the block ends, so that the output folder is never
  left half old, half new.

Notation: none (process handling only).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "PARENT_POLL_SECONDS",
    "abandon_pool",
    "die_with_parent",
    "exit_code",
    "stop_handlers",
    "uninterrupted",
    "watch_parent",
    "worker_start",
]

#: How often a worker checks that its parent is alive (its latency to exit after a kill -9).
PARENT_POLL_SECONDS = 0.2
#: Linux prctl option: a signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


def watch_parent(parent_pid: int, interval: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process (``os._exit(1)``, no cleanup: the
    parent that would use its work is gone) once its parent is no longer ``parent_pid``
    (the orphan is adopted by another process, so ``os.getppid()`` changes)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(1)

    thread = threading.Thread(target=watch, name="regdiff-watch-parent", daemon=True)
    thread.start()
    return thread


def worker_start(parent_pid: int) -> None:
    """A pool worker's initializer: ignore SIGINT (the parent stops the run) and die with
    ``parent_pid``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent_pid)


def die_with_parent() -> None:
    """``preexec_fn`` of a helper subprocess: on Linux, the kernel kills it (SIGKILL) when
    the thread that started it ends; elsewhere nothing (the helper is stopped explicitly)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return


def abandon_pool(pool: Any, join_seconds: float = 2.0) -> None:
    """Stop a ``concurrent.futures.ProcessPoolExecutor`` now: cancel its queued cells and
    kill its workers (their cells in progress are lost; a cell is stored only when whole).

    ``pool._processes`` is the executor's own table of worker processes (CPython 3.8 to
    3.13); ``shutdown(wait=True)``, what leaving its ``with`` block does, would first run
    every queued cell (issue 32: 34 s after Ctrl-C).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.kill()
    deadline = time.monotonic() + join_seconds
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(max(0.0, deadline - time.monotonic()))


#: The process's stop state, read by the signal handler (a handler has no other way to
#: know what the main thread is doing): the depth of ``uninterrupted`` blocks, a stop
#: signal held until they end, and whether a stop has begun (a second one exits).
_state: dict[str, Any] = {"deferring": 0, "pending": None, "stopping": False}


def _raise_stop(signum: int) -> None:
    name = signal.Signals(signum).name
    raise KeyboardInterrupt(f"stopped by {name}")


def _handler(signum: int, frame: Any) -> None:
    if _state["stopping"]:  # a second stop: no more cleanup
        os._exit(exit_code(signum))
    _state["stopping"] = True
    if _state["deferring"]:
        _state["pending"] = signum
        return
    _raise_stop(signum)


def exit_code(signum: int | None) -> int:
    """The exit code of a run stopped by ``signum``: 128 + its number (Ctrl-C: 130)."""
    return 128 + int(signum if signum is not None else signal.SIGINT)


@contextlib.contextmanager
def stop_handlers() -> Iterator[Callable[[], int | None]]:
    """Inside, SIGINT and SIGTERM stop the run (module docstring); yields a function giving
    the signal that stopped it (None if none did). Outside the main thread (where Python
    cannot set signal handlers) nothing is installed."""
    stopped: dict[str, int | None] = {"signum": None}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: stopped["signum"]
        return

    def handler(signum: int, frame: Any) -> None:
        if stopped["signum"] is None:
            stopped["signum"] = signum
        _handler(signum, frame)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _state.update(deferring=0, pending=None, stopping=False)
    try:
        yield lambda: stopped["signum"]
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _state.update(deferring=0, pending=None, stopping=False)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold a first stop signal until the block ends (then raise it): for short steps that
    must finish once begun. A second signal still exits at once."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
        pending = _state["pending"]
        if not _state["deferring"] and pending is not None:
            _state["pending"] = None
            _raise_stop(pending)
