"""simulate.pipeline's cache cannot lie (issue 32, item 2).

A cell file holds its rows bit for bit in a format that runs no code on load; any damage to
it (a changed byte, a folder in its place, a valid file of the wrong shape, a pickle of the
old format) makes the cell be recomputed with a warning naming the file, never a row that
differs from the computed one. A failed write is a failed cell, not a failed run; a run's
start-up cleanup removes only what dead processes left.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulate.pipeline import cellfile, files
from simulate.pipeline import cells as pc
from tests import sleepy_experiment as sleepy

ROOT = Path(__file__).resolve().parents[1]
CONFIG = sleepy.Config(cells=4, rows=3)
#: One-byte mutations tried on a cell file: every one must be detected.
MUTATIONS = 2000


def _run(cache: pc.CellCache) -> list[pc.CellOutcome]:
    return pc.run_tasks(pc.tasks_for(sleepy, CONFIG), pc.SerialExecutor(), cache)


def _same_bits(a: object, b: object) -> bool:
    """Equal values of equal types, floats compared by their bits (nan, -0.0 included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()  # type: ignore[union-attr]
    if isinstance(a, (float, np.generic)):
        return np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if isinstance(a, complex):
        return _same_bits(a.real, b.real) and _same_bits(a.imag, b.imag)  # type: ignore[union-attr]
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same_bits, a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_bits(a[k], b[k]) for k in a)  # type: ignore[index]
    return a == b


def test_every_supported_value_round_trips_bit_for_bit() -> None:
    """float.hex and raw NumPy bytes: nan, -0.0, subnormals, float32, ints beyond 2^63,
    arrays, nested containers all come back with their type and bits; column order too."""
    row = {
        "z_first": 1,
        "float": 0.1,
        "nan": float("nan"),
        "neg_zero": -0.0,
        "inf": float("-inf"),
        "subnormal": 5e-324,
        "big_int": 2**80,
        "complex": complex(1.5, -0.25),
        "f64": np.float64(1 / 3),
        "f32": np.float32(1 / 3),
        "i8": np.int8(-5),
        "u64": np.uint64(2**64 - 1),
        "np_bool": np.bool_(False),
        "bool": True,
        "none": None,
        "text": "s = 5, d = 167",
        "array": np.linspace(0.0, 1.0, 7).reshape(7, 1),
        "int_array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "nested": {"a": (1, [2.5, None])},
    }
    data = cellfile.write([row, {}], "exp", "k" * 24)
    back = cellfile.read(data, "exp", "k" * 24)
    assert len(back) == 2 and back[1] == {}
    assert list(back[0]) == list(row)
    for column, value in row.items():
        assert _same_bits(value, back[0][column]), column
    # The format runs no code: the bytes are ASCII JSON.
    assert data.decode("ascii").splitlines()[0].startswith('{"format":"regdiff-cell-v1"')


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (Fraction(1, 3), "fractions.Fraction"),
        (np.array([object()], dtype=object), "dtype object"),
        (pd.Timestamp("2026-01-01"), "Timestamp"),
        ({1: 2.0}, "dict key 1"),
        (object(), "builtins.object"),
    ],
)
def test_a_value_the_format_cannot_hold_is_refused_naming_its_column(value, kind) -> None:
    with pytest.raises(cellfile.CellFormatError, match=r"row 0 column 'bad'.*") as info:
        cellfile.write([{"ok": 1.0, "bad": value}], "exp", "key")
    assert kind in str(info.value)


def test_a_row_that_cannot_be_stored_is_a_failed_cell_not_a_failed_run(tmp_path, monkeypatch):
    original = sleepy.run_cell

    def with_fraction(config, cell):
        rows = original(config, cell)
        if cell[1] == 1:
            rows[0]["ratio"] = Fraction(1, 3)
        return rows

    monkeypatch.setattr(sleepy, "run_cell", with_fraction)
    outcomes = _run(pc.CellCache(tmp_path))
    errors = [o.error for o in outcomes]
    assert errors[0] is None and errors[2] is None and errors[3] is None
    assert errors[1] is not None and "cache write failed" in errors[1]
    assert "column 'ratio'" in errors[1] and "Fraction" in errors[1]


def test_every_one_byte_mutation_of_a_cell_file_is_detected(tmp_path: Path) -> None:
    """MUTATIONS random (position, new byte) changes of a real cell file: each one is
    refused by ``cellfile.read`` (issue 32: 950 of 2000 loaded as different rows)."""
    cache = pc.CellCache(tmp_path)
    _run(cache)
    task = pc.tasks_for(sleepy, CONFIG)[0]
    data = cache.path(task).read_bytes()
    assert cellfile.read(data, task.experiment, task.key)  # the intact file loads
    rng = np.random.default_rng(20261207)
    detected = 0
    for position, shift in zip(
        rng.integers(0, len(data), MUTATIONS), rng.integers(1, 256, MUTATIONS), strict=True
    ):
        changed = bytearray(data)
        changed[position] = (changed[position] + shift) % 256
        try:
            cellfile.read(bytes(changed), task.experiment, task.key)
        except cellfile.CellFormatError:
            detected += 1
    print(f"{detected} of {MUTATIONS} one-byte mutations detected ({len(data)}-byte file)")
    assert detected == MUTATIONS
    # Truncated or extended by one byte: refused too.
    for broken in (data[:-1], data + b" ", data + b"\n"):
        with pytest.raises(cellfile.CellFormatError):
            cellfile.read(broken, task.experiment, task.key)
    # A good file under another key (a copied file) is refused.
    other = pc.tasks_for(sleepy, CONFIG)[1]
    with pytest.raises(cellfile.CellFormatError, match="header"):
        cellfile.read(data, other.experiment, other.key)


