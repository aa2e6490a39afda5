"""``regdiff verify``: check the input, run the battery's cells, write the report, and say
what the exit code means.

Exit codes (``EXIT``): 0 the model passed every check (findings and bound verdicts whatever
they are); 1 a check the battery measures failed (named in the report); 2 bad input, a
protocol violation found without statistics (a bad member, shape, dtype, seed behaviour, a
member of the model that raised, a bad option); 3 a fault of the tool (a cell raised outside
the model's code: its traceback is in the report).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from simulate import judge
from simulate.pipeline.files import make_staging, move_outputs
from simulate.report import markdown_table
from simulate.verify import battery, judging
from simulate.verify.load import (
    build_model,
    check_keys,
    describe,
    load_factory,
    model_sources,
    preflight,
    source_digest,
)

__all__ = ["EXIT", "run_battery"]

EXIT = {"passed": 0, "check_failed": 1, "bad_input": 2, "tool_fault": 3}


def _tables(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    score = df[df["part"] == "score"]
    if len(score):
        out["Score checks, by noise level (the first-order test's worst |z| at each)"] = (
            markdown_table(score, ["sweep_value", "d", "alpha_bar", "v", "worst_z", "n_tests",
                                   "worst_field", "nonfinite_rows", "problems"])
        )  # fmt: skip
    geo = df[df["part"] == "geometry"]
    if len(geo):
        out["Intrinsic dimension and sparsity"] = markdown_table(
            geo, ["sweep_value", "d", "id_twonn", "id_mle", "s_used", "alpha_bar",
                  "score_eff_frac", "score_top_share", "denoiser_top_share"]
        )  # fmt: skip
    est = df[df["part"] == "estimation"]
    if len(est):
        out["Estimated scores"] = markdown_table(
            est, ["sweep_value", "d", "estimator", "n_train", "eps2", "eps2_se", "eps2_support",
                  "eps2_off_support", "method"]
        )  # fmt: skip
    orc = df[df["part"] == "oracle"]
    if len(orc):
        out["Exact laws of the coordinates (grid oracle, at the early-stopping step t0)"] = (
            markdown_table(orc, ["sweep_value", "d", "sampler", "T", "t0", "v_t0", "kl_oracle",
                                 "oracle_window", "oracle_lost_mass", "oracle_worst_z",
                                 "oracle_notes"])
        )  # fmt: skip
    samp = df[df["part"] == "sampler"]
    if len(samp):
        floor = df[df["part"] == "floor"].groupby(["sweep_value", "T"])["mmd2"]
        means = floor.mean().rename("floor_mmd2").reset_index()
        samp = samp.merge(means, on=["sweep_value", "T"], how="left")
        out["Samplers with the exact score"] = markdown_table(
            samp, ["sweep_value", "d", "sampler", "T", "mmd2", "mmd2_se", "floor_mmd2",
                   "energy", "sliced_w2", "off_var", "off_var_exact", "kl_off_coord", "d_move",
                   "kl_off_total", "kl_exact"]
        )  # fmt: skip
    return out


def _in_model_code(error: str, sources: list[Path]) -> bool:
    """Whether a cell's traceback passes through the model's own source files."""
    return any(f'File "{p}"' in error for p in sources)


def _failures(failed: list, sources: list[Path]) -> tuple[list[judge.Verdict], list[str], bool]:
    """Inconclusive verdicts for the claims the failed cells feed, the tracebacks for the
    report, and whether any failure was outside the model's code (a tool fault)."""
    found, texts, tool = [], [], False
    seen: set[str] = set()
    for f in failed:
        model = _in_model_code(f.error, sources)
        tool = tool or not model
        who = "the model's code raised" if model else "a fault of the tool"
        texts.append(f"cell {f.task.cell!r} ({who}):\n\n```\n{f.error.rstrip()}\n```")
        for claim in judging.CLAIMS_OF_PART.get(str(f.task.cell[0]), ()):
            if claim not in seen:
                seen.add(claim)
                v = judge.cell_failed(claim, {"cell": repr(f.task.cell)}, "identity",
                                      f"{who}: " + f.error.splitlines()[0])  # fmt: skip
                found.append(judging.with_role(v))
    return found, texts, tool


