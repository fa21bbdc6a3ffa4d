import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import check_beta, check_hyperparameter
from ._learnable import HyperScalar, Learnable, resolve


class LogSumReLU(eqx.Module):
    r"""The log-sum-ReLU separation function of the Epanechnikov energy:
    $F(h) = \frac1\beta \log\big(\epsilon + \sum_\mu [1 + \beta(h_\mu -
    s)]_+\big)$ along `axis`.

    As the hidden function of a [`hamax.synapses.DenseHiddenSynapse`][] (or the
    `separation` of [`hamax.zoo.make_dense_am`][]) the memory energy is
    $E = -F(\Xi g)$. With $h_\mu - s = -\tfrac12\lVert g - \xi_\mu\rVert^2$ it is
    the log-sum-ReLU energy of Hoover et al. (2025): the log of a kernel density
    estimate with the Epanechnikov kernel, whose compact support lets a memory
    be retrieved exactly while the others contribute nothing. For ±1 memories
    and states near the corners of the cube, $\lVert g - \xi\rVert^2 = 2(N -
    \xi\cdot g)$, so `shift` $= N$ (the overlap of an exact match) gives that
    energy; for unit-norm memories and states it is 1. A memory is *active*
    when $h_\mu > s - 1/\beta$, so $1/\beta$ sets the support's width.

    The gradient is $f_\mu = \mathbb 1[\mu\ \text{active}] / (\epsilon +
    \sum_\nu [1 + \beta(h_\nu - s)]_+)$: every active memory gets the same
    weight, and a retrieval step moves the state to the centroid of the active
    memories (several overlapping supports make the emergent memories of the
    paper). `eps` > 0 keeps $F$ finite (equal to $\frac1\beta\log\epsilon$, with
    zero gradient) where no memory is active; it also bounds the gradient by
    $1/\epsilon$ where one memory is barely active.

    !!! warning "Not convex: a separation function, not a neuron Lagrangian"

        $F$ is concave on every region where the set $A$ of active memories is
        fixed (there it is the log of an affine function: its Hessian is
        $-\beta\,\mathbb 1_A\mathbb 1_A^\top/(\epsilon + S)^2$), convex only
        across the kinks where a memory enters the support, and constant where
        none is active. So it is not an
        [`hamax.lagrangians.AbstractLagrangian`][]: a neuron layer needs a
        convex Lagrangian for the dynamics to descend. Inside a
        `DenseHiddenSynapse` that is not needed: the descent of
        $E = E_x - F(\Xi g)$ only needs the *visible* layers' Lagrangians to be
        convex, and $E$ is bounded below wherever the visible activations are
        bounded (e.g. tanh).

    ??? cite "References"

        ```bibtex
        @inproceedings{hoover2025epanechnikov,
          title={Dense Associative Memory with {E}panechnikov Energy},
          author={Hoover, Benjamin and Shi, Zhaoyang and Balasubramanian,
                  Krishnakumar and Krotov, Dmitry and Ram, Parikshit},
          booktitle={NeurIPS}, year={2025}}
        ```
    """

    beta: HyperScalar = 1.0
    shift: HyperScalar = 0.0
    eps: float = eqx.field(static=True, default=1e-6)
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_beta("LogSumReLU", self.beta)
        check_hyperparameter(
            "LogSumReLU",
            "eps",
            self.eps,
            low=0.0,
            strict=True,
            why="it keeps the log finite where no memory is active; use e.g. eps=1e-6",
        )
        # Any finite shift is valid, so a learnable one needs no bound.
        shift = self.shift
        check_hyperparameter(
            "LogSumReLU",
            "shift",
            shift.value if isinstance(shift, Learnable) else shift,
            low=-float("inf"),
            strict=True,
            why="the overlap of an exact match, e.g. shift=N for ±1 memories",
        )

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        """The value $F(x)$ (a scalar) for `x` of any shape."""
        lag = resolve(self)  # hamax.learnable hyperparameters at their bounds
        mass = jnp.sum(jax.nn.relu(1 + lag.beta * (x - lag.shift)), axis=self.axis)
        return jnp.sum(jnp.log(mass + self.eps)) / lag.beta

    def activation(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The gradient $\partial F/\partial x$ (same shape and dtype as `x`):
        the indicator of the active units over $\epsilon + \sum [1 +
        \beta(x - s)]_+$."""
        return jax.grad(self)(x)


LogSumReLU.__init__.__doc__ = """**Arguments:**

- `beta`: inverse width, > 0: a unit is active when `x > shift - 1/beta`.
  Default 1.
- `shift`: the input of an exact match (the kernel's peak), any finite number;
  e.g. `N` for ±1 memories of `N` bits. Default 0.
- `eps`: added inside the log, > 0. Default 1e-6.
- `axis`: the axis (or axes, or `None` for all) summed inside the log. Default -1.
"""