def _crafted(task: pc.Task, payload: bytes) -> bytes:
    """A file with a valid header and checksum around ``payload`` (a wrong-type attack)."""
    digest = hashlib.sha256(payload).hexdigest()
    head = (
        f'{{"format":"{cellfile.FORMAT}","experiment":"{task.experiment}",'
        f'"key":"{task.key}","sha256":"{digest}"}}'
    )
    return head.encode() + b"\n" + payload


@pytest.mark.parametrize(
    "payload",
    [
        b"42",
        b'{"value":1}',
        b"[42]",
        b'[{"x":1.5}]',
        b'[{"x":NaN}]',
        b'[{"x":{"$f":"zz"}}]',
        b'[{"x":{"$f":3}}]',
        b'[{"x":{"$np":["<zz","00"]}}]',
        b'[{"x":{"$np":["|O8","0000000000000000"]}}]',
        b'[{"x":{"$np":["<f8","00"]}}]',
        b'[{"x":{"$nd":["<f8",[99999999999,99999999999],""]}}]',
        b'[{"x":{"$nd":["<f8",[-1],""]}}]',
        b'[{"x":{"$pickle":"80"}}]',
        b'[{"x":{"$f":"0x1p+0","$c":1}}]',
        b'[{"x":{"$dict":[[1,2]]}}]',
        b'[{"x":' + b'{"$list":[' * 5000 + b"]}" * 5000 + b"}]",
        b'[{"x":{"$f":"0x1.0p+0"}}]',  # not canonical (float.hex writes 0x1.0000000000000p+0)
        b'[{"x":1, "y":2}]',  # not canonical (a space)
        '[{"x":"\u00e9"}]'.encode("utf-8"),  # not ASCII (JSON would escape it)
    ],
)
def test_a_crafted_file_with_a_valid_checksum_is_refused(payload: bytes) -> None:
    """Valid header and checksum around hostile or non-canonical content: refused with
    ``CellFormatError`` (never another exception, never rows)."""
    task = pc.tasks_for(sleepy, CONFIG)[0]
    with pytest.raises(cellfile.CellFormatError):
        cellfile.read(_crafted(task, payload), task.experiment, task.key)


def test_damaged_cells_are_recomputed_with_a_warning_naming_the_file(tmp_path, caplog) -> None:
    """A changed float (16 ulp), a folder in place of the file, a valid file of the wrong
    type, a bare JSON float, garbage: each cell is recomputed, its rows equal the first
    run's, and the warning names the file."""
    cache = pc.CellCache(tmp_path)
    first, _ = pc.assemble(_run(cache))
    tasks = pc.tasks_for(sleepy, CONFIG)
    paths = [cache.path(t) for t in tasks]
    # 16 ulp in one float, the checksum left as it was.
    text = paths[0].read_text()
    value = float(first["value"][0])
    assert value.hex() in text
    paths[0].write_text(text.replace(value.hex(), np.nextafter(value, 2, dtype=float).hex(), 1))
    paths[1].unlink()
    paths[1].mkdir()
    (paths[1] / "inside").write_text("x")
    paths[2].write_bytes(_crafted(tasks[2], b"42"))
    paths[3].write_bytes(_crafted(tasks[3], b'[{"value":1.5}]'))
    with caplog.at_level(logging.WARNING, logger="regdiff.cache"):
        again = _run(cache)
    assert [o.reused for o in again] == [False] * 4 and all(o.error is None for o in again)
    for path in paths:
        assert sum(str(path) in r.getMessage() for r in caplog.records) == 1, path
    second, _ = pc.assemble(again)
    cols = pc.value_columns(first)
    pd.testing.assert_frame_equal(first[cols], second[cols], check_exact=True)
    # Recomputed cells were stored again, intact.
    assert all(o.reused for o in _run(cache))


def test_a_crafted_pickle_of_the_old_format_is_never_loaded(tmp_path: Path) -> None:
    """The old ``.pkl`` cell is removed at start-up, not unpickled (unpickling runs code)."""
    cache = pc.CellCache(tmp_path)
    task = pc.tasks_for(sleepy, CONFIG)[0]
    old = cache.path(task).with_name(f"{task.key}.pkl")
    old.parent.mkdir(parents=True)
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    old.write_bytes(pickle.dumps(Payload()))
    outcomes = _run(cache)
    assert not marker.exists() and not old.exists()
    assert all(o.error is None and not o.reused for o in outcomes)


