"""The seeds' function-style Lagrangians (`lagr_relu(x)`), thin calls to the classes."""

from jaxtyping import Array, Float

from .._custom_types import Scalar, TensorLike
from ._exp import Exp, RExp
from ._identity import Identity
from ._norm import LayerNorm, SphericalNorm
from ._repu import ReLU, RePU
from ._sigmoid import Sigmoid, Tanh
from ._softmax import Ghostmax, Softmax


def lagr_identity(x: Float[Array, "*shape"]) -> Scalar:
    """Function form of [`hamax.lagrangians.Identity`][]."""
    return Identity()(x)


def lagr_repu(x: Float[Array, "*shape"], n: float = 3.0) -> Scalar:
    """Function form of [`hamax.lagrangians.RePU`][]."""
    return RePU(n=n)(x)


def lagr_relu(x: Float[Array, "*shape"]) -> Scalar:
    """Function form of [`hamax.lagrangians.ReLU`][]."""
    return ReLU()(x)


def lagr_exp(x: Float[Array, "*shape"], beta: float = 1.0) -> Scalar:
    """Function form of [`hamax.lagrangians.Exp`][]."""
    return Exp(beta=beta)(x)


def lagr_rexp(x: Float[Array, "*shape"], beta: float = 1.0) -> Scalar:
    """Function form of [`hamax.lagrangians.RExp`][]."""
    return RExp(beta=beta)(x)


def lagr_tanh(x: Float[Array, "*shape"], beta: float = 1.0) -> Scalar:
    """Function form of [`hamax.lagrangians.Tanh`][]."""
    return Tanh(beta=beta)(x)


def lagr_sigmoid(x: Float[Array, "*shape"], beta: float = 1.0) -> Scalar:
    """Function form of [`hamax.lagrangians.Sigmoid`][]."""
    return Sigmoid(beta=beta)(x)


def lagr_softmax(
    x: Float[Array, "*shape"], beta: float = 1.0, axis: int | None = -1
) -> Scalar:
    """Function form of [`hamax.lagrangians.Softmax`][]."""
    return Softmax(beta=beta, axis=axis)(x)


def lagr_ghostmax(
    x: Float[Array, "*shape"], beta: float = 1.0, axis: int | None = -1
) -> Scalar:
    """Function form of [`hamax.lagrangians.Ghostmax`][]."""
    return Ghostmax(beta=beta, axis=axis)(x)


def lagr_layernorm(
    x: Float[Array, "*shape"],
    gamma: float = 1.0,
    delta: TensorLike = 0.0,
    axis: int | None = -1,
    eps: float = 1e-5,
) -> Scalar:
    """Function form of [`hamax.lagrangians.LayerNorm`][]."""
    return LayerNorm(gamma=gamma, delta=delta, axis=axis, eps=eps)(x)


# lagr_layernorm's parameters again: each function spells out its hamux 0.2 signature.
def lagr_spherical_norm(
    x: Float[Array, "*shape"],
    gamma: float = 1.0,
    delta: TensorLike = 0.0,
    axis: int | None = -1,
    eps: float = 1e-5,
) -> Scalar:
    """Function form of [`hamax.lagrangians.SphericalNorm`][]."""
    return SphericalNorm(gamma=gamma, delta=delta, axis=axis, eps=eps)(x)
