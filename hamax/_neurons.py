import functools as ft
import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from ._custom_types import Scalar
from ._misc import as_shape
from .lagrangians import AbstractLagrangian, LogSumReLU


@ft.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _legendre(static, params, x, g, bias):
    lagrangian = eqx.combine(params, static)
    return jnp.sum((x - bias) * g) - lagrangian(x)


@_legendre.defjvp
def _legendre_jvp(static, primals, tangents):
    # E(x, g) = <x - I, g> - L(x) with g = dL/dx. Then (paper eq. 2):
    #   dE/dg = x - I           (the "Legendre shortcut" used by the dynamics)
    #   dE/dx = g - dL/dx = 0   (so L is never differentiated twice)
    #   dE/dI = -g,  dE/dtheta = -dL/dtheta(x) at fixed x (learnable Lagrangians).
    params, x, g, bias = primals
    dparams, _, dg, dbias = tangents
    del _

    def value(p):
        return eqx.combine(p, static)(x)

    lval, dl = jax.jvp(value, (params,), (dparams,))
    out = jnp.sum((x - bias) * g) - lval
    return out, jnp.sum((x - bias) * dg) - jnp.sum(dbias * g) - dl


def legendre_energy(
    lagrangian: Callable[[Array], Scalar],
    x: Float[Array, "*shape"],
    g: Float[Array, "*shape"] | None = None,
    bias: Float[Array, "*shape"] | None = None,
) -> Scalar:
    r"""The Legendre-transform energy $E = \langle x - I, g\rangle - L(x)$.

    Differentiating it with respect to `g` gives exactly $x - I$ and with respect
    to `x` gives zero (a custom JVP encodes these identities, which hold whenever
    $g = \nabla L(x)$), so autodiff never differentiates through $L$ twice.

    **Arguments:**

    - `lagrangian`: a convex scalar function of `x` (e.g. an
      [`hamax.lagrangians.AbstractLagrangian`][]).
    - `x`: the hidden state.
    - `g`: the activation $\nabla L(x)$; computed when not given.
    - `bias`: the resting state $I$ (zero when not given).

    **Returns:** a scalar.
    """
    if g is None:
        g = jax.grad(lagrangian)(x)
    bias_arr = jnp.zeros((), x.dtype) if bias is None else bias
    bias_arr = jnp.broadcast_to(bias_arr.astype(x.dtype), x.shape)
    params, static = eqx.partition(lagrangian, eqx.is_inexact_array)
    return _legendre(static, params, x, g, bias_arr)


class NeuronLayer(eqx.Module):
    r"""A layer of neurons: a state tensor of fixed `shape` with a convex Lagrangian.

    The activation is $g = \nabla L(x)$ and the energy is the Legendre transform
    $E = \langle x - I, g\rangle - L(x)$. During descent the state follows
    $\tau\, dx/dt = -\partial E_{\text{total}} / \partial g$.

    **Arguments:**

    - `lagrangian`: an [`hamax.lagrangians.AbstractLagrangian`][] (or any convex
      scalar function of the state, e.g. `hamax.lagrangians.lagr_relu`).
    - `shape`: the shape of one example's state, an int or a tuple of ints.
    - `tau`: the time constant, > 0. Default 1.
    - `bias`: optional resting state $I$, broadcastable to `shape`.

    !!! example

        ```python
        image = hamax.NeuronLayer(hamax.lagrangians.Tanh(), (28, 28, 1))
        label = hamax.NeuronLayer(hamax.lagrangians.Softmax(), 10, tau=0.5)
        ```
    """

    lagrangian: Callable[[Array], Scalar]
    shape: tuple[int, ...] = eqx.field(static=True)
    tau: float = eqx.field(static=True)
    bias: Array | None

    # `lagrangian` and `shape` are validated by hand below, with messages that say
    # how to fix them, so their annotations are deliberately loose.
    def __init__(
        self,
        lagrangian: Any,
        shape: Any,
        tau: float = 1.0,
        bias: Array | float | None = None,
    ):
        if not callable(lagrangian):
            raise ValueError(
                f"NeuronLayer expected `lagrangian` to be callable (for example "
                f"hamax.lagrangians.ReLU()), got {lagrangian!r}."
            )
        if isinstance(lagrangian, type) and issubclass(lagrangian, AbstractLagrangian):
            raise ValueError(
                f"NeuronLayer expected a Lagrangian instance, got the class "
                f"{lagrangian.__name__}. Write `{lagrangian.__name__}()`."
            )
        if isinstance(lagrangian, LogSumReLU):
            # Concave between its kinks: as a layer's Lagrangian the energy
            # would not be bounded below, and the descent could climb.
            raise ValueError(
                "NeuronLayer got LogSumReLU, which is a separation function (not "
                "convex), not a neuron Lagrangian: use it as the hidden function of "
                "a DenseHiddenSynapse (or make_dense_am's `separation`)."
            )
        self.lagrangian = lagrangian
        self.shape = as_shape(shape, "NeuronLayer", "shape")
        if not (
            isinstance(tau, int | float)
            and not isinstance(tau, bool)
            and math.isfinite(tau)
            and tau > 0
        ):
            raise ValueError(
                f"NeuronLayer expected `tau` to be a finite positive number, got "
                f"tau={tau!r}."
                " The time constant scales the step: use tau=1.0 when unsure."
            )
        self.tau = float(tau)
        if bias is not None:
            bias = jnp.asarray(bias)
            try:
                jnp.broadcast_shapes(bias.shape, self.shape)
            except ValueError:
                raise ValueError(
                    f"NeuronLayer expected `bias` broadcastable to shape "
                    f"{self.shape}, got bias.shape={bias.shape}."
                ) from None
        self.bias = bias

    def init_state(
        self,
        *,
        dtype=None,
        scale: float = 0.0,
        key: PRNGKeyArray | None = None,
    ) -> Float[Array, "*shape"]:
        """An initial state: zeros, or `scale` times standard normal noise.

        **Arguments:**

        - `dtype`: defaults to float32 (float64 under `jax_enable_x64`).
        - `scale`: standard deviation of the noise; needs `key` when nonzero.
        - `key`: a `jax.random` key.
        """
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        if key is None:
            if scale != 0.0:
                raise ValueError(
                    "NeuronLayer.init_state got `scale` != 0 but no `key`; pass "
                    "key=jax.random.key(0) to draw a random initial state."
                )
            return jnp.zeros(self.shape, dtype)
        return scale * jr.normal(key, self.shape, dtype)

    def activation(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The activation $g = \nabla L(x)$."""
        if isinstance(self.lagrangian, AbstractLagrangian):
            return self.lagrangian.activation(x)
        return jax.grad(self.lagrangian)(x)

    def energy(
        self, x: Float[Array, "*shape"], g: Float[Array, "*shape"] | None = None
    ) -> Scalar:
        r"""The layer energy $\langle x - I, g\rangle - L(x)$; see `legendre_energy`."""
        return legendre_energy(self.lagrangian, x, g, self.bias)

    def energy_grad(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""$\partial E_{\text{layer}}/\partial g = x - I$, without autodiff."""
        if self.bias is None:
            return x
        return x - jnp.broadcast_to(self.bias.astype(x.dtype), x.shape)
