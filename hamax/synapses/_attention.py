import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ._base import AbstractSynapse, require_param


def _attention_energy(Wq, Wk, gq, gk, beta, exclude_self: bool):
    # Energy Transformer attention energy (Hoover et al. 2023, eq. 3):
    # E = -(1/beta) sum_heads sum_C log sum_{B != C} exp(beta <K_B, Q_C>).
    q = jnp.einsum("cd,hyd->hcy", gq, Wq)
    k = jnp.einsum("bd,hyd->hby", gk, Wk)
    logits = beta * jnp.einsum("hcy,hby->hcb", q, k)
    if exclude_self:
        n = logits.shape[-1]
        logits = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, logits)
    return -jnp.sum(jax.nn.logsumexp(logits, axis=-1)) / beta


def token_dim(shape: tuple[int, ...]) -> int:
    """Feature size of a layer seen as tokens: the last axis; a 1-D layer is one
    token."""
    return shape[-1]


def as_tokens(owner, W, g, arg):
    """View a layer as (tokens, features): leading axes are flattened (an image
    (h, w, c) is h*w tokens), a vector is a single token."""
    if g.ndim == 0 or g.shape[-1] != W.shape[-1]:
        raise ValueError(
            f"{owner} expected `{arg}` with {W.shape[-1]} features on its last axis "
            f"(shape (..., {W.shape[-1]})), got {arg}.shape={g.shape}."
        )
    return g.reshape(-1, g.shape[-1])


class _AttentionBase(AbstractSynapse):
    num_heads: int = eqx.field(static=True)
    head_dim: int = eqx.field(static=True)
    beta: float | Float[Array, ""] | None = None
    Wq: Float[Array, "heads y d"] | None = None
    Wk: Float[Array, "heads y dk"] | None = None

    def __init__(
        self,
        num_heads: int = 1,
        head_dim: int = 64,
        beta: float | Float[Array, ""] | None = None,
        *,
        Wq: Float[Array, "heads y d"] | None = None,
        Wk: Float[Array, "heads y dk"] | None = None,
    ):
        for name, v in (("num_heads", num_heads), ("head_dim", head_dim)):
            if not (isinstance(v, int) and v > 0):
                raise ValueError(
                    f"{type(self).__name__} expected `{name}` to be a positive "
                    f"int, got {v!r}."
                )
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.beta = beta
        self.Wq = Wq
        self.Wk = Wk

    @property
    def is_initialized(self) -> bool:
        return self.Wq is not None and self.Wk is not None

    def _init(self, dq, dk, dtype, key):
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        kq, kk = jr.split(key)
        h, y = self.num_heads, self.head_dim
        Wq = jr.normal(kq, (h, y, dq), dtype) / math.sqrt(dq)
        Wk = jr.normal(kk, (h, y, dk), dtype) / math.sqrt(dk)
        beta = 1 / math.sqrt(y) if self.beta is None else self.beta
        return type(self)(h, y, beta, Wq=Wq, Wk=Wk)

    def _beta(self):
        return 1 / math.sqrt(self.head_dim) if self.beta is None else self.beta


class AttentionSynapse(_AttentionBase):
    r"""Cross-attention energy between a query layer and a key layer.

    Layers are seen as tokens along their last axis: `(tokens, d)`, an image-like
    `(h, w, c)` layer is `h*w` tokens of `c` features, a vector is one token.

    $E = -\frac1\beta \sum_h \sum_C \log \sum_B \exp(\beta\, K^h_B \cdot Q^h_C)$
    with $Q^h = g_1 W_Q^{h\top}$ (queries) and $K^h = g_2 W_K^{h\top}$ (keys), the
    Energy Transformer's attention energy across two layers.

    **Arguments:**

    - `num_heads`, `head_dim`: number of heads and their width.
    - `beta`: inverse temperature, default $1/\sqrt{\text{head\_dim}}$.
    - `Wq`, `Wk`: `(heads, head_dim, d)` projections, inferred when None.
    """

    arity = 2

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        sq, sk = shapes
        return self._init(token_dim(sq), token_dim(sk), dtype, key)

    @jax.named_scope("hamax.AttentionSynapse")
    def __call__(self, g1: Float[Array, "*c d"], g2: Float[Array, "*b d2"]) -> Scalar:
        Wq = require_param(self.Wq, "AttentionSynapse")
        Wk = require_param(self.Wk, "AttentionSynapse")
        q = as_tokens("AttentionSynapse", Wq, g1, "g1")
        k = as_tokens("AttentionSynapse", Wk, g2, "g2")
        return _attention_energy(Wq, Wk, q, k, self._beta(), exclude_self=False)


class SelfAttentionSynapse(_AttentionBase):
    r"""Self-attention energy of one token layer (Energy Transformer, eq. 3).

    The layer is seen as tokens along its last axis, as in `AttentionSynapse`.

    $E = -\frac1\beta \sum_h \sum_C \log \sum_{B \ne C} \exp(\beta\, K^h_B \cdot
    Q^h_C)$ with $Q^h = g W_Q^{h\top}$ and $K^h = g W_K^{h\top}$. Its negative
    gradient is the Energy Transformer's attention update.

    **Arguments:** as [`hamax.synapses.AttentionSynapse`][].
    """

    arity = 1

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        ((*lead, d),) = shapes
        if len(lead) == 0 or math.prod(lead) < 2:
            raise ValueError(
                f"SelfAttentionSynapse needs at least 2 tokens, got a layer of shape "
                f"{shapes[0]}."
            )
        return self._init(d, d, dtype, key)

    @jax.named_scope("hamax.SelfAttentionSynapse")
    def __call__(self, g: Float[Array, "*n d"]) -> Scalar:
        Wq = require_param(self.Wq, "SelfAttentionSynapse")
        Wk = require_param(self.Wk, "SelfAttentionSynapse")
        t = as_tokens("SelfAttentionSynapse", Wq, g, "g")
        return _attention_energy(Wq, Wk, t, t, self._beta(), exclude_self=True)
