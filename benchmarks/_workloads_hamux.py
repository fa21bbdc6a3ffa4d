"""Workloads on the original HAMUX (hamux==0.2.2), run by benchmarks/run.py in the
separate venv where hamux is installed. Prints one JSON object.

The paper's shallow HN has an integrated hidden layer that hamux 0.2.2 does not
ship, so it is written here as a user of hamux would write it: an equinox module
with the same energy as hamax.synapses.DenseHiddenSynapse(1000, ReLU()).
"""

import json
import sys
import time

import equinox as eqx
import hamux as hmx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax


B, D_IMG, D_LAB, HID, DT = 400, 784, 10, 1000, 0.1


class DenseHidden(eqx.Module):
    W1: jax.Array
    W2: jax.Array

    def __call__(self, g1, g2):
        h = g1 @ self.W1.T + g2 @ self.W2.T
        return -0.5 * jnp.sum(jnp.maximum(h, 0) ** 2)


def build(key):
    k1, k2 = jr.split(key)
    neurons = {
        "image": hmx.NeuronLayer(hmx.lagr_tanh, (D_IMG,)),
        "label": hmx.NeuronLayer(hmx.lagr_softmax, (D_LAB,)),
    }
    syn = DenseHidden(
        jr.normal(k1, (HID, D_IMG)) / (D_IMG + D_LAB) ** 0.5,
        jr.normal(k2, (HID, D_LAB)) / (D_IMG + D_LAB) ** 0.5,
    )
    return hmx.HAM(neurons, {"s": syn}, [(("image", "label"), "s")]).vectorize()


def one_step(ham, xs):
    xhats = ham.activations(xs)
    dE = ham.dEdact(xhats, xs)
    # the image is clamped: masked out, as the original examples do
    return {"image": xs["image"], "label": xs["label"] - DT * dE["label"]}


def forward(ham, img, depth):
    xs = {"image": img, "label": jnp.zeros((img.shape[0], D_LAB))}
    for _ in range(depth):
        xs = one_step(ham, xs)
    return xs["label"]


def loss(ham, img, y, depth):
    logp = jax.nn.log_softmax(forward(ham, img, depth))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], 1))


def timeit(f, *args, repeats):
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    key = jr.key(0)
    ham = build(key)
    img = jr.normal(jr.key(1), (B, D_IMG))
    y = jr.randint(jr.key(2), (B,), 0, D_LAB)
    xs = {"image": img, "label": jnp.zeros((B, D_LAB))}
    out = {"jax": jax.__version__, "hamux": getattr(hmx, "__version__", "0.2.2")}
    out["step"] = timeit(eqx.filter_jit(one_step), ham, xs, repeats=repeats)
    out["forward10"] = timeit(eqx.filter_jit(forward), ham, img, 10, repeats=repeats)
    opt = optax.adam(1e-3)
    params = eqx.filter(ham, eqx.is_inexact_array)
    state = opt.init(params)

    @eqx.filter_jit
    def train_step(ham, state, img, y, depth):
        l, g = eqx.filter_value_and_grad(loss)(ham, img, y, depth)
        upd, state = opt.update(g, state, eqx.filter(ham, eqx.is_inexact_array))
        return eqx.apply_updates(ham, upd), state, l

    out["train10"] = out["train10_plain"] = timeit(
        lambda h, s: train_step(h, s, img, y, 10), ham, state, repeats=repeats
    )
    mem = {}
    params, static = eqx.partition(ham, eqx.is_inexact_array)
    for depth in (10, 40, 160):

        def grad_all(params, d=depth):
            return eqx.filter_grad(loss)(eqx.combine(params, static), img, y, d)

        compiled = jax.jit(grad_all).lower(params).compile()
        mem[str(depth)] = compiled.memory_analysis().temp_size_in_bytes
    out["train_temp_bytes"] = mem
    print(json.dumps(out))


if __name__ == "__main__":
    main()
