"""Workloads on the original HAMUX (hamux==0.2.2), run by benchmarks/run.py in the
separate venv where hamux is installed. Prints one JSON object.

The paper's shallow HN has an integrated hidden layer that hamux 0.2.2 does not
ship, so it is written here as a user of hamux would write it: an equinox module
with the same energy as hamax.synapses.DenseHiddenSynapse(1000, ReLU()). The same
holds for the Conv HAM's convolution + max-pooling synapse (hamux's ConvSynapse
has no pooling): `ConvPool` below has the energy of hamax's ConvPoolSynapse.
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
        h = g1.reshape(-1) @ self.W1.T + g2 @ self.W2.T
        return -0.5 * jnp.sum(jnp.maximum(h, 0) ** 2)


class ConvPool(eqx.Module):
    W: jax.Array
    strides: tuple = eqx.field(static=True)
    padding: tuple = eqx.field(static=True)

    def __call__(self, g1, g2):
        h = jax.lax.conv_general_dilated(
            g1[None],
            self.W,
            self.strides,
            self.padding,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )[0]
        pooled = jax.lax.reduce_window(
            h, -jnp.inf, jax.lax.max, (2, 2, 1), (2, 2, 1), "VALID"
        )
        return -jnp.sum(g2 * pooled)


def build_conv(key):
    """The paper's Conv HAM on MNIST, as hamax.zoo.make_conv_ham_mnist."""
    k1, k2, k3, k4 = jr.split(key, 4)
    neurons = {
        "image": hmx.NeuronLayer(hmx.lagr_tanh, (28, 28, 1)),
        "conv1": hmx.NeuronLayer(hmx.lagr_tanh, (7, 7, 64)),
        "conv2": hmx.NeuronLayer(hmx.lagr_tanh, (2, 2, 128)),
        "label": hmx.NeuronLayer(hmx.lagr_softmax, (10,)),
    }
    synapses = {
        "s1": ConvPool(jr.normal(k1, (4, 4, 1, 64)) / 4.0, (2, 2), ((2, 2), (2, 2))),
        "s2": ConvPool(jr.normal(k2, (3, 3, 64, 128)) / 24.0, (1, 1), ((0, 0), (0, 0))),
        "s3": DenseHidden(
            jr.normal(k3, (HID, 512)) / (512 + D_LAB) ** 0.5,
            jr.normal(k4, (HID, D_LAB)) / (512 + D_LAB) ** 0.5,
        ),
    }
    connections = [
        (("image", "conv1"), "s1"),
        (("conv1", "conv2"), "s2"),
        (("conv2", "label"), "s3"),
    ]
    return hmx.HAM(neurons, synapses, connections).vectorize()


def conv_forward(ham, img, depth, dt=0.3):
    b = img.shape[0]
    xs = {
        "image": img,
        "conv1": jnp.zeros((b, 7, 7, 64)),
        "conv2": jnp.zeros((b, 2, 2, 128)),
        "label": jnp.zeros((b, D_LAB)),
    }
    for _ in range(depth):
        xhats = ham.activations(xs)
        dE = ham.dEdact(xhats, xs)
        # the image is clamped: it is not updated
        xs = {k: v if k == "image" else v - dt * dE[k] for k, v in xs.items()}
    return xs["label"]


def conv_loss(ham, img, y, depth):
    logp = jax.nn.log_softmax(conv_forward(ham, img, depth))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], 1))


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

    conv = build_conv(jr.key(0))
    cimg = jr.normal(jr.key(1), (100, 28, 28, 1))
    cy = jr.randint(jr.key(2), (100,), 0, D_LAB)
    few = max(3, repeats // 4)
    out["conv_forward7_b100"] = timeit(
        eqx.filter_jit(conv_forward), conv, cimg, 7, repeats=few
    )
    cstate = opt.init(eqx.filter(conv, eqx.is_inexact_array))

    @eqx.filter_jit
    def conv_step(ham, state, img, y, depth):
        l, g = eqx.filter_value_and_grad(conv_loss)(ham, img, y, depth)
        upd, state = opt.update(g, state, eqx.filter(ham, eqx.is_inexact_array))
        return eqx.apply_updates(ham, upd), state, l

    out["conv_train7_b100"] = timeit(
        lambda h, s: conv_step(h, s, cimg, cy, 7), conv, cstate, repeats=few
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
