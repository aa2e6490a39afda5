"""simulate.pipeline: seeds by name, the cell cache, failed cells, executors, resuming.

A cell is a pure function of its settings, so its rows must not depend on whether it was
computed now or read from the cache, in this process, in a worker process or on a Dask
worker, nor on a run being killed and restarted.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulate import judge
from simulate.experiments import discretization, r_sensitivity
from simulate.pipeline import cells as pc
from simulate.pipeline.figures import interleaved, make_figures
from simulate.pipeline.seeds import seed_for

TINY = discretization.Config(
    T_grid=(20, 50, 100),
    d_grid=(4, 8, 16),
    mc_d=(4,),
    mc_n=200,
    asymptote_T=(100, 1000, 10000),
)


def test_seed_for_is_a_function_of_names() -> None:
    assert seed_for(0, 3, 7) == int(np.random.SeedSequence([0, 3, 7]).generate_state(1)[0])
    assert seed_for(0, "sphere", 1) == seed_for(0, "sphere", 1)
    assert seed_for(0, "sphere", 1) != seed_for(0, "torus", 1)
    with pytest.raises(TypeError, match="ints or strings"):
        seed_for(0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        seed_for(-1)


def test_cache_reuses_every_finished_cell(tmp_path: Path) -> None:
    tasks = pc.tasks_for(discretization, TINY)
    cache = pc.CellCache(tmp_path)
    first = pc.run_tasks(tasks, pc.SerialExecutor(), cache)
    assert not any(o.reused for o in first) and all(o.error is None for o in first)
    again = pc.run_tasks(tasks, pc.SerialExecutor(), cache)
    assert all(o.reused for o in again)
    a, _ = pc.assemble(first)
    b, _ = pc.assemble(again)
    cols = pc.value_columns(a)
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    # A changed setting is a different cell.
    other = pc.tasks_for(discretization, TINY.__class__(**{**TINY.__dict__, "lam": 3.0}))
    assert {t.key for t in other}.isdisjoint({t.key for t in tasks})


def test_failed_cell_is_recorded_and_its_claims_are_inconclusive(tmp_path, monkeypatch):
    original = discretization.run_cell

    def flaky(config, cell):
        if cell[0] == "mc":
            raise ZeroDivisionError("injected failure")
        return original(config, cell)

    monkeypatch.setattr(discretization, "run_cell", flaky)
    monkeypatch.setattr(discretization.Config, "quick", classmethod(lambda cls: TINY))
    cache = pc.CellCache(tmp_path / "cache")
    result = make_figures(
        ["discretization"],
        "quick",
        tmp_path / "figs",
        None,
        pc.SerialExecutor(),
        cache,
        theory_tests=False,
    )
    assert len(result.failures["discretization"]) == sum(
        c[0] == "mc" for c in discretization.cells(TINY)
    )
    assert {v.claim_id for v in result.verdicts} == set(discretization.CLAIMS)
    for v in result.verdicts:
        assert (v.verdict, v.reason) == ("inconclusive", "cell_failed")
        assert "ZeroDivisionError: injected failure" in v.detail
    report = (tmp_path / "figs" / "REPORT.md").read_text()
    assert "cell_failed" in report
    # Failed cells are not cached: the next run computes exactly those.
    monkeypatch.setattr(discretization, "run_cell", original)
    rerun = make_figures(
        ["discretization"],
        "quick",
        tmp_path / "figs",
        None,
        pc.SerialExecutor(),
        cache,
        theory_tests=False,
    )
    assert rerun.computed == len(result.failures["discretization"])
    assert not rerun.failures
    assert all(isinstance(v, judge.Verdict) and v.reason != "cell_failed" for v in rerun.verdicts)


def test_run_in_process_keeps_cell_order_stamps_provenance_and_raises(monkeypatch) -> None:
    from simulate.experiments._common import code_version

    df = discretization.run(TINY)
    kinds = [c[0] for c in discretization.cells(TINY)]
    assert list(df["kind"]) == kinds  # one row per cell here, in cell order
    assert set(df["code_version"]) == {code_version()}
    for col in ("numba_threads", "numpy_version", "numba_version"):
        assert col in df

    def broken(config, cell):
        raise ValueError("injected")

    monkeypatch.setattr(discretization, "run_cell", broken)
    with pytest.raises(RuntimeError, match="ValueError: injected"):
        discretization.run(TINY)


def test_process_executor_matches_serial(tmp_path: Path) -> None:
    tasks = pc.tasks_for(discretization, TINY)
    serial, _ = pc.assemble(pc.run_tasks(tasks, pc.SerialExecutor(), pc.CellCache(None)))
    pooled, _ = pc.assemble(
        pc.run_tasks(tasks, pc.ProcessExecutor(2), pc.CellCache(tmp_path), threads=1)
    )
    cols = pc.value_columns(serial)
    pd.testing.assert_frame_equal(serial[cols], pooled[cols], check_exact=True)


def test_executor_choice_and_bad_scheduler() -> None:
    assert isinstance(pc.make_executor(1), pc.SerialExecutor)
    assert isinstance(pc.make_executor(2), pc.ProcessExecutor)
    assert isinstance(pc.make_executor(2, "local"), pc.DaskExecutor)
    with pytest.raises(ValueError, match="scheduler="):
        pc.make_executor(2, "somewhere")
    with pytest.raises(ValueError, match="jobs=0"):
        pc.make_executor(0)


def _tables(experiments, executor, cache_root=None) -> dict[str, pd.DataFrame]:
    out = {}
    for module in experiments:
        tasks = pc.tasks_for(module, module.Config.quick())
        df, failed = pc.assemble(pc.run_tasks(tasks, executor, pc.CellCache(cache_root), threads=1))
        assert not failed
        out[module.NAME] = df
    return out


@pytest.mark.slow
def test_dask_local_cluster_matches_one_process() -> None:
    """The quick preset of two experiments on a 2-worker LocalCluster and in this process:
    every value column identical."""
    mods = (discretization, r_sensitivity)
    local = _tables(mods, pc.SerialExecutor())
    dask = _tables(mods, pc.DaskExecutor("local", 2))
    for name, df in local.items():
        cols = pc.value_columns(df)
        pd.testing.assert_frame_equal(df[cols], dask[name][cols], check_exact=True)


def _figures_cmd(out: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "simulate.cli",
        "figures",
        "--preset",
        "quick",
        "--jobs",
        "2",
        "--only",
        "discretization",
        "r_sensitivity",
        "--out",
        str(out),
        "--readme",
        str(out / "none.md"),
        "--cache-dir",
        str(cache),
        "--no-theory-tests",
    ]


@pytest.mark.slow
def test_killed_twice_and_restarted_gives_the_same_tables(tmp_path: Path) -> None:
    """kill -9 at two random moments, each after the run has stored a new cell (a fixed
    delay let no cell finish on a loaded machine), then a run to the end: the tables equal
    those of an uninterrupted run, and the log counts the reused cells."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    reference = tmp_path / "ref"
    subprocess.run(
        [*_figures_cmd(reference, tmp_path / "ref-cache"), "--no-cache"],
        check=True,
        env=env,
        capture_output=True,
    )
    cache, out = tmp_path / "cache", tmp_path / "out"
    rng = np.random.default_rng(20261202)
    for delay in rng.uniform(0.0, 4.0, 2):
        stored = len(list(cache.rglob("*.cell.json")))
        proc = subprocess.Popen(
            _figures_cmd(out, cache),
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 600
        while len(list(cache.rglob("*.cell.json"))) <= stored and proc.poll() is None:
            assert time.monotonic() < deadline, "no cell was stored"
            time.sleep(0.1)
        time.sleep(delay)
        assert proc.poll() is None, "the run ended before it was killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = subprocess.run(
        _figures_cmd(out, cache), check=True, env=env, capture_output=True, text=True
    )
    reused = int(finished.stdout.split("cells: ")[1].split(" reused")[0])
    assert reused > 0, finished.stdout
    for name in ("discretization", "r_sensitivity"):
        a = pd.read_csv(reference / "data" / f"{name}.csv")
        b = pd.read_csv(out / "data" / f"{name}.csv")
        cols = pc.value_columns(a)
        pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    assert not list(cache.rglob("*.tmp"))


