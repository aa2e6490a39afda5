"""simulate.report: the verdict report and the README block are generated from rows."""

from __future__ import annotations

from simulate import report

ROWS = [
    {
        "claim_id": "paper.theorem1",
        "setting": "exact score, beta sampler",
        "predicted": "KL <= C B",
        "measured": "max 1.8 | grows",
        "verdict": "fails",
        "detail": "worst point d=512\nsecond line",
    },
    {"claim_id": "no.such.claim", "measured": "3", "verdict": "holds"},
]


def test_report_rows_details_and_pending_claims() -> None:
    text = report.render_report(ROWS, "quick", "abc123", ["a.png"])
    assert "code version `abc123`" in text
    assert "Verdicts: 1 holds, 1 fails, 0 inconclusive." in text
    assert "| `paper.theorem1` | Theorem 1 (as read)" in text
    assert "max 1.8 \\| grows" in text  # pipes escaped inside cells
    assert "(not in theory/claims.py)" in text
    assert "- `paper.theorem1`, exact score, beta sampler: worst point d=512 second line" in text
    pending = text.split("## Open claims not measured in this run")[1].split("##")[0]
    assert "`disc.T_decay`" in pending and "`paper.theorem1`" not in pending
    assert "| `sched.beta_le_h` |" in text.split("## Checked by `pytest theory/`")[1]
    assert text.endswith("![a.png](a.png)\n")
    # Every table row has the header's number of cells.
    for line in text.splitlines():
        if line.startswith("| `paper.theorem1`"):
            assert line.replace("\\|", "").count("|") == 8


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
