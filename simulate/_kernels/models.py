"""Score kernels of the built-in data models (SCIENCE.md section 4).

Signature of every score kernel: ``score(x, t, alpha_bar_t, v_t, params, out)`` for one row
``x`` (d,); models ignore the step index ``t``. The public models in ``simulate.models``
wrap them; their NumPy/SciPy/mpmath twins are in ``tests/reference.py``.

Notation (code -> SCIENCE.md 4):

=============================  ===========================================================
``a``, ``v``                   a = sqrt(abar_t), v = 1 - abar_t
``_score_subspace_gaussian``   4.1, Gaussian on a subspace
``_score_lowrank_mixture``     4.2, mixtures (full rank r = d, low rank, points r = 0)
``_score_spike_slab``          4.3, spike-and-slab, coordinatewise
``_score_random_support``      4.4, exactly s non-zeros: e_j(r) ratios in a scaled domain
``_score_sphere_product``      4.5, spheres and flat tori (Bessel ratio A_nu = I_nu/I_{nu-1})
``_score_box``                 4.6, uniform box (normal CDF differences)
``rotated_score_kernel``       4 (last paragraph), Q score(Q^T x)
=============================  ===========================================================
"""

from __future__ import annotations

import math

import numpy as np

from simulate._kernels.config import jit


@jit
def _score_subspace_gaussian(x, t, alpha_bar_t, v_t, params, out):
    """Score of x_0 = V w, w ~ N(nu, diag(lam)), V (d, k) orthonormal (SCIENCE.md 4.1).

    With u = V^T x and D = diag(1 / (a^2 lam + v)):
        score(x) = -(x - V u) / v - V D (u - a nu).
    ``params = (rows, v_rows, lam, nu)``: ``rows`` (m,) int64 lists the coordinates where
    V has non-zero rows, ``v_rows`` (m, k) holds them. Off those rows score = -x / v. The
    residual x - V u is formed first so that aligned data (V rows = identity) give an exact
    zero there, not a difference of two large numbers.
    """
    rows, v_rows, lam, nu = params
    a = math.sqrt(alpha_bar_t)
    v = v_t
    d = x.shape[0]
    m, k = v_rows.shape
    for j in range(d):
        out[j] = -x[j] / v
    u = np.zeros(k)
    for r in range(m):
        xr = x[rows[r]]
        for c in range(k):
            u[c] += v_rows[r, c] * xr
    w = np.empty(k)
    for c in range(k):
        w[c] = (u[c] - a * nu[c]) / (a * a * lam[c] + v)
    for r in range(m):
        proj = 0.0
        corr = 0.0
        for c in range(k):
            proj += v_rows[r, c] * u[c]
            corr += v_rows[r, c] * w[c]
        out[rows[r]] = -(x[rows[r]] - proj) / v - corr


# -- Gaussian mixtures: full, low-rank and empirical (SCIENCE.md 4.2) ---------------------------


#: |z| beyond which exp(-|z|) underflows to 0 in float64 (exp(-745.2) is the last non-zero
#: value): the logistic is then exactly 0 or 1, a softmax weight exactly 0.
_EXP_UNDERFLOW = 746.0


@jit
def _score_lowrank_mixture(x, t, alpha_bar_t, v_t, params, out):
    """Score of a mixture of Gaussians N(mu_j, U_j diag(lam_j) U_j^T) (SCIENCE.md 4.2).

    score(x) = -sum_j w_j(x) C_j^(-1) (x - a mu_j),  C_j = a^2 Sigma_j + v I,
    w = softmax_j(log pi_j + log N(x; a mu_j, C_j)), by log-sum-exp (largest term first
    subtracted). With the residual e_j = (I - U_j U_j^T)(x - a mu_j) and u_j = U_j^T (x - a mu_j),
    C_j^(-1) (x - a mu_j) = e_j / v + U_j (u_j / (a^2 lam_j + v)), the quadratic form is
    sum_c u_jc^2 / (a^2 lam_jc + v) + ||e_j||^2 / v and log det C_j = (d - r) log v +
    sum_c log(a^2 lam_jc + v). ``params = (means (J, d), bases (J, d, r), lams (J, r),
    log_weights (J,))``; r = 0 gives the empirical distribution of the means (Sigma_j = 0);
    r = d means every U_j spans R^d and e_j = 0 exactly. log v is taken once per row and the
    log-determinants in the weights' pass only.
    """
    means, bases, lams, log_weights = params
    n_comp, d = means.shape
    r = lams.shape[1]
    # the offsets of every component are kept for the second pass when they are few
    keep = n_comp * (d + r) <= _MIXTURE_KEEP_OFFSETS
    diff = np.empty((n_comp if keep else 1, d))
    u = np.empty((n_comp if keep else 1, r))
    log_w = np.empty(n_comp)
    _mixture_row(x, alpha_bar_t, v_t, means, bases, lams, log_weights, out, diff, u, log_w)


