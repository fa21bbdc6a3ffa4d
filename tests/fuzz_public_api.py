"""Property-based fuzzing of the public API with malformed input.

Run by tests/test_fuzz.py in a subprocess *without* the test-time jaxtyping hook,
so it sees what a user sees. Every case must end in a correct result or a clear
hamax error (a known exception type whose message names what was wrong) — never
an unexpected exception type (a raw JAX traceback) or a hang.
"""

import os
import pathlib

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import hamax
import hamax.lagrangians as L
from hamax import synapses as S


COUNT = pathlib.Path(os.environ.get("HAMAX_FUZZ_COUNT", "/tmp/hamax_fuzz_count"))
CLEAR = (ValueError, FloatingPointError, FileNotFoundError, eqx.EquinoxRuntimeError)
HINTS = (
    "HAM",
    "NeuronLayer",
    "descend",
    "Synapse",
    "retrieve",
    "Converged",
    "NaN or inf",
    "non-finite",
    "maximum number",
)
SET = settings(
    max_examples=int(os.environ.get("HAMAX_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def tick(kind):
    with open(COUNT, "a") as f:
        f.write(kind + "\n")


def check_clear(e: BaseException):
    assert isinstance(e, CLEAR), f"unexpected {type(e).__name__}: {e}"
    assert any(h in str(e) for h in HINTS), f"unclear message: {e}"


shapes = st.one_of(
    st.integers(-2, 4),
    st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
    st.just("abc"),
    st.just((2.5,)),
)
lags = st.sampled_from(
    [L.Tanh(), L.ReLU(), L.Softmax(), L.LayerNorm(), "relu", None, L.Tanh]
)
taus = st.sampled_from([1.0, 0.5, 0.0, -1.0, float("nan"), "fast", 2])
names = st.sampled_from(["a", "b", "c", "x"])
syns = st.sampled_from(["dense", "hidden", "bias", "conv", "lambda", "nary"])


def make_synapse(kind):
    return {
        "dense": S.DenseSynapse(),
        "hidden": S.DenseHiddenSynapse(3),
        "bias": S.BiasSynapse(),
        "conv": S.ConvSynapse(3),
        "lambda": lambda *g: jnp.sum(g[0]),
        "nary": S.NaryDenseSynapse(),
    }[kind]


@SET
@given(
    layers=st.lists(st.tuples(names, lags, shapes, taus), min_size=0, max_size=3),
    conns=st.lists(
        st.tuples(st.lists(names, min_size=0, max_size=3), syns), max_size=3
    ),
    dt=st.sampled_from([0.1, 0.0, -0.5, float("nan"), 1e30]),
    steps=st.sampled_from([0, 3, -1]),
    state_kind=st.sampled_from(
        ["ok", "nan", "inf", "batched", "wrong", "missing", "int"]
    ),
    seed=st.integers(0, 1000),
)
def test_graph_states_and_descent(layers, conns, dt, steps, state_kind, seed):
    import jax.random as jr

    tick("graph")
    try:
        neurons = {
            n: hamax.NeuronLayer(lag, shape, tau=tau) for n, lag, shape, tau in layers
        }
        synapses = {f"s{i}": make_synapse(k) for i, (_, k) in enumerate(conns)}
        connections = [(tuple(ns), f"s{i}") for i, (ns, _) in enumerate(conns)]
        ham = hamax.HAM(neurons, synapses, connections, key=jr.key(seed))
    except Exception as e:  # noqa: BLE001 - the property is about which errors
        check_clear(e)
        return
    xs = ham.init_states(scale=1.0, key=jr.key(seed + 1))
    k = next(iter(xs))
    if state_kind == "nan":
        xs[k] = xs[k].at[(0,) * xs[k].ndim].set(jnp.nan)
    elif state_kind == "inf":
        xs[k] = jnp.full_like(xs[k], jnp.inf)
    elif state_kind == "batched":
        xs[k] = jnp.stack([xs[k], xs[k]])
    elif state_kind == "wrong":
        xs[k] = jnp.zeros((7,))
    elif state_kind == "missing":
        del xs[k]
    elif state_kind == "int":
        xs[k] = jnp.zeros(xs[k].shape, jnp.int32)
    try:
        sol = hamax.descend(ham, xs, dt=dt, steps=steps, throw=False)
    except Exception as e:  # noqa: BLE001
        check_clear(e)
        return
    assert isinstance(sol, hamax.Solution)
    assert sol.result in (
        hamax.RESULTS.successful,
        hamax.RESULTS.unstable,
        hamax.RESULTS.nonfinite,
    )
    if sol.result != hamax.RESULTS.nonfinite:
        assert all(bool(jnp.all(jnp.isfinite(v))) for v in sol.states.values())


@SET
@given(
    which=st.sampled_from(["bad_magic", "truncated", "flipped", "empty", "missing"]),
    cut=st.integers(1, 200),
)
def test_corrupt_checkpoints(which, cut):
    import tempfile

    import jax.random as jr

    from hamax import zoo
    from hamax._io import _checkpoint

    tick("checkpoint")
    ham = zoo.make_hn((6,), num_hidden=3, num_labels=2, key=jr.key(0))
    d = pathlib.Path(tempfile.mkdtemp())
    path = d / "m.eqx"
    _checkpoint.save(path, ham)
    data = path.read_bytes()
    if which == "bad_magic":
        path.write_bytes(b"X" + data[1:])
    elif which == "truncated":
        path.write_bytes(data[: max(0, len(data) - cut)])
    elif which == "flipped":
        b = bytearray(data)
        b[-(cut % len(b)) - 1] ^= 0xFF
        path.write_bytes(bytes(b))
    elif which == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    try:
        _checkpoint.load(path, ham)
    except (_checkpoint.CheckpointError, FileNotFoundError) as e:
        assert str(path) in str(e)
        return
    raise AssertionError("a damaged checkpoint loaded without error")


@SET
@given(
    argv=st.lists(
        st.sampled_from(
            [
                "train",
                "eval",
                "demo",
                "retrieve",
                "--epochs",
                "-3",
                "0",
                "x",
                "--model",
                "hn_relu_mnist",
                "--data",
                "/nonexistent",
                "--batch-size",
                "--out",
                "/tmp/hamax-fuzz-out",
            ]
        ),
        max_size=6,
    )
)
def test_cli_never_tracebacks(argv):
    from hamax._cli import main

    tick("cli")
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors exit 2 with a message
        assert e.code in (0, 1, 2)
        return
    assert code in (0, 1, 2, 3)


def test_empty_batch_and_bad_batches():
    tick("batches")
    from hamax.data import iterate_batches

    assert list(iterate_batches((np.zeros(0),), 4)) == []
    for bad in (0, -3):
        try:
            list(iterate_batches((np.zeros(3),), bad))
        except ValueError as e:
            assert "batch_size" in str(e)
        else:
            raise AssertionError("bad batch size accepted")
