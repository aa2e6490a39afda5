"""simulate.pipeline stops cleanly (issue 32, item 3).

Each way of stopping a real ``regdiff figures`` run (the test-only experiment ``sleepy``,
``tests/sleepy_experiment.py``, whose first cells finish at once and whose others sleep)
is sent to a subprocess; the test then reads the process table (``/proc``) and the folders:
no worker, resource tracker or other descendant of the run outlives it, the exit code is
128 + the signal, nothing is half written, and the finished cells are kept.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulate.pipeline import cellfile, files
from simulate.pipeline import cells as pc
from simulate.pipeline.figures import make_figures
from tests import sleepy_experiment as sleepy

ROOT = Path(__file__).resolve().parents[1]
#: Cells of the sleepy experiment that finish at once (the rest sleep SLEEP seconds).
FAST = 2
SLEEP = 60.0
#: A stopped run must be gone, with all its descendants, within this many seconds.
EXIT_WITHIN = 5.0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its new parent, is not)."""
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _descendants(root: int) -> set[int]:
    """Every live process whose chain of parents reaches ``root``."""
    parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[0] != "Z":
                parent[int(entry.name)] = st[1]
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def _start(tmp_path: Path, jobs: int = 2) -> tuple[subprocess.Popen, set[int]]:
    """A run of the sleepy experiment with its slow cells under way, and its descendants."""
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "REGDIFF_TEST_SLEEPY_DIR": str(markers),
        "REGDIFF_TEST_SLEEPY_SECONDS": str(SLEEP),
        "REGDIFF_TEST_SLEEPY_FAST": str(FAST),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.regdiff_with_sleepy", "figures", "--preset", "full",
         "--only", "sleepy", "--jobs", str(jobs), "--no-theory-tests",
         "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    # Wait until the fast cells are stored and `jobs` slow cells are running.
    while len([m for m in markers.iterdir() if int(m.name.split("-")[1]) >= FAST]) < jobs:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the cells did not start"
        time.sleep(0.1)
    while len(list((tmp_path / "cache").rglob("*.cell.json"))) < FAST:
        assert time.monotonic() < deadline, "the fast cells were not stored"
        time.sleep(0.1)
    family = _descendants(proc.pid)
    if jobs > 1:
        assert len(family) >= jobs  # the workers (and the resource tracker)
    return proc, family


def _stop(proc: subprocess.Popen, send) -> tuple[int | None, float, str]:
    """Send the signal; the exit code (None if still running after EXIT_WITHIN), the
    seconds it took, and the output."""
    start = time.monotonic()
    send()
    try:
        out = proc.communicate(timeout=EXIT_WITHIN)[0]
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - start, ""
    return proc.returncode, time.monotonic() - start, out


def _gone(family: set[int], within: float = EXIT_WITHIN) -> set[int]:
    """The processes of ``family`` still alive after ``within`` seconds (printing how long
    the others took to end)."""
    start = time.monotonic()
    while {p for p in family if _alive(p)} and time.monotonic() < start + within:
        time.sleep(0.05)
    print(f"descendants ended within {time.monotonic() - start:.2f} s of the parent's exit")
    return {p for p in family if _alive(p)}


def _check_folders(tmp_path: Path) -> None:
    """Nothing half done: no output folder, no staging folder, no temporary file; the cache
    holds exactly the finished cells, each intact."""
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".staging-*"))
    cache = pc.CellCache(tmp_path / "cache")
    tasks = pc.tasks_for(sleepy, sleepy.Config.full())
    stored = [t.index for t in tasks if cache.path(t).exists()]
    assert stored == list(range(FAST))
    for t in tasks[:FAST]:
        assert cellfile.read(cache.path(t).read_bytes(), t.experiment, t.key)


def _cleanup(proc: subprocess.Popen, family: set[int]) -> None:
    for pid in {proc.pid, *family}:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [2, 1])