#: Largest J (d + r) whose offsets the mixture score keeps between its two passes (above it,
#: e.g. an empirical law of many points, it recomputes them: the same numbers).
_MIXTURE_KEEP_OFFSETS = 4096


@jit
def _mixture_row(x, alpha_bar_t, v_t, means, bases, lams, log_weights, out, diff, u, log_w):
    """The body of ``_score_lowrank_mixture`` on its unpacked arrays and scratch: log_w (J,),
    and the offsets diff = (I - U_j U_j^T)(x - a mu_j) and u = U_j^T (x - a mu_j), either one
    row per component (J, d) and (J, r), kept from the weights' pass for the sum, or a single
    row (1, d) and (1, r), recomputed there with the same operations. Written out in one
    function: a helper called 2J times per row cost half of the row's time."""
    a = math.sqrt(alpha_bar_t)
    v = v_t
    n_comp, d = means.shape
    r = lams.shape[1]
    kept = diff.shape[0] == n_comp
    exact_residual = r == d
    log_v = math.log(v)
    top = -np.inf
    for j in range(n_comp):
        k = j if kept else 0
        for i in range(d):
            diff[k, i] = x[i] - a * means[j, i]
        for c in range(r):
            u[k, c] = 0.0
        for i in range(d):
            di = diff[k, i]
            for c in range(r):
                u[k, c] += bases[j, i, c] * di
        res2 = 0.0
        if not exact_residual:
            for i in range(d):
                proj = 0.0
                for c in range(r):
                    proj += bases[j, i, c] * u[k, c]
                diff[k, i] -= proj
                res2 += diff[k, i] * diff[k, i]
        quad = 0.0
        log_det = (d - r) * log_v
        for c in range(r):
            prec = a * a * lams[j, c] + v
            quad += u[k, c] * u[k, c] / prec
            log_det += math.log(prec)
        if not exact_residual:
            quad += res2 / v
        log_w[j] = log_weights[j] - 0.5 * quad - 0.5 * log_det
        if log_w[j] > top:
            top = log_w[j]
    total = 0.0
    for j in range(n_comp):
        z = log_w[j] - top
        # exp(z) is exactly 0.0 below -_EXP_UNDERFLOW, and libm's underflow path is slow
        log_w[j] = 0.0 if z < -_EXP_UNDERFLOW else math.exp(z)
        total += log_w[j]
    for i in range(d):
        out[i] = 0.0
    for j in range(n_comp):
        w = log_w[j] / total
        if w == 0.0:
            continue
        k = j if kept else 0
        if not kept:
            for i in range(d):
                diff[0, i] = x[i] - a * means[j, i]
            for c in range(r):
                u[0, c] = 0.0
            for i in range(d):
                di = diff[0, i]
                for c in range(r):
                    u[0, c] += bases[j, i, c] * di
            if not exact_residual:
                for i in range(d):
                    proj = 0.0
                    for c in range(r):
                        proj += bases[j, i, c] * u[0, c]
                    diff[0, i] -= proj
        for c in range(r):
            u[k, c] /= a * a * lams[j, c] + v
        for i in range(d):
            # e_j = 0 exactly when U_j spans R^d (0 / v = 0)
            acc = 0.0 if exact_residual else diff[k, i] / v
            for c in range(r):
                acc += bases[j, i, c] * u[k, c]
            out[i] -= w * acc


# -- coordinatewise sparse models (SCIENCE.md 4.3, 4.4) -----------------------------------------




@jit
def _logistic_pair(z):
    """(1 / (1 + e^-z), 1 / (1 + e^z)) without overflow or cancellation, for z in [-inf, inf]."""
    if z >= 0.0:
        if z > _EXP_UNDERFLOW:
            return 1.0, 0.0
        e = math.exp(-z)
        big = 1.0 / (1.0 + e)
        return big, e * big
    if z < -_EXP_UNDERFLOW:
        return 0.0, 1.0
    e = math.exp(z)
    big = 1.0 / (1.0 + e)
    return e * big, big