def test_a_full_disk_records_the_cell_as_failed_and_the_run_goes_on(tmp_path, monkeypatch):
    """The write of one cell raises ENOSPC half-way: that cell is failed (its error names
    the file), its temporary file is gone, the other cells are stored; the next run
    computes only that cell."""
    real = files.write_new
    calls = []

    def full_disk(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            path.write_bytes(data[:10])  # half written, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(files, "write_new", full_disk)
    cache = pc.CellCache(tmp_path)
    outcomes = _run(cache)
    failed = [o for o in outcomes if o.error is not None]
    assert len(failed) == 1 and failed[0].task.index == 1
    assert str(cache.path(failed[0].task)) in failed[0].error
    assert "No space left on device" in failed[0].error
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.setattr(files, "write_new", real)
    again = _run(cache)
    assert [o.reused for o in again] == [True, False, True, True]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_start_up_removes_only_what_dead_or_day_old_runs_left(tmp_path: Path) -> None:
    """Temporary files of a live process stay (issue 32: a run deleted another live run's
    files); a dead process's, and any older than a day, go; finished cells stay."""
    cache = pc.CellCache(tmp_path)
    _run(cache)
    folder = cache.path(pc.tasks_for(sleepy, CONFIG)[0]).parent
    host = files.owned_name(".x").split(".")[2]
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "mine": files.owned_name(".a", ".tmp"),
            "live": f".b.{host}.{live.pid}.0123abcd.tmp",
            "dead": f".c.{host}.{_dead_pid()}.0123abcd.tmp",
            "other_host": f".d.ffffffff.{_dead_pid()}.0123abcd.tmp",
            "old_style_fresh": ".e-x1y2.tmp",
            "old_style_old": ".f-x1y2.tmp",
        }
        for name in names.values():
            (folder / name).write_text("partial")
        day_ago = time.time() - files.STALE_AGE_SECONDS - 60
        os.utime(folder / names["old_style_old"], (day_ago, day_ago))
        cells_before = sorted(folder.glob("*.cell.json"))
        assert cache.remove_stale() == 2
        left = {p.name for p in folder.glob(".*.tmp")}
        gone = {names["dead"], names["old_style_old"]}
        assert left == set(names.values()) - gone
        assert sorted(folder.glob("*.cell.json")) == cells_before
    finally:
        live.kill()
        live.wait()


@pytest.mark.slow
def test_two_real_runs_on_one_cache_at_once_agree(tmp_path: Path) -> None:
    """Two ``regdiff figures`` processes on the same cache folder, started together (each
    computes the same cells, writing and renaming concurrently): both succeed, with
    identical tables, and no temporary file is left."""
    env = {**os.environ, "MPLBACKEND": "Agg", "REGDIFF_TEST_SLEEPY_DIR": str(tmp_path),
           "REGDIFF_TEST_SLEEPY_SECONDS": "0.3"}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.regdiff_with_sleepy", "figures", "--preset", "full",
             "--only", "sleepy", "--jobs", "1", "--no-theory-tests",
             "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / f"out{i}")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "FileNotFoundError" not in "".join(outputs)
    # Both processes ran cells (the runs overlapped rather than one reusing the other's).
    pids = {name.name.split("-")[0] for name in tmp_path.glob("*-*") if name.is_file()}
    assert len(pids) == 2
    a, b = (pd.read_csv(tmp_path / f"out{i}" / "data" / "sleepy.csv") for i in range(2))
    cols = pc.value_columns(a)
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    assert len(a) == sleepy.Config.full().cells * sleepy.Config.full().rows
    assert not list((tmp_path / "cache").rglob("*.tmp"))


@pytest.mark.slow
@pytest.mark.release  # ~2.5 min; CI runs the same race on the test experiment above
def test_two_real_runs_of_a_real_experiment_on_one_cache_agree(tmp_path: Path) -> None:
    """The same with ``regdiff figures --preset quick --only r_guidance`` (the smallest real
    experiment): two processes on one cache folder at once, both exit 0 with identical
    tables, equal to a run without the cache."""
    env = {**os.environ, "MPLBACKEND": "Agg"}

    def command(out: str, *extra: str) -> list[str]:
        return [sys.executable, "-m", "simulate.cli", "figures", "--preset", "quick",
                "--only", "r_guidance", "--jobs", "1", "--no-theory-tests",
                "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / out), *extra]  # fmt: skip

    procs = [
        subprocess.Popen(command(f"out{i}"), cwd=ROOT, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    subprocess.run(command("plain", "--no-cache"), cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=900)  # fmt: skip
    tables = [pd.read_csv(tmp_path / out / "data" / "r_guidance.csv")
              for out in ("out0", "out1", "plain")]  # fmt: skip
    cols = pc.value_columns(tables[0])
    for other in tables[1:]:
        pd.testing.assert_frame_equal(tables[0][cols], other[cols], check_exact=True)
    assert not list((tmp_path / "cache").rglob("*.tmp"))
