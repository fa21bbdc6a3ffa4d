"""Independent NumPy float64 references for the entmax family (per row, last axis)."""

import numpy as np


def entmax_reference(y, alpha, steps=200):
    """alpha-entmax of `y` along the last axis: bisection on the threshold of
    p_i = max((alpha - 1) y_i - tau, 0)^(1/(alpha - 1)) in plain NumPy (no sort, no
    shift, no Newton step), bracketed by [max z - 1, max z]."""
    z = (alpha - 1) * np.asarray(y, np.float64)
    r = 1 / (alpha - 1)
    hi = z.max(axis=-1, keepdims=True)
    lo = hi - 1
    for _ in range(steps):
        mid = (lo + hi) / 2
        mass = (np.maximum(z - mid, 0) ** r).sum(axis=-1, keepdims=True)
        lo, hi = np.where(mass >= 1, mid, lo), np.where(mass >= 1, hi, mid)
    p = np.maximum(z - lo, 0) ** r
    return p / p.sum(axis=-1, keepdims=True)


def conjugate_value(y, p, alpha):
    """Per-row <p, y> + H_alpha(p), the Tsallis entropy H_alpha(p) =
    (1 - sum p^alpha) / (alpha (alpha - 1))."""
    tsallis = (1 - (p**alpha).sum(axis=-1)) / (alpha * (alpha - 1))
    return (p * y).sum(axis=-1) + tsallis