@jit
def _score_spike_slab(x, t, alpha_bar_t, v_t, params, out):
    """Score of x_0i = b_i g_i, b_i ~ Bern(rho), g_i ~ N(0, tau^2) (SCIENCE.md 4.3).

    Per coordinate q_t = (1 - rho) N(0, v) + rho N(0, v1), v1 = a^2 tau^2 + v, so
    score_i = -x_i ((1 - p_i) / v + p_i / v1) with p_i = P(b_i = 1 | x_i) = logistic(L_i),
    L_i = log(rho / (1 - rho)) - log(v1 / v) / 2 + x_i^2 (1/v - 1/v1) / 2. Both p_i and
    1 - p_i are formed directly (no 1 - p cancellation when v is tiny).
    ``params = (log_prior_odds, tau)``, log_prior_odds = log(rho / (1 - rho)) in [-inf, inf].
    """
    log_prior_odds, tau = params
    a2 = alpha_bar_t
    v = v_t
    c = a2 * tau * tau
    v1 = c + v
    half_log_ratio = 0.5 * math.log1p(c / v)
    gain = 0.5 * (c / v) / v1
    for i in range(x.shape[0]):
        xi = x[i]
        p, q = _logistic_pair(log_prior_odds - half_log_ratio + gain * xi * xi)
        out[i] = -xi * (q / v + p / v1)


#: Any tilt lambda of the conditional Bernoulli law is exact; it only keeps P(count = s) near
#: the mode of the count, so that nothing underflows. The search stops once the mean count is
#: within max(1/2, its standard deviation) of s: then P(count = s) >~ 0.2 / sd.
_TILT_MAX_ITER = 100
#: Count probabilities below this are set to 0 in the recursions. They are at most
#: (s + 1) d 1e-250 in absolute terms against P(count = s) >~ 1e-3, so no score changes beyond
#: 1e-240 relative; without the flush, products of small probabilities become subnormal
#: numbers, which are exact to no more digits and make the arithmetic many times slower.
_DP_FLUSH = 1e-250
#: Coordinates per checkpoint of the prefix count distributions: memory O((d / B + B) s)
#: instead of O(d s); each block is recomputed once in the backward sweep.
_PREFIX_BLOCK = 32


@jit
def _logaddexp(x, y):
    """log(e^x + e^y) for x, y in [-inf, inf)."""
    if x < y:
        x, y = y, x
    if y == -np.inf:
        return x
    return x + math.log1p(math.exp(y - x))


@jit
def _top_values(x, m, top_val, top_idx):
    """The m largest entries of ``x`` in descending order (values and indices), by insertion.

    O(d m) in the worst case, O(d + m^2 log(d / m)) on average for data in random order; a
    hand-written selection (numba's sort and partition are slow to compile).
    """
    count = 0
    for i in range(x.shape[0]):
        val = x[i]
        if count == m:
            if not val > top_val[m - 1]:
                continue
            j = m - 2
        else:
            j = count - 1
            count += 1
        while j >= 0 and top_val[j] < val:
            top_val[j + 1] = top_val[j]
            top_idx[j + 1] = top_idx[j]
            j -= 1
        top_val[j + 1] = val
        top_idx[j + 1] = i


