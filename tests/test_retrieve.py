import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import zoo


def test_reverse_retrieval_clamps_label_and_descends(getkey):
    ham = zoo.make_hn((12,), num_hidden=8, num_labels=3, key=getkey())
    label = 20.0 * jnp.eye(3)[1]
    sol = hamax.retrieve(
        ham,
        {"label": label},
        noise=1.0,
        key=getkey(),
        dt=0.1,
        steps=50,
        save_energy=True,
        check_monotone=True,
    )
    np.testing.assert_array_equal(sol.states["label"], label)
    E = np.asarray(sol.energies)
    assert E[-1] < E[0]


def test_masked_completion_equals_descend_with_mask(getkey):
    patterns = jnp.sign(jr.normal(getkey(), (3, 50)))
    ham = zoo.make_classical_hopfield(patterns)
    mask = jnp.arange(50) < 25
    sol = hamax.retrieve(ham, {"x": patterns[0]}, masks={"x": mask}, dt=0.2, steps=200)
    np.testing.assert_array_equal(
        sol.states["x"][:25], patterns[0][:25]
    )  # observed half held
    np.testing.assert_array_equal(
        jnp.sign(sol.states["x"]), patterns[0]
    )  # the rest completed
    ref = hamax.descend(
        ham,
        {"x": jnp.where(mask, patterns[0], 0.0)},
        dt=0.2,
        steps=200,
        clamp={"x": mask},
    )
    np.testing.assert_array_equal(sol.states["x"], ref.states["x"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(known={"lable": jnp.zeros(3)}),
            r"retrieve got layer 'lable', which is not a neuron layer .* Did you mean 'label'",
        ),
        (
            dict(known={}, masks={"label": jnp.ones(3, bool)}),
            r"retrieve got a mask for 'label' but no known state for it",
        ),
        (
            dict(known={"label": jnp.zeros((2, 3))}),
            r"retrieve expected known\['label'\] of shape \(3,\), got \(2, 3\)",
        ),
    ],
)
def test_errors(kwargs, match, getkey):
    ham = zoo.make_hn((4,), num_hidden=3, num_labels=3, key=getkey())
    with pytest.raises(ValueError, match=match):
        hamax.retrieve(ham, dt=0.1, steps=2, **kwargs)