def test_ctrl_c_cancels_the_queued_cells_and_exits_130_at_once(tmp_path, jobs) -> None:
    """SIGINT to the run's process group (what a terminal's Ctrl-C does) with slow cells
    running (two worker processes, or one cell in the process itself) and the others
    queued: exit 130 within seconds (issue 32: 34 s, every queued cell computed), no
    descendant left, the two finished cells kept; the next run reuses them and finishes."""
    proc, family = _start(tmp_path, jobs)
    try:
        code, seconds, out = _stop(proc, lambda: os.killpg(proc.pid, signal.SIGINT))
        print(f"Ctrl-C: exit {code} after {seconds:.2f} s")
        assert code == 130, out
        assert "stopped (exit 130)" in out
        assert not _gone(family)
        _check_folders(tmp_path)
    finally:
        _cleanup(proc, family)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    again = subprocess.run(
        [sys.executable, "-m", "tests.regdiff_with_sleepy", "figures", "--preset", "full",
         "--only", "sleepy", "--jobs", "1", "--no-theory-tests",
         "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"cells: {FAST} reused from the cache" in again.stdout
    table = pd.read_csv(tmp_path / "out" / "data" / "sleepy.csv")
    assert list(table["index"].unique()) == list(range(sleepy.Config.full().cells))


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGKILL, -9), (signal.SIGTERM, 143)])
def test_kill_or_sigterm_of_the_parent_ends_every_worker(tmp_path, signum, code) -> None:
    """kill -9 or SIGTERM of the parent alone (not its group): the workers (each watching
    its parent) and the resource tracker end within seconds (issue 32: they ran on for
    good); SIGTERM is a clean stop with exit 143."""
    proc, family = _start(tmp_path)
    try:
        got, seconds, out = _stop(proc, lambda: os.kill(proc.pid, signum))
        left = _gone(family)
        print(f"signal {signum}: exit {got} after {seconds:.2f} s; {len(family)} descendants")
        assert got == code, out
        assert not left, [(p, _stat(p)) for p in left]
        _check_folders(tmp_path)
    finally:
        _cleanup(proc, family)


_DEFERRED = """
import sys, time
from pathlib import Path
from simulate.pipeline import stops
with stops.stop_handlers() as stopped_by:
    try:
        with stops.uninterrupted():
            print("ready", flush=True)
            time.sleep(float(sys.argv[2]))
            Path(sys.argv[1]).write_text("finished")
    except KeyboardInterrupt:
        print("stopped after the block", stopped_by(), flush=True)
        sys.exit(130)
"""


def _deferred_run(tmp_path: Path, sleep: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _DEFERRED, str(tmp_path / "done"), str(sleep)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_first_ctrl_c_waits_for_an_uninterrupted_block_and_a_second_exits_at_once(
    tmp_path: Path,
) -> None:
    """One SIGINT inside ``uninterrupted()`` (the final moves): the block finishes, then the
    stop is raised. Two SIGINTs: the process exits 130 at once, mid-block (issue 32: a
    second Ctrl-C hung)."""
    proc = _deferred_run(tmp_path, 1.0)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 130 and (tmp_path / "done").read_text() == "finished"
    assert f"stopped after the block {int(signal.SIGINT)}" in out
    (tmp_path / "done").unlink()
    proc = _deferred_run(tmp_path, 60.0)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None  # the first is held
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=EXIT_WITHIN)
    assert proc.returncode == 130 and time.monotonic() - start < 2.0
    assert not (tmp_path / "done").exists()