@jit
def _capped_tilt(logr, s):
    """lambda solving sum_i min(1, exp(logr_i - lambda)) = s (then s/2 <= E count <= s).

    With l_(1) >= l_(2) >= ... the sorted logr, the solution saturates the m largest and is
    lambda_m = log(sum_{j > m} e^(l_(j))) - log(s - m) with l_(m+1) <= lambda_m < l_(m).
    Needs the s largest values only (``_top_values``) and one pass over the rest.
    """
    d = logr.shape[0]
    # m = 0 (nothing saturates) is the solution when max_i logr_i <= log(sum_i r_i / s): the
    # usual case at high noise, found with two passes and no selection.
    big = -np.inf
    for i in range(d):
        if logr[i] > big:
            big = logr[i]
    acc = 0.0
    for i in range(d):
        acc += math.exp(logr[i] - big)
    lam = big + math.log(acc) - math.log(s)
    if big <= lam:
        return lam
    top = np.empty(s)
    top_idx = np.empty(s, dtype=np.int64)
    _top_values(logr, s, top, top_idx)
    chosen = np.zeros(d, dtype=np.bool_)
    for j in range(s):
        chosen[top_idx[j]] = True
    ref = -np.inf
    for i in range(d):
        if not chosen[i] and logr[i] > ref:
            ref = logr[i]
    tail = -np.inf
    if ref > -np.inf:
        acc = 0.0
        for i in range(d):
            if not chosen[i]:
                acc += math.exp(logr[i] - ref)
        tail = ref + math.log(acc)
    log_tail = np.empty(s + 1)  # log_tail[m] = log sum_{j > m} e^(l_(j))
    log_tail[s] = tail
    for m in range(s - 1, -1, -1):
        log_tail[m] = _logaddexp(log_tail[m + 1], top[m])
    for m in range(s):
        lam = log_tail[m] - math.log(s - m)
        if top[m] <= lam and (m == 0 or lam < top[m - 1]):
            return lam
    return log_tail[0] - math.log(s)


@jit
def _tilt_count(logr, s, p, q):
    """Tilt lambda with sum_i p_i within max(1/2, sd) of s; writes p_i, q_i = 1 - p_i.

    p_i = logistic(logr_i - lambda). Starts from the capped solution (``_capped_tilt``: mean
    count in [s/2, s]) and refines by Newton steps on F(lambda) = log(sum_i p_i) - log s,
    F' = -sum p q / sum p, kept inside the bracket found so far (bisection there, geometric
    expansion without one). Returns lambda.
    """
    d = logr.shape[0]
    if s >= d:  # every coordinate is in the support
        for i in range(d):
            p[i] = 1.0
            q[i] = 0.0
        return -np.inf
    lam = _capped_tilt(logr, s)
    lo = -np.inf  # count mean > s here
    hi = np.inf  # count mean < s here
    expand = 1.0
    for _ in range(_TILT_MAX_ITER):
        mean = 0.0
        var = 0.0
        for i in range(d):
            p[i], q[i] = _logistic_pair(logr[i] - lam)
            mean += p[i]
            var += p[i] * q[i]
        if abs(mean - s) <= max(0.5, math.sqrt(var)):
            return lam  # p, q hold the values at this lambda
        if mean > s:
            lo = lam
        else:
            hi = lam
        step = np.nan
        if var > 0.0 and mean > 0.0:
            step = lam + mean * (math.log(mean) - math.log(s)) / var
        if lo < step < hi:
            lam = step
        elif lo > -np.inf and hi < np.inf:
            lam = 0.5 * (lo + hi)
        else:
            expand *= 2.0
            lam = hi - expand if lo == -np.inf else lo + expand
    for i in range(d):
        p[i], q[i] = _logistic_pair(logr[i] - lam)
    return lam


@jit
def _dot_shifted(a, b, shift, n):
    """sum_{k < n} a[k] b[k + shift], in eight interleaved partial sums (fixed order).

    Independent partial sums let the additions overlap (a plain loop is bound by the latency
    of one chain of dependent additions); the order is fixed, so results are reproducible.
    """
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    s5 = 0.0
    s6 = 0.0
    s7 = 0.0
    k = 0
    while k + 8 <= n:
        j = k + shift
        s0 += a[k] * b[j]
        s1 += a[k + 1] * b[j + 1]
        s2 += a[k + 2] * b[j + 2]
        s3 += a[k + 3] * b[j + 3]
        s4 += a[k + 4] * b[j + 4]
        s5 += a[k + 5] * b[j + 5]
        s6 += a[k + 6] * b[j + 6]
        s7 += a[k + 7] * b[j + 7]
        k += 8
    while k < n:
        s0 += a[k] * b[k + shift]
        k += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@jit
def _count_step(prev, p, q, cur):
    """Count law after one more Bernoulli(p): cur[k] = q prev[k] + p prev[k - 1], k <= s."""
    val = q * prev[0]
    cur[0] = val if val >= _DP_FLUSH else 0.0
    for k in range(1, prev.shape[0]):
        val = q * prev[k] + p * prev[k - 1]
        cur[k] = val if val >= _DP_FLUSH else 0.0


