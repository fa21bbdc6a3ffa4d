"""The paper's list-based `HAM(layers, synapses, connections)` over the core HAM."""

import math
import pathlib
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from .._ham import HAM as CoreHAM
from .._io import _checkpoint
from ..plot import plot_ham


def _name(i: int) -> str:
    return f"layer{i}"


def _syn(k: int) -> str:
    return f"synapse{k}"


def _check_connections(connections, n_layers: int, n_synapses: int) -> tuple:
    conns = []
    for c in connections:
        try:
            idx, k = c
            idx = tuple(int(i) for i in idx)
            k = int(k)
        except (TypeError, ValueError):
            raise ValueError(
                f"HAM connection {c!r} is malformed: the list API takes "
                "((layer_index, ...), synapse_index), e.g. ((0, 1), 0)."
            ) from None
        for i in idx:
            if not 0 <= i < n_layers:
                raise ValueError(
                    f"HAM connection {c!r} names layer {i}, but there are "
                    f"{n_layers} layers (indices from 0)."
                )
        if not 0 <= k < n_synapses:
            raise ValueError(
                f"HAM connection {c!r} names synapse {k}, but there are "
                f"{n_synapses} synapses (indices from 0)."
            )
        conns.append((idx, k))
    return tuple(conns)


class ListHAM(eqx.Module):
    """The seeds' list-based HAM: layers and synapses are lists, connections are
    `((layer indices...), synapse index)` pairs and states are lists.

    A view of a core [`hamax.HAM`][] (`.core`) whose layers are named
    `layer0, layer1, ...` and synapses `synapse0, ...`. Build it, then call
    `init_states_and_params(key, bs)` to infer parameters, as in the paper.

    Every parameter is stored once, in `.core`: `layers` and `synapses` are
    read from it, so gradients, optimiser states and the seeds' `step` /
    `vupdates` all see the same arrays. Before `init_states_and_params` the
    layer and synapse templates wait in `.pending`, which is then emptied.
    """

    core: CoreHAM | None
    pending: tuple | None
    connections: tuple = eqx.field(static=True)

    def __init__(self, layers, synapses, connections, *, core: CoreHAM | None = None):
        if core is None:
            layers, synapses = tuple(layers), tuple(synapses)
            self.pending = (
                {_name(i): layer for i, layer in enumerate(layers)},
                {_syn(k): s for k, s in enumerate(synapses)},
            )
        else:
            self.pending = None
        self.core = core
        neurons, syns = self._named()
        self.connections = _check_connections(connections, len(neurons), len(syns))

    def _named(self) -> tuple[dict, dict]:
        # Layers and synapses by name (`layer0, ...`, `synapse0, ...`): the
        # core's once initialised, else the templates waiting in `.pending`.
        if self.core is None:
            assert self.pending is not None
            return self.pending
        return self.core.neurons, self.core.synapses

    @property
    def layers(self) -> list:
        """The layers, in order (read from `.core` once initialised)."""
        neurons = self._named()[0]
        return [neurons[_name(i)] for i in range(len(neurons))]

    @property
    def synapses(self) -> list:
        """The synapses, in order (read from `.core` once initialised)."""
        syns = self._named()[1]
        return [syns[_syn(k)] for k in range(len(syns))]

    # --------------------------------------------------------------- building
    def _build(self, key) -> CoreHAM:
        return CoreHAM(
            {_name(i): layer for i, layer in enumerate(self.layers)},
            {_syn(k): s for k, s in enumerate(self.synapses)},
            [(tuple(_name(i) for i in idx), _syn(k)) for idx, k in self.connections],
            key=key,
        )

    def init_states_and_params(self, param_key, bs: int | None = None, state_key=None):
        """Infer every parameter from the layer shapes; returns `(states, ham)`."""
        ham = ListHAM(None, None, self.connections, core=self._build(param_key))
        return ham.init_states(bs, rng=state_key), ham

    @property
    def initialized(self) -> bool:
        """Whether `init_states_and_params` has created the parameters."""
        return self.core is not None

    def _core(self) -> CoreHAM:
        if self.core is None:
            raise ValueError(
                "This HAM has no parameters yet: call `xs, ham = "
                "ham.init_states_and_params(jax.random.PRNGKey(0), bs=...)` first."
            )
        return self.core

    def init_states(self, bs: int | None = None, rng=None) -> list:
        """Zero states (or standard normal with `rng`), batched when `bs` is given."""
        keys = (
            jr.split(rng, len(self.layers))
            if rng is not None
            else [None] * len(self.layers)
        )
        out = []
        for layer, k in zip(self.layers, keys):
            shape = layer.shape if bs is None else (bs, *layer.shape)
            out.append(jnp.zeros(shape) if k is None else jr.normal(k, shape))
        return out

    # ------------------------------------------------------------------ sizes
    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self._named()[0])

    @property
    def n_synapses(self) -> int:
        """Number of synapses."""
        return len(self._named()[1])

    @property
    def n_connections(self) -> int:
        """Number of connections."""
        return len(self.connections)

    @property
    def layer_taus(self) -> list[float]:
        """Time constant of each layer."""
        return [layer.tau for layer in self.layers]

    def alphas(self, dt: float) -> list[float]:
        """Step size of each layer, `dt / tau`."""
        return [dt / tau for tau in self.layer_taus]

    # ----------------------------------------------------------------- energy
    def _dict(self, xs) -> dict:
        if len(xs) != len(self.layers):
            raise ValueError(
                f"HAM expected {len(self.layers)} states (one per layer), "
                f"got {len(xs)}."
            )
        # Like HAMUX, accept a state of the layer's size in another shape (a
        # flattened image for a (h, w, c) layer); outputs come back in its shape.
        out = {}
        for i, (x, layer) in enumerate(zip(xs, self.layers)):
            same_size = jnp.size(x) == math.prod(layer.shape)
            if jnp.shape(x) != layer.shape and same_size:
                x = jnp.reshape(x, layer.shape)
            out[_name(i)] = x
        return out

    def _list(self, d, like) -> list:
        return [jnp.reshape(d[_name(i)], jnp.shape(x)) for i, x in enumerate(like)]

    def activations(self, xs: list) -> list:
        """Activations of every layer (one example)."""
        return self._list(self._core().activations(self._dict(xs)), xs)

    def layer_energy(self, xs: list):
        """Sum of the layers' Legendre energies."""
        d = self._dict(xs)
        return sum(layer.energy(d[_name(i)]) for i, layer in enumerate(self.layers))

    def synapse_energy(self, gs: list):
        """Sum of the synapses' energies, a function of the activations."""
        return sum(self._core().connection_energies(self._dict(gs)))

    def energy(self, xs: list):
        """The total energy, `layer_energy(xs) + synapse_energy(activations(xs))`
        (summed in that order, as HAMUX did)."""
        return self.layer_energy(xs) + self.synapse_energy(self.activations(xs))

    def dEdg(self, xs: list) -> list:
        """Gradient of the energy with respect to each activation."""
        return self._list(self._core().energy_grad(self._dict(xs)), xs)

    def updates(self, xs: list) -> list:
        """`-dEdg`: the direction each state descends."""
        return [-u for u in self.dEdg(xs)]

    def step(
        self, xs: list, updates: list, dt: float = 0.1, masks: list | None = None
    ) -> list:
        """One Euler step `x + dt/tau * update * mask` (mask 0 = clamped)."""
        alphas = self.alphas(dt)
        if masks is None:
            return [x + a * u for x, u, a in zip(xs, updates, alphas)]
        return [
            x + a * u * jnp.asarray(m).astype(u.dtype)
            for x, u, m, a in zip(xs, updates, masks, alphas)
        ]

    def vactivations(self, xs: list) -> list:
        """Batched `activations`."""
        return jax.vmap(self.activations)(xs)

    def venergy(self, xs: list):
        """Batched `energy`."""
        return jax.vmap(self.energy)(xs)

    def vlayer_energy(self, xs: list):
        """Batched `layer_energy`."""
        return jax.vmap(self.layer_energy)(xs)

    def vsynapse_energy(self, gs: list):
        """Batched `synapse_energy`."""
        return jax.vmap(self.synapse_energy)(gs)

    def vdEdg(self, xs: list) -> list:
        """Batched `dEdg`."""
        return jax.vmap(self.dEdg)(xs)

    def vupdates(self, xs: list) -> list:
        """Batched `updates`."""
        return jax.vmap(self.updates)(xs)

    # ------------------------------------------------------------ checkpoints
    def save_state_dict(
        self, fname: str | pathlib.Path, overwrite: bool = True
    ) -> None:
        """Save the parameters (atomically, with a checksum; see `hamax.save`)."""
        if not overwrite and pathlib.Path(fname).exists():
            raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
        _checkpoint.save(fname, self._core(), meta={"api": "hamax.compat.HAM"})

    def load_ckpt(self, ckpt_f: str | pathlib.Path) -> "ListHAM":
        """Load parameters saved by `save_state_dict` into this architecture."""
        ham = (
            self if self.initialized else self.init_states_and_params(jr.PRNGKey(0))[1]
        )
        core, _ = _checkpoint.load(ckpt_f, ham._core())
        return ListHAM(None, None, self.connections, core=core)

    def visualize(self, ax=None, **kwargs: Any):
        """Draw the hypergraph (see `hamax.plot.plot_ham`)."""
        return plot_ham(
            self._core() if self.initialized else self._build(jr.PRNGKey(0)),
            ax=ax,
            **kwargs,
        )
