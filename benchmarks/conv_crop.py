"""The paper's Conv HAM with and without the conv+pool crop, in one run.

`ConvPoolSynapse` convolves only the outputs its 'VALID' pooling reads (4x4 of
the second convolution's 5x5 in the paper's Conv HAM). This times the forward
pass (depth 7) and an Adam training step (BPTT through depth 7) at batch 100,
cropped and uncropped (the crop disabled by patching the synapse to ask for every
output), alternating the two so both see the same machine load, and checks they
compute the same thing.

    python benchmarks/conv_crop.py [--repeats 10] [--batch 100]
"""

import argparse
import contextlib
import time
from unittest import mock

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from hamax import training, zoo
from hamax.synapses import ConvPoolSynapse


def full_extent(self, g1):  # every output of the convolution
    return (10**9, 10**9)


def programs(batch):
    ham = zoo.make_conv_ham_mnist(key=jr.key(0), dtype=jnp.float32)
    img = jr.normal(jr.key(1), (batch, 28, 28, 1), jnp.float32)
    y = jr.randint(jr.key(2), (batch,), 0, 10)
    obj = training.Classification(dt=0.3, steps=7)
    optim = optax.adam(1e-3)
    state = training.init_opt_state(ham, optim)
    fwd = eqx.filter_jit(lambda h, x: obj.predict(h, x))

    @eqx.filter_jit
    def step(h, s, batch):
        return training.make_step(h, s, batch, objective=obj, optim=optim)

    return ham, {"image": img, "label": y}, state, fwd, step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    compiled = {}
    for name in ("cropped", "uncropped"):
        patch = (
            mock.patch.object(ConvPoolSynapse, "_pooled_extent", full_extent)
            if name == "uncropped"
            else contextlib.nullcontext()
        )
        jax.clear_caches()  # inner jitted functions must be traced again
        with patch:
            ham, batch, state, fwd, step = programs(args.batch)
            f = fwd.lower(ham, batch["image"]).compile()
            s = step.lower(ham, state, batch).compile()
        compiled[name] = (f, s, ham, batch, state)
    a, b = (compiled[n][0](compiled[n][2], compiled[n][3]["image"]) for n in compiled)
    diff = float(jnp.max(jnp.abs(a - b)))
    times = {n: {"forward": [], "train": []} for n in compiled}
    for _ in range(args.repeats):
        for n, (f, s, ham, batch, state) in compiled.items():
            t = time.perf_counter()
            jax.block_until_ready(f(ham, batch["image"]))
            times[n]["forward"].append(time.perf_counter() - t)
            t = time.perf_counter()
            jax.block_until_ready(s(ham, state, batch))
            times[n]["train"].append(time.perf_counter() - t)
    print(
        f"Conv HAM (MNIST), batch {args.batch}, depth 7, float32; median of "
        f"{args.repeats}, alternating; max |forward difference| {diff:.2e}"
    )
    print("| | forward ms | train step ms |")
    print("| --- | --- | --- |")
    for n, t in times.items():
        print(
            f"| {n} | {1e3 * np.median(t['forward']):.1f} | "
            f"{1e3 * np.median(t['train']):.1f} |"
        )


if __name__ == "__main__":
    main()
