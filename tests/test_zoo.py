import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import zoo


@pytest.mark.parametrize("name", list(zoo.CLASSIFIERS))
def test_classifiers_build_and_descend(name, getkey):
    spec = zoo.CLASSIFIERS[name]
    kw = {"num_hidden": 16} if "hn" in name else {}
    ham = spec.make(key=getkey(), dtype=jnp.float32, **kw)
    xs = ham.init_states(dtype=jnp.float32, scale=0.5, key=getkey())
    sol = hamax.descend(
        ham,
        xs,
        dt=spec.dt,
        steps=3,
        clamp=[spec.image],
        save=hamax.Save(energy=True),
        check_monotone=True,
    )
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in sol.states.values())
    assert ham.neurons[spec.label].shape == (10,)


def test_classical_hopfield_and_dense_am_retrieve(getkey):
    patterns = jnp.sign(jr.normal(getkey(), (4, 64)))
    for ham in (
        zoo.make_classical_hopfield(patterns),
        zoo.make_dense_am(64, memories=patterns, beta=8.0, key=getkey()),
    ):
        cue = patterns[1] * jnp.where(jr.bernoulli(getkey(), 0.15, (64,)), -1.0, 1.0)
        sol = hamax.descend(
            ham, {"x": cue}, dt=0.2, stop=hamax.Converged(atol=1e-6, max_steps=3000)
        )
        np.testing.assert_array_equal(jnp.sign(sol.states["x"]), patterns[1])


def test_energy_transformer_descends(getkey):
    ham = zoo.make_energy_transformer(
        6, 8, num_heads=2, head_dim=4, num_hidden=12, key=getkey()
    )
    xs = ham.init_states(scale=1.0, key=getkey())
    sol = hamax.descend(
        ham, xs, dt=0.05, steps=30, save=hamax.Save(energy=True), check_monotone=True
    )
    assert float(sol.energies[-1]) < float(sol.energies[0])
    # masked-token completion: clamp some tokens, the rest is completed
    mask = jnp.zeros((6, 8), bool).at[:3].set(True)
    sol = hamax.retrieve(
        ham,
        {"tokens": xs["tokens"]},
        masks={"tokens": mask},
        noise=1.0,
        key=getkey(),
        dt=0.05,
        steps=10,
    )
    np.testing.assert_array_equal(sol.states["tokens"][:3], xs["tokens"][:3])


def test_zoo_errors():
    with pytest.raises(
        ValueError,
        match=r"make_classical_hopfield expected `patterns` of shape \(num_patterns, num_neurons\), got \(5,\)",
    ):
        zoo.make_classical_hopfield(jnp.ones(5))
