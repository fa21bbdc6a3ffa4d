from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import PRNGKeyArray

from ._custom_types import Activations, Scalar, States
from ._graph import (
    Connection as Connection,
    check_connection as _check_connection,
    init_synapses as _init_synapses,
    normalize_connections as _normalize_connections,
)
from ._misc import suggest, tree_sum
from ._neurons import NeuronLayer
from ._system import ClampedSystem
from .lagrangians._learnable import with_dtype
from .synapses._base import synapse_arity


class HAM(eqx.Module):
    r"""A Hierarchical Associative Memory: neuron layers joined by hypersynapses.

    $E_{\text{total}} = \sum_{\text{layers}} E_\text{layer} +
    \sum_{\text{connections}} E_\text{synapse}(g_{\text{connected}})$.
    All methods act on one example; batch with `jax.vmap`.

    **Arguments:**

    - `neurons`: dict name -> [`hamax.NeuronLayer`][].
    - `synapses`: dict name -> synapse (an [`hamax.synapses.AbstractSynapse`][]
      or any callable returning a scalar energy).
    - `connections`: list of `(tuple_of_layer_names, synapse_name)`. A synapse may
      serve several connections (shared weights); a layer may appear twice in one
      connection (self-connection).
    - `key`: needed when a synapse has no parameters yet; their shapes are then
      inferred from the layers of the synapse's first connection.
    - `dtype`: dtype of inferred parameters (float32 by default).

    !!! example

        ```python
        ham = hamax.HAM(
            neurons={
                "image": NeuronLayer(Tanh(), 784),
                "label": NeuronLayer(Softmax(), 10),
            },
            synapses={"dense": DenseSynapse()},
            connections=[(("image", "label"), "dense")],
            key=jax.random.key(0),
        )
        ```
    """

    neurons: dict[str, NeuronLayer]
    synapses: dict[str, Callable[..., Scalar]]
    connections: tuple[Connection, ...] = eqx.field(static=True)

    # The graph arguments are validated by hand below, with messages that say how
    # to fix them, so their annotations are deliberately loose (see docstring).
    def __init__(
        self,
        neurons: Any,
        synapses: Any,
        connections: Any,
        *,
        key: PRNGKeyArray | None = None,
        dtype=None,
    ):
        if not isinstance(neurons, Mapping) or not neurons:
            raise ValueError(
                "HAM expected `neurons` to be a non-empty dict name -> NeuronLayer, "
                f"got {neurons!r}."
            )
        if not isinstance(synapses, Mapping):
            raise ValueError(
                f"HAM expected `synapses` to be a dict name -> synapse, got "
                f"{synapses!r}."
            )
        for name, layer in neurons.items():
            if not isinstance(layer, NeuronLayer):
                raise ValueError(
                    f"HAM neuron layer {name!r} must be a hamax.NeuronLayer, got "
                    f"{type(layer).__name__}."
                )
        for name, synapse in synapses.items():
            if not callable(synapse):
                raise ValueError(
                    f"HAM synapse {name!r} must be callable (an AbstractSynapse or "
                    f"a function of activations returning a scalar), got {synapse!r}."
                )
        conns = _normalize_connections(connections)
        for names, syn in conns:
            for n in names:
                if n not in neurons:
                    raise ValueError(
                        f"HAM connection {(names, syn)!r} names neuron layer {n!r}, "
                        "which is not in neurons (have: "
                        f"{', '.join(map(repr, neurons))})." + suggest(n, neurons)
                    )
            if syn not in synapses:
                raise ValueError(
                    f"HAM connection {(names, syn)!r} names synapse {syn!r}, which "
                    f"is not in synapses (have: {', '.join(map(repr, synapses))})."
                    + suggest(syn, synapses)
                )
            arity = synapse_arity(synapses[syn])
            if arity is not None and arity != len(names):
                raise ValueError(
                    f"HAM connection {(names, syn)!r} gives {len(names)} layer(s) to "
                    f"synapse {syn!r}, which takes {arity}. List exactly {arity} "
                    "layer name(s) in the connection."
                )
        # Learnables built without a dtype take the HAM's (hamax.learnable).
        # (Value by value: a pytree map would sort the dicts' keys.)
        neurons = {k: with_dtype(v, dtype) for k, v in neurons.items()}
        synapses = {k: with_dtype(v, dtype) for k, v in synapses.items()}
        self.neurons = neurons
        self.connections = conns
        self.synapses = _init_synapses(synapses, conns, self.neurons, key, dtype)
        for names, syn in conns:
            _check_connection(self.neurons, self.synapses, names, syn, dtype)

    # ----------------------------------------------------------------- sizes
    @property
    def n_neurons(self) -> int:
        """Number of neuron layers."""
        return len(self.neurons)

    @property
    def n_synapses(self) -> int:
        """Number of synapses."""
        return len(self.synapses)

    @property
    def n_connections(self) -> int:
        """Number of connections."""
        return len(self.connections)

    @property
    def taus(self) -> dict[str, float]:
        """Time constant of each layer."""
        return {k: v.tau for k, v in self.neurons.items()}

    # ---------------------------------------------------------------- states
    def init_states(
        self,
        *,
        dtype=None,
        scale: float = 0.0,
        key: PRNGKeyArray | None = None,
    ) -> States:
        """Initial states for every layer: zeros, or `scale`-sized normal noise."""
        if key is None:
            return {
                k: v.init_state(dtype=dtype, scale=scale)
                for k, v in self.neurons.items()
            }
        keys = jr.split(key, len(self.neurons))
        return {
            k: v.init_state(dtype=dtype, scale=scale, key=kk)
            for (k, v), kk in zip(self.neurons.items(), keys)
        }

    def clamp(
        self,
        values: Mapping[str, Any] | None = None,
        masks: Mapping[str, Any] | None = None,
    ) -> ClampedSystem:
        """Hold some layers fixed: the [`hamax.ClampedSystem`][] whose energy,
        gradient and `step` act on the other layers, with everything that depends
        only on `values` computed once, now.

        **Arguments:**

        - `values`: layer name -> state (one example) to hold fixed.
        - `masks`: layer name -> boolean mask (True = held) for layers in `values`
          that are clamped only in part; those layers stay free elsewhere.
        """
        return ClampedSystem(self, values, masks)

    def _not_a_layer(self, name: str, what: str) -> ValueError:
        return ValueError(
            f"{what}, which is not a neuron layer (have: "
            f"{', '.join(map(repr, self.neurons))})." + suggest(name, self.neurons)
        )

    def check_states(self, xs: Any, where: str = "HAM") -> None:
        """Raise a clear ValueError unless `xs` has one state of the right shape per
        layer (trace-time check)."""
        if not isinstance(xs, Mapping):
            raise ValueError(
                f"{where} expected states as a dict layer name -> array, got "
                f"{type(xs).__name__}."
            )
        for k in xs:
            if k not in self.neurons:
                raise self._not_a_layer(k, f"{where} got a state for {k!r}")
        for k, layer in self.neurons.items():
            if k not in xs:
                raise ValueError(
                    f"{where} is missing the state of layer {k!r}; give one array "
                    "per layer (ham.init_states() makes them)."
                )
            if not hasattr(xs[k], "dtype"):
                raise ValueError(
                    f"{where} expected an array for the state of layer {k!r}, got "
                    f"{type(xs[k]).__name__}. Convert it, e.g. jnp.asarray(x, "
                    "jnp.float32)."
                )
            dtype = jnp.result_type(xs[k])
            if not jnp.issubdtype(dtype, jnp.floating):
                raise ValueError(
                    f"{where} expected a floating-point state for layer {k!r}, got "
                    f"dtype {dtype}. Convert it, e.g. x.astype(jnp.float32)."
                )
            shape = tuple(jnp.shape(xs[k]))
            if shape != layer.shape:
                hint = (
                    " hamax functions act on one example; batch with jax.vmap, "
                    "e.g. jax.vmap(ham.energy)(xs)."
                    if shape[1:] == layer.shape
                    else ""
                )
                raise ValueError(
                    f"{where} expected the state of layer {k!r} to have shape "
                    f"{layer.shape}, got {shape}.{hint}"
                )

    def activations(self, xs: States) -> Activations:
        r"""The activation $g = \nabla L(x)$ of every layer."""
        self.check_states(xs, "HAM.activations")
        return {k: v.activation(xs[k]) for k, v in self.neurons.items()}

    # ---------------------------------------------------------------- energy
    def connection_energies(self, gs: Activations) -> tuple[Scalar, ...]:
        """The energy of each connection, in the order of `connections`."""
        return tuple(
            self.synapses[s](*(gs[n] for n in names)) for names, s in self.connections
        )

    def energy_tree(self, xs: States, gs: Activations | None = None) -> dict:
        """Every energy term: `{"neurons": {name: E}, "connections": (E, ...)}`.

        `connections` follows the order of `ham.connections`.
        """
        if gs is None:
            gs = self.activations(xs)
        else:
            self.check_states(xs, "HAM.energy_tree")
        return {
            "neurons": {k: v.energy(xs[k], gs[k]) for k, v in self.neurons.items()},
            "connections": self.connection_energies(gs),
        }

    def energy(self, xs: States, gs: Activations | None = None) -> Scalar:
        """The total energy, the sum of `energy_tree`."""
        return tree_sum(self.energy_tree(xs, gs))

    def energy_grad(
        self,
        xs: States,
        gs: Activations | None = None,
        *,
        layers: Sequence[str] | None = None,
    ) -> States:
        r"""$\partial E_\text{total}/\partial g$ for each layer in `layers` (all by
        default).

        The layer term is $x - I$ (the Legendre shortcut), and only connections that
        touch a requested layer are differentiated.
        """
        if gs is None:
            gs = self.activations(xs)
        else:
            self.check_states(xs, "HAM.energy_grad")
        wanted = tuple(self.neurons) if layers is None else tuple(layers)
        for k in wanted:
            if k not in self.neurons:
                raise self._not_a_layer(
                    k, f"HAM.energy_grad got layer {k!r} in `layers`"
                )
        touching = [c for c in self.connections if set(c[0]) & set(wanted)]

        def synaptic(free):
            merged = {**gs, **free}
            return tree_sum(
                [self.synapses[s](*(merged[n] for n in names)) for names, s in touching]
            )

        free = {k: gs[k] for k in wanted}
        dsyn = jax.grad(synaptic)(free) if touching else {}
        return {
            k: self.neurons[k].energy_grad(xs[k]) + dsyn[k]
            if k in dsyn
            else self.neurons[k].energy_grad(xs[k])
            for k in wanted
        }
