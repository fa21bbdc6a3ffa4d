from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def data_parallel(devices: Sequence[jax.Device] | None = None):
    """Shardings for data-parallel training over `devices` (default: all visible).

    Returns `(batch, replicated)`: `NamedSharding`s on a 1-D mesh named
    `"batch"` that split an array's leading (batch) axis across the devices, and
    that replicate it (parameters, optimiser state). With one device both are
    trivial, so the same code runs everywhere; under `jax.distributed` the mesh
    spans every process's devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    mesh = Mesh(np.array(devices), ("batch",))
    return NamedSharding(mesh, P("batch")), NamedSharding(mesh, P())


def global_batch(sharding, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """Place a host batch on the devices of `sharding`, split along axis 0.

    Every process holds the same batch (same data, same seeded order), so each
    device's shard is simply sliced out of it; this works on one host and, under
    `jax.distributed`, across hosts.
    """

    def shard(a: np.ndarray) -> jax.Array:
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return {k: shard(v) for k, v in batch.items()}
