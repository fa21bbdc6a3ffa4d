"""The newer hamux (0.2.x) dict-based interface over the core HAM."""

import jax
import jax.numpy as jnp
import jax.random as jr

from .._ham import HAM as CoreHAM
from ..synapses import BiasSynapse, DenseSynapse


def legendre_transform(F):
    """Turn a Lagrangian `F(x)` into its dual `Fhat(xhat, x) = <xhat, x> - F(x)`
    (hamux 0.2 order: activation first), with the same gradient shortcut as
    [`hamax.legendre_energy`][]."""
    from .._neurons import legendre_energy

    def Fhat(xhat, x):
        return legendre_energy(F, x, xhat)

    return Fhat


def LinearSynapse(W) -> DenseSynapse:
    """hamux 0.2's `LinearSynapse(W)`: $E = -g_1^\\top W g_2$."""
    return DenseSynapse(W=jnp.asarray(W))


def _rand_init(key, x1_dim: int, x2_dim: int) -> DenseSynapse:
    return DenseSynapse(W=0.02 * jr.normal(key, (x1_dim, x2_dim)))


LinearSynapse.rand_init = _rand_init  # type: ignore[attr-defined]


def HamuxBiasSynapse(b) -> BiasSynapse:
    """hamux 0.2's `BiasSynapse(b)`: $E = -\\langle g, b\\rangle$."""
    return BiasSynapse(b=jnp.asarray(b))


class DictHAM:
    """hamux 0.2's `HAM(neurons, hypersynapses, connections)`: energies take
    `(xhats, xs)` (activations first). A view of a core [`hamax.HAM`][] (`.core`);
    `vectorize()` gives the batched version."""

    def __init__(
        self, neurons, hypersynapses, connections, *, key=None, _batched=False
    ):
        self.core = (
            neurons
            if isinstance(neurons, CoreHAM)
            else CoreHAM(neurons, hypersynapses, connections, key=key)
        )
        self._batched = _batched

    neurons = property(lambda self: self.core.neurons, doc="The neuron layers.")
    hypersynapses = property(lambda self: self.core.synapses, doc="The synapses.")
    connections = property(
        lambda self: list(self.core.connections), doc="The connections."
    )
    n_neurons = property(lambda self: self.core.n_neurons, doc="Number of layers.")
    n_hypersynapses = property(
        lambda self: self.core.n_synapses, doc="Number of synapses."
    )
    n_connections = property(
        lambda self: self.core.n_connections, doc="Number of connections."
    )

    def _map(self, f, *args):
        return jax.vmap(f)(*args) if self._batched else f(*args)

    def vectorize(self) -> "DictHAM":
        """The batched view: every method takes states with a leading batch axis."""
        return DictHAM(self.core, None, None, _batched=True)

    def unvectorize(self) -> "DictHAM":
        """The single-example view."""
        return DictHAM(self.core, None, None, _batched=False)

    def init_states(self, bs: int | None = None) -> dict:
        """Zero states, with a leading batch axis of size `bs` when given."""
        xs = self.core.init_states()
        return (
            xs
            if not bs
            else {k: jnp.zeros((bs, *v.shape), v.dtype) for k, v in xs.items()}
        )

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
