"""A model's architecture as data: hamax.to_spec / hamax.from_spec."""

import builtins
import copy
import enum
import functools as ft
import importlib
import io
import json
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import hamax
from hamax import (
    SpecError,
    compat,
    from_spec,
    lagrangians as L,
    register_module,
    synapses as S,
    to_spec,
    zoo,
)
from hamax._io import _checkpoint


@pytest.fixture
def getkey():
    """conftest's fixture with the "rbg" PRNG: building these models draws a normal
    sample per parameter shape, and threefry's compile made this file 2.6x slower
    on CPU."""
    state = {"key": jr.key(0, impl="rbg")}

    def _getkey():
        state["key"], sub = jr.split(state["key"])
        return sub

    return _getkey


ZOO = {
    "hn_relu": lambda k: zoo.make_hn((6,), num_hidden=4, num_labels=3, key=k),
    "hn_softmax": lambda k: zoo.make_hn_softmax_mnist(num_hidden=5, key=k),
    "conv_ham": lambda k: zoo.make_conv_ham(
        (16, 16, 1), (4, 4, 3), (1, 1, 4), num_hidden=3, key=k
    ),
    "energy_attention": lambda k: zoo.make_energy_attention_mnist(
        tokens=(7, 7, 4), cross_heads=1, self_heads=2, head_dim=3, key=k
    ),
    "classical_hopfield": lambda k: zoo.make_classical_hopfield(
        jnp.sign(jr.normal(k, (3, 8)))
    ),
    "dense_am": lambda k: zoo.make_dense_am(5, num_memories=4, key=k),
    "dense_am_f32": lambda k: zoo.make_dense_am(
        5, num_memories=4, key=k, dtype="float32"
    ),
    "energy_transformer": lambda k: zoo.make_energy_transformer(
        3, 4, num_heads=2, head_dim=3, num_hidden=5, key=k
    ),
}


def three_layer_ham(key):
    """Image, hidden and label layers joined by every kind of synapse, with a
    function Lagrangian, a resting state and learnable Lagrangian parameters."""
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(beta=jnp.asarray(2.0, "float64")), (4, 4, 1)),
        "hidden": hamax.NeuronLayer(L.lagr_relu, (2, 2, 2), bias=jnp.ones((2, 2, 2))),
        "label": hamax.NeuronLayer(L.Softmax(jnp.asarray(2.0, "float64")), 3, tau=0.5),
    }
    synapses = {
        "conv": S.ConvSynapse((3, 3), strides=2, padding=((1, 1), (1, 1))),
        "pool": S.ConvPoolSynapse((3, 3), pool="soft", pool_window=2),
        "dense": S.DenseSynapse(use_bias=True),
        "memories": S.DenseHiddenSynapse(5, L.Softmax(1.5), normalize="per_layer"),
        "nary": S.NaryDenseSynapse(),
        "bias": S.BiasSynapse(init_std=0.1),
        "cross": S.AttentionSynapse(1, 2),
    }
    connections = [
        (("image", "hidden"), "conv"),
        (("image", "hidden"), "pool"),
        (("hidden", "label"), "dense"),
        (("image", "hidden", "label"), "memories"),
        (("image", "label", "label"), "nary"),
        (("label",), "bias"),
        (("label", "hidden"), "cross"),
    ]
    return hamax.HAM(neurons, synapses, connections, key=key)


def restored(model):
    """The model rebuilt from JSON text, with the saved leaves loaded into it."""
    text = json.dumps(to_spec(model), allow_nan=False)
    like = from_spec(json.loads(text))
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, model)
    buf.seek(0)
    return like, eqx.tree_deserialise_leaves(buf, like)


ENERGY = eqx.filter_jit(lambda m, xs: m.energy(xs))


def check_round_trip(model, key, energy=True):
    like, loaded = restored(model)
    assert str(jtu.tree_structure(like)) == str(jtu.tree_structure(model))
    zeros = [x for x in jtu.tree_leaves(like) if eqx.is_array(x)]
    assert all(not np.any(np.asarray(x)) for x in zeros)
    assert bool(eqx.tree_equal(loaded, model))
    if energy and isinstance(model, hamax.HAM):
        dtype = jnp.result_type(jtu.tree_leaves(eqx.filter(model, eqx.is_array))[0])
        xs = model.init_states(scale=1.0, key=key, dtype=dtype)
        # One compilation serves both: the rebuilt model has the same structure.
        assert ENERGY(loaded, xs) == ENERGY(model, xs)
    return loaded


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_round_trip(name, getkey):
    # Equal leaves and structure imply equal energies; the energy itself is
    # compared where compiling it is cheap (conv and attention energies are
    # compared in test_three_layer_ham).
    energy = name not in ("conv_ham", "energy_attention", "hn_softmax")
    check_round_trip(ZOO[name](getkey()), getkey(), energy=energy)


