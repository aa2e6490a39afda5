"""Run the tests that ``theory.claims`` names and report each one's outcome.

The report's "checked by" column comes from this run, not from the registry's say-so. The
tests run in a subprocess (``python -m pytest`` on the named node ids, JUnit XML output);
a parametrized test counts as failed if any of its cases failed, skipped if all were
skipped, passed otherwise. Outcomes are cached under a hash of the code version and of the
test files, so an unchanged tree does not rerun them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

__all__ = ["claim_tests", "run_claim_tests"]

ROOT = Path(__file__).resolve().parents[2]


def claim_tests() -> list[str]:
    """Every pytest node id named in ``theory.claims`` (sorted, unique)."""
    from theory.claims import CLAIMS

    return sorted({t for claim in CLAIMS for t in claim.tests})


def _key(node_ids: Iterable[str]) -> str:
    from simulate.experiments._common import code_version

    h = hashlib.sha256(code_version().encode())
    for node in sorted(set(node_ids)):
        h.update(node.encode())
    for path in sorted({node.split("::")[0] for node in node_ids}):
        file = ROOT / path
        h.update(file.read_bytes() if file.exists() else b"missing")
    return h.hexdigest()[:16]


def _outcomes(xml_path: Path, node_ids: list[str]) -> dict[str, str]:
    cases: dict[str, list[str]] = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        name = case.get("name", "").split("[")[0]
        kids = {child.tag for child in case}
        state = (
            "failed"
            if kids & {"failure", "error"}
            else "skipped"
            if "skipped" in kids
            else "passed"
        )
        cases.setdefault(f"{module}::{name}", []).append(state)
    out = {}
    for node in node_ids:
        states = cases.get(node)
        if not states:
            out[node] = "not collected"
        elif "failed" in states:
            out[node] = "failed"
        elif all(s == "skipped" for s in states):
            out[node] = "skipped"
        else:
            out[node] = "passed"
    return out


def run_claim_tests(cache_dir: Path | None = None) -> dict[str, str]:
    """Outcome of every test the registry names: passed / failed / skipped / not collected.

    Without the source tree (an installed package without tests) every test reads "not run".
    """
    nodes = claim_tests()
    if not (ROOT / "theory" / "conftest.py").exists():
        return {node: "not run (tests not installed)" for node in nodes}
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / "theory-tests" / f"{_key(nodes)}.json"
        if cache.exists():
            return json.loads(cache.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}"]
        # xunit1 keeps the record_property values some tests attach (xunit2 warns, and
        # warnings are errors here).
        cmd += ["-o", "junit_family=xunit1"]
        env = {**os.environ, "MPLBACKEND": "Agg"}
        subprocess.run(
            [*cmd, *nodes], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        out = (
            _outcomes(xml, nodes) if xml.exists() else {n: "not run (pytest failed)" for n in nodes}
        )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = cache.with_suffix(".tmp")
        tmp_file.write_text(json.dumps(out, indent=1))
        os.replace(tmp_file, cache)
    return out
