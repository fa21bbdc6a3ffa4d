"""One training step with equilibrium propagation against BPTT, Remat and
Implicit: median time and XLA's peak temporary memory of the gradient, for the
paper's HN (ReLU, batch 400) and the Conv HAM (batch 100), float32.

`make bench` (benchmarks/run.py) includes these rows; alone:

    python benchmarks/eqprop_step.py [--repeats 5] [--only hn|conv]
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

import hamax
from hamax import training, zoo


# Depths: the zoo's (paper's) for BPTT and Remat; EP and Implicit need a settled
# free phase, so they run the longer descents docs/equilibrium_propagation.md
# trains with.
CASES = {
    "hn": dict(batch=400, dt=0.4, steps=4, free=20, nudged=10),
    "conv": dict(batch=100, dt=0.3, steps=7, free=20, nudged=10),
}


def _estimators(c):
    ep = hamax.EqProp(beta=0.1, nudging="centered", nudged=hamax.Steps(c["nudged"]))
    ep1 = hamax.EqProp(beta=0.1, nudging="positive", nudged=hamax.Steps(c["nudged"]))
    conv = hamax.Converged(atol=1e-4, max_steps=c["free"])
    cls = training.Classification
    return {
        f"BPTT, {c['steps']} steps": cls(dt=c["dt"], steps=c["steps"]),
        f"Remat, {c['steps']} steps": cls(
            dt=c["dt"], steps=c["steps"], adjoint=hamax.Remat()
        ),
        f"BPTT, {c['free']} steps": cls(
            dt=c["dt"], steps=c["free"], adjoint=hamax.BPTT()
        ),
        f"Implicit, <= {c['free']} steps": cls(
            dt=c["dt"], stop=conv, adjoint=hamax.Implicit()
        ),
        f"EqProp centered, {c['free']} + 2 x {c['nudged']} steps": cls(
            dt=c["dt"], steps=c["free"], adjoint=ep
        ),
        f"EqProp positive, {c['free']} + {c['nudged']} steps": cls(
            dt=c["dt"], steps=c["free"], adjoint=ep1
        ),
    }


def _median(f, *args, repeats):
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def eqprop_workloads(repeats: int, only: str | None = None) -> dict:
    """`{case: {estimator: {"seconds", "temp_bytes"}}}`."""
    res: dict = {}
    for case, c in CASES.items():
        if only not in (None, case):
            continue
        if case == "hn":
            ham = zoo.make_hn_mnist(key=jr.key(0), dtype=jnp.float32)
            img = jr.normal(jr.key(1), (c["batch"], 784), jnp.float32)
        else:
            ham = zoo.make_conv_ham_mnist(key=jr.key(0), dtype=jnp.float32)
            img = jr.normal(jr.key(1), (c["batch"], 28, 28, 1), jnp.float32)
        batch = {"image": img, "label": jr.randint(jr.key(2), (c["batch"],), 0, 10)}
        optim = optax.adamw(1e-3)
        state = training.init_opt_state(ham, optim)
        res[case] = {}
        for name, obj in _estimators(c).items():

            def g(h, b, obj=obj):
                return eqx.filter_grad(lambda h: obj.loss(h, b)[0])(h)

            # The batch is an argument, not a constant XLA would try to fold.
            mem = jax.jit(g).lower(ham, batch).compile().memory_analysis()
            seconds = _median(
                lambda h, s, obj=obj, b=batch, o=optim: training.make_step(
                    h, s, b, objective=obj, optim=o
                ),
                ham,
                state,
                repeats=repeats,
            )
            res[case][name] = {"seconds": seconds, "temp_bytes": mem.temp_size_in_bytes}
    return res


def eqprop_table(res: dict) -> str:
    """The rows of `make bench`'s results.md."""
    rows = [
        "| model | gradient estimator | train step ms | peak temporary MiB |",
        "| --- | --- | --- | --- |",
    ]
    label = {"hn": "HN (ReLU), batch 400", "conv": "Conv HAM, batch 100"}
    for case, r in res.items():
        for name, v in r.items():
            rows.append(
                f"| {label[case]} | {name} | {1e3 * v['seconds']:.1f} | "
                f"{v['temp_bytes'] / 2**20:.1f} |"
            )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=list(CASES), default=None)
    args = ap.parse_args()
    print(eqprop_table(eqprop_workloads(args.repeats, args.only)))


if __name__ == "__main__":
    main()
