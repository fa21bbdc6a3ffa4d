"""hamux 0.2's `LinearSynapseWithBias` and `ConvSynapse(W, window_strides,
padding)`."""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ..._custom_types import Scalar
from ...synapses import DenseSynapse
from ...synapses._base import AbstractSynapse


def _float(a):
    a = jnp.asarray(a)
    # Integers (hamux's own example passes `jnp.arange(D2) + 1`) become the
    # default float dtype.
    return a if jnp.issubdtype(a.dtype, jnp.inexact) else a.astype(jnp.zeros(()).dtype)


def LinearSynapseWithBias(W, b) -> DenseSynapse:
    """hamux 0.2's `LinearSynapseWithBias(W, b)`: $E = -g_1^\\top W g_2 -
    \\langle b, g_2\\rangle$ (the core [`hamax.synapses.DenseSynapse`][] with a
    bias). An integer `b` is converted to the default float dtype."""
    return DenseSynapse(W=_float(W), b=_float(b), use_bias=True)


class ConvSynapse(AbstractSynapse):
    """hamux 0.2's `ConvSynapse(W, window_strides, padding)`: $E = -\\langle
    g_2, \\mathrm{conv}(g_1, W)\\rangle$ with an `OIHW` kernel `W` on `HWC`
    activations (one example).

    `-dE/dg_2` is the forward convolution (`forward_conv`) and `-dE/dg_1` the
    transposed one. The core [`hamax.synapses.ConvSynapse`][] (an `HWIO`
    kernel inferred from the layers) is the fast path for new code.
    """

    arity = 2
    W: Float[Array, "cout cin kh kw"]
    window_strides: tuple[int, int]
    padding: str | tuple

    def __init__(self, W, window_strides=(1, 1), padding="SAME"):
        W = jnp.asarray(W)
        if W.ndim != 4:
            raise ValueError(
                "ConvSynapse expected `W` with 4 axes (out_channels, in_channels, "
                f"kh, kw), got W.shape={W.shape}."
            )
        self.W = W
        self.window_strides = tuple(window_strides)
        self.padding = padding

    @classmethod
    def from_conv_params(
        cls,
        key,
        channels_out: int,
        channels_in: int,
        filter_shape,
        window_strides,
        padding="SAME",
        mu: float = 0.5,
        sigma: float = 0.01,
    ) -> "ConvSynapse":
        """A kernel drawn as `mu + sigma * normal`, shape
        `(channels_out, channels_in, *filter_shape)` (hamux 0.2's defaults)."""
        shape = (channels_out, channels_in, *filter_shape)
        return cls(jr.normal(key, shape) * sigma + mu, window_strides, padding)

    def forward_conv(self, xhat1: Float[Array, "n h w c"]) -> Float[Array, "n h2 w2 o"]:
        """The convolution of a batch of `NHWC` activations (`-dE/dg_2`)."""
        return jax.lax.conv_general_dilated(
            xhat1,
            self.W,
            window_strides=self.window_strides,
            padding=self.padding,
            dimension_numbers=("NHWC", "OIHW", "NHWC"),
        )

    def __call__(self, g1: Float[Array, "..."], g2: Float[Array, "..."]) -> Scalar:
        if g1.ndim != 3 or g2.ndim != 3:
            raise ValueError(
                "ConvSynapse expected one example of (h, w, c) activations, got "
                f"g1.shape={g1.shape} and g2.shape={g2.shape}. Batch with jax.vmap."
            )
        return -jnp.sum(g2 * self.forward_conv(g1[None])[0])
