"""Figure 2 (hamax issue #13): a clamped label recalls a sharp, recognisable digit.

A small version of benchmarks/figure2.py on the real MNIST: the HN (SoftMax) with
memories stored from training examples (train[50000:]), a few classification
steps, then the paper's recipe (hidden temperature lowered 10x, 15 steps of dt
0.4, image from unit noise) for seeds 0, 1, 2, scored by an independent MLP
trained on train[:20000].
"""

import argparse
import pathlib

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax

from .helpers import load_benchmark


ROOT = pathlib.Path(__file__).parent.parent
DATA = ROOT.parent / "shared" / "data" / "mnist.npz"


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/mnist.npz")
def test_figure2_recall_is_sharp_and_recognisable():
    fig2 = load_benchmark("figure2")
    with np.load(DATA) as f:
        x, y = f["x_train"], f["y_train"].astype(np.int32)
    scorer = fig2.fit_scorer(x[:20000], y[:20000], epochs=1)
    args = argparse.Namespace(
        hidden=1000,
        beta=5.0,
        normalize="none",
        init="data",
        encoding="zscore",
        image_weight=2.0,
        label_weight=200.0,
        seed=0,
    )
    ham = fig2.build(args, x[50000:], y[50000:], key=jr.key(0))
    # A few classification steps: training keeps the memories digits.
    xs = hamax.training.standardize(x[:2000], "mnist").reshape(2000, -1)
    ham, _ = fig2.train(ham, xs, y[:2000], epochs=1, lr=1e-3)
    for seed in range(3):
        images, E = hamax.memory.recall_labels(
            ham, range(10), noise=1.0, key=jr.key(seed)
        )
        assert images.shape == (10, 784) and E.shape == (10, 16)
        s = fig2.score(np.asarray(images), np.arange(10), scorer, x[:20000], y[:20000])
        assert s["a_correct"] >= 8, s
        assert s["b_closest_corr"] >= 0.5, s
        assert s["c_min"] <= -0.5 and s["c_max"] >= 0.5, s
        assert bool(jnp.all(jnp.diff(E, axis=1) <= 1e-3 * jnp.abs(E[:, 1:])))
