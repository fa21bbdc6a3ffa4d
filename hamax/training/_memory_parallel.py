"""Memories sharded across devices: the memory axis of DenseHiddenSynapse on a mesh."""

import pathlib
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from .._io._checkpoint import load, read_meta, save
from ..synapses import DenseHiddenSynapse


def memory_mesh(devices: Sequence[jax.Device] | None = None, *, batch: int = 1) -> Mesh:
    """A 2-D mesh `("batch", "memory")` over `devices` (default: all visible).

    `batch` devices split the queries (data parallelism) and the remaining
    factor splits the memories: with 4 devices, `batch=1` gives a 1 x 4 mesh
    (every device holds a quarter of the memories and sees every query) and
    `batch=2` a 2 x 2 one. Under `jax.distributed` the mesh spans every
    process's devices. Use it with [`hamax.training.shard_memories`][].
    """
    devices = list(jax.devices() if devices is None else devices)
    if not (isinstance(batch, int) and batch > 0 and len(devices) % batch == 0):
        raise ValueError(
            f"memory_mesh expected `batch` to be a positive int dividing the "
            f"{len(devices)} device(s), got batch={batch!r}; the mesh is batch x "
            "(devices // batch)."
        )
    grid = np.array(devices).reshape(batch, len(devices) // batch)
    return Mesh(grid, ("batch", "memory"))


def _place(x: Any, sharding: NamedSharding) -> jax.Array:
    # Every process holds the whole array: each device's shard is sliced out of
    # it, which works on one host and across hosts alike.
    a = np.asarray(x)
    return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])


def shard_memories(tree: Any, mesh: Mesh, *, axis: str = "memory") -> Any:
    r"""Place every `DenseHiddenSynapse`'s memories on mesh axis `axis`.

    Each device along `axis` then holds `1/n` of the memories (their last axis),
    and every other array of `tree` (a [`hamax.HAM`][], a synapse, any pytree) is
    replicated over `mesh`. Jitted energies, gradients and descents on the
    result run sharded: each device computes its memories' share of the hidden
    drive, and XLA combines the shares with all-reduces (the maximum and the sum
    of a log-sum-exp for `Softmax`, a sum for separable Lagrangians), so the
    results equal one device's up to float rounding. Shard the queries along
    `"batch"` (e.g. `NamedSharding(mesh, PartitionSpec("batch"))`) to combine
    this with data parallelism.

    **Arguments:**

    - `tree`: the model.
    - `mesh`: a mesh with an axis named `axis`, e.g. from
      [`hamax.training.memory_mesh`][].
    - `axis`: the mesh axis the memories are split over.

    **Returns:** `tree` with its arrays placed on `mesh`.
    """
    if axis not in mesh.axis_names:
        raise ValueError(
            f"shard_memories got `axis`={axis!r}, which is not an axis of the mesh "
            f"(axes: {', '.join(map(repr, mesh.axis_names))})."
        )
    n = mesh.shape[axis]
    synapses = [
        s
        for s in jax.tree.leaves(
            tree, is_leaf=lambda x: isinstance(x, DenseHiddenSynapse)
        )
        if isinstance(s, DenseHiddenSynapse)
    ]
    for s in synapses:
        if s.num_hidden % n:
            raise ValueError(
                f"shard_memories cannot split the {s.num_hidden} memories of a "
                f"DenseHiddenSynapse over the {n} devices of mesh axis {axis!r}: "
                f"{n} does not divide {s.num_hidden}. Store a multiple of {n} "
                "memories, or use a mesh axis whose size divides them."
            )
        if s.memory_chunk is not None:
            raise ValueError(
                f"shard_memories got a DenseHiddenSynapse with memory_chunk="
                f"{s.memory_chunk}; sharded memories are not chunked (each device "
                "already holds 1/n of them). Build it with memory_chunk=None."
            )
    memories = NamedSharding(mesh, P(None, None, axis))
    replicated = NamedSharding(mesh, P())

    def place_synapse(s):
        if not isinstance(s, DenseHiddenSynapse) or s.Ws is None:
            return s
        Ws = tuple(_place(W, memories) for W in s.Ws)
        return eqx.tree_at(lambda t: t.Ws, s, Ws)

    def place_rest(x):
        if eqx.is_array(x) and getattr(x, "sharding", None) != memories:
            return _place(x, replicated)
        return x

    is_syn = lambda x: isinstance(x, DenseHiddenSynapse)  # noqa: E731
    tree = jax.tree.map(place_synapse, tree, is_leaf=is_syn)

    return jax.tree.map(place_rest, tree)


def _shards(tree: Any) -> int:
    # How many devices the memories of `tree` are split over (1: not sharded).
    for syn in jax.tree.leaves(tree, is_leaf=_is_synapse):
        for W in (syn.Ws or ()) if _is_synapse(syn) else ():
            sharding = getattr(W, "sharding", None)
            if isinstance(sharding, NamedSharding) and len(sharding.spec) == W.ndim:
                axis = sharding.spec[-1]
                if isinstance(axis, str):
                    return sharding.mesh.shape[axis]
    return 1


def _is_synapse(x: Any) -> bool:
    return isinstance(x, DenseHiddenSynapse)


def save_sharded(path: str | pathlib.Path, tree: Any, *, meta: dict | None = None):
    """[`hamax.save`][] that also records how many devices the memories of
    `tree` are split over (`meta["memory_shards"]`), so that
    [`hamax.training.load_sharded`][] can refuse a silent change of layout."""
    meta = dict(meta or {})
    meta["memory_shards"] = _shards(tree)
    save(path, tree, meta=meta)


def load_sharded(
    path: str | pathlib.Path,
    like: Any,
    mesh: Mesh,
    *,
    axis: str = "memory",
    reshard: bool = False,
) -> tuple[Any, dict]:
    """Load a checkpoint of sharded memories onto `mesh` (see
    [`hamax.training.shard_memories`][]).

    **Arguments:**

    - `path`: a file written by [`hamax.training.save_sharded`][].
    - `like`: a model of the same structure ([`hamax.load`][]'s `like`).
    - `mesh`, `axis`: where the memories go.
    - `reshard`: a checkpoint saved with its memories split over another number
      of devices than `mesh` has along `axis` raises unless this is `True`,
      which redistributes them.

    **Returns:** `(model, meta)`.
    """
    meta = read_meta(path)
    saved, now = meta.get("memory_shards"), dict(mesh.shape).get(axis)
    if saved is None:
        raise ValueError(
            f"load_sharded: {path} has no `memory_shards` entry in its metadata; "
            "it was not written by hamax.training.save_sharded. Load it with "
            "hamax.load and place it with hamax.training.shard_memories."
        )
    if now is not None and saved != now and not reshard:
        raise ValueError(
            f"load_sharded: {path} holds memories split over {saved} device(s), but "
            f"mesh axis {axis!r} has {now}. Pass reshard=True to redistribute "
            "them over the new mesh."
        )
    tree, meta = load(path, like)
    return shard_memories(tree, mesh, axis=axis), meta
