"""treex-era HAMUX (v0.1) Lagrangians: `lagr_*` functions that return
element-wise arrays (sum them for the scalar Lagrangian) and the `L*` classes,
which build the equivalent core [`hamax.lagrangians`][] objects."""

import functools as ft
import math

import jax
import jax.numpy as jnp

from ... import lagrangians as L


def lagr_identity(x):
    """Element-wise $\\frac12 x^2$; its derivative is the identity."""
    return 0.5 * jnp.power(x, 2)


def lagr_repu(x, n):
    """Element-wise rectified power unit of degree `n`: $\\frac1n \\max(x,0)^n$."""
    return 1 / n * jnp.power(jnp.maximum(x, 0), n)


def lagr_relu(x):
    """Element-wise $\\frac12 \\max(x,0)^2$ (`lagr_repu` of degree 2)."""
    return lagr_repu(x, 2)


def lagr_softmax(x, beta=1.0, axis: int = -1):
    """$\\frac1\\beta \\log\\sum e^{\\beta x}$ along `axis`, keeping that axis."""
    return 1 / beta * jax.nn.logsumexp(beta * x, axis=axis, keepdims=True)


def lagr_softmax_unstable(x, beta=1.0, axis: int = -1):
    """`lagr_softmax` written as `log(sum(exp(...)))` (v0.1 kept it for the
    browser export); here it is the stable form."""
    return lagr_softmax(x, beta, axis)


def lagr_exp(x, beta=1.0):
    """Element-wise $\\frac1\\beta e^{\\beta x}$."""
    return 1 / beta * jnp.exp(beta * x)


def lagr_rexp(x, beta=1.0):
    """Element-wise rectified exponential $\\frac1\\beta e^{\\beta x^+} - x^+$."""
    xc = jnp.maximum(x, 0)
    return 1 / beta * jnp.exp(beta * xc) - xc


@jax.custom_jvp
def _lagr_tanh(x, beta):
    # log cosh y = logaddexp(y, -y) - log 2, finite for any finite y.
    y = beta * x
    return (jnp.logaddexp(y, -y) - math.log(2.0)) / beta


@_lagr_tanh.defjvp
def _lagr_tanh_jvp(primals, tangents):
    x, beta = primals
    dx, _ = tangents
    return _lagr_tanh(x, beta), jnp.tanh(beta * x) * dx


def lagr_tanh(x, beta=1.0):
    """Element-wise $\\frac1\\beta \\log\\cosh(\\beta x)$; derivative
    $\\tanh(\\beta x)$."""
    return _lagr_tanh(x, beta)


def _tempered_sigmoid(x, beta=1.0, scale=1.0):
    return scale / (1 + jnp.exp(-beta * x))


@ft.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _lagr_sigmoid(x, beta, scale):
    return scale / beta * jax.nn.softplus(beta * x)


@_lagr_sigmoid.defjvp
def _lagr_sigmoid_jvp(beta, scale, primals, tangents):
    (x,), (dx,) = primals, tangents
    return _lagr_sigmoid(x, beta, scale), _tempered_sigmoid(x, beta, scale) * dx


def lagr_sigmoid(x, beta=1.0, scale=1.0):
    """Element-wise $\\frac{s}{\\beta}\\log(1 + e^{\\beta x})$; derivative
    `scale * sigmoid(beta * x)`."""
    return _lagr_sigmoid(x, beta, scale)


def _centered(x, axis, eps):
    xm = x - x.mean(axis, keepdims=True)
    return xm, jnp.sqrt(jnp.power(xm, 2).mean(axis, keepdims=True) + eps)


def lagr_layernorm(x, gamma=1.0, delta=0.0, axis: int = -1, eps=1e-5):
    """Layer-norm Lagrangian $D\\gamma\\sqrt{\\mathrm{Var}(x)+\\epsilon} +
    \\sum\\delta x$ along `axis` (kept)."""
    D = x.shape[axis] if x.ndim else 1
    _, sd = _centered(x, axis, eps)
    return D * gamma * sd + jnp.sum(delta * x, axis=axis, keepdims=True)


def lagr_spherical_norm(x, gamma=1.0, delta=0.0, axis: int = -1, eps: float = 1e-5):
    """Spherical-norm Lagrangian $\\gamma\\sqrt{\\sum x^2 + \\epsilon} +
    \\sum\\delta x$ along `axis` (kept)."""
    norm = jnp.sqrt(jnp.power(x, 2).sum(axis, keepdims=True) + eps)
    return gamma * norm + jnp.sum(delta * x, axis=axis, keepdims=True)


