import equinox as eqx
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_beta
from ._entmax import entmax_activation, tsallis_conjugate
from ._learnable import HyperScalar


class Sparsemax(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \max_{p\in\Delta} \langle p, \beta x\rangle -
    \tfrac12\lVert p\rVert^2 + \tfrac12$ along `axis`; activation
    $\mathrm{sparsemax}(\beta x)$.

    The convex conjugate of the Gini (Tsallis $\alpha = 2$) negentropy
    $\tfrac12(\lVert p\rVert^2 - 1)$ on the probability simplex $\Delta$. The
    maximiser is the Euclidean projection of $\beta x$ onto the simplex,
    $p_i = [\beta x_i - \tau]_+$ with $\sum_i p_i = 1$ (Martins & Astudillo
    2016), and at it $L = \frac1\beta\big(\tau + \tfrac12\lVert p\rVert^2 +
    \tfrac12\big)$. $\tau$ comes from an exact sort; the activation is the
    projection itself (a custom JVP) and its derivative the sparsemax Jacobian
    $\mathrm{diag}(s) - ss^\top/\lVert s\rVert_1$, $s$ the support's indicator.
    The same function as [`hamax.lagrangians.Entmax`][]`(alpha=2.0)`; the
    constant $\tfrac12$ makes the values of the entmax family agree (and tend to
    those of `Softmax` as $\alpha \to 1$).

    As the hidden Lagrangian of a [`hamax.synapses.DenseHiddenSynapse`][] it is
    the sparse modern Hopfield network of Hu et al. (2023): retrieval averages
    only the memories whose overlap is within $1/\beta$ of the best one.

    For tensors with more than one dimension the simplex lies along `axis` and
    the values of the slices are summed; `axis=None` takes one simplex over all
    elements.

    ??? cite "References"

        ```bibtex
        @inproceedings{martins2016softmax,
          title={From Softmax to Sparsemax: A Sparse Model of Attention and
                 Multi-Label Classification},
          author={Martins, Andr{\'e} F. T. and Astudillo, Ram{\'o}n Fernandez},
          booktitle={ICML}, year={2016}}
        @inproceedings{hu2023sparse,
          title={On Sparse Modern Hopfield Model},
          author={Hu, Jerry Yao-Chieh and Yang, Donglin and Wu, Dennis and Xu, Chenwei
                  and Chen, Bo-Yu and Liu, Han},
          booktitle={NeurIPS}, year={2023}}
        ```
    """

    beta: HyperScalar = 1.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_beta("Sparsemax", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return tsallis_conjugate(self.beta * x, 2.0, self.axis) / self.beta


Sparsemax.__init__.__doc__ = """**Arguments:**

- `beta`: inverse temperature, > 0 (the activation is sparsemax of `beta * x`).
  Default 1.
- `axis`: the axis (or axes, or `None` for all) the simplex lies along. Default -1.
"""


def sparsemax(
    x: Float[Array, "*shape"], axis: int | tuple[int, ...] | None = -1
) -> Float[Array, "*shape"]:
    r"""The sparsemax activation of `x` along `axis`: the Euclidean projection of
    `x` onto the probability simplex, the gradient of
    [`hamax.lagrangians.Sparsemax`][]`()`."""
    return entmax_activation(x, 2.0, axis)


def lagr_sparsemax(
    x: Float[Array, "*shape"],
    beta: float = 1.0,
    axis: int | tuple[int, ...] | None = -1,
) -> Scalar:
    """Function form of [`hamax.lagrangians.Sparsemax`][]."""
    return Sparsemax(beta=beta, axis=axis)(x)