def test_figures_never_import_experiments() -> None:
    """A figure is a function of a table (sbibm's rule): plotting imports no experiment."""
    import ast

    import simulate.plotting as plotting

    tree = ast.parse(Path(plotting.__file__).read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module] + [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    ]
    assert not [m for m in names if m.startswith("simulate.experiments")]


def test_claims_tests_run_beside_the_cells_and_are_cached(tmp_path: Path, monkeypatch) -> None:
    """The claims' tests start at once in a subprocess; result() collects them, stores the
    outcome, and a second run reuses it without a process."""
    from simulate.pipeline import theory_check

    nodes = [
        "tests/test_pipeline.py::test_seed_for_is_a_function_of_names",
        "tests/test_pipeline.py::test_executor_choice_and_bad_scheduler",
    ]
    monkeypatch.setattr(theory_check, "claim_tests", lambda: nodes)
    run = theory_check.ClaimTestRun(tmp_path)
    assert run._process is not None  # started, not yet waited for
    out = run.result()
    assert out == {node: "passed" for node in nodes}
    assert run.seconds > 0.0
    again = theory_check.ClaimTestRun(tmp_path)
    assert again._process is None and again.result() == out
    stopped = theory_check.ClaimTestRun(None)
    stopped.stop()
    assert stopped._process is not None and stopped._process.returncode is not None


