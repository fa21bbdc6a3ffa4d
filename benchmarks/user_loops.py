"""Dynamics written by the user vs hamax's native loop (issue: the fast path must
be the only path).

On the paper's HN (batch 400, float32): the native `descend(steps=10)`, ten
`system.step` calls in a Python loop inside `jax.jit`, ten `descend(system,
steps=1)` calls, and ten `descend(ham, steps=1, clamp=...)` calls (which rebuild
the clamped system each call); forward pass and a training step (Adam) through
each. Also the HN built by hand with `hamax.HAM` against the zoo's. Every
variant is compiled first, then timed round-robin (median of `--repeats`
rounds), so a shared machine's changing load does not favour one row.

    python benchmarks/user_loops.py [--repeats 20]

`make bench` (benchmarks/run.py) includes these rows.
"""

import argparse
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

import hamax
from hamax import training, zoo


B, D_IMG, HID, DT, DEPTH = 400, 784, 1000, 0.1, 10


def interleaved_medians(calls: dict, repeats: int) -> dict:
    """Median seconds per call of each `name -> (f, args)`, timed round-robin
    (one call of each per round, after a warm-up call of each) so that a load
    that comes and goes on a shared machine hits every variant alike."""
    import time

    for f, args in calls.values():
        jax.block_until_ready(f(*args))
    ts: dict = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (f, args) in calls.items():
            t = time.perf_counter()
            jax.block_until_ready(f(*args))
            ts[name].append(time.perf_counter() - t)
    return {name: sorted(v)[len(v) // 2] for name, v in ts.items()}


def _label_native(ham, img):
    system = ham.clamp({"image": img})
    return hamax.descend(system, system.init(), dt=DT, steps=DEPTH).states["label"]


def _label_step_loop(ham, img):
    system = ham.clamp({"image": img})
    x = system.init()
    for _ in range(DEPTH):
        x = system.step(x, DT)
    return x["label"]


def _label_descend1_system(ham, img):
    system = ham.clamp({"image": img})
    x = system.init()
    for _ in range(DEPTH):
        x = hamax.descend(system, x, dt=DT, steps=1).free
    return x["label"]


def _label_descend1_ham(ham, img):
    x = {**ham.init_states(dtype=img.dtype), "image": img}
    for _ in range(DEPTH):
        x = hamax.descend(ham, x, dt=DT, steps=1, clamp=["image"]).states
    return x["label"]


LOOPS = {
    "native descend(steps=10)": _label_native,
    "10x system.step": _label_step_loop,
    "10x descend(system, steps=1)": _label_descend1_system,
    "10x descend(ham, steps=1, clamp)": _label_descend1_ham,
}


def hand_built_hn(key):
    """The paper's HN (ReLU) written with the core API, not the zoo."""
    from hamax.lagrangians import ReLU, Softmax, Tanh
    from hamax.synapses import DenseHiddenSynapse

    neurons = {
        "image": hamax.NeuronLayer(Tanh(), (D_IMG,)),
        "label": hamax.NeuronLayer(Softmax(), 10),
    }
    synapses = {"memories": DenseHiddenSynapse(HID, ReLU())}
    return hamax.HAM(
        neurons,
        synapses,
        [(("image", "label"), "memories")],
        key=key,
        dtype=jnp.float32,
    )


def user_loop_workloads(repeats: int) -> dict:
    """Seconds per call for each way of running the dynamics."""
    ham = zoo.make_hn((D_IMG,), num_hidden=HID, key=jr.key(0), dtype=jnp.float32)
    img = jr.normal(jr.key(1), (B, D_IMG), jnp.float32)
    y = jr.randint(jr.key(2), (B,), 0, 10)
    optim = optax.adam(1e-3)
    state = training.init_opt_state(ham, optim)
    calls: dict = {}
    for name, fn in LOOPS.items():
        fwd = eqx.filter_jit(lambda h, x, fn=fn: jax.vmap(lambda i: fn(h, i))(x))

        def loss(h, img, y, fn=fn):
            lab = jax.vmap(lambda i: fn(h, i))(img)
            logp = training.log_probs(h, "label", lab)
            return training.cross_entropy(logp, y)

        @eqx.filter_jit
        def step(h, s, img, y, loss=loss):
            g = eqx.filter_grad(loss)(h, img, y)
            upd, s = optim.update(g, s, eqx.filter(h, eqx.is_inexact_array))
            return eqx.apply_updates(h, upd), s

        calls[name, "forward_s"] = (fwd, (ham, img))
        calls[name, "train_s"] = (step, (ham, state, img, y))
    objective = training.Classification(dt=DT, steps=DEPTH)
    batch = {"image": img, "label": y}

    def make_step(h, s, b):
        return training.make_step(h, s, b, objective=objective, optim=optim)

    for name, h in (("zoo HN", ham), ("hand-built HN", hand_built_hn(jr.key(0)))):
        s = training.init_opt_state(h, optim)
        calls[f"make_step, {name}", "train_s"] = (make_step, (h, s, batch))
    res: dict = {}
    for (name, kind), t in interleaved_medians(calls, repeats).items():
        res.setdefault(name, {})[kind] = t
    return res


def table(res: dict) -> str:
    base = res["native descend(steps=10)"]
    lines = [
        "| dynamics | forward (ms) | x native | train step (ms) | x native |",
        "|---|---|---|---|---|",
    ]
    for name, r in res.items():
        f, t = r.get("forward_s"), r["train_s"]
        fwd = "" if f is None else f"{1e3 * f:.2f} | {f / base['forward_s']:.2f}"
        fwd = fwd or " | "
        lines.append(f"| {name} | {fwd} | {1e3 * t:.2f} | {t / base['train_s']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    res = user_loop_workloads(args.repeats)
    print(table(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