@jit
def _copy_row(src, i, dst, j):
    """dst[j, :] = src[i, :] (an explicit loop: slice assignment is slow to compile)."""
    for k in range(src.shape[1]):
        dst[j, k] = src[i, k]


@jit
def _random_support_posterior(x, a, v, tau, s, incl, excl):
    """P(i in S | x) into ``incl`` and P(i not in S | x) into ``excl`` (SCIENCE.md 4.4).

    The support S (|S| = s, uniform) has posterior P(S | x) prop. to prod_{i in S} r_i,
    r_i = N(x_i; 0, v1) / N(x_i; 0, v), so P(i in S | x) = r_i e_{s-1}(r_{-i}) / e_s(r).
    Computed in a scaled domain: with p_i = logistic(log r_i - lambda), q_i = 1 - p_i (any
    lambda: e_j(r) = e^(j lambda) e_j(p / q)), this is the law of independent Bernoulli(p_i)
    conditioned on their count N being s, and
        P(i in S | x)     = p_i P(N_{-i} = s - 1) / P(N = s),
        P(i not in S | x) = q_i P(N_{-i} = s) / P(N = s),
    N_{-i} the count without coordinate i, from prefix and suffix count laws truncated at s:
    P(N_{-i} = j) = sum_k P(N_{<i} = k) P(N_{>i} = j - k). Every operation adds or multiplies
    numbers in [0, 1], so nothing overflows and rounding errors stay relative (about d ulps);
    lambda (``_tilt_count``) keeps P(N = s) away from underflow. The prefix laws are stored
    every ``_PREFIX_BLOCK`` coordinates and recomputed block by block in the backward sweep.
    O(d s) time, O((d / B + B) s) memory. The complement P(i not in S | x) is summed
    directly when P(i in S | x) > 1/2 (at most 2 s coordinates), else taken as 1 - P.
    """
    d = x.shape[0]
    c = a * a * tau * tau
    half_log_ratio = 0.5 * math.log1p(c / v)
    gain = 0.5 * (c / v) / (c + v)
    logr = np.empty(d)
    for i in range(d):
        logr[i] = gain * x[i] * x[i] - half_log_ratio
    p = np.empty(d)
    q = np.empty(d)
    _tilt_count(logr, s, p, q)
    width = _PREFIX_BLOCK
    n_blocks = (d + width - 1) // width
    # checkpoint[b, k] = P(count of coordinates < b * width equals k), k = 0..s
    checkpoint = np.zeros((n_blocks + 1, s + 1))
    checkpoint[0, 0] = 1.0
    block = np.empty((width + 1, s + 1))
    for b in range(n_blocks):
        _copy_row(checkpoint, b, block, 0)
        lo = b * width
        hi = min(d, lo + width)
        for i in range(lo, hi):
            _count_step(block[i - lo], p[i], q[i], block[i - lo + 1])
        _copy_row(block, hi - lo, checkpoint, b + 1)
    total = checkpoint[n_blocks, s]
    # rsuf[j] = P(count of coordinates > i equals s - j): reversed so that both sums below
    # run forward in memory.
    rsuf = np.zeros(s + 1)
    rsuf[s] = 1.0
    nxt = np.empty(s + 1)
    for b in range(n_blocks - 1, -1, -1):
        _copy_row(checkpoint, b, block, 0)
        lo = b * width
        hi = min(d, lo + width)
        for i in range(lo, hi):
            _count_step(block[i - lo], p[i], q[i], block[i - lo + 1])
        for i in range(hi - 1, lo - 1, -1):
            pre = block[i - lo]
            with_i = _dot_shifted(pre, rsuf, 1, s)  # P(N_{-i} = s - 1)
            incl[i] = p[i] * with_i / total
            if incl[i] > 0.5:
                without_i = _dot_shifted(pre, rsuf, 0, s + 1)  # P(N_{-i} = s)
                excl[i] = q[i] * without_i / total
            else:
                excl[i] = 1.0 - incl[i]
            pi = p[i]
            qi = q[i]
            for j in range(s):
                val = qi * rsuf[j] + pi * rsuf[j + 1]
                nxt[j] = val if val >= _DP_FLUSH else 0.0
            val = qi * rsuf[s]
            nxt[s] = val if val >= _DP_FLUSH else 0.0
            rsuf, nxt = nxt, rsuf


#: ``what`` flag of ``_score_random_support``: return the score, or the denoiser D_t.
RANDOM_SUPPORT_SCORE = 0
RANDOM_SUPPORT_DENOISER = 1


