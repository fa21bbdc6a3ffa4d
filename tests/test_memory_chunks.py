"""DenseHiddenSynapse(memory_chunk=...): the streamed energy equals the dense one
(https://github.com/hamax/hamax/issues/26 item 1) and its memory is bounded."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
import hamax.lagrangians as L
import hamax.synapses as S
from hamax import zoo

from .helpers import tree_allclose


# Every Lagrangian the chunked synapse accepts, separable and log-sum-exp.
STREAMABLE = [
    L.ReLU(),
    L.RePU(n=3.0),
    L.Exp(beta=0.5),
    L.RExp(beta=0.5),
    L.Identity(),
    L.Tanh(beta=0.7),
    L.Sigmoid(beta=1.3),
    L.Softmax(beta=2.0),
    L.Softmax(beta=hamax.learnable(2.0)),  # a trained temperature, bounded
    L.Softmax(beta=1.5, axis=-2),  # across heads: separable over memories
    L.Softmax(beta=1.5, axis=None),
    L.Ghostmax(beta=1.5),
]
M = 12


def _pair(lagrangian, chunk, *, key, **kw):
    """An initialised (dense, chunked) pair with the same memories."""
    dense = S.DenseHiddenSynapse(M, lagrangian, num_heads=2, **kw)
    dense = dense.init([(5,), (3,)], key=key)
    chunked = S.DenseHiddenSynapse(
        M,
        lagrangian,
        num_heads=2,
        Ws=dense.Ws,
        init_std=dense.init_std,
        memory_chunk=chunk,
        **kw,
    )
    return dense, chunked


def _close(got, want, rtol=1e-10, atol=1e-12):
    """Leaf by leaf: a chunked synapse's tree differs from a dense one only in
    its static `memory_chunk`."""
    a, b = jax.tree.leaves(got), jax.tree.leaves(want)
    return len(a) == len(b) and tree_allclose(a, b, rtol, atol)


def _energy(syn, g1, g2):
    return syn(g1, g2)


@pytest.mark.parametrize("lagrangian", STREAMABLE, ids=lambda v: repr(v)[:30])
def test_equals_dense_under_jit_vmap_grad(lagrangian, getkey):
    # 5 does not divide M = 12: two scanned chunks and a tail of two.
    dense, chunked = _pair(lagrangian, 5, key=getkey(), normalize=True)
    g1 = jr.normal(getkey(), (3, 5))
    g2 = jr.normal(getkey(), (3, 3))
    batched = jax.jit(jax.vmap(_energy, in_axes=(None, 0, 0)))
    assert tree_allclose(batched(chunked, g1, g2), batched(dense, g1, g2), 1e-12)
    assert np.allclose(chunked(g1[0], g2[0]), dense(g1[0], g2[0]), rtol=1e-12)
    # Gradients with respect to the memories (and beta) and the states.
    grad = jax.jit(jax.grad(_energy, argnums=(0, 1, 2)))
    assert _close(grad(chunked, g1[0], g2[0]), grad(dense, g1[0], g2[0]))


@pytest.mark.parametrize("chunk", [4, 5])  # divides M, does not
@pytest.mark.parametrize(
    "lagrangian", [L.ReLU(), L.Softmax(beta=2.0), L.Ghostmax()], ids=repr
)
def test_second_order_equals_dense(lagrangian, chunk, getkey):
    # What BPTT through a descent takes: the memories' gradient of a function of
    # the states' gradient.
    dense, chunked = _pair(lagrangian, chunk, key=getkey())
    g1, g2 = jr.normal(getkey(), (5,)), jr.normal(getkey(), (3,))

    def drive_norm(syn):
        return jnp.sum(jax.grad(_energy, argnums=1)(syn, g1, g2) ** 2)

    grad = jax.jit(jax.grad(drive_norm))
    assert _close(grad(chunked), grad(dense), 1e-9)


@pytest.mark.parametrize(
    "kw, chunks",
    [({}, (4, 50)), ({"normalize": "per_layer"}, (7,)), ({"per_token": True}, (7,))],
    ids=str,
)
def test_chunk_larger_than_memories_and_layouts(kw, chunks, getkey):
    shapes = [(4, 5), (4, 3)] if kw.get("per_token") else [(5,), (3,)]
    dense = S.DenseHiddenSynapse(M, L.Softmax(beta=2.0), **kw).init(
        shapes, key=getkey()
    )
    g1, g2 = (jr.normal(getkey(), s) for s in shapes)
    for chunk in chunks:
        chunked = S.DenseHiddenSynapse(
            M, L.Softmax(beta=2.0), Ws=dense.Ws, memory_chunk=chunk, **kw
        )
        assert np.allclose(chunked(g1, g2), dense(g1, g2), rtol=1e-12)
        assert tree_allclose(
            jax.grad(_energy, argnums=(1, 2))(chunked, g1, g2),
            jax.grad(_energy, argnums=(1, 2))(dense, g1, g2),
            1e-10,
            1e-12,
        )


def _two_layer_ham(chunk, *, key):
    return hamax.HAM(
        {"a": hamax.NeuronLayer(L.Tanh(), 6), "b": hamax.NeuronLayer(L.Softmax(), 4)},
        {"m": S.DenseHiddenSynapse(M, L.Softmax(beta=3.0), memory_chunk=chunk)},
        [(("a", "b"), "m")],
        key=key,
    )


def test_clamped_descent_equals_dense(getkey):
    # The clamped layer's drive is recomputed per chunk instead of hoisted.
    key = getkey()
    dense, chunked = _two_layer_ham(None, key=key), _two_layer_ham(5, key=key)
    x0 = {"a": jr.normal(getkey(), (6,)), "b": jr.normal(getkey(), (4,))}
    for clamp in ((), ("a",), ("b",)):
        want = hamax.descend(dense, x0, dt=0.1, steps=10, clamp=clamp).states
        got = hamax.descend(chunked, x0, dt=0.1, steps=10, clamp=clamp).states
        assert tree_allclose(got, want, 1e-11, 1e-12)


def test_dense_am_recall_equals_unchunked(getkey):
    pats = jr.rademacher(getkey(), (30, 16)).astype(jnp.float64)
    cues = pats[:6] * jnp.where(jr.uniform(getkey(), (6, 16)) < 0.2, -1.0, 1.0)
    for sep in (L.Softmax(1.0), L.RePU(3.0)):
        dense = zoo.make_dense_am(memories=pats, separation=sep)
        ham = zoo.make_dense_am(memories=pats, separation=sep, memory_chunk=7)
        assert ham.synapses["memories"].memory_chunk == 7
        want = zoo.recall(dense, cues, steps=15)
        assert tree_allclose(zoo.recall(ham, cues, steps=15), want, 1e-10, 1e-12)


def test_bfloat16_storage(getkey):
    pats = jr.rademacher(getkey(), (20, 16)).astype(jnp.float32)
    ham = zoo.make_dense_am(
        memories=pats, memory_chunk=8, memory_dtype=jnp.bfloat16, dtype=jnp.float32
    )
    assert ham.synapses["memories"].Ws[0].dtype == jnp.bfloat16
    ref = zoo.make_dense_am(memories=pats, dtype=jnp.float32)  # ±1 is exact
    cues = pats[:4]
    out = zoo.recall(ham, cues)
    assert out.dtype == jnp.float32
    assert tree_allclose(out, zoo.recall(ref, cues), 1e-5, 1e-6)


def _temp_bytes(num_hidden, chunk, batch=256, d=16):
    W = jnp.zeros((d, 1, num_hidden), jnp.float32)
    syn = S.DenseHiddenSynapse(num_hidden, L.Softmax(), Ws=(W,), memory_chunk=chunk)
    g = jnp.zeros((batch, d), jnp.float32)

    def descent_grad(s, g):  # dE/dg for a batch: one descent step's work
        return jax.vmap(jax.grad(lambda x: s(x)))(g)

    # Not bounded: a gradient of dE/dg (training through a descent), whose
    # reverse pass stores each chunk's drive (docs/memories_at_scale.md).
    fn = jax.jit(descent_grad).lower(syn, g).compile()
    return fn.memory_analysis().temp_size_in_bytes


def test_temp_memory_grows_with_chunk_not_memories():
    activation = 256 * 20_000 * 4  # one (batch, memories) float32 activation
    assert _temp_bytes(20_000, None) > activation
    small, big = _temp_bytes(5_000, 250), _temp_bytes(20_000, 250)
    assert big < activation / 8  # the chunked program never holds it
    assert big - small < activation / 100  # and does not grow with memories


def test_spec_and_checkpoint_keep_the_chunk(tmp_path, getkey):
    ham = zoo.make_dense_am(
        memories=jr.rademacher(getkey(), (9, 8)).astype(jnp.float64), memory_chunk=4
    )
    like = hamax.from_spec(hamax.to_spec(ham))
    assert like.synapses["memories"].memory_chunk == 4
    hamax.save(tmp_path / "m.eqx", ham, spec=hamax.to_spec(ham))
    loaded, _ = hamax.load(tmp_path / "m.eqx", like)
    assert loaded.synapses["memories"].memory_chunk == 4
    assert tree_allclose(
        eqx.filter(loaded, eqx.is_array), eqx.filter(ham, eqx.is_array)
    )


@pytest.mark.parametrize("chunk", [0, -3, True])
def test_bad_chunk_raises(chunk):
    with pytest.raises(
        ValueError,
        match=r"DenseHiddenSynapse expected `memory_chunk` to be None or a positive "
        r"int \(memories per chunk\), got",
    ):
        S.DenseHiddenSynapse(10, memory_chunk=chunk)


@pytest.mark.parametrize(
    "lagrangian", [L.LayerNorm(), L.SphericalNorm(), lambda h: jnp.sum(h**2)]
)
def test_unstreamable_lagrangian_raises(lagrangian):
    with pytest.raises(
        ValueError,
        match=r"DenseHiddenSynapse got `memory_chunk` with the hidden Lagrangian "
        r".*, which cannot be computed chunk by chunk over the memories.*Chunking "
        r"supports Exp, Identity, ReLU, RePU, RExp, Sigmoid, Tanh, Softmax, Ghostmax",
    ):
        S.DenseHiddenSynapse(10, lagrangian, memory_chunk=4)


def test_memory_dtype_without_chunk_raises():
    with pytest.raises(
        ValueError, match=r"make_dense_am got `memory_dtype`=.* without `memory_chunk`"
    ):
        zoo.make_dense_am(memories=np.ones((3, 4)), memory_dtype=jnp.bfloat16)