def test_three_layer_ham(getkey):
    ham = three_layer_ham(getkey())
    loaded = check_round_trip(ham, getkey())
    # jit, vmap and grad treat the rebuilt model exactly like the original.
    xs = jax.vmap(lambda k: ham.init_states(scale=1.0, key=k))(jr.split(getkey(), 2))
    traces = []

    def total(m):
        traces.append(1)
        return jnp.sum(jax.vmap(m.energy)(xs))

    grad = eqx.filter_jit(eqx.filter_grad(total))
    assert bool(eqx.tree_equal(grad(loaded), grad(ham)))
    assert len(traces) == 1  # one compilation serves both
    like = from_spec(to_spec(ham))
    assert to_spec(like) == to_spec(ham)
    assert list(like.neurons) == list(ham.neurons)  # insertion order is kept


def test_checkpoint_rebuilds_from_its_spec(tmp_path, getkey):
    # The intended use: the spec travels in the checkpoint header, and the file
    # loads bit for bit into the model rebuilt from it.
    ham = ZOO["hn_relu"](getkey())
    hamax.save(tmp_path / "m.eqx", ham, spec=to_spec(ham))
    spec = _checkpoint.read_header(tmp_path / "m.eqx")["spec"]
    loaded, _ = hamax.load(tmp_path / "m.eqx", from_spec(spec))
    assert bool(eqx.tree_equal(loaded, ham))


def test_partial_lagrangian(getkey):
    # Two partial objects are never equal (identity), so compare their contents.
    layer = hamax.NeuronLayer(ft.partial(L.lagr_softmax, beta=2.0, axis=None), 3)
    loaded = from_spec(json.loads(json.dumps(to_spec(layer)))).lagrangian
    assert loaded.func is L.lagr_softmax and loaded.args == ()
    assert loaded.keywords == {"beta": 2.0, "axis": None}


def test_compat_models(getkey):
    layers = [compat.TanhLayer((2, 4), use_bias=True), compat.SoftmaxLayer((3,))]
    syns = [
        compat.DenseMatrixSynapseWithHiddenLayer(5),
        compat.SelfAttentionSynapse(1, 2),
    ]
    _, lst = compat.HAM(layers, syns, [((0, 1), 0), ((0,), 1)]).init_states_and_params(
        getkey()
    )
    check_round_trip(lst, getkey())
    dct = compat.DictHAM(
        {
            "a": compat.NeuronLayer(L.lagr_tanh, (3,)),
            "b": hamax.NeuronLayer(L.ReLU(), 2),
        },
        {"s": compat.LinearSynapse(jnp.ones((3, 2)))},
        [(("a", "b"), "s")],
    )
    check_round_trip(dct, getkey())


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


@register_module(name="tests.ScaledDense")
class ScaledDense(S.AbstractSynapse):
    W: jax.Array
    scale: float
    colour: Colour = eqx.field(static=True, default=Colour.RED)
    table: np.ndarray = eqx.field(default_factory=lambda: np.zeros(2, np.float32))

    def __call__(self, g1, g2):
        return -self.scale * (g1 @ self.W @ g2) * self.colour.value


def wavy(g):
    return -jnp.sum(jnp.sin(g))


def test_user_defined_modules(getkey):
    neurons = {"a": hamax.NeuronLayer(L.Tanh(), 3), "b": hamax.NeuronLayer(L.Tanh(), 2)}
    syn = ScaledDense(jr.normal(getkey(), (3, 2)), 0.5, Colour.BLUE)
    syns = {"user": syn, "fn": wavy}
    ham = hamax.HAM(neurons, syns, [(("a", "b"), "user"), (("b",), "fn")])
    with pytest.raises(SpecError, match=r"`root.synapses\['user'\].colour` is Colour"):
        to_spec(ham)
    register_module(Colour)
    with pytest.raises(
        SpecError, match=r"`root.synapses\['fn'\]` is .*wavy, which is not registered"
    ):
        to_spec(ham)
    with pytest.raises(SpecError, match=r"Call hamax.register_module\(wavy\)"):
        to_spec(ham)
    register_module(wavy)
    loaded = check_round_trip(ham, getkey())
    assert loaded.synapses["user"].colour is Colour.BLUE
    assert isinstance(loaded.synapses["user"].table, np.ndarray)
    # A field missing from an older spec takes its default.
    spec = to_spec(ham)
    del spec["root"]["__module__"]["fields"]["synapses"]["__dict__"][0][1][
        "__module__"
    ]["fields"]["colour"]
    assert from_spec(spec).synapses["user"].colour is Colour.RED