def run_battery(
    config: battery.Config,
    out: Path,
    executor: Any,
    cache: Any,
    *,
    command: str,
    threads: int = 1,
    progress: bool = False,
    bounds: tuple[str, ...] = (),
    bound_params: tuple[tuple[str, float], ...] = (),
) -> tuple[list[judge.Verdict], int]:
    """Check the input, run the battery's cells, write DIR/REPORT.md, DIR/data/*.csv and
    DIR/verify.png atomically; returns (verdicts, exit code: ``EXIT``).

    Bad input raises VerifyInputError before anything is written. A score that fails its
    checks stops the battery after the score cells (exit code 1, the report says what
    failed). A cell that raises leaves the claims it feeds inconclusive and the others
    decided; its traceback goes into the report (exit 2 if it raised in the model's code,
    3 otherwise, unless a check failed: 1).
    """
    from simulate import plotting, report
    from simulate.experiments._common import code_version
    from simulate.pipeline.cells import assemble, run_tasks, tasks_for

    from simulate.verify import bounds as bounds_mod

    params = dict(bound_params)
    specs = [bounds_mod.resolve_bound(b, tuple(params)) for b in bounds]
    factory = load_factory(config.target)
    given = [k for k, _ in config.params] + ([config.sweep_key] if config.sweep_key else [])
    check_keys(factory, [k for k, _ in config.params], "--set", given=given)
    if config.sweep_key:
        check_keys(factory, [config.sweep_key], "--sweep")
    values = tuple(config.sweep_values) if config.sweep_key else (None,)
    models = [build_model(config, v) for v in values]
    if specs:
        points = []
        for model in models:
            info = describe(model)
            s_ = info["support_size"] or model.d
            k_ = info["intrinsic_dim"] if info["intrinsic_dim"] is not None else s_
            points += [{"d": float(model.d), "s": float(s_), "k": float(k_), "T": float(T)}
                       for T in config.T_grid]  # fmt: skip
        bounds_mod.check_on_grid(specs, params, points)
    levels = battery.score_levels(config)
    for model in models:
        preflight(model, (levels[0], 0.5, levels[-1]))
    sources = model_sources(config.target)
    config = dataclasses.replace(config, source_digest=source_digest(config.target))
    module = sys.modules["simulate.verify"]
    tasks = tasks_for(module, config)
    first = [t for t in tasks if t.cell[0] == "score"]
    outcomes = run_tasks(first, executor, cache, threads=threads, progress=progress)
    df, failed = assemble(outcomes)
    found = judging.verdicts(df, config.resolution)
    stop = any(v.role == "check" and v.verdict == "fails" for v in found)
    if not stop:
        rest = [t for t in tasks if t.cell[0] != "score"]
        outcomes += run_tasks(rest, executor, cache, threads=threads, progress=progress)
        df, failed = assemble(outcomes)
        broken = {str(f.task.cell[0]) for f in failed}
        claims_hit = {c for p in broken for c in judging.CLAIMS_OF_PART.get(p, ())}
        keep = ~df["part"].isin(broken) if "part" in df else slice(None)
        found = [v for v in judging.verdicts(df[keep], config.resolution)
                 if v.claim_id not in claims_hit]  # fmt: skip
    failed_rows, tracebacks, tool_fault = _failures(failed, sources)
    found += failed_rows
    bound_table = None
    if specs and not stop and "part" in df:
        bound_found, bound_table = bounds_mod.bound_verdicts(df, specs, params, config.samplers)
        found += [judging.with_role(v) for v in bound_found]
    check_failed = any(v.role == "check" and v.verdict == "fails" for v in found)
    if check_failed:
        code = EXIT["check_failed"]
    elif failed:
        code = EXIT["tool_fault"] if tool_fault else EXIT["bad_input"]
    else:
        code = EXIT["passed"]
    description = {
        "factory": config.target,
        "arguments": dict(config.params) or "(defaults)",
        **({"sweep": f"{config.sweep_key} in {list(config.sweep_values)}"}
           if config.sweep_key else {}),
        **describe(models[-1]),
        "model source files (part of every cell's cache key)": (
            ", ".join(str(p) for p in sources) or "(none outside this suite)"
        ),
        "exit code": f"{code} ({_meaning(code)})",
    }  # fmt: skip
    if stop:
        description["battery"] = "stopped after the score checks: the score failed them"
    tables = _tables(df) if "part" in df else {}
    if bound_table is not None and len(bound_table):
        tables = {
            "Bounds (KL / B with C = 1: the constant each bound needs; truth beside it)": (
                markdown_table(bound_table, list(bound_table.columns))
            ),
            **tables,
        }
    if tracebacks:
        tables = {**tables, "Cells that raised": "\n\n".join(tracebacks)}
    extra = {"bounds": bound_table} if bound_table is not None else {}
    _write(out, df, found, command, description, tables, code_version(), plotting, report, extra)
    return found, code


def _meaning(code: int) -> str:
    return {
        0: "the model passed every check; findings are reported whatever they are",
        1: "a check of the model failed",
        2: "the model's code raised in a cell",
        3: "a fault of the tool: a cell raised outside the model's code",
    }[code]


def _write(out, df, found, command, description, tables, version, plotting, report,
           extra=None) -> None:  # fmt: skip
    """Write the report, tables and figure into a staging folder, then move them in."""
    out = Path(out)
    staging = make_staging(out)
    try:
        (staging / "data").mkdir()
        if "part" in df:
            for part, table in df.groupby("part", sort=False):
                table.dropna(axis=1, how="all").to_csv(
                    staging / "data" / f"{part}.csv", index=False
                )
        pd.DataFrame([v.as_row() for v in found]).to_csv(
            staging / "data" / "verdicts.csv", index=False
        )
        for name, table in (extra or {}).items():
            table.to_csv(staging / "data" / f"{name}.csv", index=False)
        figures = []
        if "part" in df and (df["part"] == "sampler").any():
            fig = plotting.plot_verify(df)
            fig.savefig(staging / "verify.png")
            import matplotlib.pyplot as plt

            plt.close(fig)  # a battery run from Python (tests, notebooks) keeps no figure open
            figures.append("verify.png")
        text = report.render_verify_report(command, description, found, version, tables, figures)
        (staging / "REPORT.md").write_text(text)
        (out / "data").mkdir(parents=True, exist_ok=True)
        move_outputs(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
