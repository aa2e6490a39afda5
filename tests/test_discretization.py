"""The discretization experiment and the `regdiff` command end to end (tiny grids)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simulate import cli, experiments, plotting
from simulate.experiments import discretization

TINY = discretization.Config(
    T_grid=(20, 50, 100),
    d_grid=(4, 8, 16),
    mc_d=(4,),
    mc_n=500,
    schedule_constants=((4.0, 4.0), (2.0, 4.0)),
)


@pytest.fixture(scope="module")
def table():
    return discretization.run(TINY)


def test_table_is_tidy_and_complete(table):
    exact_rows = table[table["kind"] == "exact"]
    assert len(exact_rows) == 2 * 2 * 3 * 3 * 3
    for column in (
        "c0",
        "c1",
        "init",
        "variance",
        "T",
        "d",
        "kl",
        "w2",
        "kl_support",
        "kl_off_support",
        "code_version",
        "numba_threads",
    ):
        assert column in table.columns
    np.testing.assert_allclose(
        exact_rows["kl"], exact_rows["kl_support"] + exact_rows["kl_off_support"], rtol=1e-12
    )
    assert (exact_rows["kl"] >= 0).all()


def test_verdicts_have_the_contract_keys(table):
    rows = discretization.verdicts(table)
    ids = {r.claim_id for r in rows}
    assert {
        "disc.posterior_ddim_d_free",
        "disc.beta_linear_in_d",
        "disc.T_decay",
        "disc.mc_matches_exact",
    } <= ids
    for row in rows:
        assert row.verdict in ("holds", "fails", "inconclusive")
    # DDIM from N(0, I) with c0 = c1 = 4 keeps the initial variance mismatch on every
    # pure-noise coordinate: its KL grows with d (recorded in SCIENCE-refuting form).
    ddim = [
        r
        for r in rows
        if r.claim_id == "disc.posterior_ddim_d_free"
        and (r.setting["sampler"], r.setting["c0"], r.setting["c1"]) == ("ddim", 4.0, 4.0)
    ]
    assert ddim and ddim[0].verdict == "fails"
    # A quantity that tends to a constant does not "hold" a decay claim (c0 = c1, N(0, I)).
    flat = [r for r in rows if r.claim_id == "disc.T_decay" and r.setting["c0"] == r.setting["c1"]]
    assert flat and all((r.verdict, r.reason) == ("fails", "settled_inconsistent") for r in flat)
    assert all(abs(r.measured) < 0.05 for r in flat)


def test_plot_is_a_function_of_the_table(table):
    fig = plotting.plot_discretization(table)
    assert len(fig.axes) == 4


def test_config_validation():
    with pytest.raises(ValueError, match="every d in d_grid must be >= s=4"):
        dataclasses.replace(TINY, d_grid=(2, 8))


def test_registry_and_bad_name():
    assert "discretization" in experiments.names()
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        experiments.get("nope")


def test_cli_figures_writes_everything_atomically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(discretization.Config, "quick", classmethod(lambda cls: TINY))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n")
    args = ["figures", "--preset", "quick", "--only", "discretization", "--out", "figs"]
    args += ["--readme", str(readme), "--no-theory-tests"]
    assert cli.main(args) == 0
    assert (tmp_path / "figs" / "discretization.png").stat().st_size > 0
    df = pd.read_csv(tmp_path / "figs" / "data" / "discretization.csv")
    assert len(df) > 0
    text = (tmp_path / "figs" / "REPORT.md").read_text()
    assert "disc.beta_linear_in_d" in text
    assert "verdicts:begin" in readme.read_text()
    # A failure while plotting leaves the previous outputs untouched and no staging folder.
    before = {p: p.read_bytes() for p in (tmp_path / "figs").rglob("*") if p.is_file()}

    def broken(df):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plotting, "plot_discretization", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        cli.main(args)
    after = {p: p.read_bytes() for p in (tmp_path / "figs").rglob("*") if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".staging-*"))


def test_cli_run_with_overrides(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert (
        cli.main(
            [
                "run",
                "discretization",
                "--set",
                "T_grid=20,50,100",
                "--set",
                "d_grid=4,8,16",
                "--set",
                "mc_d=4",
                "--set",
                "mc_n=200",
                "--csv",
                str(out),
            ]
        )
        == 0
    )
    assert "disc.T_decay" in capsys.readouterr().out
    written = pd.read_csv(out)
    assert set(written.loc[written["kind"] == "exact", "T"]) == {20, 50, 100}
    assert set(written.loc[written["kind"] == "asymptote", "T"]) == set(discretization.ASYMPTOTE_T)
    assert cli.main(["run", "discretization", "--set", "bogus=1"]) == 2
    assert "has no parameter 'bogus'" in capsys.readouterr().err
    assert cli.main(["run", "discretization", "--set", "s=four"]) == 2
    assert "--set s='four'" in capsys.readouterr().err
    assert cli.main(["run", "discretization", "--set", "s=0"]) == 2
