"""The newer hamux (0.2.x) dict-based interface over the core HAM."""

import warnings
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

from .._ham import HAM as CoreHAM
from .._neurons import NeuronLayer as CoreNeuronLayer, legendre_energy
from ..synapses import BiasSynapse as CoreBiasSynapse, DenseSynapse


def legendre_transform(F):
    """Turn a Lagrangian `F(x)` into its dual `Fhat(xhat, x) = <xhat, x> - F(x)`
    (hamux 0.2 order: activation first), with the same gradient shortcut as
    [`hamax.legendre_energy`][]."""

    def Fhat(xhat, x):
        return legendre_energy(F, x, xhat)

    return Fhat


class NeuronLayer(eqx.Module):
    """hamux 0.2's `NeuronLayer(lagrangian, shape)`, with its method names:
    `activations` (alias `sigma`), `init(bs)` and `energy(xhat, x)` (alias `E`,
    activation first).

    It converts to and from the core [`hamax.NeuronLayer`][] (whose `energy`
    takes the state first) with `to_core()` / `from_core()`; `hamax.compat.HAM`
    does this for you, so the two kinds of layer can be mixed in one dict.
    """

    lagrangian: Any
    shape: tuple[int, ...] = eqx.field(static=True)
    tau: float = eqx.field(static=True)
    bias: Array | None

    def __init__(self, lagrangian: Any, shape: Any, tau: float = 1.0, bias=None):
        core = CoreNeuronLayer(lagrangian, shape, tau=tau, bias=bias)  # validates
        self.lagrangian = core.lagrangian
        self.shape = core.shape
        self.tau = core.tau
        self.bias = core.bias

    def to_core(self) -> CoreNeuronLayer:
        """The equivalent core [`hamax.NeuronLayer`][]."""
        return CoreNeuronLayer(self.lagrangian, self.shape, self.tau, self.bias)

    @classmethod
    def from_core(cls, layer: CoreNeuronLayer) -> "NeuronLayer":
        """The hamux-0.2 view of a core [`hamax.NeuronLayer`][]."""
        return cls(layer.lagrangian, layer.shape, layer.tau, layer.bias)

    def activations(self, x):
        r"""The activation $\nabla L(x)$ of one example."""
        return self.to_core().activation(x)

    sigma = activations

    def init(self, bs: int | None = None):
        """Zero state, with a leading batch axis of size `bs` when given."""
        return jnp.zeros(self.shape if not bs else (bs, *self.shape))

    def energy(self, xhat, x):
        r"""$\langle x - I, \hat x\rangle - L(x)$ (activation first, as in hamux)."""
        return legendre_energy(self.lagrangian, x, xhat, self.bias)

    E = energy


def _core_layer(name, layer):
    if isinstance(layer, NeuronLayer):
        return layer.to_core()
    if isinstance(layer, CoreNeuronLayer):
        return layer
    raise ValueError(
        f"HAM neuron {name!r} must be a NeuronLayer, got {type(layer).__name__}. "
        "Write hamax.compat.NeuronLayer(lagrangian, shape)."
    )


def LinearSynapse(W) -> DenseSynapse:
    """hamux 0.2's `LinearSynapse(W)`: $E = -g_1^\\top W g_2$."""
    return DenseSynapse(W=jnp.asarray(W))


def _rand_init(key, x1_dim: int, x2_dim: int) -> DenseSynapse:
    return DenseSynapse(W=0.02 * jr.normal(key, (x1_dim, x2_dim)))


LinearSynapse.rand_init = _rand_init  # type: ignore[attr-defined]


def BiasSynapse(b) -> CoreBiasSynapse:
    """hamux 0.2's `BiasSynapse(b)`: $E = -\\langle g, b\\rangle$ (the core
    [`hamax.synapses.BiasSynapse`][] with the given `b`; an integer `b` is
    converted to the default float dtype)."""
    b = jnp.asarray(b)
    if not jnp.issubdtype(b.dtype, jnp.inexact):
        b = b.astype(jnp.zeros(()).dtype)
    return CoreBiasSynapse(b=b)


HamuxBiasSynapse = BiasSynapse


