"""The ``regdiff`` command: argument parsing only (the work is in ``simulate.pipeline``).

regdiff figures [--preset quick|full] [--jobs N] [--scheduler local|tcp://...] [--out DIR]
                                                               all experiments, figures, report
regdiff run NAME [--preset ...] [--set key=value ...] [--csv F] one experiment, its table
regdiff verify MODULE:FACTORY [--set k=v] [--sweep k=v1,v2] [--preset ...] [--out DIR]
                      the battery on a user's data model; exit 0 passed, 1 a check failed,
                      2 bad input, 3 a fault of the tool
regdiff verify-sampler MODULE:FACTORY | --scheduler-class diffusers.NAME [--steps N]
                      the exact law of an outside sampler on Gaussian data (CIFAR-10 spectrum
                      or aligned sparse); exit codes as verify
regdiff list                                                   the registered experiments
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

CACHE_DIR = Path(".regdiff-cache")
#: Worker processes by default: one per core this process may use, so that a plain
#: ``regdiff figures`` keeps every core busy (each worker gets cores // jobs numba threads).
DEFAULT_JOBS = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
)


class UsageError(Exception):
    """Bad command-line input: printed and exit code 2."""


def _config(module: Any, preset: str, overrides: Sequence[str] = ()) -> Any:
    from simulate.pipeline.figures import preset_config

    config = preset_config(module, preset)
    changes = {}
    fields = {f.name: f for f in dataclasses.fields(module.Config)}
    for item in overrides:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        if key not in fields:
            raise UsageError(
                f"--set: {module.NAME} has no parameter {key!r}; parameters: {', '.join(fields)}"
            )
        try:
            changes[key] = _parse(text, getattr(config, key))
        except ValueError as exc:
            raise UsageError(f"--set {key}={text!r}: {exc}") from None
    try:
        return dataclasses.replace(config, **changes)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--set: {exc}") from None


def _parse(text: str, current: Any) -> Any:
    if isinstance(current, tuple):
        items = [t for t in text.split(",") if t]
        inner = type(current[0]) if current else str
        if inner is tuple:
            raise UsageError("--set does not parse nested tuples; edit the Config instead")
        return tuple(inner(t) for t in items)
    if isinstance(current, bool):
        if text.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError("expected true/false")
        return text.lower() in ("1", "true", "yes")
    if current is None:
        return text
    return type(current)(text)


def cmd_figures(args: argparse.Namespace) -> int:
    from simulate import experiments
    from simulate.judge import VERDICTS
    from simulate.pipeline.cells import CellCache, make_executor
    from simulate.pipeline.figures import make_figures

    names = args.only or experiments.names()
    for name in names:
        experiments.get(name)  # a clear error for an unknown name, before any work
    cores = os.cpu_count() or 1
    executor = make_executor(args.jobs, args.scheduler)
    threads = max(1, cores // args.jobs)
    cache = CellCache(None if args.no_cache else Path(args.cache_dir))
    from simulate.pipeline.theory_check import ClaimTestsError

    # The README's verdict block is the full preset's, written into the default folder; a
    # quick run or an --out elsewhere never touches it unless --readme names a file.
    if args.readme is not None:
        readme = Path(args.readme)
    elif args.preset == "full" and Path(args.out) == Path("figures"):
        readme = Path("README.md")
    else:
        readme = None
    try:
        result = make_figures(
            names,
            args.preset,
            Path(args.out),
            readme,
            executor,
            cache,
            threads=threads,
            theory_tests=args.theory_tests,
            progress=True,
        )
    except ClaimTestsError as exc:
        print(f"regdiff: figures: {exc}; nothing was written", file=sys.stderr)
        return 1
    counts = {v: sum(x.verdict == v for x in result.verdicts) for v in VERDICTS}
    print(f"wrote {args.out}/REPORT.md: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    print(result.timing_summary())
    if result.failures:
        for name, failed in result.failures.items():
            print(
                f"regdiff: {len(failed)} cell(s) of {name} failed; first: "
                f"{failed[0].task.cell!r}: {failed[0].error}",
                file=sys.stderr,
            )
        return 1
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simulate import experiments
    from simulate.pipeline import files
    from simulate.pipeline.cells import CellCache, SerialExecutor, assemble, run_tasks, tasks_for

    module = experiments.get(args.name)
    config = _config(module, args.preset, args.set or ())
    import numba

    outcomes = run_tasks(
        tasks_for(module, config),
        SerialExecutor(),
        CellCache(None),
        threads=numba.get_num_threads(),
        progress=True,
    )
    df, failed = assemble(outcomes)
    if args.csv:
        files.write_atomic(Path(args.csv), df.to_csv(index=False))
    if failed:
        print(
            f"regdiff: {len(failed)} cell(s) failed; first {failed[0].task.cell!r}: "
            f"{failed[0].error}",
            file=sys.stderr,
        )
        return 1
    for v in module.verdicts(df):
        print(f"[{v.verdict:>14}] {v.claim_id} | {v.setting_text} | {v.measured_text} ({v.reason})")
    return 0


def _literal(text: str) -> Any:
    """A --set/--sweep value: a Python literal (number, string, list, ...) or the raw text."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def cmd_verify(args: argparse.Namespace) -> int:
    from simulate import verify
    from simulate.pipeline.cells import CellCache, make_executor

    params = []
    for item in args.set or ():
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {item!r}")
        params.append((key, _literal(text)))
    sweep_key, sweep_values = "", ()
    if args.sweep:
        key, sep, text = args.sweep.partition("=")
        values = tuple(_literal(t) for t in text.split(",") if t)
        if not sep or not key or not values:
            raise UsageError(f"--sweep expects key=v1,v2,..., got {args.sweep!r}")
        if key in dict(params):
            raise UsageError(f"--sweep {key} is also given by --set")
        sweep_key, sweep_values = key, values
    base = verify.Config.quick() if args.preset == "quick" else verify.Config.full()
    cores = os.cpu_count() or 1
    try:
        if not (args.resolution > 0 and math.isfinite(args.resolution)):
            raise UsageError(f"--resolution={args.resolution} must be a finite number > 0")
        config = verify.with_target(
            base, args.target, params=tuple(params), sweep_key=sweep_key,
            sweep_values=sweep_values, resolution=args.resolution,
        )  # fmt: skip
        command = " ".join(
            ["regdiff verify", args.target]
            + [f"--set {item}" for item in args.set or ()]
            + ([f"--sweep {args.sweep}"] if args.sweep else [])
            + [f"--bound {b!r}" for b in args.bound or ()]
            + [f"--param {p}" for p in args.param or ()]
            + [f"--preset {args.preset}"]
        )
        bound_params = []
        for item in args.param or ():
            key, sep, text = item.partition("=")
            try:
                bound_params.append((key, float(text)))
            except ValueError:
                raise UsageError(f"--param expects NAME=NUMBER, got {item!r}") from None
            if not sep or not key.isidentifier():
                raise UsageError(f"--param expects NAME=NUMBER, got {item!r}")
        found, code = verify.run_battery(
            config,
            Path(args.out),
            make_executor(args.jobs, args.scheduler),
            CellCache(None if args.no_cache else Path(args.cache_dir)),
            command=command,
            threads=max(1, cores // args.jobs),
            progress=True,
            bounds=tuple(args.bound or ()),
            bound_params=tuple(bound_params),
        )
    except verify.VerifyInputError as exc:
        raise UsageError(f"verify: {exc}") from None
    for v in found:
        print(f"[{v.verdict:>14}] {v.claim_id} | {v.setting_text} | {v.measured_text} ({v.reason})")
    print(f"wrote {args.out}/REPORT.md")
    if code == verify.EXIT["check_failed"]:
        failed = sorted({v.claim_id for v in found if v.role == "check" and v.verdict == "fails"})
        print(f"regdiff: verify: the model failed a check: {', '.join(failed)} (see the "
              "report)", file=sys.stderr)  # fmt: skip
    elif code == verify.EXIT["bad_input"]:
        print("regdiff: verify: the model's code raised in a cell (traceback in the report)",
              file=sys.stderr)  # fmt: skip
    elif code == verify.EXIT["tool_fault"]:
        print("regdiff: verify: a fault of the tool: a cell raised outside the model's code "
              "(traceback in the report; please report it)", file=sys.stderr)  # fmt: skip
    return code


def cmd_verify_sampler(args: argparse.Namespace) -> int:
    """``regdiff verify-sampler``: ``simulate.outside.verify_sampler`` on a user's sampler or a
    diffusers scheduler; exit 0 (the exact law was found), 1 (a check failed: not affine),
    2 (bad input), 3 (a fault of the tool)."""
    import time

    from simulate import outside
    from simulate.verify.load import VerifyInputError, load_factory

    if (args.target is None) == (args.scheduler_class is None):
        raise UsageError("verify-sampler: give MODULE:FACTORY or --scheduler-class, not both")
    params = {}
    for item in args.set or ():
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects key=value, got {item!r}")
        params[key] = _literal(text)
    lam = _sampler_data(args)
    start = time.perf_counter()
    try:
        if args.scheduler_class is not None:
            from simulate import diffusers_adapter

            sampler = diffusers_adapter.scheduler_sampler(
                args.scheduler_class, args.steps, **params
            )
        else:
            sampler = load_factory(args.target)(**params)
        loaded = time.perf_counter()
        report = outside.verify_sampler(sampler, lam, seed=args.seed)
    except ImportError as exc:  # the diffusers extra is missing (MissingExtra names it)
        raise UsageError(f"verify-sampler: {exc}") from None
    except (VerifyInputError, ValueError, TypeError) as exc:
        raise UsageError(f"verify-sampler: {exc}") from None
    except Exception as exc:
        print(f"regdiff: verify-sampler: a fault of the tool: {type(exc).__name__}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 3
    seconds = time.perf_counter() - start
    print(report.table.to_string(index=False))
    for row in report.checks.itertuples():
        print(f"[{'holds' if row.passed else 'fails':>6}] {row.check}: {row.detail}")
    load = loaded - start
    print(f"{report.name} on {args.data} (d = {lam.size}): {seconds:.1f} s (loading the "
          f"sampler {load:.1f} s, probing {seconds - load:.1f} s)")  # fmt: skip
    if args.csv:
        report.table.to_csv(args.csv, index=False)
    return 0 if report.passed else 1


def _sampler_data(args: argparse.Namespace) -> Any:
    """The eigenvalues of ``--data``: the CIFAR-10 spectrum (negative zeros as 0) or aligned
    sparse data (s unit eigenvalues, d - s zeros)."""
    import numpy as np

    if args.data == "cifar10":
        from simulate.experiments.gaussian_schemes import DATA_FILE

        return np.maximum(np.load(DATA_FILE).astype(np.float64), 0.0)
    if not (isinstance(args.d, int) and args.d >= 1 and 0 <= args.s <= args.d):
        raise UsageError(f"--d={args.d} must be >= 1 and --s={args.s} in [0, d]")
    return np.concatenate([np.ones(args.s), np.zeros(args.d - args.s)])


def cmd_bounds(args: argparse.Namespace) -> int:
    from simulate.verify.bounds import library

    for row in library().to_dict("records"):
        verified = "log powers verified" if row["log_powers_verified"] else "log powers recalled"
        print(f"{row['name']:24s} {row['source']} | {row['quantity']} | samplers: "
              f"{row['samplers']} | start {row['init']} | {verified}")  # fmt: skip
        print(f"{'':24s} assumes: {row['assumptions']}")
        print(f"{'':24s} {row['expression']}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from simulate import experiments

    for name, module in experiments.registry().items():
        doc = (module.__doc__ or "").strip().splitlines()[0]
        print(f"{name:20s} {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regdiff",
        description="Verification suite: does l1-regularized score matching make diffusion "
        "sampling scale with the intrinsic dimension s instead of d?",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fig = sub.add_parser(
        "figures",
        help="run every experiment, draw figures, write the report",
        description="Run every registered experiment (cached by config and "
        "code version), write figures/data/NAME.csv, figures/NAME.png, "
        "figures/REPORT.md and the README's verdict table. Nothing is written "
        "if any step fails.",
    )
    fig.add_argument(
        "--preset",
        choices=("quick", "full"),
        default="full",
        help="grid size (quick: minutes on 2 cores; full: the published setting)",
    )
    fig.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help="cells run in N worker processes (numba threads are split between them; "
        f"default: one per core, {DEFAULT_JOBS} here)",
    )
    fig.add_argument(
        "--scheduler",
        default=None,
        help="run the cells on Dask: 'local' starts a LocalCluster of --jobs workers, "
        "tcp://HOST:PORT uses an existing cluster (install the [cluster] extra)",
    )
    fig.add_argument(
        "--cache-dir",
        default=str(CACHE_DIR),
        help="where finished cells are kept (default: .regdiff-cache); a rerun reuses them",
    )
    claims_tests = fig.add_mutually_exclusive_group()
    claims_tests.add_argument(
        "--theory-tests",
        dest="theory_tests",
        action="store_true",
        default=True,
        help="run the tests named in theory/claims.py beside the cells (default, both "
        "presets; if they cannot run, the job exits 1 with the reason and writes nothing)",
    )
    claims_tests.add_argument(
        "--no-theory-tests",
        dest="theory_tests",
        action="store_false",
        help="do not run the tests named in theory/claims.py (the report says so at its top)",
    )
    fig.add_argument("--out", default="figures", help="output folder (default: figures)")
    fig.add_argument(
        "--readme", default=None,
        help="README whose verdict block is rewritten (default: ./README.md, only by the full "
        "preset writing into the default folder 'figures')",
    )  # fmt: skip
    fig.add_argument("--only", nargs="*", help="run only these experiments")
    fig.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    fig.set_defaults(func=cmd_figures)
    run = sub.add_parser(
        "run",
        help="run one experiment and print its verdicts",
        description="Run one experiment; --set key=value overrides a Config "
        "field (tuples as comma-separated lists).",
    )
    run.add_argument("name", help="experiment name (see `regdiff list`)")
    run.add_argument("--preset", choices=("quick", "full"), default="quick")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    run.add_argument("--csv", help="write the table to this CSV file")
    run.set_defaults(func=cmd_run)
    ver = sub.add_parser(
        "verify",
        help="run the battery on a data model of your own",
        description="Check a data model's score (DSM first-order test), measure its "
        "intrinsic dimension and sparsity, and run every sampler with its exact score over a "
        "T grid (sample divergences to q_1 with noise floors; exact off-support laws and "
        "KL where the mathematics gives them). Writes DIR/REPORT.md, DIR/data/*.csv and "
        "DIR/verify.png. Exit codes: 0 the model passed its checks (findings about the "
        "samplers are reported whatever they are), 1 a check of the model failed, 2 bad "
        "input (a protocol violation, a member of the model that raised, a bad option), "
        "3 a fault of the tool.",
    )
    ver.add_argument(
        "target", help="MODULE:FACTORY, e.g. examples/my_model.py:make_model or "
        "simulate.models:PaperToy3D; FACTORY(**set) returns the data model",
    )  # fmt: skip
    ver.add_argument("--set", action="append", metavar="KEY=VALUE", help="factory argument")
    ver.add_argument("--sweep", metavar="KEY=V1,V2,...", help="run at each value of KEY")
    ver.add_argument("--out", default="verify-report", help="output folder")
    ver.add_argument(
        "--preset", choices=("quick", "full"), default="quick",
        help="quick (default): T in 10, 30, 100; n = 1500 draws per sampler; 30000 pairs per "
        "noise level for the score check; estimators at n_train 250, 1000. full: T in 10, 20, "
        "50, 100, 200; n = 4000; 100000 pairs; n_train 250, 1000, 4000",
    )  # fmt: skip
    ver.add_argument(
        "--resolution", type=float, default=0.01,
        help="the smallest change of a KL the findings are about (default 0.01): the d-free "
        "finding gives the d at which the off-support slope adds it",
    )  # fmt: skip
    ver.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS,
        help=f"cells in N worker processes (default: one per core, {DEFAULT_JOBS} here)",
    )  # fmt: skip
    ver.add_argument("--scheduler", default=None, help="Dask: 'local' or tcp://HOST:PORT")
    ver.add_argument("--cache-dir", default=str(CACHE_DIR), help="finished cells are kept here")
    ver.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    ver.add_argument(
        "--bound", action="append", metavar="B",
        help="a bound to verify (repeatable): a library bound (`regdiff bounds` lists them; "
        "'paper' is the paper's Theorem 1 as read) or an expression in d, s, k, T, n, "
        "eps_score, C with log, sqrt, exp, Min, Max, e.g. 'C*s**2*log(T)**3/T'",
    )  # fmt: skip
    ver.add_argument(
        "--param", action="append", metavar="NAME=VALUE",
        help="a value for a bound's other symbol (e.g. L=4 for jiao_zhou_li)",
    )  # fmt: skip
    ver.set_defaults(func=cmd_verify)
    vs = sub.add_parser(
        "verify-sampler",
        help="exact law of your sampler (or a diffusers scheduler) on Gaussian data",
        description="Probe an outside sampler (simulate.outside's protocol) with the exact "
        "score of a Gaussian law, read off its affine map, and print its exact W2 to the data "
        "law (and KL to q at its last noise level where both have densities). Exit codes: 0 "
        "the exact law was found, 1 a check failed (not affine: Monte Carlo moments instead), "
        "2 bad input (a bad target, an unknown diffusers class, the diffusers extra missing), "
        "3 a fault of the tool.",
    )
    vs.add_argument("target", nargs="?", help="MODULE:FACTORY returning a sampler, e.g. "
                    "examples/my_sampler.py:make_sampler")  # fmt: skip
    vs.add_argument("--scheduler-class", default=None, metavar="diffusers.NAME",
                    help="a diffusers scheduler class (needs the extra: "
                    "pip install -e \".[diffusers]\")")  # fmt: skip
    vs.add_argument("--steps", type=int, default=50, help="inference steps (diffusers)")
    vs.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="factory argument, or scheduler configuration key")  # fmt: skip
    vs.add_argument("--data", choices=("cifar10", "aligned"), default="cifar10")
    vs.add_argument("--d", type=int, default=3072, help="dimension of --data aligned")
    vs.add_argument("--s", type=int, default=16, help="unit-variance coordinates of aligned")
    vs.add_argument("--seed", type=int, default=0, help="seed of the affine test")
    vs.add_argument("--csv", help="write the table to this CSV file")
    vs.set_defaults(func=cmd_verify_sampler)
    bnd = sub.add_parser(
        "bounds", help="list the library bounds that --bound accepts",
        description="The bounds of theory/bounds.py: name, source, quantity, the samplers "
        "and start they are about, their assumptions, whether their log powers are verified.",
    )  # fmt: skip
    bnd.set_defaults(func=cmd_bounds)
    lst = sub.add_parser("list", help="list the registered experiments")
    lst.set_defaults(func=cmd_list)
    return parser


#: The commands that run cells: Ctrl-C and SIGTERM stop them cleanly (``_stoppable``).
STOPPABLE = ("figures", "verify")


def _stoppable(args: argparse.Namespace) -> int:
    """``args.func(args)`` under ``simulate.pipeline.stops.stop_handlers``: a first Ctrl-C
    (or SIGTERM) cancels the queued cells, kills the workers and removes the staging folder
    (the pipeline's ``finally`` blocks), then the process exits 130 (143) at once; a second
    Ctrl-C exits at once whatever is running."""
    from simulate.pipeline.stops import exit_code, stop_handlers  # lazily, as every command


    with stop_handlers() as stopped_by:
        try:
            return int(args.func(args))
        except KeyboardInterrupt:
            code = exit_code(stopped_by())
    print(
        f"\nregdiff: {args.command}: stopped (exit {code}); finished cells are kept in the "
        "cache, no output file is half written",
        file=sys.stderr,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit now: the interpreter's exit hooks would join the executor's threads and wait for
    # helpers, which a stopped run must not wait for.
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print(f"regdiff: --jobs={args.jobs} must be >= 1", file=sys.stderr)
        return 2
    try:
        if args.command in STOPPABLE:
            return _stoppable(args)
        return int(args.func(args))
    except UsageError as exc:
        print(f"regdiff: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
