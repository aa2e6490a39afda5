"""Schedules: the Li et al. schedule's stated properties, monotonicity, bad input."""

import math

import numpy as np
import pytest

from simulate import schedules

T_GRID = [10, 20, 50, 100, 200, 500, 1000, 5000]
C_GRID = [(1.0, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 4.0), (1.0, 4.0), (4.0, 8.0), (3.0, 3.5)]
#: beta_t are computed in float64 from a closed form; the lemma's inequality may be met with
#: equality up to rounding of one multiplication (a few ulps).
ULP_RTOL = 1e-14


def _li_or_skip(T, c0, c1):
    if c1 * math.log(T) / T >= 1:
        pytest.skip("c1 log T / T >= 1: schedule undefined (tested in test_li_rejects_...)")
    return schedules.li(T, c0, c1)


@pytest.mark.parametrize("T", T_GRID)
@pytest.mark.parametrize(("c0", "c1"), C_GRID)
def test_li_step_bound(T, c0, c1):
    """Li et al. (2024): 1 - alpha_t <= c1 log T / T for every t >= 2, and beta_1 = T^-c0."""
    sch = _li_or_skip(T, c0, c1)
    h = c1 * math.log(T) / T
    assert np.all(sch.beta[1:] <= h * (1 + ULP_RTOL))
    assert sch.beta[0] == pytest.approx(T ** (-c0), rel=ULP_RTOL)
    # From t = 2 on, non-decreasing: geometric growth, then the cap (beta_2 < beta_1 since h < 1).
    assert np.all(np.diff(sch.beta[1:]) >= 0)


@pytest.mark.parametrize("T", T_GRID)
@pytest.mark.parametrize(("c0", "c1"), C_GRID)
def test_li_alpha_bar_T_size(T, c0, c1):
    """abar_T <= (1 - h)^(T - ceil(tau)), h = c1 log T / T, tau = c0 log T / log(1 + h):
    beta_{t+1} = h exactly when beta_1 (1 + h)^t >= 1, i.e. t >= tau (the capped steps).

    For c1 > c0 and large T this is about T^-(c1 - c0); that form is checked for T >= 100.
    """
    sch = _li_or_skip(T, c0, c1)
    h = c1 * math.log(T) / T
    capped = max(0, T - math.ceil(c0 * math.log(T) / math.log1p(h)))
    assert sch.alpha_bar[-1] <= (1 - h) ** capped * (1 + ULP_RTOL)
    if c1 > c0 and T >= 100:
        assert sch.alpha_bar[-1] <= T ** (-(c1 - c0))


def test_li_equal_constants_do_not_make_alpha_bar_T_small():
    """With c0 = c1 the sum of beta_t tends to 1, so abar_T -> e^-1, not 0 (recorded fact)."""
    values = [schedules.li(T, 4.0, 4.0).alpha_bar[-1] for T in (100, 1000, 100_000)]
    assert values[0] > 0.75
    assert values[1] > 0.45
    assert abs(values[2] - math.exp(-1)) < 0.05


@pytest.mark.parametrize("family", [schedules.linear, schedules.cosine])
@pytest.mark.parametrize("T", [2, 10, 100, 1000, 4000])
def test_other_schedules_monotone(family, T):
    sch = family(T)
    assert sch.T == T
    assert np.all(np.diff(sch.alpha_bar) < 0)
    assert np.all((sch.beta > 0) & (sch.beta < 1))
    assert sch.alpha_bar.dtype == np.float64


def test_linear_rescaling_keeps_alpha_bar_T_close():
    ref = schedules.linear(1000).alpha_bar[-1]
    for T in (100, 250, 2000):
        assert schedules.linear(T).alpha_bar[-1] == pytest.approx(ref, rel=0.6)


def test_schedule_arrays_are_read_only_and_consistent():
    sch = schedules.li(50, 2.0, 4.0)
    with pytest.raises(ValueError, match="read-only"):
        sch.beta[0] = 0.5
    np.testing.assert_array_equal(sch.alpha, 1 - sch.beta)
    np.testing.assert_allclose(sch.alpha_bar, np.cumprod(sch.alpha), rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"T": 1}, "T=1 is out of range"),
        ({"T": 2.5}, "T must be an integer"),
        ({"T": 100, "c0": 0.0}, "c0=0.0 is out of range"),
        ({"T": 100, "c0": float("nan")}, "c0=nan is not finite"),
        ({"T": 100, "c1": -1.0}, "c1=-1.0 is out of range"),
        ({"T": 100, "c1": float("inf")}, "c1=inf is not finite"),
        ({"T": 10, "c1": 8.0}, "c1 log T / T"),
    ],
)
def test_li_rejects_bad_input(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        schedules.li(**kwargs)


def test_other_families_reject_bad_T():
    for family in (schedules.linear, schedules.cosine):
        with pytest.raises(ValueError, match="T=0 is out of range"):
            family(0)


#: abar_T of li(T) with c0 = c1 = 4 as the old default gave it (float64 repr round-trips, so
#: equality below is bit for bit): the paper's setting, now ``li_paper``.
PAPER_ABAR_T = {10: 0.9332268836531029, 50: 0.8763305702419032, 100: 0.8007175613617498}


def test_li_default_is_2_4_and_starts_near_noise():
    """li(T) is li(T, 2, 4): abar_T is about 1e-4 (between 1e-5 and 6e-4) at every T in
    [10, 100], where li_paper's is 0.80-0.93."""
    for T in range(10, 101):
        sch = schedules.li(T)
        assert np.array_equal(sch.beta, schedules.li(T, 2.0, 4.0).beta)
        assert 1e-5 < sch.alpha_bar[-1] < 6e-4, T
    assert (schedules.DEFAULT_C0, schedules.DEFAULT_C1) == (2.0, 4.0)
    assert schedules.li(50).name == "li(T=50, c0=2, c1=4)"


def test_li_paper_gives_the_old_default_bit_for_bit():
    """li_paper(T) = li(T, 4, 4): the old default's numbers, unchanged."""
    for T, abar_T in PAPER_ABAR_T.items():
        sch = schedules.li_paper(T)
        assert sch.alpha_bar[-1] == abar_T
        assert np.array_equal(sch.beta, schedules.li(T, 4.0, 4.0).beta)
        assert sch.name == f"li(T={T}, c0=4, c1=4)"
        assert sch.beta[0] == float(T) ** -4.0
