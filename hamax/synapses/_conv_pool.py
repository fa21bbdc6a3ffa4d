import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from ._conv import (
    Padding,
    _AbstractKernelSynapse,
    check_padding,
    checked_kernel,
    conv,
    conv_padding,
    pair,
)


def pool(h, kind: str, window, strides, beta):
    """Pool an HWC tensor over spatial windows ("VALID" windows)."""
    dims, steps = (*window, 1), (*strides, 1)
    if kind == "max":
        return lax.reduce_window(h, -jnp.inf, lax.max, dims, steps, "VALID")
    if kind == "avg":
        total = lax.reduce_window(h, 0.0, lax.add, dims, steps, "VALID")
        return total / math.prod(window)
    # Soft pooling: (1/beta) log-mean-exp over each window, a smooth max that
    # tends to max pooling as beta -> inf and to average pooling as beta -> 0.
    patches = lax.conv_general_dilated_patches(
        h[None], window, strides, "VALID", dimension_numbers=("NHWC", "OIHW", "NHWC")
    )[0]
    c = h.shape[-1]
    patches = patches.reshape(*patches.shape[:2], c, math.prod(window))
    lse = jax.nn.logsumexp(beta * patches, axis=-1)
    return (lse - jnp.log(math.prod(window))) / beta


class ConvPoolSynapse(_AbstractKernelSynapse):
    r"""Convolution followed by pooling: $E = -\langle g_2, \mathrm{pool}(W \star g_1)
    \rangle$.

    The paper's "Conv HAM" synapse. Pooling is `"max"`, `"avg"`, or `"soft"`, a
    log-mean-exp with inverse temperature `pool_beta` (smooth, so its gradient
    spreads over each window).

    **Arguments:**

    - `kernel_size`, `strides`, `padding`: of the convolution (see
      [`hamax.synapses.ConvSynapse`][]).
    - `pool`: `"max"` (default), `"avg"` or `"soft"`.
    - `pool_window`: int or pair, default 2; `pool_strides` defaults to the window.
    - `pool_beta`: inverse temperature of soft pooling.
    - `W`, `init_std`: as for `ConvSynapse`.
    """

    # ConvSynapse's fields, __init__ head and _shape_error/forward again, by shape:
    # fields and __init__ live in the final class (STYLE.md 3.1.3); the shared
    # logic (checks, kernel, convolution, init) is in _conv.py.
    kernel_size: tuple[int, int] = eqx.field(static=True)
    strides: tuple[int, int] = eqx.field(static=True)
    padding: Padding = eqx.field(static=True)
    pool: str = eqx.field(static=True)
    pool_window: tuple[int, int] = eqx.field(static=True)
    pool_strides: tuple[int, int] = eqx.field(static=True)
    pool_beta: float
    W: Float[Array, "kh kw cin cout"] | None
    init_std: float | None

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        *,
        pool: str = "max",
        pool_window: int | Sequence[int] = 2,
        pool_strides: int | Sequence[int] | None = None,
        pool_beta: float = 1.0,
        W: Float[Array, "kh kw cin cout"] | None = None,
        init_std: float | None = None,
    ):
        owner = "ConvPoolSynapse"
        self.kernel_size = pair(kernel_size, owner, "kernel_size")
        self.strides = pair(strides, owner, "strides")
        self.padding = check_padding(owner, padding)
        if pool not in ("max", "avg", "soft"):
            raise ValueError(
                f"ConvPoolSynapse expected `pool` to be 'max', 'avg' or 'soft', got "
                f"{pool!r}."
            )
        self.pool = pool
        self.pool_window = pair(pool_window, owner, "pool_window")
        self.pool_strides = pair(
            pool_strides if pool_strides is not None else self.pool_window,
            owner,
            "pool_strides",
        )
        self.pool_beta = pool_beta
        self.W = W
        self.init_std = init_std

    def _shape_error(self, hw, out, hwc2) -> str:
        return (
            f"ConvPoolSynapse maps a {hw} image to {out} (convolution "
            f"strides={self.strides}, padding={self.padding!r}, then pooling "
            f"window={self.pool_window}, strides={self.pool_strides}), but the "
            f"output layer is {hwc2[:2]}. Change the output layer shape to "
            f"{(*out, hwc2[2])}."
        )

    def forward(self, g1: Float[Array, "..."]) -> Float[Array, "h2 w2 cout"]:
        """The pooled convolution, the drive into the output layer."""
        W = checked_kernel("ConvPoolSynapse", self.W, g1)
        h = conv(g1, W, self.strides, self.padding, rows_cols=self._pooled_extent(g1))
        return pool(h, self.pool, self.pool_window, self.pool_strides, self.pool_beta)

    def _pooled_extent(self, g1: Float[Array, "..."]) -> tuple[int, int]:
        """The rows and columns of the convolution's output that the 'VALID'
        pooling reads: the convolution computes only those (e.g. 4 x 4 of a
        5 x 5 output for a 2 x 2 pooling), and nothing else is differentiated."""
        kh, kw = self.kernel_size
        pads = conv_padding(self.padding)
        if isinstance(pads, str):
            pads = lax.padtype_to_pads(g1.shape[:2], (kh, kw), self.strides, pads)
        extent = []
        for n, k, s, (lo, hi), a, t in zip(
            g1.shape[:2],
            (kh, kw),
            self.strides,
            pads,
            self.pool_window,
            self.pool_strides,
        ):
            full = (n + lo + hi - k) // s + 1
            extent.append(((full - a) // t) * t + a if full >= a else full)
        return extent[0], extent[1]
