"""Memories sharded over forced CPU devices (https://github.com/hamax/hamax/issues/26
item 2): 1 x 4 and 2 x 2 meshes equal one device; a checkpoint of a sharded
memory loads onto another device count; bad meshes raise up front."""

import json
import os
import pathlib
import re
import subprocess
import sys

import jax.numpy as jnp
import pytest

import hamax
from hamax import training as T, zoo


ROOT = pathlib.Path(__file__).parent.parent

# One process with four CPU devices: recall from a Dense AM on one device, then
# sharded on a (batch, memory) mesh of each shape, then from a checkpoint of the
# 1 x 4 memory loaded onto two devices. Prints the largest differences as JSON.
WORKER = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, jax.random as jr
from jax.sharding import NamedSharding, PartitionSpec as P
import hamax
from hamax import lagrangians as L, training as T, zoo
assert len(jax.devices()) == 4, jax.devices()
out, path = {}, sys.argv[1]
pats = jr.rademacher(jr.key(0), (24, 16)).astype(jnp.float64)
cues = pats[:8] * jnp.where(jr.uniform(jr.key(1), (8, 16)) < 0.2, -1.0, 1.0)
for name, sep in (("softmax", L.Softmax(1.0)), ("repu", L.RePU(3.0))):
    ham = zoo.make_dense_am(memories=pats, separation=sep)
    want = zoo.recall(ham, cues, steps=12)
    for batch in (1, 2):
        mesh = T.memory_mesh(batch=batch)
        sharded = T.shard_memories(ham, mesh)
        W = sharded.synapses["memories"].Ws[0]
        assert {s.data.shape for s in W.addressable_shards} == {(16, 1, 24 // (4 // batch))}
        q = jax.device_put(cues, NamedSharding(mesh, P("batch")))
        got = zoo.recall(sharded, q, steps=12)
        out[f"{name}_{batch}x{4 // batch}"] = float(jnp.max(jnp.abs(got - want)))
    if name == "softmax":
        T.save_sharded(path, T.shard_memories(ham, T.memory_mesh(batch=1)))
        same, meta = T.load_sharded(path, ham, T.memory_mesh(batch=1))
        assert meta["memory_shards"] == 4, meta
        got = zoo.recall(same, cues, steps=12)
        out["checkpoint_4_to_4"] = float(jnp.max(jnp.abs(got - want)))
        two = T.memory_mesh(jax.devices()[:2])
        try:
            T.load_sharded(path, ham, two)
        except ValueError as e:
            out["bad_reshard"] = str(e)
        moved, _ = T.load_sharded(path, ham, two, reshard=True)
        got = zoo.recall(moved, cues, steps=12)
        out["checkpoint_4_to_2"] = float(jnp.max(jnp.abs(got - want)))
try:
    T.shard_memories(zoo.make_dense_am(memories=pats[:6]), T.memory_mesh())
except ValueError as e:
    out["bad_mesh"] = str(e)
print(json.dumps(out))
"""


def test_sharded_memories_equal_one_device(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
    }
    r = subprocess.run(
        [sys.executable, "-c", WORKER, str(tmp_path / "m.eqx")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    diffs = json.loads(r.stdout.strip().splitlines()[-1])
    assert re.fullmatch(
        r"shard_memories cannot split the 6 memories of a DenseHiddenSynapse over "
        r"the 4 devices of mesh axis 'memory': 4 does not divide 6\. Store a "
        r"multiple of 4 memories, or use a mesh axis whose size divides them\.",
        diffs.pop("bad_mesh"),
    )
    assert re.fullmatch(
        r"load_sharded: .*m\.eqx holds memories split over 4 device\(s\), but mesh "
        r"axis 'memory' has 2\. Pass reshard=True to redistribute them over the new "
        r"mesh\.",
        diffs.pop("bad_reshard"),
    )
    assert set(diffs) == {
        "softmax_1x4",
        "softmax_2x2",
        "repu_1x4",
        "repu_2x2",
        "checkpoint_4_to_4",
        "checkpoint_4_to_2",
    }
    assert all(d < 1e-10 for d in diffs.values()), diffs


# One of two processes (two CPU devices each, gloo collectives): the memories
# split four ways across both processes, the queries replicated; each process
# prints its largest difference from its own one-device recall.
TWO_PROCESS = """
import json
import jax
from hamax import training as T
T.initialize_distributed(heartbeat_timeout=30)
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, jax.random as jr, numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P
from hamax import zoo
assert len(jax.devices()) == 4 and len(jax.local_devices()) == 2
pats = jr.rademacher(jr.key(0), (24, 16)).astype(jnp.float64)
cues = pats[:8] * jnp.where(jr.uniform(jr.key(1), (8, 16)) < 0.2, -1.0, 1.0)
ham = zoo.make_dense_am(memories=pats)
want = np.asarray(zoo.recall(ham, cues, steps=12))
mesh = T.memory_mesh()
host = np.asarray(cues)
q = jax.make_array_from_callback(host.shape, NamedSharding(mesh, P()), lambda i: host[i])
got = zoo.recall(T.shard_memories(ham, mesh), q, steps=12)
got = np.asarray(multihost_utils.process_allgather(got, tiled=True))
print(json.dumps({"diff": float(np.max(np.abs(got - want)))}))
"""


def test_two_processes_equal_one_device(tmp_path):
    from .test_distributed import start

    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    procs = start(env, [["-c", TWO_PROCESS]] * 2, ndev=2)
    try:
        runs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:  # a hang fails the test instead of blocking CI
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (so, se) in zip(procs, runs):
        assert p.returncode == 0, se[-3000:]
        assert json.loads(so.strip().splitlines()[-1])["diff"] < 1e-10


def test_load_sharded_needs_a_sharded_checkpoint(tmp_path):
    ham = zoo.make_dense_am(memories=jnp.ones((4, 3)))
    hamax.save(tmp_path / "plain.eqx", ham)
    with pytest.raises(
        ValueError,
        match=r"load_sharded: .*plain\.eqx has no `memory_shards` entry in its "
        r"metadata; it was not written by hamax.training.save_sharded",
    ):
        T.load_sharded(tmp_path / "plain.eqx", ham, T.memory_mesh())
    T.save_sharded(tmp_path / "one.eqx", ham)  # unsharded: one shard
    loaded, meta = T.load_sharded(tmp_path / "one.eqx", ham, T.memory_mesh())
    assert meta == {"memory_shards": 1}
    assert jnp.array_equal(
        loaded.synapses["memories"].Ws[0], ham.synapses["memories"].Ws[0]
    )


def test_bad_axis_and_chunked_memories_raise():
    mesh = T.memory_mesh()
    ham = zoo.make_dense_am(memories=jnp.ones((4, 3)), memory_chunk=2)
    with pytest.raises(
        ValueError, match=r"shard_memories got `axis`='mem', which is not an axis"
    ):
        T.shard_memories(ham, mesh, axis="mem")
    with pytest.raises(
        ValueError,
        match=r"shard_memories got a DenseHiddenSynapse with memory_chunk=2; "
        r"sharded memories are not chunked",
    ):
        T.shard_memories(ham, mesh)
    with pytest.raises(
        ValueError, match=r"memory_mesh expected `batch` to be a positive int dividing"
    ):
        T.memory_mesh(batch=3)
