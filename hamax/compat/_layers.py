"""The seeds' layer and synapse constructors, built on the core classes."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .. import lagrangians as L
from .._neurons import NeuronLayer
from ..synapses import (
    AttentionSynapse as _Attention,
    ConvPoolSynapse,
    ConvSynapse as _Conv,
    DenseHiddenSynapse,
    NaryDenseSynapse,
    SelfAttentionSynapse as _SelfAttention,
)
from ..synapses._base import AbstractSynapse


class SeedLayer(NeuronLayer):
    """A core `NeuronLayer` with the seeds' alias `g` for `activation`. Like the
    seeds' layers, `g` also accepts a batch of states for element-wise and
    last-axis Lagrangians."""

    def g(self, x):
        """Alias for `activation` (the seeds' name)."""
        return self.activation(x)

    def init_state(self, bs=None, rng=None, *, dtype=None, scale=0.0, key=None):
        """A state of this layer: zeros, or standard normal with `rng`; with a
        leading batch axis of size `bs` when given (the seeds' signature). With
        keywords only it is the core `NeuronLayer.init_state`."""
        if bs is None and rng is None:
            return super().init_state(dtype=dtype, scale=scale, key=key)
        shape = self.shape if bs is None else (bs, *self.shape)
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        if rng is None:
            return jnp.zeros(shape, dtype)
        return jr.normal(rng, shape, dtype)

    def init(self, key=None, inputs=None) -> "SeedLayer":
        """treex-style `layer.init(key, x)`: a layer holds no random parameters,
        so this returns the layer itself."""
        del key, inputs
        return self


def _layer(lagrangian_cls, doc):
    def make(
        shape, tau: float = 1.0, use_bias: bool = False, **lagrangian_kwargs
    ) -> NeuronLayer:
        lag = lagrangian_cls(**lagrangian_kwargs)
        bias = (
            jnp.zeros(shape if not isinstance(shape, int) else (shape,))
            if use_bias
            else None
        )
        return SeedLayer(lag, shape, tau=tau, bias=bias)

    make.__name__ = make.__qualname__ = doc.split()[0]
    make.__doc__ = (
        f"{doc}: `NeuronLayer({lagrangian_cls.__name__}(**kwargs), shape, tau)`. "
        "`use_bias=True` adds a learnable resting state (hamax's `bias`)."
    )
    return make


IdentityLayer = _layer(L.Identity, "IdentityLayer (seeds API)")
RepuLayer = _layer(L.RePU, "RepuLayer (seeds API)")
ReluLayer = _layer(L.ReLU, "ReluLayer (seeds API)")
SoftmaxLayer = _layer(L.Softmax, "SoftmaxLayer (seeds API)")
SigmoidLayer = _layer(L.Sigmoid, "SigmoidLayer (seeds API)")
TanhLayer = _layer(L.Tanh, "TanhLayer (seeds API)")
ExpLayer = _layer(L.Exp, "ExpLayer (seeds API)")
RexpLayer = _layer(L.RExp, "RexpLayer (seeds API)")
LayerNormLayer = _layer(L.LayerNorm, "LayerNormLayer (seeds API)")


def DenseSynapse(stdinit: float = 0.02) -> NaryDenseSynapse:
    """Seeds' `DenseSynapse`: $E = -\\sum W g_1 \\cdots g_n$ over any number of
    flattened layers (a matrix for two). Maps to `hamax.synapses.NaryDenseSynapse`."""
    return NaryDenseSynapse(init_std=stdinit)


def DenseMatrixSynapseWithHiddenLayer(
    nhid: int,
    stdinit: float = 0.02,
    hidden_lagrangian=None,
    do_ravel: bool = True,
    do_norm: bool = False,
) -> DenseHiddenSynapse:
    """Seeds' dense synapse with an integrated hidden layer of `nhid` units.

    Maps to `hamax.synapses.DenseHiddenSynapse`; `do_norm` normalised each layer's
    part of every memory, which is `normalize="per_layer"`.
    """
    if not do_ravel:
        raise ValueError(
            "DenseMatrixSynapseWithHiddenLayer(do_ravel=False) is not supported; use "
            "hamax.synapses.DenseHiddenSynapse(..., per_token=True)."
        )
    return DenseHiddenSynapse(
        nhid,
        L.ReLU() if hidden_lagrangian is None else hidden_lagrangian,
        normalize="per_layer" if do_norm else False,
        init_std=stdinit,
    )


def ConvSynapse(kernel_size, strides=1, padding="SAME", **kwargs) -> _Conv:
    """Seeds' `ConvSynapse`; output channels come from the output layer."""
    _no_extra("ConvSynapse", kwargs)
    return _Conv(kernel_size, strides, padding)


def ConvSynapseWithPool(
    kernel_size,
    pool_window=(5, 5),
    pool_stride=(2, 2),
    pool_type: str = "avg",
    strides=1,
    padding="SAME",
    **kwargs,
) -> ConvPoolSynapse:
    """Seeds' `ConvSynapseWithPool` (pooling windows are "VALID", as in flax)."""
    _no_extra("ConvSynapseWithPool", kwargs)
    return ConvPoolSynapse(
        kernel_size,
        strides,
        padding,
        pool=pool_type,
        pool_window=pool_window,
        pool_strides=pool_stride,
    )


def _beta(hidden_lagrangian) -> float:
    if hidden_lagrangian is None:
        return 1.0
    if isinstance(hidden_lagrangian, L.Softmax):
        return float(hidden_lagrangian.resolved().beta)
    raise ValueError(
        "AttentionSynapse supports a Softmax hidden Lagrangian only, got "
        f"{hidden_lagrangian!r}. Pass hidden_lagrangian=LSoftmax(beta=...) or None."
    )


class WrappedSynapse(AbstractSynapse):
    """A seeds' synapse as a view of a core synapse (`inner`), which holds the
    parameters and computes the energy and its clamp-time drive (`partial`)."""

    inner: eqx.AbstractVar[AbstractSynapse]

    @property
    def is_initialized(self) -> bool:
        return self.inner.is_initialized

    def partial(self, fixed):
        return self.inner.partial(fixed)

    def __call__(self, *gs):
        return self.inner(*gs)


class _SeedAttention(WrappedSynapse):
    # Wraps the core attention synapse (`_core`) so that `stdinit` (the seeds'
    # standard deviation of the projections) is honoured; the core draws
    # 1/sqrt(d).
    inner: _Attention | _SelfAttention
    stdinit: float
    _core: ClassVar[type[_Attention] | type[_SelfAttention]]

    def __init__(
        self,
        num_heads: int = 1,
        zspace_dim: int = 64,
        stdinit: float = 0.02,
        hidden_lagrangian=None,
        *,
        inner: _Attention | _SelfAttention | None = None,
    ):
        self.stdinit = stdinit
        self.inner = (
            self._core(num_heads, zspace_dim, _beta(hidden_lagrangian))
            if inner is None
            else inner
        )

    @property
    def Wq(self):
        """The query projections, `(heads, zspace_dim, d)`."""
        return self.inner.Wq

    @property
    def Wk(self):
        """The key projections, `(heads, zspace_dim, d)`."""
        return self.inner.Wk

    def _projections(self, dq: int, dk: int, dtype, key):
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        kq, kk = jr.split(key)
        h, y = self.inner.num_heads, self.inner.head_dim
        Wq = self.stdinit * jr.normal(kq, (h, y, dq), dtype)
        Wk = self.stdinit * jr.normal(kk, (h, y, dk), dtype)
        inner = self._core(h, y, self.inner.beta, Wq=Wq, Wk=Wk)
        return type(self)(stdinit=self.stdinit, inner=inner)


class AttentionSynapse(_SeedAttention):
    r"""Seeds' `AttentionSynapse(gq, gk)`: $E = -\sum_h\sum_q \frac1\beta
    \log\sum_k e^{\beta Q_q\cdot K_k}$ (tokens along the last axis), the core
    [`hamax.synapses.AttentionSynapse`][] with projections drawn with standard
    deviation `stdinit`."""

    arity = 2
    _core = _Attention
    __init__ = _SeedAttention.__init__  # for type checkers; equinox inherits it

    def init(self, shapes, *, dtype=None, key):
        sq, sk = shapes
        return self._projections(sq[-1], sk[-1], dtype, key)


class SelfAttentionSynapse(_SeedAttention):
    """Seeds' `SelfAttentionSynapse(g)`: the attention of a layer with itself,
    every token attending to every other token (self excluded, as in the core
    [`hamax.synapses.SelfAttentionSynapse`][]); projections drawn with standard
    deviation `stdinit`."""

    arity = 1
    _core = _SelfAttention
    __init__ = _SeedAttention.__init__  # for type checkers; equinox inherits it

    def init(self, shapes, *, dtype=None, key):
        (shape,) = shapes
        # Trace the core init only for its token-count check (no key is drawn).
        jax.eval_shape(lambda k: self.inner.init(shapes, dtype=dtype, key=k), key)
        return self._projections(shape[-1], shape[-1], dtype, key)


def _no_extra(owner, kwargs):
    if kwargs:
        raise ValueError(
            f"{owner} got unsupported arguments {sorted(kwargs)}; hamax supports "
            "kernel_size, strides and padding."
        )
