"""The counter-based normal generator: known answers, the NumPy twin, moments."""

import numpy as np
import pytest

from simulate import _kernels
from tests import reference

#: Known-answer vectors of Philox4x32-10 from Random123's kat_vectors file:
#: (counter words, key words) -> output words.
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]
#: Box-Muller through libm (numba) and through NumPy's vectorized log/cos/sin may differ in
#: the last ulps; 1e-13 relative leaves room for ~100 ulp on values up to ~8.
NORMAL_RTOL = 1e-13
#: Monte Carlo bands, in standard errors.
BAND = 4.0


@pytest.mark.parametrize(("counter", "key", "expected"), PHILOX_KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in _kernels._philox_words(*counter, *key)) == expected
    twin = reference.philox4x32_10(np.array(counter, np.uint64), np.array(key, np.uint64))
    assert tuple(int(w) for w in twin) == expected


@pytest.mark.parametrize("seed", [0, 1, 2**40 + 17, 2**64 - 1])
@pytest.mark.parametrize("d", [1, 2, 7])
def test_normals_match_twin(seed, d):
    out = np.empty((5, d))
    _kernels._fill_normals(np.uint64(seed), 2**33 - 2, 3, 0, out)  # sample indices cross 2^32
    twin = reference.normals(seed, np.arange(2**33 - 2, 2**33 + 3), 3, d)
    np.testing.assert_allclose(out, twin, rtol=NORMAL_RTOL, atol=0)


def test_parallel_and_serial_fill_agree_bitwise():
    a = np.empty((301, 13))
    b = np.empty((301, 13))
    _kernels._fill_normals(5, 10, 4, 0, a)
    _kernels._fill_normals_serial(5, 10, 4, 0, b)
    assert np.array_equal(a, b)


def test_normal_moments_and_independence():
    n, d = 200_000, 4
    z = np.empty((n, d))
    _kernels._fill_normals(11, 0, 1, 0, z)
    zz = z.ravel()
    m = zz.size
    assert abs(zz.mean()) < BAND / np.sqrt(m)
    assert abs(zz.var() - 1.0) < BAND * np.sqrt(2.0 / m)
    assert abs(np.mean(zz**4) - 3.0) < BAND * np.sqrt(96.0 / m)  # Var(Z^4) = 105 - 9
    # Neighbouring coordinates (same Philox call) and neighbouring steps are uncorrelated.
    z2 = np.empty((n, d))
    _kernels._fill_normals(11, 0, 2, 0, z2)
    for corr in (np.mean(z[:, 0] * z[:, 1]), np.mean(z[:, 0] * z2[:, 0])):
        assert abs(corr) < BAND / np.sqrt(n)


def test_noise_depends_on_every_coordinate_of_the_counter():
    base = np.empty((1, 4))
    _kernels._fill_normals(3, 7, 2, 0, base)
    for args in ((4, 7, 2, 0), (3, 8, 2, 0), (3, 7, 5, 0), (3, 7, 2, 1)):
        other = np.empty((1, 4))
        _kernels._fill_normals(*args, other)
        assert not np.any(other == base)
