"""Every graph-construction and state error, matched by message."""

import jax.numpy as jnp
import jax.random as jr
import pytest

import hamax
import hamax.lagrangians as L
from hamax.synapses import DenseSynapse


def layers():
    return {
        "image": hamax.NeuronLayer(L.Tanh(), 4),
        "hidden": hamax.NeuronLayer(L.ReLU(), 3),
    }


KEY = jr.key(0)


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: hamax.HAM(
                layers(),
                {"dense1": DenseSynapse()},
                [(("image", "hiden"), "dense1")],
                key=KEY,
            ),
            r"HAM connection \(\('image', 'hiden'\), 'dense1'\) names neuron layer 'hiden', which is not in "
            r"neurons \(have: 'image', 'hidden'\). Did you mean 'hidden'\?",
        ),
        (
            lambda: hamax.HAM(
                layers(),
                {"dense1": DenseSynapse()},
                [(("image", "hidden"), "dense2")],
                key=KEY,
            ),
            r"names synapse 'dense2', which is not in synapses \(have: 'dense1'\). Did you mean 'dense1'\?",
        ),
        (
            lambda: hamax.HAM(
                layers(), {"d": DenseSynapse()}, [(("image",), "d")], key=KEY
            ),
            r"HAM connection \(\('image',\), 'd'\) gives 1 layer\(s\) to synapse 'd', which takes 2",
        ),
        (
            lambda: hamax.HAM(
                layers(), {"d": DenseSynapse()}, [(("image", "hidden"), "d")]
            ),
            r"HAM synapse\(s\) 'd' have no parameters yet; .* Pass a key",
        ),
        (
            lambda: hamax.HAM(
                layers(),
                {"d": DenseSynapse(W=jnp.ones((4, 5)))},
                [(("image", "hidden"), "d")],
            ),
            r"HAM connection \(\('image', 'hidden'\), 'd'\) does not fit: DenseSynapse with "
            r"W.shape=\(4, 5\) expected activations with 4 and 5 elements, got g1.shape=\(4,\) and g2.shape=\(3,\)",
        ),
        (
            lambda: hamax.HAM(layers(), {"f": lambda g: g * 2}, [(("image",), "f")]),
            r"synapse 'f' must return a scalar energy, got \(4,\)",
        ),
        (
            lambda: hamax.HAM(
                layers(), {"f": lambda g: jnp.sum(g @ jnp.ones(7))}, [(("image",), "f")]
            ),
            r"HAM connection \(\('image',\), 'f'\) failed when called on activations of shapes \[\(4,\)\]: TypeError",
        ),
        (
            lambda: hamax.HAM(
                layers(), {"d": DenseSynapse()}, [("image", "hidden", "d")], key=KEY
            ),
            r"HAM connection \('image', 'hidden', 'd'\) is malformed",
        ),
        (
            lambda: hamax.HAM(layers(), {"d": DenseSynapse()}, "image", key=KEY),
            r"HAM expected `connections` to be a list",
        ),
        (
            lambda: hamax.HAM({}, {}, []),
            r"HAM expected `neurons` to be a non-empty dict",
        ),
        (
            lambda: hamax.HAM({"a": L.ReLU()}, {}, []),
            r"HAM neuron layer 'a' must be a hamax.NeuronLayer, got ReLU",
        ),
        (
            lambda: hamax.HAM(layers(), {"d": 3}, []),
            r"HAM synapse 'd' must be callable",
        ),
        (
            lambda: hamax.HAM(layers(), {"d": DenseSynapse()}, [], key=KEY),
            r"HAM synapse 'd' has no parameters and no connection to infer their shapes from",
        ),
    ],
)
def test_graph_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def small_ham():
    return hamax.HAM(
        layers(), {"d": DenseSynapse()}, [(("image", "hidden"), "d")], key=KEY
    )


@pytest.mark.parametrize(
    "xs, match",
    [
        (
            {"image": jnp.zeros(4)},
            r"HAM.activations is missing the state of layer 'hidden'",
        ),
        (
            {"image": jnp.zeros(4), "hidden": jnp.zeros(3), "imag": jnp.zeros(4)},
            r"HAM.activations got a state for 'imag', which is not a neuron layer .* Did you mean 'image'\?",
        ),
        (
            {"image": jnp.zeros((8, 4)), "hidden": jnp.zeros(3)},
            r"HAM.activations expected the state of layer 'image' to have shape \(4,\), got \(8, 4\). hamax "
            r"functions act on one example; batch with jax.vmap",
        ),
        (
            {"image": jnp.zeros(5), "hidden": jnp.zeros(3)},
            r"expected the state of layer 'image' to have shape \(4,\), got \(5,\).$",
        ),
    ],
)
def test_state_errors(xs, match):
    with pytest.raises(ValueError, match=match):
        small_ham().activations(xs)


def test_states_not_a_dict():
    # Called directly: with the test-time type checker on, `activations` would be
    # stopped by its annotation before reaching this check.
    with pytest.raises(
        ValueError,
        match=r"HAM.activations expected states as a dict layer name -> array, got list",
    ):
        small_ham().check_states([jnp.zeros(4)], "HAM.activations")


def test_integer_states():
    # Checked directly: the test-time type checker would stop `activations` first.
    xs = {"image": jnp.zeros(4, jnp.int32), "hidden": jnp.zeros(3)}
    with pytest.raises(
        ValueError,
        match=r"HAM.activations expected a floating-point state for layer 'image', got dtype int32. Convert it",
    ):
        small_ham().check_states(xs, "HAM.activations")


def test_energy_grad_unknown_layer():
    ham = small_ham()
    with pytest.raises(
        ValueError,
        match=r"HAM.energy_grad got layer 'hiden' in `layers`.*Did you mean 'hidden'",
    ):
        ham.energy_grad(ham.init_states(), layers=["hiden"])


def test_dense_call_batched_error():
    syn = DenseSynapse(W=jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"batch with jax.vmap"):
        syn(jnp.ones((2, 4)), jnp.ones(3))


@pytest.mark.parametrize("throw", [True, False])
def test_nonfinite_x0_error_says_what_on_its_first_line(throw):
    # Issue #15 item 4: the message, not equinox's stack banner, comes first.
    import equinox as eqx

    ham = small_ham()
    xs = ham.init_states()
    xs["image"] = xs["image"].at[1].set(jnp.nan)
    with pytest.raises(eqx.EquinoxRuntimeError) as info:
        hamax.descend(ham, xs, dt=0.1, steps=2, clamp=["image"], throw=throw)
    first = str(info.value).splitlines()[0]
    assert first == (
        "descend: x0['image'] contains NaN or inf; give finite initial states."
    )
    system = ham.clamp({"image": xs["image"]})
    with pytest.raises(eqx.EquinoxRuntimeError, match=r"^descend: x0\['image'\]"):
        hamax.descend(system, system.init(), dt=0.1, steps=2, throw=throw)
    with pytest.raises(
        eqx.EquinoxRuntimeError,
        match=r"^max_steps_reached: The maximum number of descent steps",
    ):
        hamax.descend(
            ham,
            ham.init_states(scale=1.0, key=KEY),
            dt=0.1,
            stop=hamax.Converged(0.0, max_steps=2),
        )
