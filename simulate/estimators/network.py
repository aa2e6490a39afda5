"""A score network trained by denoising score matching with an l1 penalty (the paper's Eq. 3 as
read with a network class: a third reading beside the two of SCIENCE.md 5).

The network (``simulate._kernels.network``): a multilayer perceptron with SiLU hidden layers
of ``width`` units (``depth`` of them), input u = (c_in(t) x, e(t)) and output F (d,), where

* c_in(t) = 1 / sqrt(abar_t m2 + v_t) scales x_t to unit size (m2 the mean square of the
  training coordinates);
* e(t) = (g / 16, sin(w_k g), cos(w_k g))_{k < K}, g = log(abar_t / v_t) the log
  signal-to-noise ratio, w_k = 2^k / 16: a sinusoidal embedding of the noise level.

``parametrization="denoiser"`` (default) reads F as the denoiser D_t(x) ~ E[X_0 | X_t = x]
(x0-prediction), with score (a F - x) / v by Tweedie; ``"noise"`` reads F as the noise
(eps-prediction), score -F / sqrt(v).

Training objective, over all steps at once (t uniform on 1..T, fresh noise each draw):

    L(theta) = E ||F_theta(x_t, t) - target||^2 + penalty,

target x_0 (denoiser: the DSM loss weighted by lambda_t = v_t^2 / abar_t, since
||D - x_0||^2 = (v^2 / abar) ||s - Y||^2) or z (noise: lambda_t = v_t). The penalty is
``r ||W||_1`` on every weight matrix (``penalty="weights"``, the paper's Eq. 3 as read; biases
are not penalized), or ``r E ||F||_1`` on the network's output (``penalty="output"``: the
denoiser's deviation from 0, i.e. the score's from the pure-noise score -x / v; reading (b)
of SCIENCE.md 5, now for a network).

Optimizer: Adam (Kingma & Ba 2015; beta1 = 0.9, beta2 = 0.999, eps = 1e-8) on minibatches,
the learning rate decayed by a half cosine from ``learning_rate`` to ``learning_rate / 20``;
with the weight penalty each Adam step is followed by the proximal step of r ||W||_1 in
Adam's own metric, W_j <- S(W_j, lr_k r / (sqrt(s_hat_j) + eps)) (soft-thresholding with the
step's per-coordinate step size), which sets weights exactly to zero. A weight stays at zero
when its smoothed gradient is below r in size: the lasso's optimality condition. (Thresholding
at lr_k r alone, the prox of a plain gradient step, leaves almost no zeros under Adam, whose
steps are of size lr_k whatever the gradient: measured on the toy, 2% zeros at r = 0.01.)
Gradients are written by hand (:func:`loss_and_gradient`) and checked against central finite
differences in the tests.

Reproducibility: the initial weights come from ``default_rng([seed, STREAM_NETWORK, 0])``,
the minibatches (indices, steps, noise) from ``default_rng([seed, STREAM_NETWORK, 1])``; a fit
is a pure function of (points, schedule, settings, seed): the weights are bit-identical on 1
and 2 BLAS threads (OpenBLAS splits a product's output among threads, not its sums; tested),
though another BLAS library or CPU kernel may change the last bits. Sampling uses the
numba row kernel, so the fused and batch sampler paths agree bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulate._kernels.network import _score_network
from simulate._validation import check_choice, check_int, check_real
from simulate.estimators.base import _KernelEstimator, _training_points
from simulate.noise_level import noise_scales
from simulate.schedules import Schedule

__all__ = [
    "STREAM_NETWORK",
    "L1NetworkDSM",
    "forward",
    "loss_and_gradient",
    "network_layout",
    "time_features",
]

#: ``default_rng([seed, STREAM_NETWORK, k])``: k = 0 the initial weights, k = 1 the minibatches.
STREAM_NETWORK = 4
#: Adam's constants (Kingma & Ba 2015, their defaults).
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
#: The learning rate ends at this fraction of its start (half-cosine decay).
FINAL_LR_FRACTION = 0.05


def network_layout(d: int, n_embed: int, width: int, depth: int) -> np.ndarray:
    """(n_in, n_out) of each layer: d + n_embed -> width (depth times) -> d."""
    sizes = [d + n_embed] + [width] * depth + [d]
    return np.array([[sizes[i], sizes[i + 1]] for i in range(len(sizes) - 1)], dtype=np.int64)


def _slices(layout: np.ndarray) -> list[tuple[slice, slice, int, int]]:
    """Per layer: the flat slices of W_l and b_l, and (n_in, n_out)."""
    out, offset = [], 0
    for n_in, n_out in layout:
        w = slice(offset, offset + n_in * n_out)
        b = slice(w.stop, w.stop + n_out)
        out.append((w, b, int(n_in), int(n_out)))
        offset = b.stop
    return out


def weight_mask(layout: np.ndarray) -> np.ndarray:
    """Boolean mask of the weight entries (not the biases) in the flat parameter vector."""
    slices = _slices(layout)
    mask = np.zeros(slices[-1][1].stop, dtype=bool)
    for w, _, _, _ in slices:
        mask[w] = True
    return mask


def time_features(schedule: Schedule, m2: float, n_frequencies: int) -> np.ndarray:
    """(T, 2 + 2K): c_in(t), then e(t) = (g / 16, sin(w_k g), cos(w_k g)) (module docstring)."""
    T = schedule.T
    out = np.empty((T, 2 + 2 * n_frequencies))
    for t in range(1, T + 1):
        level = schedule.level(t)
        a, v = noise_scales(level)
        g = math.log(a * a) - math.log(v)
        out[t - 1, 0] = 1.0 / math.sqrt(a * a * m2 + v)
        out[t - 1, 1] = g / 16.0
        for k in range(n_frequencies):
            w = 2.0**k / 16.0
            out[t - 1, 2 + 2 * k] = math.sin(w * g)
            out[t - 1, 3 + 2 * k] = math.cos(w * g)
    return out


def forward(theta: np.ndarray, layout: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, list]:
    """F(U) for a batch of inputs U (B, n_in), and the activations backpropagation needs."""
    h = U
    cache = []
    slices = _slices(layout)
    for idx, (w, b, n_in, n_out) in enumerate(slices):
        W = theta[w].reshape(n_out, n_in)
        z = h @ W.T + theta[b]
        cache.append((h, z))
        if idx < len(slices) - 1:
            h = z / (1.0 + np.exp(-z))
        else:
            h = z
    return h, cache


def loss_and_gradient(
    theta: np.ndarray,
    layout: np.ndarray,
    U: np.ndarray,
    target: np.ndarray,
    r_output: float = 0.0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(loss, gradient, F) of mean_b ||F(U_b) - target_b||^2 + r_output mean_b ||F(U_b)||_1.

    The smooth part of the objective (the weight penalty is applied by its proximal step);
    |F| is differentiated as sign(F) (a subgradient, 0 at 0). Backpropagation through
    F = W_L h_L + b_L, h_{l+1} = silu(z_l), silu'(z) = sigma(z) (1 + z (1 - sigma(z))).
    """
    F, cache = forward(theta, layout, U)
    B = U.shape[0]
    diff = F - target
    loss = float(np.sum(diff * diff)) / B
    delta = 2.0 * diff / B
    if r_output > 0.0:
        loss += r_output * float(np.sum(np.abs(F))) / B
        delta = delta + r_output * np.sign(F) / B
    grad = np.empty_like(theta)
    slices = _slices(layout)
    for idx in range(len(slices) - 1, -1, -1):
        w, b, n_in, n_out = slices[idx]
        h, _ = cache[idx]
        grad[w] = (delta.T @ h).ravel()
        grad[b] = delta.sum(axis=0)
        if idx > 0:
            W = theta[w].reshape(n_out, n_in)
            back = delta @ W
            z_prev = cache[idx - 1][1]
            sig = 1.0 / (1.0 + np.exp(-z_prev))
            delta = back * sig * (1.0 + z_prev * (1.0 - sig))
    return loss, grad, F


