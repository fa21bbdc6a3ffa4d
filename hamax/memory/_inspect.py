import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._ham import HAM
from ..synapses import DenseHiddenSynapse
from ._recall import check_labels
from ._retrieve import _check_layer
from ._store import whole_layer_synapse


class LabelMemories(eqx.Module):
    """The memories most associated with each label (from
    [`hamax.memory.memories_for_label`][]), `n` labels by `k` memories.

    **Fields:**

    - `labels`: the labels, shape `(n,)`.
    - `indices`: the hidden units, shape `(n, k)`: flat indices
      `head * num_hidden + unit`, strongest first.
    - `scores`: each memory's label weight for its label, shape `(n, k)`.
    - `images`: the memories' image weights reshaped to the image layer's shape,
      `(n, k, *image_shape)`.
    - `label_weights`: the memories' weights on every label, `(n, k, n_labels)`.
    """

    labels: Int[Array, " n"]
    indices: Int[Array, "n k"]
    scores: Float[Array, "n k"]
    images: Float[Array, "n k *image"]
    label_weights: Float[Array, "n k l"]


def _find_synapse(ham: HAM, image: str, label: str, synapse: str | None):
    found = [
        (names, s)
        for names, s in ham.connections
        if isinstance(ham.synapses[s], DenseHiddenSynapse)
        and image in names
        and label in names
    ]
    if synapse is None:
        if len(found) != 1:
            have = ", ".join(repr(s) for _, s in found) or "none"
            raise ValueError(
                f"memories_for_label needs exactly one DenseHiddenSynapse joining "
                f"{image!r} and {label!r}, found {have}; pass synapse= its name."
            )
        return found[0]
    for names, s in found:
        if s == synapse:
            return names, s
    raise ValueError(
        f"memories_for_label got synapse={synapse!r}, which is not a "
        f"DenseHiddenSynapse joining {image!r} and {label!r} (candidates: "
        f"{', '.join(repr(s) for _, s in found) or 'none'})."
    )


def memories_for_label(
    ham: HAM,
    label: int | list[int] | None = None,
    *,
    k: int = 8,
    synapse: str | None = None,
    image: str = "image",
    label_layer: str = "label",
) -> LabelMemories:
    r"""The `k` hidden units (memories) of a dense-with-hidden synapse most
    associated with each label, with their weights.

    A memory $m$ of a [`hamax.synapses.DenseHiddenSynapse`][] has a weight
    $W_\text{label}[m, c]$ on each label $c$: the drive a one-hot label $c$ sends
    it. The memories with the largest $W_\text{label}[m, c]$ are those a clamped
    label $c$ recalls first; their image weights $W_\text{image}[m]$ are what they
    store. Weights are the ones the energy uses (unit-normalised if the synapse
    normalises), rows of `synapse.memories()`; ties keep the lower index.

    **Arguments:**

    - `label`: one label, a list of labels, or `None` (default) for all.
    - `k`: memories per label (at most the number of hidden units).
    - `synapse`: the synapse name; default: the only `DenseHiddenSynapse` that
      joins `image` and `label_layer`.
    - `image`, `label_layer`: names of the image and label layers.

    **Returns:** a [`hamax.memory.LabelMemories`][].
    """
    _check_layer(ham, image, "the image")
    _check_layer(ham, label_layer, "the label")
    names, s = _find_synapse(ham, image, label_layer, synapse)
    syn = whole_layer_synapse(
        ham,
        s,
        "memories_for_label",
        ", whose memories act on one token, not on the whole image; pass a "
        "synapse without per_token.",
    )
    n_labels = ham.neurons[label_layer].shape[0]
    labels = check_labels(
        ham,
        np.arange(n_labels) if label is None else np.atleast_1d(label),
        label_layer,
    )
    units = syn.num_heads * syn.num_hidden
    if not (isinstance(k, int) and 0 < k <= units):
        raise ValueError(
            f"memories_for_label expected `k` to be an int in 1..{units} (the "
            f"synapse's hidden units), got {k!r}."
        )
    mems = syn.memories()
    w_img = np.asarray(mems[names.index(image)]).reshape(units, -1)
    w_lab = np.asarray(mems[names.index(label_layer)]).reshape(units, -1)
    # Stable sort of the negated scores: the strongest first, ties by index.
    order = np.argsort(-w_lab[:, labels].T, axis=1, kind="stable")[:, :k]
    shape = ham.neurons[image].shape
    return LabelMemories(
        labels=jnp.asarray(labels),
        indices=jnp.asarray(order),
        scores=jnp.asarray(np.take_along_axis(w_lab[:, labels].T, order, axis=1)),
        images=jnp.asarray(w_img[order].reshape(len(labels), k, *shape)),
        label_weights=jnp.asarray(w_lab[order]),
    )