def test_claims_tests_run_by_default_on_both_presets() -> None:
    """``--theory-tests`` is the default of both presets (issue 29: the quick preset too);
    ``--no-theory-tests`` turns them off; the two exclude each other."""
    from simulate.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["figures", "--preset", "quick"]).theory_tests is True
    assert parser.parse_args(["figures"]).theory_tests is True
    assert parser.parse_args(["figures", "--no-theory-tests"]).theory_tests is False
    with pytest.raises(SystemExit):
        parser.parse_args(["figures", "--theory-tests", "--no-theory-tests"])


def test_the_readme_is_touched_only_by_the_full_preset_in_the_default_folder(
    tmp_path, monkeypatch
) -> None:
    """A quick run, or --out elsewhere, never rewrites ./README.md (before, the quick preset
    rewrote 545 of its lines); only --readme names another file."""
    from simulate import cli

    seen = []

    def fake_make_figures(names, preset, out, readme, *args, **kwargs):
        seen.append(readme)
        raise cli_error

    from simulate.pipeline.theory_check import ClaimTestsError

    cli_error = ClaimTestsError("stop here")
    monkeypatch.setattr("simulate.pipeline.figures.make_figures", fake_make_figures)
    monkeypatch.chdir(tmp_path)
    for argv in (["--preset", "quick"], ["--out", "elsewhere"], [],
                 ["--preset", "quick", "--readme", "mine.md"]):  # fmt: skip
        assert cli.main(["figures", "--only", "discretization", *argv]) == 1
    assert seen == [None, None, Path("README.md"), Path("mine.md")]


