"""pytest hooks of theory/: a per-claim summary at the end of the session.

For every claim of ``theory.claims.CLAIMS`` the summary prints its id, status and the
outcomes of its tests in this session; tests may attach ``record_property`` values (e.g. the
worst bound ratio found by Hypothesis), which are printed too.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_OUTCOMES: dict[str, list[str]] = defaultdict(list)
_PROPERTIES: list[tuple[str, str, object]] = []


def _base(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _OUTCOMES[_base(report.nodeid)].append(report.outcome)
        if report.when == "call":
            for key, value in report.user_properties:
                _PROPERTIES.append((report.nodeid, key, value))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from theory.claims import CLAIMS

    if not _OUTCOMES:
        return
    tr = terminalreporter
    tr.section("theory claims")
    for claim in CLAIMS:
        counts: dict[str, int] = defaultdict(int)
        for test in claim.tests:
            for outcome in _OUTCOMES.get(test.replace("\\", "/"), []):
                counts[outcome] += 1
        ran = ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "not run"
        exp = f" [experiment: {claim.experiment}]" if claim.experiment else ""
        tr.write_line(f"{claim.id:<36} {claim.status:<8} tests: {ran}{exp}")
    for nodeid, key, value in _PROPERTIES:
        tr.write_line(f"{key} = {value}  ({nodeid})")
