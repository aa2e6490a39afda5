"""simulate.experiments._common: running cells and stamping provenance."""

from __future__ import annotations

from simulate.experiments._common import code_version, run_cells


def _cell(config: dict, cell: tuple) -> dict | list[dict]:
    (i,) = cell
    row = {"i": i, "scale": config["scale"] * i}
    return row if i % 2 else [row, {**row, "twice": True}]


def test_run_cells_keeps_order_flattens_and_stamps_provenance(capsys) -> None:
    config = {"scale": 3}
    quiet = run_cells("demo", config, [(1,), (2,), (3,)], _cell)
    assert list(quiet["i"]) == [1, 2, 2, 3]
    assert list(quiet["scale"]) == [3, 6, 6, 9]
    assert set(quiet["code_version"]) == {code_version()}
    for col in ("numba_threads", "numpy_version", "numba_version"):
        assert col in quiet
    loud = run_cells("demo", config, [(1,), (2,), (3,)], _cell, progress=True, unit="x")
    assert loud.equals(quiet)
    assert "demo" in capsys.readouterr().err
