import functools as ft
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_beta, check_hyperparameter
from ._learnable import HyperScalar


# Bisection steps for the threshold of a general alpha. Each halves an interval of
# width below 1, so 50 steps reach float64 resolution; one Newton step afterwards
# (in `_entmax_rows`) polishes the root and gives its exact derivative.
_BISECT_STEPS = 50


def _axes(ndim: int, axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


def _to_rows(x, axis):
    """`x` with the axes the simplex lives on moved last and flattened."""
    axes = _axes(x.ndim, axis)
    rest = [a for a in range(x.ndim) if a not in axes]
    y = jnp.transpose(x, (*rest, *axes))
    return y.reshape(*(x.shape[a] for a in rest), -1)


def _from_rows(rows, shape, axis):
    """The inverse of `_to_rows` for an array of the original `shape`."""
    axes = _axes(len(shape), axis)
    rest = [a for a in range(len(shape)) if a not in axes]
    perm = (*rest, *axes)
    y = rows.reshape(*(shape[a] for a in perm))
    inverse = sorted(range(len(shape)), key=lambda a: perm[a])
    return jnp.transpose(y, inverse)


def _ranks(z):
    # 1..d along the last axis, of z's rank (rank promotion stays explicit).
    d = z.shape[-1]
    return jnp.arange(1, d + 1, dtype=z.dtype).reshape((1,) * (z.ndim - 1) + (d,))


def _sparsemax_threshold(z):
    """tau with sum relu(z - tau) = 1 along the last axis, from a sort
    (Martins & Astudillo 2016, Algorithm 1)."""
    zs = -jnp.sort(-z, axis=-1)
    k = _ranks(z)
    cs = jnp.cumsum(zs, axis=-1)
    size = jnp.sum(1 + k * zs > cs, axis=-1, keepdims=True)
    total = jnp.take_along_axis(cs, size - 1, axis=-1)
    return (total - 1) / size.astype(z.dtype)


def _entmax15_threshold(z):
    """tau with sum relu(z - tau)^2 = 1 along the last axis, from a sort (Peters,
    Niculae & Martins 2019, Algorithm 2): on the top k entries tau solves a
    quadratic, and the support is the largest k whose root lies below z_(k)."""
    zs = -jnp.sort(-z, axis=-1)
    k = _ranks(z)
    mean = jnp.cumsum(zs, axis=-1) / k
    mean_sq = jnp.cumsum(zs * zs, axis=-1) / k
    delta = (1 - k * (mean_sq - mean * mean)) / k
    tau = mean - jnp.sqrt(jnp.maximum(delta, 0))
    size = jnp.sum(tau <= zs, axis=-1, keepdims=True)
    return jnp.take_along_axis(tau, size - 1, axis=-1)


def _halve(_, carry):
    lo, hi, z, r = carry
    mid = (lo + hi) / 2
    mass = jnp.sum(jnp.maximum(z - mid, 0) ** r, axis=-1, keepdims=True)
    above = mass >= 1  # the root lies at or right of mid
    return jnp.where(above, mid, lo), jnp.where(above, hi, mid), z, r


# Jitted (with a static alpha) because an eager `fori_loop` is traced and compiled
# again on every call; inside a caller's jit this is inlined as usual.
@ft.partial(jax.jit, static_argnums=1)
def _bisect_threshold(z, alpha):
    """tau with sum relu(z - tau)^(1/(alpha-1)) = 1 along the last axis, by
    bisection. With max(z) = 0 the root lies in [-1, -(1/d)^(alpha-1)]: the
    largest entry alone reaches 1 at the left end, and d entries at most 0 give
    at most d (1/d) = 1 at the right end."""
    shape = (*z.shape[:-1], 1)
    lo = jnp.full(shape, -1.0, z.dtype)
    hi = jnp.full(shape, -((1 / z.shape[-1]) ** (alpha - 1)), z.dtype)
    r = jnp.asarray(1 / (alpha - 1), z.dtype)
    lo, _, _, _ = jax.lax.fori_loop(0, _BISECT_STEPS, _halve, (lo, hi, z, r))
    return lo


def _threshold(z, alpha):
    if alpha == 2:
        return _sparsemax_threshold(z)
    if alpha == 1.5:
        return _entmax15_threshold(z)
    return _bisect_threshold(z, alpha)


def _entmax_rows(y, alpha):
    r"""alpha-entmax of `y` along the last axis, with exact first derivatives.

    Returns `(p, zs, c)`: $p = [z - \tau]_+^{1/(\alpha-1)}$ with
    $z = (\alpha-1) y$ = `zs + c` and `c` the row maximum (shifting by it keeps the
    support's values in $(-1, 0]$, so nothing overflows or cancels at large
    inputs). The threshold is found without gradients, then one Newton step on
    $\sum_S (z_i - \tau)^{1/(\alpha-1)} = 1$ over the found support $S$ makes
    $\partial\tau/\partial z$ the implicit-function derivative, so autodiff of
    `p` gives the entmax Jacobian $\mathrm{diag}(w) - ww^\top/\sum w$,
    $w = p^{2-\alpha}$ (for sparsemax the step is the exact closed form).
    """
    r = 1 / (alpha - 1)
    z = (alpha - 1) * y
    c = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    zs = z - c
    tau0 = jax.lax.stop_gradient(_threshold(zs, alpha))
    on = zs > tau0
    u = jnp.where(on, zs - tau0, 1)  # "double where": no NaN gradients off S
    mass = jnp.sum(jnp.where(on, u**r, 0), axis=-1, keepdims=True)
    slope = jnp.sum(jnp.where(on, r * u ** (r - 1), 0), axis=-1, keepdims=True)
    tau = tau0 + (mass - 1) / jax.lax.stop_gradient(slope)
    v = zs - tau
    keep = on & (v > 0)
    p = jnp.where(keep, jnp.where(keep, v, 1) ** r, 0)
    # The Newton step leaves sum(p) = 1 to round-off; dividing by the sum makes
    # the activation lie on the simplex to the last bit the dtype allows.
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    return p, zs, c


def _conjugate_rows(y, alpha):
    """(per-row values of max_p <p, y> + H_alpha(p), p) along the last axis."""
    p, zs, c = _entmax_rows(y, alpha)
    inner = (jnp.sum(c * p, axis=-1) + jnp.sum(p * zs, axis=-1)) / (alpha - 1)
    tsallis = (1 - jnp.sum(p**alpha, axis=-1)) / (alpha * (alpha - 1))
    return inner + tsallis, p


@ft.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def tsallis_conjugate(y, alpha: float, axis):
    r"""$\sum_\text{rows} \max_{p \in \Delta} \langle p, y\rangle + H_\alpha(p)$
    over the simplex along `axis`, with $H_\alpha$ the Tsallis entropy. Its
    gradient is alpha-entmax of `y` (exactly the array `entmax_rows` returns)."""
    values, _ = _conjugate_rows(_to_rows(y, axis), alpha)
    return jnp.sum(values)


@tsallis_conjugate.defjvp
def _tsallis_conjugate_jvp(alpha, axis, primals, tangents):
    # Danskin: the gradient of a max over p is the maximiser. The maximiser is
    # computed differentiably, so second derivatives (the Hessian the training
    # backward pass needs) are the entmax Jacobian.
    (y,), (dy,) = primals, tangents
    values, p = _conjugate_rows(_to_rows(y, axis), alpha)
    return jnp.sum(values), jnp.sum(p * _to_rows(dy, axis))


def entmax_activation(x, alpha: float, axis):
    """alpha-entmax of `x` along `axis` (shape and dtype of `x`)."""
    p, _, _ = _entmax_rows(_to_rows(x, axis), alpha)
    return _from_rows(p, x.shape, axis)


def check_alpha(owner: str, alpha) -> None:
    """Raise unless `alpha` is a concrete real number, finite and > 1."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"{owner} expected `alpha` to be a Python float (it chooses the "
            f"algorithm when the function is traced, so it cannot be learned), "
            f"got {type(alpha).__name__} {alpha!r:.60}. Write e.g. alpha=1.5."
        )
    check_hyperparameter(
        owner,
        "alpha",
        alpha,
        low=1.0,
        strict=True,
        why="alpha = 1 is the softmax limit, use Softmax; alpha = 2 is sparsemax",
    )


class Entmax(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \max_{p\in\Delta} \langle p, \beta x\rangle +
    H_\alpha(p)$ along `axis`; activation $\alpha$-entmax of $\beta x$.

    $H_\alpha(p) = \frac{1 - \sum_i p_i^\alpha}{\alpha(\alpha - 1)}$ is the
    Tsallis entropy, so $L$ is the convex conjugate of $-H_\alpha$ restricted to
    the probability simplex $\Delta$ (convex, as every conjugate is). By
    Danskin's theorem its gradient is the maximiser
    $p_i = [(\alpha-1)\beta x_i - \tau]_+^{1/(\alpha-1)}$, with $\tau$ the
    threshold that makes $p$ sum to one: a *sparse* softmax, exactly zero for
    inputs far enough below the largest (Peters et al. 2019). $\alpha \to 1$ is
    [`hamax.lagrangians.Softmax`][] (Shannon entropy, the same value and
    activation in the limit), $\alpha = 2$ is [`hamax.lagrangians.Sparsemax`][];
    $\alpha = 1.5$ and $2$ are computed exactly from a sort, other values by
    bisection on $\tau$ polished by a Newton step. The activation has a custom
    JVP (it is the maximiser itself) and its derivative is the entmax
    Jacobian, so training through the dynamics sees exact second derivatives.

    As the hidden Lagrangian of a [`hamax.synapses.DenseHiddenSynapse`][] it is
    the sparse modern Hopfield network of Hu et al. (2023) and the
    Hopfield-Fenchel-Young energy of Santos et al. (2024): each retrieval step
    averages only the memories inside the support, so retrieval is exact once
    one memory is separated from the rest by more than the support's width.

    For tensors with more than one dimension the simplex lies along `axis` and
    the values of the slices are summed; `axis=None` takes one simplex over all
    elements. `alpha` is a static Python float (it selects the algorithm);
    `beta` may be learnable.

    ??? cite "References"

        ```bibtex
        @inproceedings{peters2019sparse,
          title={Sparse Sequence-to-Sequence Models},
          author={Peters, Ben and Niculae, Vlad and Martins, Andr{\'e} F. T.},
          booktitle={ACL}, year={2019}}
        @inproceedings{hu2023sparse,
          title={On Sparse Modern Hopfield Model},
          author={Hu, Jerry Yao-Chieh and Yang, Donglin and Wu, Dennis and Xu, Chenwei
                  and Chen, Bo-Yu and Liu, Han},
          booktitle={NeurIPS}, year={2023}}
        @inproceedings{santos2024sparse,
          title={Sparse and Structured {H}opfield Networks},
          author={Santos, Saul and Niculae, Vlad and McNamee, Daniel and
                  Martins, Andr{\'e} F. T.},
          booktitle={ICML}, year={2024}}
        ```
    """

    alpha: float | int = eqx.field(static=True, default=1.5)
    beta: HyperScalar = 1.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_alpha("Entmax", self.alpha)
        check_beta("Entmax", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return tsallis_conjugate(self.beta * x, float(self.alpha), self.axis) / (
            self.beta
        )


Entmax.__init__.__doc__ = """**Arguments:**

- `alpha`: the entropy's order, a Python float > 1. Default 1.5.
- `beta`: inverse temperature, > 0 (the activation is entmax of `beta * x`).
  Default 1.
- `axis`: the axis (or axes, or `None` for all) the simplex lies along. Default -1.
"""


def entmax(
    x: Float[Array, "*shape"],
    alpha: float | int = 1.5,
    axis: int | tuple[int, ...] | None = -1,
) -> Float[Array, "*shape"]:
    r"""The $\alpha$-entmax activation of `x` along `axis`: the gradient of
    [`hamax.lagrangians.Entmax`][]`(alpha)`, a probability vector that is exactly
    zero on inputs far enough below the largest."""
    check_alpha("entmax", alpha)
    return entmax_activation(x, float(alpha), axis)


def lagr_entmax(
    x: Float[Array, "*shape"],
    alpha: float | int = 1.5,
    beta: float = 1.0,
    axis: int | tuple[int, ...] | None = -1,
) -> Scalar:
    """Function form of [`hamax.lagrangians.Entmax`][]."""
    return Entmax(alpha=alpha, beta=beta, axis=axis)(x)
