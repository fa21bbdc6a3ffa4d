"""The retrieval benchmark (issue #24 item 2): its helpers in hamax.memory against
hand-computed values, and the script's core on a tiny N of the real MNIST."""

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from hamax.memory import (
    cosine_similarities,
    gaussian_noise,
    mask_bottom_half,
    mask_random,
    recalled_by_cosine,
    recalled_by_squared_error,
    squared_errors,
)

from .helpers import load_benchmark


ROOT = pathlib.Path(__file__).parent.parent
DATA = ROOT.parent / "shared" / "data"


def test_scoring_against_hand_values():
    r = jnp.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    t = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    # 0, 4 and 2 squared errors; threshold 2 accepts the first and the last.
    np.testing.assert_allclose(squared_errors(r, t), [0.0, 4.0, 2.0])
    np.testing.assert_array_equal(
        recalled_by_squared_error(r, t, threshold=2.0), [True, False, True]
    )
    assert recalled_by_squared_error(r, t).tolist() == [True, True, True]
    # Cosines 1, 0 (the target is zero) and 0 (the retrieved is zero).
    np.testing.assert_allclose(cosine_similarities(r, t), [1.0, 0.0, 0.0])
    a = jnp.array([[3.0, 4.0], [1.0, 1.0]])
    b = jnp.array([[4.0, 3.0], [1.0, 0.0]])
    np.testing.assert_allclose(cosine_similarities(a, b), [24 / 25, 1 / np.sqrt(2)])
    assert recalled_by_cosine(a, b).tolist() == [True, False]
    assert recalled_by_cosine(a, b, threshold=0.96).tolist() == [False, False]
    jitted = jax.jit(lambda a, b: recalled_by_cosine(a, b, threshold=0.5))
    assert jitted(a, b).tolist() == [True, True]
    # Images (n, h, w, c) are flattened per row.
    imgs = jnp.ones((2, 2, 2, 1))
    np.testing.assert_allclose(squared_errors(imgs, 0 * imgs), [4.0, 4.0])


def test_corruptions_against_hand_values(getkey):
    x = jnp.arange(1.0, 1 + 4 * 3 * 2).reshape(1, 4, 3, 2)
    half = mask_bottom_half(x)
    np.testing.assert_array_equal(half[0, :2], x[0, :2])
    assert float(jnp.abs(half[0, 2:]).max()) == 0.0
    quarter = mask_bottom_half(x, fraction=0.25, fill=-1.0)
    np.testing.assert_array_equal(quarter[0, :3], x[0, :3])
    np.testing.assert_array_equal(quarter[0, 3], -np.ones((3, 2)))
    np.testing.assert_array_equal(mask_bottom_half(x, fraction=0.0), x)
    # Random masking drops whole pixels (every channel), about `fraction` of them.
    big = jnp.ones((50, 20, 20, 3))
    m = mask_random(big, 0.3, key=getkey())
    dropped = np.asarray(m[..., 0] == 0)
    assert np.all((np.asarray(m) == 0).all(-1) == dropped)
    assert abs(dropped.mean() - 0.3) < 0.02
    assert float(mask_random(big, 0.0, key=getkey()).min()) == 1.0
    assert float(mask_random(big, 1.0, key=getkey()).max()) == 0.0
    # Noise: standard deviation sigma without clipping, in range with it.
    z = jnp.full((100, 10, 10, 1), 0.5)
    raw = gaussian_noise(z, 0.2, clip=None, key=getkey())
    assert abs(float(jnp.std(raw - z)) - 0.2) < 0.005
    clipped = gaussian_noise(z, 2.0, key=getkey())
    assert float(clipped.min()) == 0.0 and float(clipped.max()) == 1.0
    np.testing.assert_array_equal(gaussian_noise(z, 0.0, key=getkey()), z)
    # Pure functions of their inputs: jit gives the same masks, dtype is kept.
    k = getkey()
    np.testing.assert_array_equal(
        jax.jit(lambda a: mask_random(a, 0.5, key=k))(big), mask_random(big, 0.5, key=k)
    )
    x32 = x.astype(jnp.float32)
    assert mask_bottom_half(x32).dtype == jnp.float32
    assert gaussian_noise(x32, 0.1, key=getkey()).dtype == jnp.float32
    assert mask_random(x32, 0.1, key=getkey()).dtype == jnp.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mask_bottom_half(jnp.ones((4, 4))), r"\(\*batch, height, width"),
        (
            lambda: mask_bottom_half(jnp.ones((1, 4, 4, 1)), fraction=1.5),
            r"in \[0, 1\]",
        ),
        (
            lambda: mask_random(jnp.ones((1, 4, 4, 1)), -0.1, key=jr.key(0)),
            r"`fraction`",
        ),
        (lambda: gaussian_noise(jnp.ones(3), -1.0, key=jr.key(0)), r"`sigma` to be a"),
        (
            lambda: gaussian_noise(jnp.ones(3), 0.1, clip=(1.0, 0.0), key=jr.key(0)),
            r"`clip` to be \(low, high\) with low < high",
        ),
        (
            lambda: squared_errors(jnp.ones((2, 3)), jnp.ones((3, 2))),
            r"the same shape \(n, ...\)",
        ),
        (lambda: cosine_similarities(jnp.ones(3), jnp.ones(3)), r"one row per query"),
        (
            lambda: recalled_by_squared_error(
                jnp.ones((1, 2)), jnp.ones((1, 2)), threshold=float("nan")
            ),
            r"`threshold` to be a finite number",
        ),
        (
            lambda: recalled_by_cosine(
                jnp.ones((1, 2)), jnp.ones((1, 2)), threshold=float("inf")
            ),
            r"`threshold` to be a finite number",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_benchmark_core_on_tiny_mnist(monkeypatch):
    bench = load_benchmark("retrieval")
    images = bench.load(DATA, "mnist")[:500]
    cfg = bench.parse(["--data", str(DATA), "--quick"])
    cfg.Ns, cfg.strength_n, cfg.draws, cfg.queries, cfg.steps = [10], 0, 1, 6, 2
    cfg.memories = ["softmax", "euclidean", "manhattan"]
    rows, diff = bench.run_dataset(images, "mnist", cfg, log=lambda s: None)
    # The single-shot softmax rows equal the NumPy UHN update (float32 round-off).
    assert 0 <= diff < 1e-4
    assert len(rows) == 3 * 3 * 2  # corruptions x memories x (single, iterated)
    assert all(0 <= r["uhn"] <= 1 and 0 <= r["cosine"] <= 1 for r in rows)
    summary = bench.summarize(rows)
    assert len(summary) == len(rows) and {r["draws"] for r in summary} == {1}
    # The check is live: a wrong reference makes the run fail.
    monkeypatch.setattr(bench, "uhn_numpy", lambda M, Q, beta: np.zeros(Q.shape))
    with pytest.raises(AssertionError, match="softmax row differs from NumPy"):
        bench.run_dataset(images, "mnist", cfg, log=lambda s: None)
