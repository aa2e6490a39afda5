"""The main job: every experiment's cells, its table, figure and verdicts, and the report.

``make_figures`` runs the cells of all chosen experiments through one executor (so cells of
different experiments keep every worker busy), reusing cached cells, then writes

    OUT/data/NAME.csv, OUT/NAME.png, OUT/data/verdicts.csv, OUT/REPORT.md, README block

into a staging folder beside OUT (``.staging-<OUT name>.<host>.<pid>.<token>``, removed on
the next run if its process died, ``simulate.pipeline.files``) and moves each file into
place only when everything is ready (copy and rename if OUT is on another file system; a
first Ctrl-C waits for the moves to end): a failure leaves OUT as it was. Verdicts come from ``module.verdicts(table)``; an
experiment with a failed cell gets, for each claim it decides, "inconclusive: cell failed"
naming the error instead (its partial table is still written, for inspection).
"""

from __future__ import annotations

import math
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulate import judge
from simulate.pipeline import files
from simulate.pipeline.cells import CellCache, Executor, assemble, run_tasks, tasks_for

__all__ = [
    "FiguresResult",
    "interleaved",
    "make_figures",
    "preset_config",
]


#: The claims' tests start when this share of the cells to compute has finished (0: at once).
CLAIM_TESTS_AFTER = 0.25
#: The timing summary's line for numba's compilations inside the cells (already counted in
#: the cells' own lines, not in addition to them).
COMPILE_KIND = "numba compilation (part of the cell times)"


def interleaved(task_lists: Sequence[Sequence[Any]]) -> list[Any]:
    """The experiments' tasks taken in turn, one of each (each keeps its own order).

    At the start the workers then run cells of different experiments, which need different
    kernels: each kernel is compiled by one worker and loaded from numba's cache by the
    others, instead of being compiled by both at once. The long tail is left to the
    experiments with the most (and smallest) cells.
    """
    out: list[Any] = []
    for k in range(max((len(t) for t in task_lists), default=0)):
        out.extend(t[k] for t in task_lists if k < len(t))
    return out


def preset_config(module: Any, preset: str) -> Any:
    """``module.Config.quick()`` or ``.full()``."""
    if preset not in ("quick", "full"):
        raise ValueError(f"preset={preset!r}; allowed: 'quick', 'full'")
    return module.Config.quick() if preset == "quick" else module.Config.full()


#: The timing summary lists this many largest items, then the rest and the total.
TIMING_TOP = 10


@dataclass
class FiguresResult:
    """What a run made: tables, verdicts, failures and where the time went."""

    tables: dict[str, pd.DataFrame]
    verdicts: list[judge.Verdict]
    failures: dict[str, list[Any]]
    reused: int
    computed: int
    seconds_by_kind: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def timing_summary(self) -> str:
        lines = [
            f"cells: {self.reused} reused from the cache, {self.computed} computed; "
            f"wall time {self.wall_seconds:.1f} s",
            "cell time by kind (summed over workers):",
        ]
        ranked = sorted(self.seconds_by_kind.items(), key=lambda kv: -kv[1])
        top = ranked[:TIMING_TOP]
        width = max((len(k) for k, _ in top), default=0)
        width = max(width, len("total"))
        for kind, sec in top:
            lines.append(f"  {kind:{width}s} {sec:9.1f} s")
        rest = ranked[TIMING_TOP:]
        if rest:
            lines.append(f"  {f'({len(rest)} more)':{width}s} {sum(x for _, x in rest):9.1f} s")
        lines.append(f"  {'total':{width}s} {sum(x for _, x in ranked):9.1f} s")
        return "\n".join(lines)


#: Seconds per cell by kind, written by every run beside the tables and read by the next run
#: in the same ``--out`` as the progress bar's weights (``cells.run_tasks``).
CELL_SECONDS = "cell_seconds.csv"


def read_cell_seconds(path: Path) -> dict[str, float]:
    """{kind: seconds per cell} of an earlier run's ``CELL_SECONDS`` ({} if absent or
    unreadable: the bar then counts cells)."""
    try:
        table = pd.read_csv(path)
        return {str(k): float(v) for k, v in zip(table["kind"], table["seconds_per_cell"],
                                                 strict=True)}  # fmt: skip
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return {}


def cell_seconds_table(outcomes: Sequence[Any], previous: dict[str, float]) -> pd.DataFrame:
    """Mean seconds per computed cell by kind (compilation included); a kind whose cells
    were all reused keeps its earlier value."""
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for o in outcomes:
        if not o.reused:
            total[o.task.kind] += o.seconds
            count[o.task.kind] += 1
    rows = {k: total[k] / count[k] for k in total}
    rows.update({k: v for k, v in previous.items() if k not in rows})
    return pd.DataFrame(
        {"kind": sorted(rows), "seconds_per_cell": [round(rows[k], 4) for k in sorted(rows)]}
    )


def _failed_verdicts(module: Any, failed: list[Any]) -> list[judge.Verdict]:
    from theory.claims import get

    first = failed[0]
    error = first.error.splitlines()[0] if first.error else "unknown error"
    setting = {
        "experiment": module.NAME,
        "failed cells": len(failed),
        "first": repr(first.task.cell),
    }
    return [judge.cell_failed(c, setting, get(c).kind, error) for c in module.CLAIMS]


