"""``regdiff verify`` you can trust (issue 25): one test per defect class, each on a model
written for the test (not one from the catalogue).

1. a correct model at k = d (no pure-noise block) passes;
2. the score check spans every noise level the samplers use, and localizes an error there;
3. a score that is NaN on some rows fails the check (naming alpha_bar and the rows);
4. the cache sees the model's source (the target file and the modules it imports);
5. protocol violations exit 2 with one line naming the member; seeds reach the model as ints;
6. the grid oracle's window follows a heavy tail, checked against an independent quadrature,
   and says "unresolved" (not "premise_false") when it cannot;
7. findings about the samplers (d-dependence, block laws) never make a correct model fail;
   exit codes 0 / 1 / 2 / 3 mean one thing each.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from simulate import oracle, schedules, verify
from simulate.cli import main
from simulate.pipeline.cells import CellCache, SerialExecutor
from simulate.verify import battery

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_model.py"
HERE = Path(__file__).resolve()
#: A small battery (the statistics scale with n; the rules do not).
SMALL = {
    "T_grid": (10, 100),
    "n": 400,
    "score_n": 20_000,
    "floor_replicates": 4,
    "est_n_grid": (250,),
    "estimators": ("ls", "l1_denoiser"),
}


def _run(target: str, out: Path, cache: Path | None = None, **changes):
    config = verify.with_target(verify.Config(**{**SMALL, **changes}), target)
    return verify.run_battery(
        config, out, SerialExecutor(), CellCache(cache), command="test", threads=2
    )


# -- models written for these tests -------------------------------------------------------------


class Cube:
    """2^k corners of a cube in R^d (the README's model), with an optional defect."""

    def __init__(self, d=6, k=2, defect=None):
        self.d, self.k, self.defect = d, k, defect
        self.support = np.arange(d) < k

    def sample(self, n, seed=0):
        x = np.zeros((n, self.d))
        x[:, : self.k] = np.random.default_rng(seed).choice([-1.0, 1.0], (n, self.k))
        return x

    def score(self, x, alpha_bar):
        v = getattr(alpha_bar, "v", 1.0 - alpha_bar)
        a = math.sqrt(alpha_bar)
        s = -x / v
        s[:, : self.k] += a * np.tanh(a * x[:, : self.k] / v) / v
        if self.defect == "small_v" and v < 1e-3:  # 5% off, only where v < 1e-3
            s *= 1.05
        if self.defect == "nan" and abs(alpha_bar - 0.3) < 1e-12:  # NaN on ~3% of rows
            s[x[:, 0] > 1.5] = np.nan
        if self.defect == "raises" and abs(alpha_bar - 0.3) < 1e-12:
            raise FloatingPointError("the model's score gives up at alpha_bar = 0.3")
        return s


def make_cube(d=6, k=2):
    return Cube(d, k)


def make_small_v_error():
    return Cube(6, 2, "small_v")


def make_nan():
    return Cube(6, 2, "nan")


def make_raises():
    return Cube(6, 2, "raises")


class RandomStateCube(Cube):
    """The commonest idiom: ``np.random.RandomState(seed)`` (needs an int seed)."""

    def sample(self, n, seed=0):
        x = np.zeros((n, self.d))
        x[:, : self.k] = np.random.RandomState(seed).choice([-1.0, 1.0], (n, self.k))
        return x


class WrongWidth(Cube):
    def sample(self, n, seed=0):
        return super().sample(n, seed)[:, :-1]


class Unseeded(Cube):
    def sample(self, n, seed=0):
        return super().sample(n, np.random.SeedSequence().entropy)


class IgnoresSeed(Cube):
    def sample(self, n, seed=0):
        return super().sample(n, 0)


class OffSupport(Cube):
    def sample(self, n, seed=0):
        x = super().sample(n, seed)
        x[:, -1] = 0.5
        return x


class ComplexScore(Cube):
    def score(self, x, alpha_bar):
        return super().score(x, alpha_bar) + 0j


def make_needs_k(k):
    return Cube(6, k)


# -- 1. k = d ----------------------------------------------------------------------------------


def test_a_correct_model_at_k_equal_d_passes(tmp_path) -> None:
    """The README's example with d = k = 3: its pure-noise block is empty."""
    found, code = _run(f"{EXAMPLE}:make_model", tmp_path / "r", params=(("d", 3),),
                       samplers=("posterior", "ddim"))  # fmt: skip
    assert code == verify.EXIT["passed"]
    assert not [v for v in found if v.reason == "cell_failed"]
    block = [v for v in found if v.claim_id == "verify.block_law"]
    assert block and all(v.verdict == "holds" for v in block)


# -- 2. the score check's range ----------------------------------------------------------------


def test_score_levels_reach_the_smallest_v_of_the_samplers() -> None:
    for preset in (verify.Config.quick(), verify.Config.full()):
        levels = battery.score_levels(preset)
        v_min = min(schedules.li(T, preset.c0, preset.c1).v[0] for T in preset.T_grid)
        assert min(getattr(ab, "v", 1 - ab) for ab in levels) == pytest.approx(v_min, rel=1e-12)


def test_an_error_confined_to_small_v_is_caught_and_localized(tmp_path) -> None:
    """A 5% error only where v < 1e-3: the old grid (v >= 1e-3) could not see it; now the
    check fails (exit 1) and its per-level table puts the worst |z| below v = 1e-3.
    Measured power: worst |z| = 101 at 20000 pairs per level (band 4.0), so the smallest
    relative error confined to v < 1e-3 it detects is about 5% x 4 / 101 = 0.2%."""
    found, code = _run(f"{HERE}:make_small_v_error", tmp_path / "r")
    assert code == verify.EXIT["check_failed"]
    (first,) = [v for v in found if v.claim_id == "verify.score_first_order"]
    assert first.verdict == "fails" and first.role == "check"
    assert first.measured > 10 * first.interval[1]
    table = pd.read_csv(tmp_path / "r" / "data" / "score.csv")
    small, rest = table[table["v"] < 1e-3], table[table["v"] >= 1e-3]
    assert small["worst_z"].min() > first.interval[1] and rest["worst_z"].max() < first.interval[1]


# -- 3. NaN --------------------------------------------------------------------------------------


def test_a_score_nan_on_some_rows_fails(tmp_path) -> None:
    found, code = _run(f"{HERE}:make_nan", tmp_path / "r")
    assert code == verify.EXIT["check_failed"]
    (first,) = [v for v in found if v.claim_id == "verify.score_first_order"]
    assert first.verdict == "fails" and math.isinf(first.measured)
    assert "non-finite scores at alpha_bar 0.3" in first.detail
    table = pd.read_csv(tmp_path / "r" / "data" / "score.csv").set_index("alpha_bar")
    assert table.loc[0.3, "nonfinite_rows"] > 0 and np.isinf(table.loc[0.3, "worst_z"])


# -- 4. the cache sees the model -----------------------------------------------------------------

_MODEL_FILE = """
import math
import numpy as np
from helper_{tag} import FACTOR

class Line:
    d = 2
    support = np.array([True, False])

    def sample(self, n, seed=0):
        x = np.zeros((n, 2))
        x[:, 0] = np.random.default_rng(seed).choice([-1.0, 1.0], n)
        return x

    def score(self, x, alpha_bar):
        v = getattr(alpha_bar, "v", 1.0 - alpha_bar)
        a = math.sqrt(alpha_bar)
        s = -x / v
        s[:, 0] += FACTOR * a * np.tanh(a * x[:, 0] / v) / v
        return s

def make():
    return Line()
"""


def test_the_cache_key_follows_the_model_source(tmp_path, monkeypatch) -> None:
    """A wrong score, then the fix in a module the target imports: the rerun sees the fix
    (before, a cell's key hashed only the config, and the rerun failed from the cache)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    target = tmp_path / "line_model.py"
    target.write_text(_MODEL_FILE.format(tag="cache"))
    helper = tmp_path / "helper_cache.py"
    helper.write_text("FACTOR = 1.2\n")
    spec = f"{target}:make"
    digest = verify.source_digest(spec)
    assert len(digest) == 16
    assert {p.name for p in verify.load.model_sources(spec)} == {"line_model.py", "helper_cache.py"}
    cache = tmp_path / "cache"
    _, code = _run(spec, tmp_path / "a", cache, T_grid=(10,), samplers=("posterior",))
    assert code == verify.EXIT["check_failed"]
    helper.write_text("FACTOR = 1.0\n")
    import sys

    for name in [m for m in sys.modules if m == "helper_cache" or m.startswith("regdiff_user_")]:
        del sys.modules[name]
    assert verify.source_digest(spec) != digest
    _, code = _run(spec, tmp_path / "b", cache, T_grid=(10,), samplers=("posterior",))
    assert code == verify.EXIT["passed"]


# -- 5. the protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("WrongWidth", "WrongWidth.sample(64, seed) returned shape (64, 5); expected (64, d) = (64, 6)"),
        ("Unseeded", "Unseeded.sample(n, seed) is not deterministic"),
        ("IgnoresSeed", "IgnoresSeed.sample(n, seed) ignores its seed"),
        ("OffSupport", "OffSupport.support declares 4 coordinate(s) off the support"),
        ("ComplexScore", "ComplexScore.score returned dtype complex128"),
        ("make_needs_k", "parameter(s) k have no default: give them with --set"),
    ],
)  # fmt: skip
def test_protocol_violations_exit_2_naming_the_member(tmp_path, capsys, factory, message) -> None:
    out = tmp_path / "report"
    code = main(["verify", f"{HERE}:{factory}", "--out", str(out), "--no-cache"])
    err = capsys.readouterr().err
    assert code == verify.EXIT["bad_input"], err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_model_receives_int_seeds() -> None:
    """A Generator handed to a user's model becomes one integer draw from it."""
    from simulate.models import as_model

    m = as_model(RandomStateCube())
    x = m.sample(10, np.random.default_rng(3))
    assert np.array_equal(x, m.sample(10, np.random.default_rng(3)))
    verify.preflight(m)


# -- 6. the oracle's window ----------------------------------------------------------------------


def _laplace_noised_density(x, a, b, v):
    """Density of a X + sqrt(v) W, X ~ Laplace(0, b): the exponentially modified Gaussian
    pair, in closed form (independent of the oracle)."""
    lam, sig = 1.0 / (a * b), math.sqrt(v)
    u = lam * sig

    def side(y):
        return np.exp(0.5 * u * u - lam * y + special.log_ndtr(y / sig - u))

    return 0.25 * lam * (side(x) + side(-x)) * 2.0


def _laplace_score(b):
    """grad log of the density above: a weighted sum of its two branches' log-derivatives."""

    def score(y, alpha_bar):
        a, v = math.sqrt(alpha_bar), 1.0 - alpha_bar
        lam, sig = 1.0 / (a * b), math.sqrt(v)
        u = lam * sig
        zp, zm = y / sig - u, -y / sig - u
        gp = -lam * y + special.log_ndtr(zp)
        gm = lam * y + special.log_ndtr(zm)
        w = special.expit(gp - gm)  # weight of the + branch
        mills_p = np.exp(-0.5 * zp * zp - special.log_ndtr(zp)) / math.sqrt(2 * math.pi)
        mills_m = np.exp(-0.5 * zm * zm - special.log_ndtr(zm)) / math.sqrt(2 * math.pi)
        return w * (-lam + mills_p / sig) + (1.0 - w) * (lam - mills_m / sig)

    return score


def test_the_window_follows_a_heavy_tail_against_an_independent_quadrature() -> None:
    """A Laplace(0, 1) block, posterior sampler on li(20, 2, 4), compared at t0 (v >= 1e-2).

    Independent of the grid: q_t0 in closed form (the exponentially modified Gaussian pair)
    and its mass beyond [-10, 10] by scipy's adaptive quadrature. The fixed window [-10, 10]
    truncates that tail; the widened window's tail estimate bounds the true truncated mass
    within a factor 3, its q matches the closed form to 1e-6, and its KL moves by < 1e-7
    relative on a window twice as wide, while the fixed window's KL is off by > 0.1%."""
    b = 1.0
    sch = schedules.li(20, 2.0, 4.0)
    t0 = verify.early_stop(sch)
    score = _laplace_score(b)
    level = sch.level(t0)
    a, v = math.sqrt(float(level)), level.v
    grid = battery.ORACLE_GRID
    fixed = oracle.block_laws(score, sch, "posterior", grid, t0)
    laws, res = oracle.resolved_block_laws(score, sch, "posterior", grid, t0)
    assert res.resolved and res.half_widths[-1] >= 20

    def dens(x):
        return float(_laplace_noised_density(np.array([x]), a, b, v)[0])

    outside = 2 * integrate.quad(dens, 10.0, np.inf)[0]
    estimate = oracle.tail_mass(score, level, grid, fixed.q)
    assert outside / 3 < estimate < 3 * outside and outside > 1e-6
    exact_q = _laplace_noised_density(laws.grid.nodes, a, b, v)
    inside = exact_q / (1 - 2 * integrate.quad(dens, laws.grid.hi, np.inf)[0])
    assert np.max(np.abs(laws.q - inside)) < 1e-6 * np.max(inside)
    wider = oracle.block_laws(score, sch, "posterior", laws.grid.widened(), t0).kl
    assert abs(wider - laws.kl) < 1e-7 * laws.kl
    assert abs(fixed.kl - laws.kl) > 1e-3 * laws.kl


def test_an_unresolvable_tail_is_unresolved_not_a_false_premise() -> None:
    """A Cauchy-like tail (score -2y / (1 + y^2)) never leaves the widest window."""

    def heavy(y, alpha_bar):
        return -2.0 * y / (1.0 + y * y)

    sch = schedules.li(10, 2.0, 4.0)
    _, res = oracle.resolved_block_laws(heavy, sch, "posterior", battery.ORACLE_GRID, 1)
    assert not res.resolved and res.note.startswith("unresolved")
    from simulate.verify.judging import _oracle_verdicts

    orc = pd.DataFrame({"part": "oracle", "model": "m", "d": 4, "sampler": "posterior",
                        "T": [10], "kl_oracle": [math.nan], "oracle_worst_z": [math.nan],
                        "oracle_n_z": [0], "oracle_notes": [res.note], "t0": [1],
                        "v_t0": [0.01]})  # fmt: skip
    (v,) = _oracle_verdicts(orc)
    assert (v.verdict, v.reason) == ("inconclusive", "unresolved")


def test_blocks_larger_than_the_oracles_take_are_a_false_premise() -> None:
    """A sphere's block of 4 coordinates: the oracles compute blocks of 1 or 2 only, so the
    claim about their laws is not applicable there, not "unresolved" (the oracle_row of a
    real sphere battery counts the block)."""
    from simulate.models.catalogue import catalogue_model
    from simulate.verify.judging import _oracle_verdicts

    cfg = battery.Config(
        target="simulate.models.catalogue:catalogue_model",
        params=(("name", "sphere"), ("s", 4), ("d", 6)), T_grid=(10,), n=200,
    )
    assert isinstance(catalogue_model(name="sphere", s=4, d=6), battery.BlockModel)
    row = battery._oracle_row(cfg, None, "posterior", 10)
    assert row["oracle_blocks_too_big"] == 1 and math.isnan(row["kl_oracle"])
    (v,) = _oracle_verdicts(pd.DataFrame([row]))
    assert (v.verdict, v.reason) == ("not applicable", "premise_false")


# -- 7. roles and exit codes -----------------------------------------------------------------------


def test_findings_never_fail_a_correct_model(tmp_path) -> None:
    """DDIM's and beta's off-support slopes make the d-free finding fail (with the d at which
    the KL moves by the resolution); the model passed its checks: exit 0."""
    found, code = _run(f"{HERE}:make_cube", tmp_path / "r", samplers=("beta", "posterior", "ddim"))
    assert code == verify.EXIT["passed"]
    d_free = {v.setting["sampler"]: v for v in found if v.claim_id == "verify.d_free"}
    assert {v.role for v in d_free.values()} == {"finding"}
    assert d_free["posterior"].reason == "free_to_ceiling"  # 3e-27 per coordinate
    assert d_free["ddim"].reason == "moves_before_ceiling"
    assert 1e6 < d_free["ddim"].measured < 1e12  # 1e-2 / (DDIM's slope at T = 100)
    assert d_free["beta"].measured < 1e4
    table = pd.read_csv(tmp_path / "r" / "data" / "verdicts.csv")
    roles = table.groupby("claim_id")["role"].agg(set)
    assert roles["verify.score_first_order"] == {"check"}
    assert roles["verify.sampler_matches_data"] == {"finding"}


def test_a_model_that_raises_in_a_cell_exits_2(tmp_path) -> None:
    found, code = _run(f"{HERE}:make_raises", tmp_path / "r", T_grid=(10,))
    assert code == verify.EXIT["bad_input"]
    text = (tmp_path / "r" / "REPORT.md").read_text()
    assert "the model's code raised" in text and "FloatingPointError" in text


def test_a_fault_of_the_tool_exits_3_and_keeps_the_other_verdicts(tmp_path, monkeypatch) -> None:
    # a callable that raises outside the model's code (this file holds the model, so the
    # stand-in bug must not be a function written here)
    import functools
    import operator

    monkeypatch.setattr(battery, "_geometry", functools.partial(operator.truediv, 1.0, 0.0))
    found, code = _run(f"{HERE}:make_cube", tmp_path / "r", T_grid=(10,),
                       samplers=("posterior",))  # fmt: skip
    assert code == verify.EXIT["tool_fault"]
    by = {v.claim_id: v for v in found}
    assert by["verify.l1_helps"].reason == "cell_failed"
    assert by["verify.score_first_order"].verdict == "holds"
    assert by["verify.off_support_law"].verdict == "holds"
    text = (tmp_path / "r" / "REPORT.md").read_text()
    assert "a fault of the tool" in text and "Traceback" in text


# -- issue 26 classes decided in the battery: power and training draws ----------------------------


def _frames(mmd2, shift_mmd2, floor=(1e-4, 2e-4, 0.0, 1e-4)):
    base = {"model": "m", "d": 8, "sweep_value": "-", "T": 100, "n": 1000}
    samp = pd.DataFrame([{**base, "part": "sampler", "sampler": "posterior", "mmd2": mmd2,
                          "mmd2_se": 1e-4}])  # fmt: skip
    fl = pd.DataFrame([{**base, "part": "floor", "replicate": r, "mmd2": m}
                       for r, m in enumerate(floor)])  # fmt: skip
    power = pd.DataFrame([{**base, "part": "power", "shift": 0.14, "mmd2_shift": shift_mmd2,
                           "mmd2_shift_se": 1e-4}])  # fmt: skip
    return samp, fl, power


def test_an_indistinguishable_verdict_without_power_is_underpowered() -> None:
    """Old rule: an MMD^2 at the floor "holds" whatever the test could see. New: it holds
    only if a shift with KL = resolution would have been seen (its z beyond the band)."""
    from simulate.verify.judging import _sampler_verdicts

    samp, fl, power = _frames(mmd2=1.5e-4, shift_mmd2=2e-4)  # the shift is invisible too
    (v,) = _sampler_verdicts(samp, fl, 0.01, power)
    assert (v.verdict, v.reason) == ("inconclusive", "underpowered")
    samp, fl, power = _frames(mmd2=1.5e-4, shift_mmd2=5e-3)  # the shift stands out
    (v,) = _sampler_verdicts(samp, fl, 0.01, power)
    assert (v.verdict, v.reason) == ("holds", "within_band")
    samp, fl, power = _frames(mmd2=5e-3, shift_mmd2=2e-4)  # a seen difference is seen
    (v,) = _sampler_verdicts(samp, fl, 0.01, power)
    assert (v.verdict, v.reason) == ("fails", "outside_band")


def test_l1_helps_pools_training_draws() -> None:
    """Old rule: one draw, an interval from the evaluation SEs alone (0.5 +- 0.01: "holds").
    New: four paired draws whose ratios spread from 0.2 to 1.6: the t interval straddles 1."""
    from simulate.verify.judging import _estimation_verdicts

    ratios = [0.2, 1.6, 0.3, 1.4]
    est = pd.DataFrame(
        [{"part": "estimation", "model": "m", "d": 32, "estimator": e, "n_train": 250,
          "T": 20, "draw": r, "eps2": (1.0 if e == "ls" else q), "eps2_se": 0.005,
          "method": "mc"}
         for r, q in enumerate(ratios) for e in ("ls", "l1_denoiser")]
    )  # fmt: skip
    geo = pd.DataFrame({"part": "geometry", "d": [32], "s_used": 4, "denoiser_top_share": 0.95})
    (v,) = _estimation_verdicts(est, geo)
    assert (v.verdict, v.reason) == ("inconclusive", "interval_straddles")
    assert v.measured == pytest.approx(np.mean(ratios))
    (old,) = _estimation_verdicts(est[est["draw"] == 0].drop(columns="draw"), geo)
    assert old.verdict == "holds"  # what one draw alone says
