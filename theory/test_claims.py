"""The claims registry is well formed and every test it names exists (theory/claims.py)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from simulate.judge import KINDS
from theory import claims
from theory.bounds import predicted_exponents

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = (
    "disc.posterior_ddim_d_free",
    "disc.beta_linear_in_d",
    "disc.T_decay",
    "sparsity.score_dense",
    "sparsity.denoiser_sparse",
    "sparsity.rotation",
    "estim.lasso_rate",
    "estim.ls_rate",
    "paper.theorem1",
)


def test_registry_well_formed() -> None:
    ids = [c.id for c in claims.CLAIMS]
    assert len(ids) == len(set(ids))
    for c in claims.CLAIMS:
        assert c.status in claims.STATUSES, c.id
        assert c.statement and c.source and c.prediction, c.id
        # Decided by the tests it names, or by its experiment (then the tests it names, if
        # any, check the theory behind it; the experiment's verdict decides it).
        assert c.tests or c.experiment, c.id
        assert c.kind in KINDS, c.id
        assert c.predicted_number is None or math.isfinite(c.predicted_number), c.id
        if c.status == "open":
            assert c.experiment, c.id
        else:
            assert c.experiment is None, c.id
        assert all(ch.isascii() for ch in c.statement + c.prediction + c.source), c.id


def test_required_ids() -> None:
    for cid in REQUIRED:
        assert claims.get(cid).id == cid


def test_get_unknown_raises() -> None:
    with pytest.raises(KeyError, match="unknown claim id"):
        claims.get("no.such.claim")


def test_test_ids_resolve() -> None:
    defined: dict[str, set[str]] = {}
    for c in claims.CLAIMS:
        for node in c.tests:
            path, _, func = node.partition("::")
            if path not in defined:
                tree = ast.parse((ROOT / path).read_text())
                defined[path] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert func in defined[path], node


def test_measured_predictions_are_read_from_bounds() -> None:
    """Every number theory.bounds derives is read from it (FromBounds), not typed again."""
    exps = predicted_exponents()
    read = {
        "disc.posterior_ddim_d_free": "disc.posterior_ddim_d_free",
        "disc.beta_linear_in_d": "disc.beta_linear_in_d",
        "disc.T_decay": "disc.T_decay",
        "disc.T_decay_disc": "disc.T_decay",
        "paper.theorem1": "paper.theorem1.s",
        "estim.lasso_rate": "estim.lasso_rate.s",
        "estim.ls_rate": "estim.ls_rate.d",
        "bounds.efficiency_ratio": "efficiency.d",
    }
    for cid, key in read.items():
        c = claims.get(cid)
        assert c.predicted_value == claims.FromBounds(key), cid
        assert c.predicted_number == exps[key], cid
