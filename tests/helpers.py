"""Shared test helpers: references, registries and a tiny model."""

import importlib.util
import inspect
import pathlib

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

import hamax
from hamax import lagrangians as L

from .entmax_reference import conjugate_value, entmax_reference


def tree_allclose(a, b, rtol=1e-7, atol=1e-9) -> bool:
    la, lb = jtu.tree_leaves(a), jtu.tree_leaves(b)
    if jtu.tree_structure(a) != jtu.tree_structure(b):
        return False
    return all(
        np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)
        for x, y in zip(la, lb)
    )


def finite_difference_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function of one float64 array."""
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        out[idx] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return out


def all_lagrangians():
    """Every concrete Lagrangian class exported by hamax.lagrangians."""
    return [
        obj
        for name, obj in vars(L).items()
        if inspect.isclass(obj)
        and issubclass(obj, L.AbstractLagrangian)
        and not inspect.isabstract(obj)
    ]


def _softmax(y, axis=-1):
    y = y - y.max(axis=axis, keepdims=True)
    e = np.exp(y)
    return e / e.sum(axis=axis, keepdims=True)


# Independent NumPy float64 closed forms: (Lagrangian value, activation).
def closed_form(lag, x):
    x = np.asarray(x, np.float64)
    name = type(lag).__name__
    beta = float(getattr(lag, "beta", 1.0))
    if name == "Identity":
        return 0.5 * (x**2).sum(), x
    if name == "RePU":
        n = float(lag.n)
        return (np.maximum(x, 0) ** n).sum() / n, np.maximum(x, 0) ** (n - 1)
    if name == "ReLU":
        return 0.5 * (np.maximum(x, 0) ** 2).sum(), np.maximum(x, 0)
    if name == "Exp":
        return np.exp(beta * x).sum() / beta, np.exp(beta * x)
    if name == "RExp":
        xp = np.maximum(x, 0)
        return (np.exp(beta * xp) / beta - xp).sum(), np.exp(beta * xp) - 1
    if name == "Tanh":
        return (np.log(np.cosh(beta * x)) / beta).sum(), np.tanh(beta * x)
    if name == "Sigmoid":
        return (np.log1p(np.exp(beta * x)) / beta).sum(), 1 / (1 + np.exp(-beta * x))
    if name == "Softmax":
        lse = np.log(np.exp(beta * x).sum(axis=-1)) / beta
        return lse.sum(), _softmax(beta * x)
    if name == "Ghostmax":
        e = np.exp(beta * x)
        denom = 1 + e.sum(axis=-1, keepdims=True)
        return (np.log(denom) / beta).sum(), e / denom
    if name in ("LayerNorm", "SphericalNorm"):
        gamma, delta, eps = float(lag.gamma), np.asarray(lag.delta, np.float64), lag.eps
        if name == "LayerNorm":
            d = x.shape[-1]
            xc = x - x.mean(-1, keepdims=True)
            std = np.sqrt((xc**2).mean(-1, keepdims=True) + eps)
            return d * gamma * std.sum() + (delta * x).sum(), gamma * xc / std + delta
        norm = np.sqrt((x**2).sum(-1, keepdims=True) + eps)
        return gamma * norm.sum() + (
            np.broadcast_to(delta, x.shape) * x
        ).sum(), gamma * x / norm + delta
    if name in ("Sparsemax", "Entmax"):
        alpha = 2.0 if name == "Sparsemax" else float(lag.alpha)
        p = entmax_reference(beta * x, alpha)
        return (conjugate_value(beta * x, p, alpha) / beta).sum(), p
    raise NotImplementedError(name)


def tiny_ham(key, dtype=None):
    """Three layers, a dense pair, a self-connection and a user-written synapse."""
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (2, 3)),
        "hidden": hamax.NeuronLayer(L.ReLU(), 4, bias=0.1 * jnp.ones(4)),
        "label": hamax.NeuronLayer(L.Softmax(), 3, tau=0.5),
    }

    def label_bias(g):
        return -jnp.sum(g * jnp.arange(3, dtype=g.dtype)) * 0.1

    synapses = {
        "d1": hamax.synapses.DenseSynapse(),
        "d2": hamax.synapses.DenseSynapse(),
        "self": hamax.synapses.DenseSynapse(),
        "lb": label_bias,
    }
    connections = [
        (("image", "hidden"), "d1"),
        (("hidden", "label"), "d2"),
        (("hidden", "hidden"), "self"),
        (("label",), "lb"),
    ]
    return hamax.HAM(neurons, synapses, connections, key=key, dtype=dtype)


def random_states(ham, key, scale=1.0, dtype=None):
    return ham.init_states(scale=scale, key=key, dtype=dtype)


def naive_descent(ham, xs, dt, steps, clamped=()):
    """A plain Python loop: x <- x - dt/tau dE/dg via plain autodiff of the energy."""
    traj = [ham.energy(xs)]
    for _ in range(steps):
        gs = ham.activations(xs)
        grads = jax.grad(_plain_energy, argnums=2)(ham, xs, gs)
        xs = {
            k: xs[k] if k in clamped else xs[k] - dt / ham.neurons[k].tau * grads[k]
            for k in xs
        }
        traj.append(ham.energy(xs))
    return xs, traj


def _plain_energy(ham, xs, gs):
    # The Legendre energy written without the custom JVP, as an independent check.
    total = 0.0
    for k, layer in ham.neurons.items():
        bias = 0.0 if layer.bias is None else layer.bias
        total = total + jnp.sum((xs[k] - bias) * gs[k]) - layer.lagrangian(xs[k])
    for names, s in ham.connections:
        total = total + ham.synapses[s](*(gs[n] for n in names))
    return total


def _synapse_cases():
    from hamax import synapses as S

    return [
        (S.DenseSynapse(), [(4,), (3,)]),
        (S.DenseSynapse(use_bias=True), [(2, 2), (3,)]),
        (S.BiasSynapse(init_std=0.5), [(5,)]),
        (S.ConvSynapse((3, 3)), [(6, 6, 2), (6, 6, 3)]),
        (S.ConvSynapse((3, 3), strides=2, padding=1), [(7, 7, 2), (4, 4, 3)]),
        (S.ConvSynapse(2, padding="VALID"), [(5, 5, 1), (4, 4, 2)]),
        (S.ConvPoolSynapse((3, 3), pool="max"), [(6, 6, 2), (3, 3, 3)]),
        (S.ConvPoolSynapse((4, 4), 2, 2, pool="avg"), [(8, 8, 1), (2, 2, 2)]),
        (S.ConvPoolSynapse((3, 3), pool="soft", pool_beta=2.0), [(4, 4, 2), (2, 2, 3)]),
        (S.DenseHiddenSynapse(7), [(4,), (3,)]),
        (
            S.DenseHiddenSynapse(5, L.Softmax(beta=2.0), normalize=True, num_heads=2),
            [(2, 3), (4,), (3,)],
        ),
        (S.DenseHiddenSynapse(6, L.RePU(n=3.0), per_token=True), [(4, 3)]),
        (
            S.DenseHiddenSynapse(4, L.Softmax(beta=3.0), normalize="per_layer"),
            [(5,), (2,)],
        ),
        (S.AttentionSynapse(num_heads=2, head_dim=3), [(4, 5), (3, 2)]),
        (S.SelfAttentionSynapse(num_heads=2, head_dim=3, beta=0.7), [(4, 5)]),
        (
            S.AttentionSynapse(num_heads=2, head_dim=3),
            [(3,), (2, 2, 4)],
        ),  # label -> image tokens
        (S.SelfAttentionSynapse(num_heads=1, head_dim=2), [(2, 3, 4)]),
        (S.NaryDenseSynapse(), [(2,), (3,), (2,)]),
        (S.EuclideanHiddenSynapse(5), [(4,), (3,)]),
        (S.EuclideanHiddenSynapse(6, L.RePU(n=3.0)), [(2, 3)]),
    ]


SYNAPSE_CASES = _synapse_cases()


def load_benchmark(name: str):
    """`benchmarks/<name>.py` imported as a module (the benchmarks are scripts,
    not a package), so a test can run a small version of one."""
    path = pathlib.Path(__file__).parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bounded_ham(key, dtype=None):
    """Bounded activations everywhere, so the energy has a minimum."""
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (2, 3)),
        "hidden": hamax.NeuronLayer(L.Sigmoid(), 5),
        "label": hamax.NeuronLayer(L.Softmax(), 3, tau=0.5),
    }
    synapses = {
        "d1": hamax.synapses.DenseSynapse(),
        "d2": hamax.synapses.DenseSynapse(),
    }
    conns = [(("image", "hidden"), "d1"), (("hidden", "label"), "d2")]
    return hamax.HAM(neurons, synapses, conns, key=key, dtype=dtype)


def npz_slice(source: pathlib.Path, dest: pathlib.Path, n_train: int, n_test: int):
    """The first `n_train` training and `n_test` test examples of a dataset file
    (`x_train`, `y_train`, `x_test`, `y_test`), written as an .npz at `dest`."""
    with np.load(source) as f:
        d = {
            "x_train": f["x_train"][:n_train],
            "y_train": f["y_train"][:n_train],
            "x_test": f["x_test"][:n_test],
            "y_test": f["y_test"][:n_test],
        }
    np.savez(dest, **d)
    return dest