class DictHAM(eqx.Module):
    """hamux 0.2's `HAM(neurons, hypersynapses, connections)`: energies take
    `(xhats, xs)` (activations first). A view of a core [`hamax.HAM`][] (`.core`);
    `vectorize()` gives the batched version.

    Like hamux's HAM it is an equinox Module, so `eqx.filter_jit`,
    `eqx.filter_grad` (for training) and `eqx.tree_serialise_leaves` work on it.
    """

    core: CoreHAM
    batched: bool = eqx.field(static=True)

    def __init__(
        self, neurons, hypersynapses=None, connections=None, *, key=None, batched=False
    ):
        if isinstance(neurons, CoreHAM):
            self.core = neurons
        else:
            if not hasattr(neurons, "items"):
                raise ValueError(
                    "DictHAM expected `neurons` to be a dict name -> NeuronLayer, "
                    f"got {type(neurons).__name__}."
                )
            layers = {k: _core_layer(k, v) for k, v in neurons.items()}
            self.core = CoreHAM(layers, hypersynapses, connections, key=key)
        self.batched = batched

    @property
    def neurons(self) -> dict:
        """The neuron layers, as hamux-0.2 [`hamax.compat.NeuronLayer`][]s."""
        return {k: NeuronLayer.from_core(v) for k, v in self.core.neurons.items()}

    @property
    def hypersynapses(self) -> dict:
        """The synapses."""
        return dict(self.core.synapses)

    @property
    def connections(self) -> list:
        """The connections, `[((neuron names...), synapse name), ...]`."""
        return list(self.core.connections)

    @property
    def n_neurons(self) -> int:
        """Number of layers."""
        return self.core.n_neurons

    @property
    def n_hypersynapses(self) -> int:
        """Number of synapses."""
        return self.core.n_synapses

    @property
    def n_connections(self) -> int:
        """Number of connections."""
        return self.core.n_connections

    def _map(self, f, *args):
        return jax.vmap(f)(*args) if self.batched else f(*args)

    def vectorize(self) -> "DictHAM":
        """The batched view: every method takes states with a leading batch axis."""
        return DictHAM(self.core, batched=True)

    def unvectorize(self) -> "DictHAM":
        """The single-example view."""
        return DictHAM(self.core, batched=False)

    def init_states(self, bs: int | None = None) -> dict:
        """Zero states, with a leading batch axis of size `bs` when given.

        As in hamux 0.2, asking an unvectorized HAM for a batch warns: its
        methods take one example, so call `ham.vectorize()` first.
        """
        xs = self.core.init_states()
        if not bs:
            return xs
        if not self.batched:
            warnings.warn(
                "Vectorize with `ham.vectorize()` before processing batched states",
                stacklevel=2,
            )
        return {k: jnp.zeros((bs, *v.shape), v.dtype) for k, v in xs.items()}

    def activations(self, xs: dict) -> dict:
        """Activations of every layer."""
        return self._map(self.core.activations, xs)

    def neuron_energies(self, xhats: dict, xs: dict) -> dict:
        """The Legendre energy of each layer."""
        return self._map(lambda g, x: self.core.energy_tree(x, g)["neurons"], xhats, xs)

    def connection_energies(self, xhats: dict) -> list:
        """The energy of each connection."""
        return list(self._map(self.core.connection_energies, xhats))

    def energy_tree(self, xhats: dict, xs: dict) -> dict:
        """All energy terms: `{"neurons": {...}, "connections": [...]}`."""
        tree = self._map(lambda g, x: self.core.energy_tree(x, g), xhats, xs)
        return {"neurons": tree["neurons"], "connections": list(tree["connections"])}

    def energy(self, xhats: dict, xs: dict):
        """The total energy."""
        return self._map(lambda g, x: self.core.energy(x, g), xhats, xs)

    def dEdact(self, xhats: dict, xs: dict, return_energy: bool = False):
        """Gradient of the energy w.r.t. each activation (and the energy)."""

        def one(g, x):
            grads = self.core.energy_grad(x, g)
            return (self.core.energy(x, g), grads) if return_energy else grads

        return self._map(one, xhats, xs)
