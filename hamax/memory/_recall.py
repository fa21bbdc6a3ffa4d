from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Int, PRNGKeyArray

from .._ham import HAM
from ..dynamics import Save
from ..dynamics._descend import plain_errors
from ._outcome import RecallOutcome, outcomes, readable_synapse
from ._retrieve import _check_layer, retrieve, scale_temperature


def check_labels(ham: HAM, labels, label: str) -> np.ndarray:
    """`labels` as an int array, each a unit of the 1-D layer `label`."""
    _check_layer(ham, label, "labels")
    shape = ham.neurons[label].shape
    if len(shape) != 1:
        raise ValueError(
            f"recall_labels expected the label layer {label!r} to be 1-D (one unit "
            f"per class), got shape {shape}; pass label= the name of a 1-D layer."
        )
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"recall_labels expected `labels` to be a non-empty 1-D sequence of ints, "
            f"got {labels!r:.80}. Pass e.g. labels=range(10)."
        )
    bad = arr[(arr < 0) | (arr >= shape[0])]
    if bad.size:
        raise ValueError(
            f"recall_labels got label {int(bad[0])}, outside the label layer "
            f"{label!r} of {shape[0]} units; pass labels in 0..{shape[0] - 1}."
        )
    return arr


def recall_labels(
    ham: HAM,
    labels: Sequence[int] | Int[ArrayLike, " n"],
    *,
    image: str = "image",
    label: str = "label",
    amplitude: float = 20.0,
    noise: float = 0.1,
    beta_scale: float = 10.0,
    dt: float = 0.4,
    steps: int = 15,
    report: bool = False,
    key: PRNGKeyArray,
) -> tuple[Array, Array] | tuple[Array, Array, RecallOutcome]:
    """The paper's Figure 2: for each label, clamp the label layer to that class,
    start the image layer from noise and descend; return what the image layer
    shows at the end.

    The defaults are the paper's recipe (Figure 2 and Appendix B): the label
    layer clamped to a one-hot state, the image started at random, the hidden
    softmax temperature lowered tenfold, 15 steps of `dt = 0.4`. The paper does
    not give the scale of the random start; the default standard deviation 0.1
    keeps the noise's drive into the hidden layer below the clamped label's, so
    the label, not the noise, chooses what is recalled (unit-variance noise, the
    random state of HAMUX v0.1, often outweighs it: docs/associative_memory.md).

    **Arguments:**

    - `labels`: the classes to recall, ints in `0 .. n_labels - 1`.
    - `image`, `label`: names of the image and label layers.
    - `amplitude`: the clamped label state is `amplitude * one_hot(label)`; for a
      softmax label layer a large amplitude makes its activation one-hot.
    - `noise`: standard deviation of the initial image state.
    - `beta_scale`: multiplies the hidden Lagrangians' inverse temperature (see
      [`hamax.retrieve`][]); use `1.0` for a HAM without one (ReLU).
    - `dt`, `steps`: the descent.
    - `report`: also return what each recall found, a
      [`hamax.memory.RecallOutcome`][] (from [`hamax.memory.outcomes`][] on the
      final states, at the lowered temperature the descent ran with); needs a
      dense-with-hidden synapse joining the image layer.
    - `key`: a JAX PRNG key; each label gets its own noise.

    **Returns:** `(images, energies)`: the image layer's activations at the end,
    shape `(n, *image_shape)`, and the energy before each step and after the
    last, shape `(n, steps + 1)`; with `report=True`, `(images, energies,
    outcome)`.
    """
    _check_layer(ham, image, "the image")
    arr = check_labels(ham, labels, label)
    if report:
        readable_synapse(ham, None)  # fail before the descent, not after
    # Validates beta_scale (and that the HAM has a temperature) once, up front.
    ham = scale_temperature(ham, beta_scale)
    num = ham.neurons[label].shape[0]
    leaves = jax.tree_util.tree_leaves(eqx.filter(ham, eqx.is_inexact_array))
    dtype = leaves[0].dtype if leaves else jnp.float32
    states = amplitude * jax.nn.one_hot(jnp.asarray(arr), num, dtype=dtype)
    keys = jr.split(key, len(arr))

    def one(state, k):
        sol = retrieve(
            ham,
            {label: state},
            noise=noise,
            key=k,
            dt=dt,
            steps=steps,
            save=Save(energy=True),
        )
        g = ham.neurons[image].activation(sol.states[image])
        return g, sol.energies, sol if report else None

    # eqx.filter_jit (not jax.jit): a runtime error of the descent (e.g. a
    # non-finite state at too large a dt) comes back as equinox's error, not as
    # a failed host callback, and plain_errors leaves hamax's message alone.
    with plain_errors():
        images, energies, sols = eqx.filter_jit(jax.vmap(one))(states, keys)
    if not report:
        return images, energies
    return images, energies, outcomes(ham, sols, layer=image)