def test_claims_tests_that_cannot_run_stop_the_job(monkeypatch) -> None:
    """No pytest: an error with the reason, not a report whose tests read "not run"."""
    from simulate.pipeline import theory_check

    monkeypatch.setattr(theory_check.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(theory_check.ClaimTestsError, match="pytest is not installed"):
        theory_check.ClaimTestRun(None)


def test_the_timing_summary_lists_the_top_ten_and_a_total() -> None:
    from simulate.pipeline.figures import FiguresResult

    r = FiguresResult({}, [], {}, 0, 20, {f"kind{i}": float(i) for i in range(20)}, 12.0)
    lines = r.timing_summary().splitlines()
    assert len(lines) == 2 + 10 + 2
    assert "(10 more)" in lines[-2] and lines[-1].split()[-2] == "190.0"


def test_interleaved_takes_the_experiments_in_turn() -> None:
    """One task of each experiment in turn, each experiment's own order kept."""
    a, b, c = ["a0", "a1", "a2"], ["b0"], ["c0", "c1"]
    assert interleaved([a, b, c]) == ["a0", "b0", "c0", "a1", "c1", "a2"]
    assert interleaved([]) == []


def test_compile_time_is_measured_inside_the_cell(monkeypatch) -> None:
    """A cell that compiles a new numba function reports the compilation; one that calls
    nothing new reports none."""
    import numba

    def run_cell(config, cell):
        if cell[0] == "compile":

            @numba.njit(cache=False)
            def fresh(x):
                return x + 1.0

            return {"value": fresh(1.0)}
        return {"value": 0.0}

    monkeypatch.setattr(discretization, "run_cell", run_cell)
    make = lambda kind: pc.Task("discretization", TINY, (kind,), 0, "k", discretization.__name__)  # noqa: E731
    compiled = pc.compute_cell(make("compile"), None, 1)
    plain = pc.compute_cell(make("plain"), None, 1)
    assert compiled.error is None and compiled.rows == [{"value": 2.0}]
    assert 0.0 < compiled.compile_seconds <= compiled.seconds
    assert plain.compile_seconds == 0.0


def test_after_each_counts_the_cells_to_compute(tmp_path: Path) -> None:
    """``after_each(k, m)``: k = 0 before the first computed cell, then 1..m; cached cells
    are not counted (the claims' tests start from these counts)."""
    tasks = pc.tasks_for(discretization, TINY)
    cache = pc.CellCache(tmp_path)
    pc.run_tasks(tasks[:2], pc.SerialExecutor(), cache)
    calls: list[tuple[int, int]] = []
    pc.run_tasks(tasks, pc.SerialExecutor(), cache, after_each=lambda k, m: calls.append((k, m)))
    m = len(tasks) - 2
    assert calls == [(k, m) for k in range(m + 1)]


def test_the_progress_weights_come_from_the_last_run(tmp_path) -> None:
    """Issue 29: the bar counts expected seconds by cell kind (the previous run's
    ``cell_seconds.csv``), so a kind a thousand times costlier weighs a thousand times more;
    unknown or invalid weights count the median, and no weights at all count cells."""
    from simulate.pipeline import figures as pf

    tasks = [pc.Task("e", None, (kind,), i, f"k{i}") for i, kind in enumerate("aabc")]
    assert pc.cell_weights(tasks, None) == [1.0] * 4
    w = pc.cell_weights(tasks, {"e:a": 0.01, "e:b": 10.0, "e:c": math.nan})
    assert w == [0.01, 0.01, 10.0, pytest.approx(5.005)]
    outcomes = [pc.CellOutcome(t, [], None, s, reused=False) for t, s in zip(tasks, (1, 3, 5, 7))]
    table = pf.cell_seconds_table(outcomes, {"e:z": 2.0, "e:a": 99.0})
    assert dict(zip(table["kind"], table["seconds_per_cell"])) == {
        "e:a": 2.0, "e:b": 5.0, "e:c": 7.0, "e:z": 2.0
    }
    path = tmp_path / "cell_seconds.csv"
    table.to_csv(path, index=False)
    assert pf.read_cell_seconds(path) == {"e:a": 2.0, "e:b": 5.0, "e:c": 7.0, "e:z": 2.0}
    path.write_text("not,a\ntable")
    assert pf.read_cell_seconds(path) == {}
    assert pf.read_cell_seconds(tmp_path / "absent.csv") == {}