@jit
def _score_random_support(x, t, alpha_bar_t, v_t, params, out):
    """Score of exactly s non-zeros on a uniform random support, N(0, tau^2) (SCIENCE.md 4.4).

    score_i = -x_i / v + P(i in S | x) (x_i / v - x_i / v1), v1 = a^2 tau^2 + v, written as
    -x_i (P(i not in S | x) / v + P(i in S | x) / v1) so that no 1 - P cancellation is
    magnified by 1/v. ``params = (s, tau, what)``: with what = ``RANDOM_SUPPORT_DENOISER``
    the kernel writes the denoiser D_t(x)_i = P(i in S | x) a tau^2 x_i / v1 instead (one
    compiled kernel serves both, which halves the compile time of this large kernel).
    """
    s, tau, what = params
    a = math.sqrt(alpha_bar_t)
    v = v_t
    v1 = alpha_bar_t * tau * tau + v
    d = x.shape[0]
    incl = np.empty(d)
    excl = np.empty(d)
    _random_support_posterior(x, a, v, tau, s, incl, excl)
    if what == RANDOM_SUPPORT_DENOISER:
        for i in range(d):
            out[i] = incl[i] * (a * tau * tau / v1) * x[i]
    else:
        for i in range(d):
            out[i] = -x[i] * (excl[i] / v + incl[i] / v1)


# -- spheres and tori (SCIENCE.md 4.5) -----------------------------------------------------------

#: Stop the continued fraction when a convergent changes by less than this (relative): a few
#: float64 ulps. Checked against scipy.special.ive and mpmath in tests/test_models_manifolds.py.
_BESSEL_CF_TOL = 4e-16
_BESSEL_CF_MAX_TERMS = 10_000
_LENTZ_TINY = 1e-300


@jit
def _bessel_ratio(nu, x):
    """A_nu(x) = I_nu(x) / I_{nu-1}(x) for nu > 0, x >= 0, by Perron's continued fraction.

    Perron's fraction (see Gautschi & Slavik 1978, "On the computation of modified Bessel
    function ratios", Math. Comp. 32) written as
        A_nu(x) = x / (b_0 + a_1 / (b_1 + a_2 / (b_2 + ...))),
    b_0 = 2 nu + x, a_k = -(2 nu + 2 k - 1) x and b_k = 2 nu + k + 2 x for k >= 1,
    evaluated by the modified Lentz method. Unlike the Gauss fraction (whose length grows like
    x) it converges in a few dozen terms for every x from 0 to 1e12 and nu up to 5e3, with no
    Bessel function evaluated: the ratio is what the exponentially scaled functions give,
    without their overflow. A_nu(0) = 0 and A_nu(inf) = 1.
    """
    if x == 0.0:
        return 0.0
    if math.isinf(x):
        return 1.0
    f = 2.0 * nu + x
    c = f
    dd = 0.0
    for k in range(1, _BESSEL_CF_MAX_TERMS):
        a_k = -(2.0 * nu + 2.0 * k - 1.0) * x
        b_k = 2.0 * nu + k + 2.0 * x
        dd = b_k + a_k * dd
        if dd == 0.0:
            dd = _LENTZ_TINY
        c = b_k + a_k / c
        if c == 0.0:
            c = _LENTZ_TINY
        dd = 1.0 / dd
        delta = c * dd
        f *= delta
        if abs(delta - 1.0) < _BESSEL_CF_TOL:
            break
    return x / f


@jit
def _bessel_ratio_array(nu, x, out):
    """``out[i] = A_nu(x[i])`` (for tests against scipy.special.ive)."""
    for i in range(x.shape[0]):
        out[i] = _bessel_ratio(nu, x[i])


@jit
def _scaled_norm(x, lo, hi):
    """||x[lo:hi]||_2 without underflow or overflow of the squares (scaled by max |x_i|)."""
    big = 0.0
    for i in range(lo, hi):
        big = max(big, abs(x[i]))
    if big == 0.0 or math.isinf(big):
        return big
    acc = 0.0
    for i in range(lo, hi):
        y = x[i] / big
        acc += y * y
    return big * math.sqrt(acc)