def test_register_module_errors():
    with pytest.raises(ValueError, match=r"register_module expected an equinox Module"):
        register_module(L.ReLU())
    with pytest.raises(ValueError, match=r"'hamax.HAM' belongs to hamax's own"):
        register_module(ScaledDense, name="hamax.HAM")
    with pytest.raises(ValueError, match=r"register_module cannot name"):
        register_module(ft.partial(wavy))
    assert register_module(L.ReLU) is L.ReLU  # already registered: no-op


def test_to_spec_errors():
    with pytest.raises(SpecError, match=r"to_spec cannot encode `root`, a set"):
        to_spec({1})
    with pytest.raises(SpecError, match=r"`root\[1\]` has a key 3; keys must be str"):
        to_spec([0, {3: 1}])
    with pytest.raises(SpecError, match=r"`root.shape` is an array inside a static"):
        with pytest.warns(UserWarning, match=r"A JAX array is being set as static"):
            module = ScaledDense2(jnp.ones(2))
        to_spec(module)
    with pytest.raises(SpecError, match=r"`root` has dtype key<fry>; supported"):
        to_spec(jr.key(0))
    assert json.loads(json.dumps(to_spec([np.inf, -np.inf]))) == {
        "format": "hamax-spec",
        "version": 1,
        "root": [{"__float__": "inf"}, {"__float__": "-inf"}],
    }
    assert np.isnan(from_spec(to_spec((np.nan,)))[0])


def test_leaf_kinds_and_x64():
    tree = (np.float32(1.5), np.ones((2,), np.int8), jnp.ones((), "bfloat16"))
    spec = json.loads(json.dumps(to_spec(tree)))
    out = from_spec(spec)
    assert type(out[0]) is np.float32 and out[0] == 0
    assert type(out[1]) is np.ndarray and out[1].dtype == np.int8
    assert isinstance(out[2], jax.Array) and out[2].dtype == jnp.bfloat16
    spec64 = to_spec((jnp.zeros(2, "float64"),))
    with jax.enable_x64(False):
        with pytest.raises(SpecError, match=r"has dtype float64, which JAX only keeps"):
            from_spec(spec64)


@register_module
class ScaledDense2(eqx.Module):
    shape: jax.Array = eqx.field(static=True)


def test_unknown_class_is_refused_without_imports(monkeypatch):
    spec = to_spec(zoo.make_classical_hopfield(jnp.ones((1, 2))))
    from_spec(spec)  # the registry is built; from now on nothing may import
    bad = copy.deepcopy(spec)
    bad["root"]["__module__"]["fields"]["synapses"]["__dict__"][0][1]["__module__"][
        "class"
    ] = "os.system"

    calls, real_import, real_import_module = (
        [],
        builtins.__import__,
        importlib.import_module,
    )

    def spy(real):
        def wrapper(name, *args, **kwargs):
            calls.append((sys._getframe(1).f_globals.get("__name__", ""), name))
            return real(name, *args, **kwargs)

        return wrapper

    # Spies that record (rather than fail) and are removed before any assertion,
    # so pytest's own imports are not caught. The runtime type checker that the
    # test configuration wraps around hamax may import; hamax itself may not.
    monkeypatch.setattr(builtins, "__import__", spy(real_import))
    monkeypatch.setattr(importlib, "import_module", spy(real_import_module))
    try:
        from_spec(bad)
    except SpecError as e:
        error = str(e)
    finally:
        monkeypatch.undo()
    assert [c for c in calls if c[0].startswith("hamax") or c[1] == "os"] == []
    assert "names 'os.system', which is not a registered class" in error
    with pytest.raises(SpecError, match=r"`root.synapses\['hebb'\].class` names"):
        from_spec(bad)


DELETE = object()


def _mutate(spec, path, value):
    out = copy.deepcopy(spec)
    node = out
    for k in path[:-1]:
        node = node[k]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


