"""The counter-based normal generator: known answers, the NumPy twin, the transform's accuracy,
the distribution (moments, Kolmogorov-Smirnov on 1e7 draws, tails) and independence."""

import math

import mpmath
import numpy as np
import pytest
from scipy import stats

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
#: The polynomial Box-Muller against NumPy's libm on the same uniforms: a few ulp of the radius
#: (measured: 3.8e-15 absolute, 9e-16 of the radius, on 4e6 pairs).
NORMAL_ATOL = 1e-14
RADIUS_RTOL = 4e-15
#: Against 40-digit mpmath at the edge words (measured 1.3e-15).
MPMATH_ATOL = 4e-15
#: The largest |Z| the 32-bit uniforms allow: sqrt(-2 ln(2^-33)).
MAX_ABS_NORMAL = math.sqrt(66.0 * math.log(2.0))
#: Monte Carlo bands, in standard errors.
BAND = 4.0
#: Level of the Kolmogorov-Smirnov test (a fixed seed; it fails with probability 1e-4 for an
#: exact normal).
KS_LEVEL = 1e-4
#: Words at the ends of the range and of each quadrant of the angle.
_EDGES = (0, 1, 2, 3, 2**30 - 1, 2**30, 2**31 - 1, 2**31, 3 * 2**30 - 1, 3 * 2**30)
EDGE_WORDS = np.array([*_EDGES, 2**32 - 2, 2**32 - 1], dtype=np.uint64)


@pytest.mark.parametrize(("counter", "key", "expected"), PHILOX_KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in _kernels._philox_words(*counter, *key)) == expected
    twin = reference.philox4x32_10(np.array(counter, np.uint64), np.array(key, np.uint64))
    assert tuple(int(w) for w in twin) == expected


@pytest.mark.parametrize("seed", [0, 1, 2**40 + 17, 2**64 - 1])
@pytest.mark.parametrize("d", [1, 2, 3, 4, 7, 13])
def test_normals_match_twin(seed, d):
    out = np.empty((5, d))
    _kernels._fill_normals(np.uint64(seed), 2**33 - 2, 3, 0, out)  # sample indices cross 2^32
    twin = reference.normals(seed, np.arange(2**33 - 2, 2**33 + 3), 3, d)
    np.testing.assert_allclose(out, twin, rtol=0, atol=NORMAL_ATOL)


def test_a_coordinates_normal_does_not_depend_on_the_row_length():
    long, short = np.empty((3, 17)), np.empty((3, 6))
    _kernels._fill_normals(9, 4, 2, 0, long)
    _kernels._fill_normals(9, 4, 2, 0, short)
    assert np.array_equal(long[:, :6], short)


def _words_and_libm(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2**32, (n, 2), dtype=np.uint64)
    edges = np.array(np.meshgrid(EDGE_WORDS, EDGE_WORDS)).reshape(2, -1).T
    w = np.concatenate([edges, w])
    out = np.empty((len(w), 2))
    _kernels._box_muller_words(w[:, 0].copy(), w[:, 1].copy(), out)
    return w, out


def test_transform_matches_libm_to_a_few_ulp_of_the_radius():
    w, out = _words_and_libm(1_000_000)
    u = (w.astype(np.float64) + 0.5) * 2.0**-32
    r = np.sqrt(-2.0 * np.log(u[:, 0]))
    ref = np.stack([r * np.cos(2 * np.pi * u[:, 1]), r * np.sin(2 * np.pi * u[:, 1])], axis=1)
    err = np.abs(out - ref)
    assert err.max() <= NORMAL_ATOL
    assert np.max(err / r[:, None]) <= RADIUS_RTOL
    assert np.abs(out).max() <= MAX_ABS_NORMAL
    # the extreme radius is reached at the word 0
    assert np.max(np.hypot(out[:, 0], out[:, 1])) == pytest.approx(MAX_ABS_NORMAL, rel=1e-14)


def test_transform_matches_high_precision_at_the_edge_words():
    w, out = _words_and_libm(0)
    mpmath.mp.dps = 40
    for k in range(len(w)):
        u1 = (mpmath.mpf(int(w[k, 0])) + mpmath.mpf("0.5")) / 2**32
        u2 = (mpmath.mpf(int(w[k, 1])) + mpmath.mpf("0.5")) / 2**32
        r, a = mpmath.sqrt(-2 * mpmath.log(u1)), 2 * mpmath.pi * u2
        for j, exact in enumerate((r * mpmath.cos(a), r * mpmath.sin(a))):
            assert abs(float(exact - mpmath.mpf(float(out[k, j])))) <= MPMATH_ATOL, (w[k], j)


def test_parallel_and_serial_fill_agree_bitwise():
    a = np.empty((301, 13))
    b = np.empty((301, 13))
    _kernels._fill_normals(5, 10, 4, 0, a)
    _kernels._fill_normals_serial(5, 10, 4, 0, b)
    assert np.array_equal(a, b)


def test_distribution_of_1e7_draws():
    """Moments within BAND SE, Kolmogorov-Smirnov at KS_LEVEL, and the tail counts beyond 3,
    4, 5 and 6 sigma within BAND Poisson SE of their exact expectation."""
    z = np.empty((2_500_000, 4))
    _kernels._fill_normals(11, 0, 1, 0, z)
    zz = z.ravel()
    m = zz.size
    assert abs(zz.mean()) < BAND / np.sqrt(m)
    assert abs(zz.var() - 1.0) < BAND * np.sqrt(2.0 / m)
    assert abs(np.mean(zz**3)) < BAND * np.sqrt(15.0 / m)
    assert abs(np.mean(zz**4) - 3.0) < BAND * np.sqrt(96.0 / m)  # Var(Z^4) = 105 - 9
    assert stats.kstest(zz, "norm").pvalue > KS_LEVEL
    for k in (3.0, 4.0, 5.0, 6.0):
        expected = m * 2.0 * stats.norm.sf(k)
        count = int(np.sum(np.abs(zz) > k))
        assert abs(count - expected) <= BAND * math.sqrt(expected) + 1.0, (k, count, expected)


def test_neighbouring_counters_are_independent():
    """Correlations of Z and Z^2 between coordinates of one word pair, of one Philox call,
    of neighbouring calls, and between neighbouring steps and samples: within BAND SE."""
    n, d = 400_000, 8
    z = np.empty((n, d))
    _kernels._fill_normals(11, 0, 1, 0, z)
    z_step = np.empty((n, d))
    _kernels._fill_normals(11, 0, 2, 0, z_step)
    pairs = [
        (z[:, 0], z[:, 1]),  # one Box-Muller pair
        (z[:, 0], z[:, 2]),  # one Philox call, the other pair
        (z[:, 3], z[:, 4]),  # neighbouring calls
        (z[:, 0], z_step[:, 0]),  # neighbouring steps
        (z[:-1, 0], z[1:, 0]),  # neighbouring samples
    ]
    for a, b in pairs:
        assert abs(np.mean(a * b)) < BAND / np.sqrt(a.size)
        # Var(Z^2) = 2, so the product of centred squares has variance 4
        assert abs(np.mean((a * a - 1.0) * (b * b - 1.0))) < BAND * 2.0 / np.sqrt(a.size)


def test_noise_depends_on_every_coordinate_of_the_counter():
    base = np.empty((1, 4))
    _kernels._fill_normals(3, 7, 2, 0, base)
    for args in ((4, 7, 2, 0), (3, 8, 2, 0), (3, 7, 5, 0), (3, 7, 2, 1)):
        other = np.empty((1, 4))
        _kernels._fill_normals(*args, other)
        assert not np.any(other == base)
