"""The diffusers scheduler table (simulate.experiments.diffusers_schedulers): without the
extra ``regdiff figures`` keeps the committed table (issue 28's one exception); with it, a
small grid runs and its aligned slopes agree with the d sweep."""

import numpy as np
import pandas as pd
import pytest

from simulate.experiments import diffusers_schedulers as exp
from simulate.pipeline import cells as pc
from simulate.pipeline.figures import make_figures

TINY = exp.Config(schedulers=("DDIM", "DPMSolverMultistep-2"), nfe_grid=(5, 10, 20),
                  aligned_d=(16, 64), match_steps=(10, 50))  # fmt: skip


def test_without_the_extra_the_committed_table_is_kept(tmp_path, monkeypatch, capsys):
    """available() False: nothing runs, one line says so, the csv is byte-identical, and the
    report still carries the table's section (built from the committed rows)."""
    monkeypatch.setattr(exp, "available", lambda: False)
    (tmp_path / "figs" / "data").mkdir(parents=True)
    committed = tmp_path / "figs" / "data" / f"{exp.NAME}.csv"
    rows = [
        {"scheduler": "DDIM", "data": "cifar10", "d": 3072, "nfe_target": n, "nfe": n,
         "w2_data": 10.0 / n, "kl_last": 100.0 / n**2, "documented_order": 1}
        for n in (5, 10, 20)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(committed, index=False)
    before = committed.read_bytes()
    result = make_figures([exp.NAME], "quick", tmp_path / "figs", None, pc.SerialExecutor(),
                          pc.CellCache(None), theory_tests=False)  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("skipped (its extra is not installed") == 1
    assert 'pip install -e ".[diffusers]"' in out
    assert committed.read_bytes() == before
    assert result.computed == 0
    report = (tmp_path / "figs" / "REPORT.md").read_text()
    assert "diffusers' schedulers on the CIFAR-10 Gaussian" in report


def test_orders_of_an_exact_power_law():
    """orders(): W2 = 10 / NFE is order 1 at every local exponent, fit interval around 1."""
    df = pd.DataFrame([
        {"scheduler": "X", "data": "cifar10", "nfe": n, "w2_data": 10.0 / n,
         "kl_last": 100.0 / n**2, "documented_order": 1} for n in (5, 10, 20, 50)
    ])  # fmt: skip
    o = exp.orders(df).iloc[0]
    assert o["w2_local_orders"] == "1.00, 1.00, 1.00"
    assert o["w2_order_fit"] == pytest.approx(1.0, abs=1e-12)
    assert o["sqrt_kl_last_local_orders"] == "1.00, 1.00, 1.00"


@pytest.mark.slow
def test_small_grid_runs_and_slopes_match_the_d_sweep():
    """With the extra: every cell exact; W2 falls with NFE; on aligned data W2^2 grows with
    d by exactly (d2 - d1) times the probed per-coordinate slope (float32 round-off)."""
    pytest.importorskip("diffusers")
    df = exp.run(TINY)
    assert df[df["data"] != "match"]["exact"].all()
    for _, g in df[df["data"] == "cifar10"].groupby("scheduler"):
        assert np.all(np.diff(g.sort_values("nfe")["w2_data"].to_numpy()) < 0)
    for _, g in df[df["data"] == "aligned"].groupby("scheduler"):
        g = g.sort_values("d")
        growth = g["w2_data"].iloc[1] ** 2 - g["w2_data"].iloc[0] ** 2
        slope = g["w2sq_per_coordinate"].iloc[0] * (g["d"].iloc[1] - g["d"].iloc[0])
        assert growth == pytest.approx(slope, abs=1e-6)
    assert exp.orders(df)["w2_order_fit"].notna().all()
    match = [v for v in exp.verdicts(df) if v.claim_id == "diffusers.ddpm_ddim_equal_ours"]
    assert len(match) == 2 and all(v.verdict == "holds" for v in match)


def test_figure_draws_the_table():
    """plot_diffusers_schedulers: one W2 line per scheduler, its legend carries the slope of
    the last three points (-1 for W2 = 10 / NFE)."""
    from simulate.plotting import plot_diffusers_schedulers

    rows = [{"scheduler": s, "data": "cifar10", "nfe": n, "w2_data": 10.0 / n**k,
             "kl_last": 1.0 / n}
            for k, s in ((1, "A"), (2, "B")) for n in (5, 10, 20, 50)]  # fmt: skip
    fig = plot_diffusers_schedulers(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["A (-1.00)", "B (-2.00)"]


def _synthetic_table():
    """A table as the experiment writes it, without diffusers: DDIM-like W2 = 10 / NFE
    (order 1, settled) and an order-2 claim on a scheduler still at order 1 (fails)."""
    rows = [
        {"scheduler": s, "data": "cifar10", "d": 3072, "nfe_target": n, "nfe": n,
         "w2_data": 10.0 / n, "kl_last": 100.0 / n**2, "documented_order": p}
        for s, p in (("DDIM", 1), ("HeunDiscrete", 2)) for n in (5, 10, 20, 50, 100)
    ]  # fmt: skip
    rows += [
        {"scheduler": "DDIM", "data": "match", "d": 3072, "nfe_target": n, "nfe": n,
         "ours": "ddim", "match_error": err, "match_tolerance": 1e-5}
        for n, err in ((10, 3e-6), (50, 2e-5))
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_verdicts_decide_every_claim():
    """Both claims are decided from the table: the identity holds within its float32
    tolerance and fails outside it; an order-1 W2 holds for documented order 1 and fails for
    a documented order 2 (settled at -1 > -2 + 0.1)."""
    from simulate import judge

    found = exp.verdicts(_synthetic_table())
    assert {v.claim_id for v in found} == set(exp.CLAIMS)
    assert all(v.verdict in judge.VERDICTS for v in found)
    match = [v for v in found if v.claim_id == "diffusers.ddpm_ddim_equal_ours"]
    assert [v.verdict for v in match] == ["holds", "fails"]
    order = {v.setting["scheduler"]: v for v in found if v.claim_id == "diffusers.documented_order"}
    assert order["DDIM"].verdict == "holds"
    assert order["DDIM"].measured == pytest.approx(-1.0, abs=1e-12)
    assert (order["HeunDiscrete"].verdict, order["HeunDiscrete"].reason) == (
        "fails", "settled_inconsistent")
    assert "against ours on the same abar grid" in exp.report_section(_synthetic_table())


def test_non_finite_rows_are_reported_not_fitted():
    """A scheduler's NaN output at one NFE is a row with w2 NaN: the orders and verdicts use
    the finite rows, and the report lists the NaN row with its duplicate timesteps."""
    df = _synthetic_table()
    df["duplicate_timesteps"], df["error"] = 0, ""
    bad = {"scheduler": "DDIM", "data": "cifar10", "d": 3072, "nfe_target": 1000, "nfe": 1000,
           "w2_data": np.nan, "kl_last": np.nan, "documented_order": 1,
           "duplicate_timesteps": 1, "error": "sampler returned non-finite values"}  # fmt: skip
    df = pd.concat([df, pd.DataFrame([bad])], ignore_index=True)
    order = {v.setting["scheduler"]: v for v in exp.verdicts(df)
             if v.claim_id == "diffusers.documented_order"}  # fmt: skip
    assert order["DDIM"].verdict == "holds"
    assert exp.orders(df).set_index("scheduler").loc["DDIM", "w2_order_fit"] == pytest.approx(1.0)
    assert "Non-finite output" in exp.report_section(df)
