"""CIFAR-10 with equilibrium propagation, after Laborieux et al. 2021 (GPU).

NOT RUN YET: no GPU was lent when this script was written; the numbers in
docs/equilibrium_propagation.md do not come from it. Their symmetric-nudging
result (88.3 % test accuracy, cross-entropy) is the target.

The recipe, as their repository's README gives it for symmetric EP
(`Laborieux-Axel/Equilibrium-Propagation`): a ConvNet with 3x3 convolutions of
128-256-512-512 channels (paddings 1 1 1 0), each followed by 2x2 max pooling,
a dense layer to 10 outputs; hard-sigmoid units; free phase T1 = 250 steps,
nudged phases T2 = 30 steps at beta = +-0.5; SGD with momentum 0.9, learning
rates 0.25 0.15 0.1 0.08 0.05 (per layer, first to last), weight decay 3e-4,
cosine decay over 120 epochs, batch 128, random crops and flips.

In hamax the network is a HAM: one neuron layer per feature map (hamax's
convex `Sigmoid` Lagrangian stands in for the hard sigmoid), one
`ConvPoolSynapse` per convolution + pooling, a `DenseSynapse` to a `Softmax`
label layer; `dt = 1` makes each hamax step the fixed-point update
`x <- drive` that their code iterates. Per-layer learning rates are
`optax.multi_transform` over the synapses.

    python benchmarks/eqprop_cifar10_gpu.py --data ../shared/data/cifar10.npz \
        [--epochs 120] [--out eqprop-cifar10] [--check]

`--check` builds the HAM and runs one training step on 8 images (CPU is fine).
"""

import argparse
import json
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

import hamax
from hamax import lagrangians as L, synapses as S
from hamax.data import AUGMENTATIONS, load_cifar10
from hamax.training import Classification, RunDir, init_opt_state, make_step, train
from hamax.training._classify import standardize


CHANNELS = (128, 256, 512, 512)
LRS = (0.25, 0.15, 0.1, 0.08, 0.05)


def make_laborieux_ham(*, key, dtype=jnp.float32) -> hamax.HAM:
    """image (32, 32, 3) -> 4 x (3x3 conv + 2x2 max pool) -> label (10)."""
    shapes = [(16, 16, 128), (8, 8, 256), (4, 4, 512), (1, 1, 512)]
    neurons = {"image": hamax.NeuronLayer(L.Identity(), (32, 32, 3))}
    synapses, connections, prev = {}, [], "image"
    for i, (shape, pad) in enumerate(zip(shapes, (1, 1, 1, 0))):
        name = f"conv{i + 1}"
        neurons[name] = hamax.NeuronLayer(L.Sigmoid(), shape)
        synapses[f"s{i + 1}"] = S.ConvPoolSynapse((3, 3), 1, pad, pool="max")
        connections.append(((prev, name), f"s{i + 1}"))
        prev = name
    neurons["label"] = hamax.NeuronLayer(L.Softmax(), 10)
    synapses["fc"] = S.DenseSynapse()
    connections.append(((prev, "label"), "fc"))
    return hamax.HAM(neurons, synapses, connections, key=key, dtype=dtype)


def optimizer(ham, steps_per_epoch: int, epochs: int):
    """SGD + momentum, weight decay 3e-4, one cosine-decayed learning rate per
    synapse (first to last); the layers' biases take the last one."""

    def sgd(lr):
        schedule = optax.cosine_decay_schedule(lr, steps_per_epoch * epochs)
        return optax.chain(
            optax.add_decayed_weights(3e-4), optax.sgd(schedule, momentum=0.9)
        )

    names = list(ham.synapses)
    transforms = {k: sgd(lr) for k, lr in zip(names, LRS)}
    transforms["rest"] = sgd(LRS[-1])

    def param_labels(h):
        out = jax.tree_util.tree_map(lambda _: "rest", h)
        for k in names:
            out = eqx.tree_at(
                lambda t, k=k: t.synapses[k],
                out,
                jax.tree_util.tree_map(lambda _, k=k: k, h.synapses[k]),
            )
        return out

    return optax.multi_transform(transforms, param_labels)


def objective(t1: int, t2: int, beta: float) -> Classification:
    est = hamax.EqProp(beta=beta, nudging="centered", nudged=hamax.Steps(t2))
    return Classification(dt=1.0, steps=t1, adjoint=est)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data/cifar10.npz")
    ap.add_argument("--epochs", type=int, default=120)
    ap.add_argument("--t1", type=int, default=250)
    ap.add_argument("--t2", type=int, default=30)
    ap.add_argument("--beta", type=float, default=0.5)
    ap.add_argument("--out", default="eqprop-cifar10")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    ham = make_laborieux_ham(key=jr.key(0))
    if args.check:
        x = jr.normal(jr.key(1), (8, 32, 32, 3))
        batch = {"image": x, "label": jnp.arange(8) % 10}
        optim = optimizer(ham, 1, 1)
        obj = objective(5, 3, args.beta)
        _, _, loss, _ = make_step(
            ham, init_opt_state(ham, optim), batch, objective=obj, optim=optim
        )
        print(json.dumps({"check_loss": float(loss)}))
        return
    arrays = load_cifar10(args.data, download=False)
    data = {
        "image": standardize(arrays["x_train"], "cifar10"),
        "label": np.asarray(arrays["y_train"], np.int32),
    }
    test = {
        "image": standardize(arrays["x_test"], "cifar10"),
        "label": np.asarray(arrays["y_test"], np.int32),
    }
    steps = len(data["label"]) // 128
    res = train(
        ham,
        objective(args.t1, args.t2, args.beta),
        data,
        test_data=test,
        epochs=args.epochs,
        batch_size=128,
        optim=(optimizer(ham, steps, args.epochs), "sgd-momentum-per-layer-cosine"),
        transform=_augment(),
        run=RunDir(pathlib.Path(args.out)),
    )
    print(json.dumps(res.history[-1], indent=1))


def _augment():
    from hamax.training._classifier import _Augmented

    return _Augmented(AUGMENTATIONS["cifar10"], "image", "cifar10")


if __name__ == "__main__":
    main()
