"""``regdiff verify`` (simulate/verify.py): the battery on a user's model writes its report,
a subtly wrong score stops it with exit code 1, and bad input exits with code 2 writing
nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulate import verify
from simulate.cli import main
from simulate.pipeline.cells import CellCache, SerialExecutor
from simulate.verify.judging import _estimation_verdicts

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_model.py"
#: A small battery: 2 T values, 400 draws (the statistics scale with it; the rules do not).
SMALL = {
    "T_grid": (10, 40),
    "n": 400,
    "score_n": 20_000,
    "floor_replicates": 4,
    "est_n_grid": (250,),
}


def _run(target: str, out: Path, **changes):
    config = verify.with_target(verify.Config(**SMALL), target, **changes)
    return verify.run_battery(
        config, out, SerialExecutor(), CellCache(None), command="test", threads=2
    )


def test_battery_on_the_example_with_a_sweep(tmp_path) -> None:
    found, code = _run(f"{EXAMPLE}:make_model", tmp_path / "r", sweep_key="d", sweep_values=(6, 12))
    assert code == 0
    by_claim = {}
    for v in found:
        by_claim.setdefault(v.claim_id, []).append(v)
    assert [v.verdict for v in by_claim["verify.score_first_order"]] == ["holds"]
    assert all(v.verdict == "holds" for v in by_claim["verify.off_support_law"])
    # no difference seen; at n = 400 a KL-0.01 shift is not visible either: underpowered
    assert {(v.verdict, v.reason) for v in by_claim["verify.sampler_matches_data"]} <= {
        ("holds", "within_band"), ("inconclusive", "underpowered")
    }
    # the cube's denoiser is 3-sparse (premise of verify.l1_helps true): judged, not skipped
    (l1_helps,) = by_claim["verify.l1_helps"]
    assert l1_helps.verdict != "not applicable" and l1_helps.setting["d"] == 12
    d_free = {v.setting["sampler"]: v for v in by_claim["verify.d_free"]}
    assert d_free["posterior"].verdict == "holds" and d_free["beta"].verdict == "fails"
    out = tmp_path / "r"
    assert (out / "REPORT.md").read_text().startswith("# regdiff verify report")
    assert (out / "verify.png").stat().st_size > 0
    sampler = pd.read_csv(out / "data" / "sampler.csv")
    assert set(sampler["d"]) == {6, 12} and set(sampler["T"]) == {10, 40}
    assert not list(tmp_path.glob(".staging-*"))


class WrongScore:
    """The example's cube with its score scaled by 1.05 on the first coordinate."""

    def __init__(self):
        import importlib.util

        spec = importlib.util.spec_from_file_location("my_model_for_wrong", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.inner = module.make_model(6, 2)
        self.d = 6

    def sample(self, n, seed=0):
        return self.inner.sample(n, seed)

    def score(self, x, alpha_bar):
        from simulate.models import as_model

        s = as_model(self.inner).score(x, alpha_bar)
        s[:, 0] *= 1.05
        return s


def make_wrong():
    return WrongScore()


def make_broken(d: int = 3):
    raise RuntimeError("the factory is broken on purpose")


class NoSample:
    d = 3

    def score(self, x, alpha_bar):
        return -x


class BadShape:
    d = 3

    def sample(self, n, seed=0):
        return np.zeros((n, 3))

    def score(self, x, alpha_bar):
        return -x[:, :2]


NOT_CALLABLE = 3


def test_a_subtly_wrong_score_stops_the_battery(tmp_path) -> None:
    found, code = _run(f"{Path(__file__)}:make_wrong", tmp_path / "r", score_n=100_000)
    assert code == 1
    first = [v for v in found if v.claim_id == "verify.score_first_order"]
    assert first and first[0].verdict == "fails"
    assert not any(v.claim_id == "verify.sampler_matches_data" for v in found)
    text = (tmp_path / "r" / "REPORT.md").read_text()
    assert "stopped after the score checks" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope_module:f"], "module 'nope_module' not found"),
        ([f"{EXAMPLE}:nope"], "has no attribute 'nope'"),
        ([f"{EXAMPLE}"], "must be MODULE:FACTORY"),
        ([f"{__file__}:NOT_CALLABLE"], "is not callable"),
        ([f"{__file__}:make_broken"], "the factory is broken on purpose"),
        ([f"{__file__}:NoSample"], "lacks them (required: d, sample"),
        ([f"{__file__}:BadShape"], "BadShape.score returned shape (64, 2)"),
        ([f"{EXAMPLE}:make_model", "--set", "q=3"], "no parameter 'q'; parameters: d, k"),
        ([f"{EXAMPLE}:make_model", "--sweep", "z=1,2"], "no parameter 'z'; parameters: d, k"),
        ([f"{EXAMPLE}:make_model", "--set", "d=0"], "d=0 is out of range"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "report"
    code = main(["verify", *args, "--out", str(out), "--no-cache"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".staging-*"))


def test_l1_helps_needs_a_sparse_denoiser() -> None:
    """The premise comes from the battery's own geometry cells: dense -> not applicable."""
    est = pd.DataFrame(
        {
            "part": "estimation", "model": "m", "d": 32, "estimator": ["ls", "l1_denoiser"],
            "n_train": 250, "T": 20, "eps2": [2.0, 1.0], "eps2_se": [0.01, 0.01],
            "method": "mc",
        }
    )  # fmt: skip
    geo = pd.DataFrame({"part": "geometry", "d": [32, 32], "s_used": 4,
                        "denoiser_top_share": [0.95, 0.99]})  # fmt: skip
    (v,) = _estimation_verdicts(est, geo)
    assert (v.verdict, v.reason) == ("holds", "interval_on_claimed_side")
    assert v.measured == pytest.approx(0.5)
    dense = geo.assign(denoiser_top_share=[0.3, 0.99])
    (v,) = _estimation_verdicts(est, dense)
    assert (v.verdict, v.reason) == ("not applicable", "premise_false")


def make_box(d: int = 6):
    from simulate import models

    return models.Box(d, 2)


def test_product_models_get_exact_block_laws(tmp_path) -> None:
    """A box is a product of 1-D laws: the grid oracle gives its exact KL at t0, which at
    fixed s is the same at every d for the posterior sampler and grows with d for beta."""
    found, code = _run(
        f"{Path(__file__)}:make_box", tmp_path / "r", sweep_key="d", sweep_values=(4, 12),
        samplers=("beta", "posterior"), T_grid=(30,),
    )  # fmt: skip
    assert code == 0
    block = [v for v in found if v.claim_id == "verify.block_law"]
    assert [v.verdict for v in block] == ["holds", "holds"]
    orc = pd.read_csv(tmp_path / "r" / "data" / "oracle.csv").set_index(["sampler", "d"])
    post = orc.loc[("posterior", 4), "kl_oracle"], orc.loc[("posterior", 12), "kl_oracle"]
    beta = orc.loc[("beta", 4), "kl_oracle"], orc.loc[("beta", 12), "kl_oracle"]
    assert post[1] == pytest.approx(post[0], rel=1e-6)  # pure-noise coordinates add ~nothing
    assert beta[1] > beta[0] * 1.5  # each added coordinate adds beta's off-support term