H = ["root", "__module__", "fields"]
N = H + ["neurons", "__dict__", 0, 1, "__module__"]
W = H + ["synapses", "__dict__", 0, 1, "__module__", "fields", "W", "__array__"]
BAD = [
    (["format"], "pickle", r"`spec` is not a 'hamax-spec' spec"),
    (["version"], 7, r"`spec\['version'\]` is 7; this hamax reads version 1"),
    (
        W + ["shape"],
        [4, -4],
        r"`root.synapses\['hebb'\].W.shape` must be a list of at most 32",
    ),
    (W + ["shape"], [True], r"must be a list of at most 32 non-negative ints"),
    (
        W + ["dtype"],
        "object",
        r"`root.synapses\['hebb'\].W.dtype` is 'object'; allowed",
    ),
    (W + ["kind"], "torch", r"W.kind` is 'torch'; allowed"),
    (W + ["shape"], [2**16, 2**16], r"brings the model to 4294967296 array elements"),
    (N + ["fields", "tau"], -1.0, r"is not a valid NeuronLayer: ValueError: Neuron"),
    (N + ["fields", "shape"], [2], r"`root.neurons\['x'\].shape` is a list in a stat"),
    (N + ["fields", "shape"], {"__tuple__": [3]}, r"HAM connection .* does not fit"),
    (N + ["fields", "extra"], 1, r"has 'extra', which is not a field of NeuronLayer"),
    (N + ["class"], "hamax.lagrangians.ReLU", r"not a field of ReLU \(fields: none\)"),
    (
        N + ["fields"],
        {},
        r"`root.neurons\['x'\]` lacks the field 'lagrangian' of Neuron",
    ),
    (N + ["class"], "hamax.lagrangians.lagr_relu", r"which is not a Module class"),
    (
        N + ["fields", "bias"],
        5.0,
        r"NeuronLayer: ValueError: its fields are not in canon",
    ),
    (N + ["fields", "bias"], {"__float__": "1"}, r"must be 'nan', 'inf' or '-inf'"),
    (N + ["fields", "bias"], {"a": 1}, r"expected a JSON scalar, a list, or an object"),
    (N + ["fields", "bias"], {"__enum__": ["x", 1]}, r"names 'x', which is not a reg"),
    (H + ["connections"], [], r"is a list in a static field; use a __tuple__"),
    (H + ["neurons"], {"__dict__": [["x", 1], ["x", 1]]}, r"repeats a key"),
]


@pytest.mark.parametrize("path, value, match", BAD)
def test_malformed_specs(path, value, match):
    spec = to_spec(zoo.make_classical_hopfield(jnp.ones((1, 2))))
    spec["root"]["__module__"]["fields"]["neurons"]["__dict__"][0][0] = "x"
    with pytest.raises(SpecError, match=match):
        from_spec(_mutate(spec, path, value))


def test_spec_shape_errors():
    with pytest.raises(SpecError, match=r"from_spec expected a spec, the dict made by"):
        from_spec([1])
    deep: list = []
    for _ in range(70):
        deep = [deep]
    with pytest.raises(SpecError, match=r"nested more than 64 levels deep"):
        from_spec({"format": "hamax-spec", "version": 1, "root": deep})
    register_module(S.AbstractSynapse, name="tests.AbstractSynapse")
    abstract = {"__module__": {"class": "tests.AbstractSynapse", "fields": {}}}
    with pytest.raises(SpecError, match=r"names 'tests.AbstractSynapse', an abstract"):
        from_spec({"format": "hamax-spec", "version": 1, "root": abstract})
    small = to_spec(zoo.make_classical_hopfield(jnp.ones((1, 3))))
    with pytest.raises(SpecError, match=r"brings the model to 9 array elements, more"):
        from_spec(small, max_elements=8)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**40)
    | st.floats()
    | st.text(max_size=4)
    | st.sampled_from(["__array__", "__tuple__", "__module__", "hamax.HAM", "float64"]),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(["__tuple__", "__dict__", "shape", "x"]), kids, max_size=2
        )
    ),
    max_leaves=6,
)
BASE = to_spec(
    hamax.HAM(
        {"x": hamax.NeuronLayer(L.Tanh(), 3), "y": hamax.NeuronLayer(L.ReLU(), 2)},
        {"d": S.DenseSynapse(), "m": S.DenseHiddenSynapse(2, L.Softmax(2.0))},
        [(("x", "y"), "d"), (("x",), "m")],
        key=jr.key(0, impl="rbg"),
    )
)


def _paths(node, prefix=()):
    yield prefix
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for k, v in items:
        yield from _paths(v, (*prefix, k))


PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), JSON | st.just(DELETE)),
        min_size=1,
        max_size=3,
    )
)
def test_fuzz_mutated_specs(edits):
    spec = BASE
    for path, value in edits:
        try:
            spec = _mutate(spec, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier edit removed the path
            pass
    try:
        out = from_spec(spec)
    except SpecError as e:  # never a KeyError, TypeError, ...
        assert str(e).startswith("from_spec")
    else:
        to_spec(out)  # whatever is accepted is a model that can be saved again
