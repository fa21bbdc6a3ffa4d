import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import zoo
from hamax.lagrangians import Softmax


def _ham(getkey, num_heads=1, normalize=False):
    ham = zoo.make_hn((16,), num_hidden=12, num_labels=4, key=getkey())
    syn = hamax.synapses.DenseHiddenSynapse(
        12, Softmax(2.0), num_heads=num_heads, normalize=normalize
    )
    neurons = ham.neurons
    return hamax.HAM(
        neurons, {"memories": syn}, [(("image", "label"), "memories")], key=getkey()
    )


@pytest.mark.parametrize("num_heads, normalize", [(1, False), (2, "per_layer")])
def test_memories_for_label_matches_numpy(getkey, num_heads, normalize):
    ham = _ham(getkey, num_heads, normalize)
    mem = hamax.memory.memories_for_label(ham, k=5)
    w_img, w_lab = (
        np.asarray(w).reshape(num_heads * 12, -1)
        for w in ham.synapses["memories"].memories()
    )
    assert mem.indices.shape == (4, 5)
    assert mem.images.shape == (4, 5, 16)
    assert mem.label_weights.shape == (4, 5, 4)
    for c in range(4):
        # Brute force: every unit, sorted by its weight on label c (ties by index).
        ref = sorted(range(len(w_lab)), key=lambda m: (-w_lab[m, c], m))[:5]
        np.testing.assert_array_equal(mem.indices[c], ref)
        np.testing.assert_allclose(mem.scores[c], w_lab[ref, c])
        np.testing.assert_allclose(mem.images[c], w_img[ref])
        np.testing.assert_allclose(mem.label_weights[c], w_lab[ref])
        assert np.all(np.diff(np.asarray(mem.scores[c])) <= 0)


def test_one_label_and_plot(getkey):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ham = zoo.make_hn((16,), num_hidden=12, num_labels=4, key=getkey())
    mem = hamax.memory.memories_for_label(ham, 2, k=3)
    assert mem.images.shape == (1, 3, 16) and int(mem.labels[0]) == 2
    ax = hamax.plot.plot_memories(hamax.memory.memories_for_label(ham, k=3))
    assert ax.get_yticklabels()[3].get_text() == "label 3"
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(label=4), r"label 4, outside the label layer 'label' of 4 units"),
        (dict(label=-1), r"label -1, outside"),
        (dict(k=13), r"`k` to be an int in 1\.\.12 .*got 13"),
        (dict(k=0), r"`k` to be an int in 1\.\.12"),
        (dict(image="img"), r"layer 'img', which is not a neuron layer"),
        (dict(label_layer="lab"), r"layer 'lab', which is not a neuron layer"),
        (dict(synapse="s"), r"synapse='s', which is not a DenseHiddenSynapse"),
        (dict(label=[]), r"`labels` to be a non-empty 1-D sequence of ints"),
    ],
)
def test_memories_for_label_errors(getkey, kwargs, match):
    ham = zoo.make_hn((16,), num_hidden=12, num_labels=4, key=getkey())
    with pytest.raises(ValueError, match=match):
        hamax.memory.memories_for_label(ham, **kwargs)


def test_no_dense_hidden_synapse(getkey):
    ham = zoo.make_classical_hopfield(jnp.sign(jr.normal(getkey(), (3, 8))))
    name = next(iter(ham.neurons))
    with pytest.raises(ValueError, match=r"needs exactly one DenseHiddenSynapse"):
        hamax.memory.memories_for_label(ham, image=name, label_layer=name)


def test_store_patterns_writes_rows(getkey):
    ham = _ham(getkey, num_heads=2)
    img, lab = jr.normal(getkey(), (5, 16)), 3.0 * jnp.eye(4)[jnp.arange(5) % 4]
    new = hamax.memory.store_patterns(ham, {"image": img, "label": lab})
    w_img, w_lab = (
        np.asarray(w).reshape(24, -1) for w in new.synapses["memories"].memories()
    )
    old = np.asarray(ham.synapses["memories"].memories()[0]).reshape(24, -1)
    np.testing.assert_allclose(w_img[:5], img)
    np.testing.assert_allclose(w_lab[:5], lab)
    np.testing.assert_array_equal(w_img[5:], old[5:])  # the rest unchanged
    # Memory 1 stores label 1 at weight 3, far above the random others.
    assert int(hamax.memory.memories_for_label(new, 1, k=2).indices[0, 0]) == 1


@pytest.mark.parametrize(
    "patterns, match",
    [
        ({"image": np.zeros((3, 15))}, r"patterns\['image'\] of shape \(n, 16\)"),
        ({"image": np.zeros((13, 16))}, r"with 1 <= n <= 12 .* got \(13, 16\)"),
        (
            {"image": np.zeros((3, 16)), "label": np.zeros((2, 4))},
            r"same number of patterns for every layer, got \[2, 3\]",
        ),
        ({"imag": np.zeros((3, 16))}, r"layer 'imag', which is not a neuron layer"),
    ],
)
def test_store_patterns_errors(getkey, patterns, match):
    with pytest.raises(ValueError, match=match):
        hamax.memory.store_patterns(_ham(getkey), patterns)
