"""The ``regdiff`` command.

regdiff figures [--preset quick|full] [--jobs N] [--out DIR]   all experiments, figures, report
regdiff run NAME [--preset ...] [--set key=value ...] [--csv F] one experiment, its table
regdiff list                                                   the registered experiments
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import sys
import tempfile
import typing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["main"]

CACHE_DIR = Path(".regdiff-cache")


def _config(module: Any, preset: str, overrides: Sequence[str] = ()) -> Any:
    config = module.Config.quick() if preset == "quick" else module.Config.full()
    changes = {}
    hints = typing.get_type_hints(module.Config)
    fields = {f.name: f for f in dataclasses.fields(module.Config)}
    for item in overrides:
        if "=" not in item:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        if key not in fields:
            raise SystemExit(
                f"--set: {module.NAME} has no parameter {key!r}; parameters: {', '.join(fields)}"
            )
        changes[key] = _parse(text, hints[key], getattr(config, key))
    return dataclasses.replace(config, **changes)


def _parse(text: str, hint: Any, current: Any) -> Any:
    if isinstance(current, tuple):
        items = [t for t in text.split(",") if t]
        inner = type(current[0]) if current else str
        if inner is tuple:
            raise SystemExit("--set does not parse nested tuples; edit the Config instead")
        return tuple(inner(t) for t in items)
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes")
    if current is None:
        return text
    return type(current)(text)


def _cache_path(module: Any, config: Any) -> Path:
    from simulate.experiments._common import code_version

    key = hashlib.sha256(f"{module.NAME}|{config!r}|{code_version()}".encode()).hexdigest()[:16]
    return CACHE_DIR / f"{module.NAME}-{key}.csv"


def _run_experiment(name: str, preset: str, use_cache: bool, threads: int) -> Any:
    """Run (or load from the cache) one experiment; executed in a worker process."""
    import numba
    import pandas as pd

    from simulate import experiments

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    module = experiments.get(name)
    config = _config(module, preset)
    path = _cache_path(module, config)
    if use_cache and path.exists():
        return pd.read_csv(path)
    df = module.run(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return df


def cmd_figures(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from simulate import experiments, plotting, report
    from simulate.experiments._common import code_version

    names = args.only or experiments.names()
    out = Path(args.out)
    cores = os.cpu_count() or 1
    jobs = max(1, min(args.jobs, len(names)))
    threads = max(1, cores // jobs)
    tables: dict[str, Any] = {}
    bar = tqdm(total=len(names), desc="experiments", unit="exp")
    if jobs == 1:
        for name in names:
            bar.set_postfix_str(name)
            tables[name] = _run_experiment(name, args.preset, not args.no_cache, threads)
            bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {
                name: pool.submit(_run_experiment, name, args.preset, not args.no_cache, threads)
                for name in names
            }
            for name, future in futures.items():
                tables[name] = future.result()
                bar.update(1)
    bar.close()

    rows: list[dict] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out.parent))
    try:
        (staging / "data").mkdir()
        figures = []
        for name, df in tables.items():
            module = experiments.get(name)
            df.to_csv(staging / "data" / f"{name}.csv", index=False)
            rows.extend(module.verdicts(df))
            plot = getattr(plotting, f"plot_{name}", None)
            if plot is not None:
                fig = plot(df)
                fig.savefig(staging / f"{name}.png")
                figures.append(f"{name}.png")
        text = report.render_report(rows, args.preset, code_version(), figures)
        (staging / "REPORT.md").write_text(text)
        readme = Path(args.readme)
        new_readme = None
        if readme.exists():
            new_readme = report.replace_readme_block(readme.read_text(), report.readme_block(rows))
        # Everything is ready: move it into place (each move is atomic).
        (out / "data").mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = out / path.relative_to(staging)
                os.replace(path, target)
        if new_readme is not None:
            tmp = readme.with_suffix(".md.tmp")
            tmp.write_text(new_readme)
            os.replace(tmp, readme)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("holds", "fails", "inconclusive")}
    print(f"wrote {out}/REPORT.md: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simulate import experiments

    module = experiments.get(args.name)
    config = _config(module, args.preset, args.set or ())
    kwargs = {"progress": True} if "progress" in module.run.__code__.co_varnames else {}
    df = module.run(config, **kwargs)
    if args.csv:
        tmp = Path(args.csv + ".tmp")
        df.to_csv(tmp, index=False)
        os.replace(tmp, args.csv)
    for row in module.verdicts(df):
        print(
            f"[{row['verdict']:>12}] {row['claim_id']} | {row.get('setting', '')} | "
            f"{row['measured']}"
        )
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
        default=1,
        help="experiments run in parallel processes (numba threads are split)",
    )
    fig.add_argument("--out", default="figures", help="output folder (default: figures)")
    fig.add_argument("--readme", default="README.md", help="README whose verdict block is updated")
    fig.add_argument("--only", nargs="*", help="run only these experiments")
    fig.add_argument("--no-cache", action="store_true", help="ignore cached results")
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
    lst = sub.add_parser("list", help="list the registered experiments")
    lst.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        print(f"regdiff: --jobs={args.jobs} must be >= 1", file=sys.stderr)
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
