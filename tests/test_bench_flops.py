"""The benchmark FLOP counter (benchmarks/_flops.py) against XLA's own count on
loop-free programs, and scaled by the trip count on loops (where XLA counts a
loop body once)."""

import pathlib
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from hamax import training, zoo


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
from _flops import count_flops, xla_flops  # noqa: E402


def test_loop_free_programs_count_as_xla_counts_them():
    a = np.ones((64, 128), np.float32)
    b = np.ones((128, 32), np.float32)
    assert count_flops(lambda a, b: a @ b, a, b) == xla_flops(lambda a, b: a @ b, a, b)
    x = jnp.ones((2, 12, 12, 3), jnp.float32)
    w = jnp.ones((3, 3, 3, 8), jnp.float32)

    def conv(x, w):
        return jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )

    assert count_flops(conv, x, w) == 2 * 2 * 12 * 12 * 8 * (3 * 3 * 3)
    ham = zoo.make_hn((784,), num_hidden=64, key=jr.key(0), dtype=jnp.float32)
    img = jnp.ones((8, 784), jnp.float32)
    one = training.Classification(dt=0.1, steps=1)
    ours, xla = count_flops(one.predict, ham, img), xla_flops(one.predict, ham, img)
    assert abs(ours - xla) <= 0.02 * xla, (ours, xla)


def test_loops_count_every_iteration():
    a = np.ones((64, 128), np.float32)
    b = np.ones((128, 32), np.float32)

    def loop(a, b, n):
        return jax.lax.scan(lambda c, _: (c @ b @ b.T, None), a, length=n)[0]

    one = 2 * (2 * 64 * 128 * 32)
    assert count_flops(lambda a, b: loop(a, b, 7), a, b) == 7 * one
    assert xla_flops(lambda a, b: loop(a, b, 7), a, b) < 2 * one  # body once

    def wloop(a, b):
        return jax.lax.while_loop(
            lambda c: c[1] < 5, lambda c: (c[0] @ b @ b.T, c[1] + 1), (a, 0)
        )[0]

    assert count_flops(wloop, a, b, while_trips=5) >= 5 * one
