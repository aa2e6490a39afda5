"""Run the tests that ``theory.claims`` names and report each one's outcome.

The report's "checked by" column comes from this run, not from the registry's say-so. The
tests run in a subprocess (``python -m pytest`` on the named node ids, JUnit XML output);
a parametrized test counts as failed if any of its cases failed, skipped if all were
skipped, passed otherwise. Outcomes are cached under a hash of the code version and of the
test files, so an unchanged tree does not rerun them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from simulate.pipeline import files, stops

__all__ = ["ClaimTestRun", "claim_tests"]

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


def _duration(xml_path: Path) -> float:
    """Seconds pytest spent, summed over the report's test suites."""
    suites = ET.parse(xml_path).getroot().iter("testsuite")  # the root itself, if it is one
    return float(sum(float(s.get("time", 0.0)) for s in suites))


class ClaimTestsError(RuntimeError):
    """The claims' tests could not be run: ``regdiff figures`` exits non-zero with this
    reason instead of writing a report whose tests read "not run"."""


class ClaimTestRun:
    """The claims' tests, started in a subprocess at once; ``result()`` waits for them and
    gives each named test's outcome (passed / failed / skipped / not collected; "not run"
    without the source tree, as in an installed package without tests).

    ``regdiff figures`` starts the run while the cells run (once a quarter of them has
    finished, so that the kernels the tests call are loaded from numba's cache, not compiled
    again), so the tests (one process) do not add their own wall time at the end. A cached
    outcome (same code version and test files) is returned without starting anything.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.nodes = claim_tests()
        self._result: dict[str, str] | None = None
        #: The tests' own duration (pytest's, from its JUnit report); 0 when not run.
        self.seconds = 0.0
        self._process: subprocess.Popen | None = None
        self._cache: Path | None = None
        if not (ROOT / "theory" / "conftest.py").exists():
            raise ClaimTestsError(
                f"the claims' tests are not in {ROOT} (install the suite from its source tree: "
                "pip install -e .), or pass --no-theory-tests"
            )
        if importlib.util.find_spec("pytest") is None:
            raise ClaimTestsError(
                "pytest is not installed in this environment (it is a dependency of the suite: "
                "pip install -e .), or pass --no-theory-tests"
            )
        if cache_dir is not None:
            self._cache = Path(cache_dir) / "theory-tests" / f"{_key(self.nodes)}.json"
            if self._cache.exists():
                self._result = json.loads(self._cache.read_text())
                return
        self._tmp = tempfile.mkdtemp(prefix="regdiff-claims-")
        self._xml = Path(self._tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cmd += [f"--junitxml={self._xml}"]
        # xunit1 keeps the record_property values some tests attach (xunit2 warns, and
        # warnings are errors here).
        cmd += ["-o", "junit_family=xunit1"]
        # One numba thread: the cell workers already use one numba thread per core, and the
        # tests' outcomes do not depend on the thread count. (Niceness +10 was tried: the
        # tests then finished 7.7 s after the cells, on one core, and the run took longer.)
        env = {**os.environ, "MPLBACKEND": "Agg", "NUMBA_NUM_THREADS": "1"}
        self._log = Path(self._tmp) / "pytest.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [*cmd, *self.nodes], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=stops.die_with_parent,  # not left running by a kill -9 of the run
            )  # fmt: skip

    def result(self) -> dict[str, str]:
        """Outcome of every named test: passed / failed / skipped / not collected."""
        if self._result is not None:
            return self._result
        assert self._process is not None
        try:
            self._process.wait()
            if self._xml.exists():
                out = _outcomes(self._xml, self.nodes)
                self.seconds = _duration(self._xml)
            else:
                tail = self._log.read_text(errors="replace").strip().splitlines()[-5:]
                raise ClaimTestsError(
                    f"pytest could not run the claims' tests (exit code "
                    f"{self._process.returncode}): " + " / ".join(tail)
                )
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._cache is not None:
            self._cache.parent.mkdir(parents=True, exist_ok=True)
            # An owned temporary name: runs sharing the cache folder may finish together.
            tmp_file = self._cache.parent / files.owned_name(f".{self._cache.name}", ".tmp")
            try:
                tmp_file.write_text(json.dumps(out, indent=1))
                os.replace(tmp_file, self._cache)
            finally:
                tmp_file.unlink(missing_ok=True)
        self._result = out
        return out

    def stop(self) -> None:
        """End a run whose outcome is no longer wanted (the cells failed to run)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