def _f(v):
    # v0.1 took Python ints for float hyperparameters (`LRepu(n=5)`).
    return float(v) if isinstance(v, int) else v


def _trainable(beta, min_beta) -> L.Learnable:
    # v0.1 made every beta a `tx.Parameter` and clipped it at `min_beta` in the
    # forward pass; a hamax Learnable does the same (with a straight-through
    # gradient, so a beta below the bound can come back).
    return L.learnable(beta, lower=min_beta)


def _no_scale(owner, scale):
    if scale != 1.0:
        raise ValueError(
            f"{owner} with scale={scale!r} is not supported; hamax's Sigmoid has "
            "no scale. Use scale=1.0, or write a Lagrangian returning "
            "scale * hamax.lagrangians.Sigmoid(beta)(x)."
        )


def LIdentity() -> L.Identity:
    """v0.1 `LIdentity()`: [`hamax.lagrangians.Identity`][]."""
    return L.Identity()


def LRepu(n=2.0) -> L.RePU:
    """v0.1 `LRepu(n=2.)`: [`hamax.lagrangians.RePU`][] of degree `n`."""
    return L.RePU(n=_f(n))


def LRelu() -> L.ReLU:
    """v0.1 `LRelu()`: [`hamax.lagrangians.ReLU`][]."""
    return L.ReLU()


def LSigmoid(beta=1.0, scale=1.0, min_beta=1e-6) -> L.Sigmoid:
    """v0.1 `LSigmoid(beta)`: [`hamax.lagrangians.Sigmoid`][] with a trainable
    `beta`, kept at or above `min_beta` (`scale` must be 1)."""
    _no_scale("LSigmoid", scale)
    return L.Sigmoid(beta=_trainable(beta, min_beta))


def LSoftmax(beta=1.0, axis: int = -1, min_beta=1e-6) -> L.Softmax:
    """v0.1 `LSoftmax(beta, axis)`: [`hamax.lagrangians.Softmax`][] with a
    trainable `beta` ([`hamax.learnable`][]), kept at or above `min_beta` as in
    v0.1."""
    return L.Softmax(beta=_trainable(beta, min_beta), axis=axis)


def LSoftmaxUnstable(beta=1.0, axis: int = -1, min_beta=1e-6) -> L.Softmax:
    """v0.1 `LSoftmaxUnstable`: the same Lagrangian as `LSoftmax` (stable form)."""
    return LSoftmax(beta, axis, min_beta)


def LExp(beta=1.0, min_beta=1e-6) -> L.Exp:
    """v0.1 `LExp(beta)`: [`hamax.lagrangians.Exp`][] with a trainable `beta`
    ([`hamax.learnable`][]), kept at or above `min_beta` as in v0.1."""
    return L.Exp(beta=_trainable(beta, min_beta))


def LRexp(beta=1.0, min_beta=1e-6) -> L.RExp:
    """v0.1 `LRexp(beta)`: [`hamax.lagrangians.RExp`][] with a trainable `beta`
    ([`hamax.learnable`][]), kept at or above `min_beta` as in v0.1."""
    return L.RExp(beta=_trainable(beta, min_beta))


def LTanh(beta=1.0, min_beta=1e-6) -> L.Tanh:
    """v0.1 `LTanh(beta)`: [`hamax.lagrangians.Tanh`][] with a trainable `beta`
    ([`hamax.learnable`][]), kept at or above `min_beta` as in v0.1."""
    return L.Tanh(beta=_trainable(beta, min_beta))


def LLayerNorm(gamma=1.0, delta=0.0, eps=1e-5) -> L.LayerNorm:
    """v0.1 `LLayerNorm(gamma, delta, eps)`: [`hamax.lagrangians.LayerNorm`][] with
    trainable `gamma` (kept >= 0, so the Lagrangian stays convex) and `delta`."""
    return L.LayerNorm(
        gamma=L.learnable(gamma, lower=0.0),
        delta=L.learnable(delta, lower=None),
        eps=eps,
    )


def LSphericalNorm(gamma=1.0, delta=0.0, eps=1e-5) -> L.SphericalNorm:
    """v0.1 `LSphericalNorm(gamma, delta, eps)`:
    [`hamax.lagrangians.SphericalNorm`][]."""
    return L.SphericalNorm(gamma=_f(gamma), delta=delta, eps=eps)