def test_staging_folders_of_dead_runs_are_removed_and_ignored_by_git(tmp_path: Path) -> None:
    """The next run removes the staging folders of dead (or day-old) runs beside its output
    folder, not those of a live run; git ignores them."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = files.owned_name(".x").split(".")[2]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".staging-out.{host}.{dead.pid}.0123abcd",
            "live": f".staging-out.{host}.{live.pid}.0123abcd",
            "old_style": ".staging-k2j3h4",
            "old_style_day_old": ".staging-a8b7c6",
        }
        for name in names.values():
            (tmp_path / name / "data").mkdir(parents=True)
            (tmp_path / name / "data" / "x.csv").write_text("half")
        day_ago = time.time() - files.STALE_AGE_SECONDS - 60
        os.utime(tmp_path / names["old_style_day_old"], (day_ago, day_ago))
        staging = files.make_staging(tmp_path / "out")
        left = {p.name for p in tmp_path.glob(".staging-*")}
        assert left == {names["live"], names["old_style"], staging.name}
    finally:
        live.kill()
        live.wait()
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".staging-out.abc.1.0123abcd/data/x.csv"], cwd=ROOT
    )
    assert ignored.returncode == 0


def test_out_on_another_file_system_is_copied_then_renamed(tmp_path, monkeypatch) -> None:
    """``os.replace`` out of the staging folder fails with EXDEV (another file system):
    every output is still written, none half (copied beside its target, then renamed), and
    the staging folder is gone."""
    real = os.replace
    crossed = []

    def cross_device(src, dst, *args, **kwargs):
        if ".staging-" in str(src):
            crossed.append(Path(dst).name)
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", cross_device)
    monkeypatch.setattr(sleepy.Config, "full", classmethod(lambda cls: cls(cells=2, rows=2)))
    monkeypatch.setattr(
        "simulate.experiments.registry", lambda: {sleepy.NAME: sleepy}
    )
    out = tmp_path / "out"
    make_figures(
        ["sleepy"], "full", out, None, pc.SerialExecutor(), pc.CellCache(None),
        theory_tests=False,
    )  # fmt: skip
    assert sorted(crossed) == ["REPORT.md", "cell_seconds.csv", "sleepy.csv", "verdicts.csv"]
    assert len(pd.read_csv(out / "data" / "sleepy.csv")) == 4
    assert (out / "REPORT.md").read_text().strip()
    assert not list(tmp_path.glob(".staging-*")) and not list(out.rglob("*.tmp"))


def test_a_failed_move_that_is_not_cross_device_is_raised(tmp_path: Path) -> None:
    source = tmp_path / "a"
    source.write_text("x")
    with pytest.raises(FileNotFoundError):
        files.move_into_place(source, tmp_path / "missing" / "b")
    assert source.exists()


_HELPER = """
import subprocess, sys, time
from simulate.pipeline import stops
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         preexec_fn=stops.die_with_parent)
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_helper_subprocess_dies_with_the_run(tmp_path: Path) -> None:
    """A helper started with ``die_with_parent`` (the claims' tests run in one) ends when
    the run is killed with kill -9 (the kernel's parent-death signal)."""
    with subprocess.Popen(
        [sys.executable, "-c", _HELPER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as run:
        assert run.stdout is not None
        helper = int(run.stdout.readline())
        try:
            assert _alive(helper)
            run.kill()
            run.wait()
            assert not _gone({helper})
        finally:
            if _alive(helper):
                os.kill(helper, signal.SIGKILL)


@pytest.mark.slow
def test_leaving_the_process_executor_early_kills_its_workers(tmp_path, monkeypatch) -> None:
    """In-process use: an exception in the consumer (here, after the first outcome) while
    cells sleep in two workers: ``run_tasks`` returns control within seconds, with the
    workers ended, instead of waiting for every queued cell."""
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("REGDIFF_TEST_SLEEPY_DIR", str(markers))
    monkeypatch.setenv("REGDIFF_TEST_SLEEPY_SECONDS", str(SLEEP))
    monkeypatch.setenv("REGDIFF_TEST_SLEEPY_FAST", str(FAST))
    tasks = pc.tasks_for(sleepy, sleepy.Config.full())

    class Enough(Exception):
        pass

    raised_at: list[float] = []

    def after_each(done: int, todo: int) -> None:
        if done == FAST:
            while len(list(markers.iterdir())) < FAST + 2:  # two slow cells under way
                time.sleep(0.05)
            raised_at.append(time.monotonic())
            raise Enough

    with pytest.raises(Enough):
        pc.run_tasks(tasks, pc.ProcessExecutor(2), pc.CellCache(tmp_path / "cache"),
                     after_each=after_each)  # fmt: skip
    seconds = time.monotonic() - raised_at[0]
    print(f"run_tasks left {seconds:.2f} s after the consumer raised")
    assert seconds < EXIT_WITHIN
    workers = {int(m.name.split("-")[0]) for m in markers.iterdir()}
    assert len(workers) == 2 and not _gone(workers)
    assert len(list((tmp_path / "cache").rglob("*.cell.json"))) == FAST
