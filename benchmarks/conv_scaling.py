"""Why hamax computes convolutions as patch-matrix products on CPU.

    python benchmarks/conv_scaling.py [--batches 50 100 400]

1. A 7-step descent loop through a 3x3 convolution (7x7x64 -> 5x5x128, both
   layers free), differentiated with respect to the kernel, with the convolution
   done by `lax.conv_general_dilated` ("xla") and as a patch-matrix product
   ("matmul", hamax's CPU default). XLA:CPU compiles the kernel gradient of the
   former, inside the loop, to a slow direct convolution.
2. The paper's Conv HAM training step (`hamax.training.make_step`, depth 7, Adam)
   at each batch size, with hamax's default.
"""

import argparse

import jax
import jax.numpy as jnp
import jax.random as jr
import optax
from jax import lax
from run import median_time  # benchmarks/run.py, next to this script

from hamax import training, zoo
from hamax.synapses._conv import conv


def loop_kernel_grad(impl):
    def one(W, x, target):
        def body(c, _):
            g1, g2 = jnp.tanh(c[0]), jnp.tanh(c[1])
            d1, d2 = jax.grad(
                lambda a, b: -jnp.sum(b * conv(a, W, (1, 1), "VALID", impl=impl)),
                (0, 1),
            )(g1, g2)
            return (c[0] - 0.1 * (c[0] + d1), c[1] - 0.1 * (c[1] + d2)), None

        c, _ = lax.scan(jax.checkpoint(body), (x, jnp.zeros_like(target)), length=7)
        return jnp.sum((c[1] - target) ** 2)

    return jax.jit(
        jax.grad(lambda W, x, t: jnp.sum(jax.vmap(one, (None, 0, 0))(W, x, t)))
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[25, 50, 100, 400])
    args = ap.parse_args()
    print(
        "| batch | loop kernel grad, xla (s) | loop kernel grad, matmul (s) "
        "| Conv HAM train step (s) |"
    )
    print("| --- | --- | --- | --- |")
    ham = zoo.make_conv_ham_mnist(key=jr.key(0), dtype=jnp.float32)
    optim = optax.adam(1e-3)
    state = training.init_opt_state(ham, optim)
    for b in args.batches:
        x = jr.normal(jr.key(0), (b, 7, 7, 64))
        W = 0.05 * jr.normal(jr.key(1), (3, 3, 64, 128))
        t = jr.normal(jr.key(2), (b, 5, 5, 128))
        slow = median_time(loop_kernel_grad("xla"), W, x, t, repeats=3)
        fast = median_time(loop_kernel_grad("matmul"), W, x, t, repeats=3)
        img = jr.normal(jr.key(3), (b, 28, 28, 1), jnp.float32)
        y = jr.randint(jr.key(4), (b,), 0, 10)
        obj = training.Classification(dt=0.3, steps=7)
        step = median_time(
            lambda h, s, img, y, obj=obj: training.make_step(
                h, s, {"image": img, "label": y}, objective=obj, optim=optim
            ),
            ham,
            state,
            img,
            y,
            repeats=3,
        )
        print(f"| {b} | {slow:.3f} | {fast:.3f} | {step:.3f} |")


if __name__ == "__main__":
    main()