@jit
def _score_sphere_product(x, t, alpha_bar_t, v_t, params, out):
    """Score of a product of uniform spheres, one per block of coordinates (SCIENCE.md 4.5).

    Block b holds coordinates start_b .. start_b + k_b - 1 and the sphere of radius R_b
    (centred at 0); with u its coordinates and kappa = a R_b ||u|| / v,
        score_u = -u / v + (a R_b / v) A_{k_b/2}(kappa) u / ||u||,
    A_nu = I_nu / I_{nu-1} (``_bessel_ratio``); at u = 0 the second term is 0 (its limit).
    Coordinates outside every block have score -x / v. A sphere in k coordinates is one
    block; a flat torus is k = 2 blocks (circles).
    ``params = (starts (m,) int64, sizes (m,) int64, radii (m,))``.
    """
    starts, sizes, radii = params
    a = math.sqrt(alpha_bar_t)
    v = v_t
    for i in range(x.shape[0]):
        out[i] = -x[i] / v
    for b in range(starts.shape[0]):
        lo = starts[b]
        hi = lo + sizes[b]
        norm = _scaled_norm(x, lo, hi)
        if norm == 0.0:
            continue
        pull = a * radii[b] / v
        ratio = _bessel_ratio(0.5 * sizes[b], pull * norm)
        for i in range(lo, hi):
            out[i] += pull * ratio * (x[i] / norm)


# -- uniform box (SCIENCE.md 4.6) ------------------------------------------------------------------

_SQRT2 = math.sqrt(2.0)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Beyond this point the Mills ratio is summed from its asymptotic series: 8 terms reach
#: float64 precision for z >= 35 (the k-th term is (2k-1)!! / z^(2k) <= 1e-17 at k = 8).
_MILLS_ASYMPTOTIC = 35.0
#: Tail cut between the direct CDF difference and the Mills-ratio form (both are accurate
#: there; the Mills form avoids the underflow of Phi far in the tails).
_BOX_TAIL = 3.0


@jit
def _mills_ratio(z):
    """m(z) = (1 - Phi(z)) / phi(z) for z >= 0, without underflow (erfc, then asymptotics)."""
    if z < _MILLS_ASYMPTOTIC:
        return _SQRT_HALF_PI * math.erfc(z / _SQRT2) * math.exp(0.5 * z * z)
    iz2 = 1.0 / (z * z)
    term = 1.0
    acc = 1.0
    for k in range(1, 9):
        term *= -(2.0 * k - 1.0) * iz2
        acc += term
    return acc / z


#: Below this width z_lo - z_hi of the standardized interval, the truncated-normal mean is the
#: narrow-interval form (``_narrow_box_mean``); its neglected term is relative O(h^4) with
#: h = width / 2 <= 5e-5, below 1e-17, while the CDF difference there loses ~1e-16 / width.
_BOX_NARROW = 1e-4


@jit
def _langevin(y):
    """L(y) = coth(y) - 1/y: the mean of u / h under the density prop. to exp(y u / h) on
    [-h, h] (the Langevin function; its series below |y| = 1e-3)."""
    ay = abs(y)
    if ay < 1e-3:
        y2 = y * y
        return y * (1.0 / 3.0 - y2 * (1.0 / 45.0 - y2 * (2.0 / 945.0)))
    if ay > 20.0:
        return math.copysign(1.0, y) - 1.0 / y
    return 1.0 / math.tanh(y) - 1.0 / y


@jit
def _narrow_box_mean(z_lo, z_hi):
    """E[Z | z_hi < Z < z_lo] for a narrow interval (z_lo - z_hi < ``_BOX_NARROW``).

    With c the midpoint and h the half-width, the density of Z = c + u on u in [-h, h] is
    prop. to exp(-c u - u^2/2); dropping u^2/2 (relative O(h^2) on the mean of u) leaves the
    exponential tilt, whose mean is -h L(c h) (``_langevin``). As h -> 0 this tends to c,
    the limit the score -x / v of a point mass takes at alpha_bar -> 0.
    """
    c = 0.5 * (z_lo + z_hi)
    h = 0.5 * (z_lo - z_hi)
    return c - h * _langevin(c * h)


