"""``regdiff verify --bound`` (simulate/verify/bounds.py): bounds as the unit of verification.

On aligned Gaussian data (s = 4 fixed, d swept) the exact KL is affine in d with the slope
kl_off per pure-noise coordinate: 0.008 for the beta sampler at T = 100, 3e-27 for the
posterior one. A d-free bound therefore fails for beta (its ratio crosses twice the grid's
largest at a modest d) and not for posterior; a bound linear in d holds for both.
"""

from __future__ import annotations

import pandas as pd
import pytest

from simulate import verify
from simulate.cli import main
from simulate.pipeline.cells import CellCache, SerialExecutor
from simulate.verify import bounds

TARGET = "simulate.models.catalogue:catalogue_model"
SMALL = {"T_grid": (20, 100), "n": 300, "score_n": 5_000, "floor_replicates": 4,
         "estimators": (), "samplers": ("beta", "posterior")}  # fmt: skip


def _run(tmp_path, bound_list, params=(), name="aligned_gaussian"):
    config = verify.with_target(
        verify.Config(**SMALL), TARGET, params=(("name", name), ("s", 4)),
        sweep_key="d", sweep_values=(8, 32),
    )  # fmt: skip
    return verify.run_battery(
        config, tmp_path / "r", SerialExecutor(), CellCache(None), command="test",
        threads=2, bounds=tuple(bound_list), bound_params=tuple(params),
    )  # fmt: skip


def test_a_d_free_bound_fails_for_beta_and_not_for_posterior(tmp_path) -> None:
    found, code = _run(tmp_path, ["paper", "C*s**2*log(T)**3/T", "C*d*log(T)**3/T"])
    assert code == verify.EXIT["passed"]  # bound verdicts are findings
    by = {(v.setting["bound"], v.setting["sampler"]): v for v in found
          if v.claim_id == "verify.bound"}  # fmt: skip
    assert by[("paper.theorem1", "beta")].verdict == "fails"
    assert ("paper.theorem1", "posterior") not in by  # the paper's sampler is beta's
    free = "C*s**2*log(T)**3/T"
    assert (by[(free, "beta")].verdict, by[(free, "beta")].reason) == ("fails", "exceeds_bound")
    assert by[(free, "posterior")].verdict != "fails"
    linear = "C*d*log(T)**3/T"
    assert by[(linear, "beta")].verdict == "holds" and by[(linear, "posterior")].verdict == "holds"
    assert {v.role for v in by.values()} == {"finding"}
    table = pd.read_csv(tmp_path / "r" / "data" / "bounds.csv")
    assert {"bound", "sampler", "truth", "constant", "constant_low", "constant_high",
            "worst_ratio", "worst_point", "verdict", "reason"} <= set(table.columns)  # fmt: skip
    beta = table[(table["bound"] == free) & (table["sampler"] == "beta")].iloc[0]
    assert beta["truth"] == "closed_form" and 8 < beta["d_cross"] < 1e6
    assert "## Bounds" in (tmp_path / "r" / "REPORT.md").read_text()


def test_bounds_without_a_truth_or_a_symbol_are_not_applicable(tmp_path) -> None:
    found, _ = _run(tmp_path, ["jiao_zhou_li", "li_yan"])
    reasons = {(v.setting["bound"], v.setting["sampler"]): v.detail for v in found
               if v.claim_id == "verify.bound"}  # fmt: skip
    assert all(v.verdict == "not applicable" for v in found if v.claim_id == "verify.bound")
    assert "L are unknown" in reasons[("jiao_zhou_li", "beta")]
    assert "a bound on TV" in reasons[("li_yan", "beta")]
    found, _ = _run(tmp_path, ["jiao_zhou_li"], params=(("L", 2.0),))
    assert {v.verdict for v in found if v.claim_id == "verify.bound"} <= {"holds", "fails",
                                                                           "inconclusive"}


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        ("C*q*log(T)", "unknown symbol 'q'"),
        ("C*s**2*log(T", "not an expression"),
        ("__import__('os').system('true')", "is not allowed"),
        ("C*(s - 10)/T", "must be positive and finite on the grid"),
        ("C/(d - 8)", "must be positive and finite on the grid"),
    ],
)
def test_bad_bounds_exit_2_naming_the_bound(tmp_path, capsys, bound, message) -> None:
    code = main(["verify", f"{TARGET}", "--set", "name=aligned_gaussian", "--set", "s=4",
                 "--set", "d=8", "--bound", bound, "--out", str(tmp_path / "o"), "--no-cache"])
    assert code == verify.EXIT["bad_input"]
    assert message in capsys.readouterr().err


def test_the_expression_builder_never_evaluates_python() -> None:
    expr = bounds.parse_expression("C*s**2*log(T)**3/T + Max(d, k)")
    assert {x.name for x in expr.free_symbols} == {"C", "s", "T", "d", "k"}
    with pytest.raises(verify.VerifyInputError, match="is not allowed"):
        bounds.parse_expression("(lambda: 1)()")
    with pytest.raises(verify.VerifyInputError, match="is not allowed"):
        bounds.parse_expression("log.__class__")


def test_the_library_lists_every_bound(capsys) -> None:
    assert main(["bounds"]) == 0
    text = capsys.readouterr().out
    for name in ("li2024", "paper.theorem1", "li_yan.intrinsic", "huang_wei_chen", "benton",
                 "jiao_zhou_li", "derived.posterior.normal"):  # fmt: skip
        assert name in text
    from theory.bounds import BOUNDS

    table = bounds.library()
    assert list(table["name"]) == list(BOUNDS)  # every library bound, none invented
    paper = table.set_index("name").loc["paper.theorem1"]
    assert (paper["samplers"], paper["quantity"]) == ("beta", "KL(q_1 || p_1)")