class L1NetworkDSM(_KernelEstimator):
    """A time-conditioned MLP score trained by DSM with an l1 penalty (module docstring).

    Parameters
    ----------
    data, n, points, seed
        Training data: a model drawn ``n`` times with ``seed``, or the points themselves;
        ``seed`` also seeds the initial weights and the minibatches.
    r : float
        Penalty level r >= 0 (0: the unregularized network).
    penalty : {"weights", "output"}
        l1 on the weight matrices (proximal step) or on the network's output.
    parametrization : {"denoiser", "noise"}
        What the network predicts: x_0 (default) or the noise z.
    width, depth : int
        Hidden units per layer (>= 1) and number of hidden layers (>= 1).
    n_frequencies : int
        K >= 0 sinusoidal frequencies of the noise-level embedding.
    iterations, batch_size : int
        Adam steps (>= 1) and minibatch size (>= 1).
    learning_rate : float
        Adam's initial step size (> 0).
    train_schedule : Schedule, optional
        Train once on the noise levels of this schedule (t uniform on its steps); ``fit``
        to any schedule then only tabulates that schedule's time features, so one trained
        network samples with any number of steps, as a trained diffusion model does. By
        default each ``fit(schedule)`` trains on ``schedule``'s own steps.

    Attributes (after ``fit``)
    --------------------------
    theta : (P,) the trained parameters; ``layout`` their layer sizes.
    loss_curve : (iterations,) the minibatch objective at each step (penalty included).
    zero_fraction : share of weight entries exactly 0.
    """

    def __init__(
        self,
        data: Any = None,
        n: Any = None,
        *,
        points: Any = None,
        seed: int = 0,
        r: float = 0.0,
        penalty: str = "weights",
        parametrization: str = "denoiser",
        width: int = 64,
        depth: int = 2,
        n_frequencies: int = 4,
        iterations: int = 4000,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        train_schedule: Schedule | None = None,
    ) -> None:
        self.points, self.model = _training_points(data, n, points, seed)
        self.n, self.d = self.points.shape
        self.seed = int(seed)
        self.r = check_real("r", r, low=0.0)
        self.penalty = check_choice("penalty", penalty, ("weights", "output"))
        self.parametrization = check_choice(
            "parametrization", parametrization, ("denoiser", "noise")
        )
        if self.penalty == "output" and self.parametrization == "noise" and self.r > 0:
            raise ValueError(
                "penalty='output' penalizes the denoiser; it needs parametrization='denoiser'"
            )
        self.width = check_int("width", width, low=1)
        self.depth = check_int("depth", depth, low=1)
        self.n_frequencies = check_int("n_frequencies", n_frequencies, low=0, high=30)
        self.iterations = check_int("iterations", iterations, low=1)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.learning_rate = check_real("learning_rate", learning_rate, low=0.0, low_open=True)
        self.m2 = float(np.mean(self.points**2))
        self.layout = network_layout(self.d, 1 + 2 * self.n_frequencies, self.width, self.depth)
        if train_schedule is not None and not isinstance(train_schedule, Schedule):
            raise TypeError(
                "train_schedule must be a simulate.schedules.Schedule or None, got "
                f"{type(train_schedule).__name__}"
            )
        self.train_schedule = train_schedule

    # -- training -------------------------------------------------------------------------
    def initial_parameters(self) -> np.ndarray:
        """N(0, 1 / n_in) weights, zero biases; ``default_rng([seed, STREAM_NETWORK, 0])``."""
        rng = np.random.default_rng([self.seed, STREAM_NETWORK, 0])
        slices = _slices(self.layout)
        theta = np.zeros(slices[-1][1].stop)
        for w, _, n_in, n_out in slices:
            theta[w] = rng.standard_normal(n_in * n_out) / math.sqrt(n_in)
        return theta

    def training_batch(
        self, rng: np.random.Generator, features: np.ndarray, schedule: Schedule
    ) -> tuple[np.ndarray, np.ndarray]:
        """One minibatch (inputs U, targets): indices, steps and noise drawn from ``rng``."""
        B, d = self.batch_size, self.d
        idx = rng.integers(0, self.n, size=B)
        t = rng.integers(1, schedule.T + 1, size=B)
        z = rng.standard_normal((B, d))
        x0 = self.points[idx]
        a = np.sqrt(schedule.alpha_bar[t - 1])
        v = schedule.v[t - 1]
        xt = a[:, None] * x0 + np.sqrt(v)[:, None] * z
        feat = features[t - 1]
        U = np.concatenate([feat[:, :1] * xt, feat[:, 1:]], axis=1)
        return U, (x0 if self.parametrization == "denoiser" else z)

    def _fit(self, schedule: Schedule) -> None:
        """Train on ``schedule`` (or once on ``train_schedule``), then tabulate the time
        features of ``schedule``'s steps for the sampling kernel."""
        if self.train_schedule is None or getattr(self, "theta", None) is None:
            self._train(self.train_schedule or schedule)
        self.features = time_features(schedule, self.m2, self.n_frequencies)

    def _train(self, schedule: Schedule) -> None:
        features = time_features(schedule, self.m2, self.n_frequencies)
        theta = self.initial_parameters()
        mask = weight_mask(self.layout)
        m = np.zeros_like(theta)
        s = np.zeros_like(theta)
        rng = np.random.default_rng([self.seed, STREAM_NETWORK, 1])
        r_output = self.r if self.penalty == "output" else 0.0
        r_weights = self.r if self.penalty == "weights" else 0.0
        curve = np.empty(self.iterations)
        for k in range(self.iterations):
            U, target = self.training_batch(rng, features, schedule)
            loss, grad, _ = loss_and_gradient(theta, self.layout, U, target, r_output)
            frac = k / max(self.iterations - 1, 1)
            lr = self.learning_rate * (
                FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * frac))
            )
            m = ADAM_BETA1 * m + (1 - ADAM_BETA1) * grad
            s = ADAM_BETA2 * s + (1 - ADAM_BETA2) * grad * grad
            m_hat = m / (1 - ADAM_BETA1 ** (k + 1))
            s_hat = s / (1 - ADAM_BETA2 ** (k + 1))
            metric = np.sqrt(s_hat) + ADAM_EPS
            theta = theta - lr * m_hat / metric
            if r_weights > 0.0:
                w, tau = theta[mask], lr * r_weights / metric[mask]
                theta[mask] = np.sign(w) * np.maximum(np.abs(w) - tau, 0.0)
            curve[k] = loss + r_weights * float(np.abs(theta[mask]).sum())
        if not np.all(np.isfinite(theta)):
            raise FloatingPointError(
                "training diverged (non-finite weights); lower "
                f"learning_rate={self.learning_rate:g}"
            )
        self.theta = theta
        self.loss_curve = curve
        self.zero_fraction = float(np.mean(theta[mask] == 0.0))
        self.theta_schedule = schedule

    # -- the fitted network ---------------------------------------------------------------
    def _kernel(self) -> tuple[Any, tuple]:
        mode = np.array([0 if self.parametrization == "denoiser" else 1], dtype=np.int64)
        return _score_network, (self.theta, self.layout, self.features, mode)

    def network_output(self, x: np.ndarray, t: int) -> np.ndarray:
        """F(x, t) for a batch x (B, d) by the NumPy forward (the kernel's twin)."""
        self.alpha_bar(t)
        x = self._check_x(x)
        feat = self.features[t - 1]
        U = np.concatenate([feat[0] * x, np.broadcast_to(feat[1:], (x.shape[0], feat.size - 1))], 1)
        return forward(self.theta, self.layout, U)[0]

    def disconnected(self) -> dict[str, np.ndarray]:
        """Coordinates the penalty cut off: ``inputs`` (all first-layer weights from x_j are
        0) and ``outputs`` (the last layer's row j is 0, so F_j is its bias alone)."""
        slices = _slices(self.layout)
        w0, _, n_in, n_out = slices[0]
        W0 = self.theta[w0].reshape(n_out, n_in)[:, : self.d]
        wl, _, n_in_l, n_out_l = slices[-1]
        WL = self.theta[wl].reshape(n_out_l, n_in_l)
        return {"inputs": np.all(W0 == 0.0, axis=0), "outputs": np.all(WL == 0.0, axis=1)}

    def __repr__(self) -> str:
        return (
            f"L1NetworkDSM(n={self.n}, d={self.d}, r={self.r:g}, penalty={self.penalty!r}, "
            f"width={self.width}, depth={self.depth})"
        )