@jit
def _box_ratio(z_lo, z_hi):
    """(phi(z_lo) - phi(z_hi)) / (Phi(z_lo) - Phi(z_hi)) for z_lo > z_hi, stable everywhere.

    Equals -E[Z | z_hi < Z < z_lo], Z ~ N(0, 1). In the upper tail (z_hi > 3) it is
    -(1 - e^-D) / (m(z_hi) - e^-D m(z_lo)) with D = (z_lo^2 - z_hi^2) / 2 and m the Mills
    ratio; the lower tail (z_lo < -3) is the mirror image; in between Phi and phi are formed
    directly, the numerator as the larger of phi(z_lo), phi(z_hi) times an expm1 (no overflow
    of the exponential, no cancellation in the difference). A narrow interval (tiny
    alpha_bar, where the CDF difference cancels to 0/0) uses ``_narrow_box_mean``.
    """
    if z_lo - z_hi < _BOX_NARROW:
        return -_narrow_box_mean(z_lo, z_hi)
    if z_hi > _BOX_TAIL:
        gap = 0.5 * (z_lo - z_hi) * (z_lo + z_hi)
        e = math.exp(-gap)
        return math.expm1(-gap) / (_mills_ratio(z_hi) - e * _mills_ratio(z_lo))
    if z_lo < -_BOX_TAIL:
        gap = 0.5 * (z_lo - z_hi) * (z_lo + z_hi)  # negative: z_hi is further out
        e = math.exp(gap)
        return -math.expm1(gap) / (_mills_ratio(-z_lo) - e * _mills_ratio(-z_hi))
    half_gap = 0.5 * (z_hi - z_lo) * (z_hi + z_lo)  # (z_hi^2 - z_lo^2) / 2
    if half_gap >= 0.0:
        num = -_INV_SQRT_2PI * math.exp(-0.5 * z_lo * z_lo) * math.expm1(-half_gap)
    else:
        num = _INV_SQRT_2PI * math.exp(-0.5 * z_hi * z_hi) * math.expm1(half_gap)
    if z_hi >= 0.0:
        den = 0.5 * (math.erfc(z_hi / _SQRT2) - math.erfc(z_lo / _SQRT2))
    elif z_lo <= 0.0:
        den = 0.5 * (math.erfc(-z_lo / _SQRT2) - math.erfc(-z_hi / _SQRT2))
    else:
        den = 0.5 * (math.erf(z_lo / _SQRT2) - math.erf(z_hi / _SQRT2))
    return num / den


@jit
def _score_box(x, t, alpha_bar_t, v_t, params, out):
    """Score of the uniform law on the box prod_i [low_i, high_i] (SCIENCE.md 4.6).

    Per box coordinate q_t(u) = (Phi(z_lo) - Phi(z_hi)) / (a (high - low)) with
    z_lo = (u - a low) / sqrt(v), z_hi = (u - a high) / sqrt(v) (box coordinates 0..k-1), so
        score(u) = (phi(z_lo) - phi(z_hi)) / (sqrt(v) (Phi(z_lo) - Phi(z_hi)))
    (``_box_ratio``); other coordinates have score -x / v. ``params = (low (k,), high (k,))``.
    """
    low, high = params
    a = math.sqrt(alpha_bar_t)
    v = v_t
    sv = math.sqrt(v)
    k = low.shape[0]
    for i in range(k):
        out[i] = _box_ratio((x[i] - a * low[i]) / sv, (x[i] - a * high[i]) / sv) / sv
    for i in range(k, x.shape[0]):
        out[i] = -x[i] / v


# -- random rotation of any model (SCIENCE.md 4, last paragraph) ---------------------------------

_ROTATED_CACHE: dict = {}


def rotated_score_kernel(inner):
    """Score kernel of Q X_0 from the kernel ``inner`` of X_0: score(x) = Q inner(Q^T x).

    One compiled kernel per inner kernel (cached). ``params = (Q (d, d),) + inner_params``
    (flat: the parallel row loop cannot take nested tuples).
    """
    kernel = _ROTATED_CACHE.get(inner)
    if kernel is not None:
        return kernel

    def rotated(x, t, alpha_bar_t, v_t, params, out):
        q_mat = params[0]
        inner_params = params[1:]
        d = x.shape[0]
        y = np.zeros(d)
        for i in range(d):
            xi = x[i]
            for j in range(d):
                y[j] += q_mat[i, j] * xi
        s = np.empty(d)
        inner(y, t, alpha_bar_t, v_t, inner_params, s)
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += q_mat[i, j] * s[j]
            out[i] = acc

    kernel = jit(rotated)
    _ROTATED_CACHE[inner] = kernel
    return kernel