def make_figures(
    names: Sequence[str],
    preset: str,
    out: Path,
    readme: Path | None,
    executor: Executor,
    cache: CellCache,
    *,
    threads: int = 1,
    theory_tests: bool = True,
    progress: bool = False,
) -> FiguresResult:
    """Run, judge and write everything (module docstring)."""
    from simulate import experiments, plotting, report
    from simulate.experiments._common import code_version
    from simulate.pipeline.theory_check import ClaimTestRun

    start = time.perf_counter()
    modules = {name: experiments.get(name) for name in names}
    configs = {name: preset_config(m, preset) for name, m in modules.items()}
    # An experiment that needs an optional extra (``available()`` False) is not run: its
    # committed table is kept and judged again (issue 28: the one exception).
    kept = {name for name, m in modules.items() if hasattr(m, "available") and not m.available()}
    for name in sorted(kept):
        print(f"regdiff: {name}: skipped (its extra is not installed: "
              f"{getattr(modules[name], 'EXTRA', '?')}); the committed table is kept")  # fmt: skip
    tasks = interleaved(
        [tasks_for(m, configs[name]) for name, m in modules.items() if name not in kept]
    )
    # The claims' tests run beside the cells (one process; cached by code version), started
    # once a share of the cells has finished: their kernels are then in numba's cache, which
    # the tests' process loads instead of compiling them a third time.
    claim_run: ClaimTestRun | None = None

    def start_claim_tests(done: int, todo: int) -> None:
        nonlocal claim_run
        if theory_tests and claim_run is None and done >= math.ceil(CLAIM_TESTS_AFTER * todo):
            claim_run = ClaimTestRun(Path(cache.root) if cache.root else None)

    previous = read_cell_seconds(Path(out) / "data" / CELL_SECONDS)
    try:
        outcomes = run_tasks(
            tasks, executor, cache, threads=threads, progress=progress,
            after_each=start_claim_tests, weights=previous,
        )  # fmt: skip
    except BaseException:
        if claim_run is not None:
            claim_run.stop()
        raise
    by_exp: dict[str, list[Any]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    for o in outcomes:
        by_exp[o.task.experiment].append(o)
        if not o.reused:
            seconds[o.task.kind] += o.seconds
            seconds[COMPILE_KIND] += o.compile_seconds
    tables: dict[str, pd.DataFrame] = {}
    failures: dict[str, list[Any]] = {}
    verdicts: list[judge.Verdict] = []
    for name, module in modules.items():
        t0 = time.perf_counter()
        if name in kept:
            committed = out / "data" / f"{name}.csv"
            tables[name] = pd.read_csv(committed) if committed.exists() else pd.DataFrame()
            verdicts.extend(module.verdicts(tables[name]) if committed.exists() else [])
            continue
        df, failed = assemble(by_exp[name])
        tables[name] = df
        if failed:
            failures[name] = failed
            verdicts.extend(_failed_verdicts(module, failed))
        else:
            verdicts.extend(module.verdicts(df))
        seconds[f"{name}:verdicts"] += time.perf_counter() - t0
    outcomes_by_test = None
    if claim_run is not None:
        t0 = time.perf_counter()
        outcomes_by_test = claim_run.result()
        seconds["pytest (claims' tests, beside the cells)"] += claim_run.seconds
        seconds["waiting for the claims' tests after the cells"] += time.perf_counter() - t0

    out = Path(out)
    staging = files.make_staging(out)
    try:
        (staging / "data").mkdir()
        figures = []
        for name, df in tables.items():
            if name not in kept:
                df.to_csv(staging / "data" / f"{name}.csv", index=False)
            plot = getattr(plotting, f"plot_{name}", None)
            if plot is not None and name not in failures and not df.empty:
                t0 = time.perf_counter()
                prepare = getattr(modules[name], "figure_table", None)
                fig = plot(prepare(df) if prepare is not None else df)
                fig.savefig(staging / f"{name}.png")
                figures.append(f"{name}.png")
                seconds[f"{name}:figure"] += time.perf_counter() - t0
        pd.DataFrame([v.as_row() for v in verdicts]).to_csv(
            staging / "data" / "verdicts.csv", index=False
        )
        cell_seconds_table(outcomes, previous).to_csv(
            staging / "data" / CELL_SECONDS, index=False
        )
        sections = {
            name: modules[name].report_section(df)
            for name, df in tables.items()
            if hasattr(modules[name], "report_section") and name not in failures and not df.empty
        }
        text = report.render_report(
            verdicts, preset, code_version(), figures, outcomes_by_test, sections=sections
        )
        (staging / "REPORT.md").write_text(text)
        new_readme = None
        if readme is not None and readme.exists():
            new_readme = report.replace_readme_block(
                readme.read_text(), report.readme_block(verdicts)
            )
        # Everything is ready: move it into place (each move is atomic).
        (out / "data").mkdir(parents=True, exist_ok=True)
        files.move_outputs(staging, out)
        if new_readme is not None and readme is not None:
            files.write_atomic(readme, new_readme)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    reused = sum(o.reused for o in outcomes)
    return FiguresResult(
        tables,
        verdicts,
        failures,
        reused,
        len(outcomes) - reused,
        dict(seconds),
        time.perf_counter() - start,
    )
