"""Score kernel of the trained score network (``simulate.estimators.network``).

Same signature as every score kernel: ``score(x, t, alpha_bar_t, v_t, params, out)`` for one
row ``x`` (d,). ``params = (theta, layout, features, mode)``:

=============  ==========================================================================
``theta``      every weight and bias, flat: layer l is W_l (n_out, n_in) row-major, then
               b_l (n_out,)
``layout``     int64 (L + 1, 2): (n_in, n_out) of each layer
``features``   (T, 1 + E): column 0 is the input scale c_in(t), columns 1.. the time
               embedding e(t) (a pure function of t, tabulated per step)
``mode``       int64 (1,): 0 the network is the denoiser D (x0-prediction, score
               (a D - x) / v), 1 the network is the noise (score -F / sqrt(v))
=============  ==========================================================================

The network: u = (c_in(t) x, e(t)), h_0 = u, h_{l+1} = silu(W_l h_l + b_l) for the hidden
layers, F = W_L h_L + b_L; silu(z) = z / (1 + exp(-z)). The NumPy forward of training
(``simulate.estimators.network.forward``) computes the same function batch-wise.
"""

from __future__ import annotations

import math

import numpy as np

from simulate._kernels.config import jit


@jit
def _mlp_row(u, theta, layout, out):
    """F(u) of one input row ``u`` (n_in of layer 0,) into ``out`` (n_out of the last layer)."""
    n_layers = layout.shape[0]
    width = 0
    for l in range(n_layers):
        if layout[l, 1] > width:
            width = layout[l, 1]
    if layout[0, 0] > width:
        width = layout[0, 0]
    h = np.empty(width)
    g = np.empty(width)
    for j in range(layout[0, 0]):
        h[j] = u[j]
    offset = 0
    for l in range(n_layers):
        n_in, n_out = layout[l, 0], layout[l, 1]
        bias = offset + n_in * n_out
        last = l == n_layers - 1
        for i in range(n_out):
            acc = 0.0
            row = offset + i * n_in
            for j in range(n_in):
                acc += theta[row + j] * h[j]
            z = acc + theta[bias + i]
            if last:
                out[i] = z
            else:
                g[i] = z / (1.0 + math.exp(-z))
        for i in range(n_out):
            h[i] = g[i]
        offset = bias + n_out


@jit
def _score_network(x, t, alpha_bar_t, v_t, params, out):
    """s_t(x) of the network (module docstring): (a F - x) / v or -F / sqrt(v)."""
    theta, layout, features, mode = params
    d = x.shape[0]
    feat = features[t - 1]
    n_embed = feat.shape[0] - 1
    u = np.empty(d + n_embed)
    for j in range(d):
        u[j] = feat[0] * x[j]
    for j in range(n_embed):
        u[d + j] = feat[1 + j]
    _mlp_row(u, theta, layout, out)
    if mode[0] == 0:
        a = math.sqrt(alpha_bar_t)
        for j in range(d):
            out[j] = (a * out[j] - x[j]) / v_t
    else:
        scale = -1.0 / math.sqrt(v_t)
        for j in range(d):
            out[j] = scale * out[j]
