"""simulate.report: the verdict report and the README block are formatted from Verdicts."""

from __future__ import annotations

from simulate import judge, report

ROWS = [
    judge.Verdict(
        "paper.theorem1",
        {"score": "exact", "sampler": "beta"},
        "domain",
        1.8,
        (float("nan"), 1.0),
        "KL <= C B | C fitted",
        1.0,
        "fails",
        "point_violates",
        "worst point d=512\nsecond line",
    ),
    judge.not_applicable("no.such.claim", {"d": 3}, "rate", "", "premise false here"),
]


def test_report_rows_details_and_pending_claims() -> None:
    outcomes = {"theory/test_schedules.py::test_beta_le_h_symbolic": "passed"}
    text = report.render_report(ROWS, "quick", "abc123", ["a.png"], outcomes)
    assert "code version `abc123`" in text
    assert "Verdicts: 0 holds, 1 fails, 0 inconclusive, 1 not applicable." in text
    assert "| `paper.theorem1` | Theorem 1 (as read)" in text
    assert "KL <= C B \\| C fitted" in text  # pipes escaped inside cells
    assert "(not in theory/claims.py)" in text
    assert "- `paper.theorem1`, score=exact, sampler=beta: worst point d=512 second line" in text
    pending = text.split("## Open claims not measured in this run")[1].split("##")[0]
    assert "`disc.T_decay`" in pending and "`paper.theorem1`" not in pending
    checked = text.split("## Checked by `pytest theory/`")[1]
    # The column is the outcome of this run, not the registry's word.
    assert "`theory/test_schedules.py::test_beta_le_h_symbolic` passed" in checked
    assert "`theory/test_schedules.py::test_beta_le_h_numeric` not collected" in checked
    assert text.endswith("![a.png](a.png)\n")
    measured = text.split("## Measured by the experiments")[1].split("##")[0]
    for line in measured.splitlines():
        if line.startswith("| `paper.theorem1`"):
            assert line.replace("\\|", "").count("|") == 10
    unrun = report.render_report(ROWS, "quick", "abc123")
    assert "`theory/test_schedules.py::test_beta_le_h_symbolic` (not run)" in unrun


def test_readme_block_replaces_only_between_the_markers() -> None:
    block = report.readme_block(ROWS)
    assert block.startswith(report.README_BEGIN) and block.endswith(report.README_END)
    readme = f"intro\n\n{report.README_BEGIN}\nSTALE\n{report.README_END}\n\noutro\n"
    new = report.replace_readme_block(readme, block)
    assert new.startswith("intro\n") and new.endswith("\n\noutro\n")
    assert "STALE" not in new and "**fails**" in new
    assert report.replace_readme_block(new, block) == new
    appended = report.replace_readme_block("no markers\n", block)
    assert appended == "no markers\n\n" + block + "\n"
