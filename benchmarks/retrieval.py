"""Image retrieval benchmark: the Universal Hopfield Networks protocol.

Store N images (MNIST, CIFAR-10; pixels in [0, 1]), corrupt a query for each of
(up to `--queries` of) them, retrieve, and count a recall as correct by the UHN
criterion (sum of squared errors to the stored image <= `--threshold`, on
[0, 1] pixels) and by the HFYN criterion (cosine > 0.9, on images mapped to
[-1, 1]). Three corruptions: the bottom rows blanked, Gaussian noise (clipped to
[0, 1]), random pixels blanked. Two experiments share the stored sets: retrieval
against N at one strength of each corruption, and against the strength at
N = `--strength-n`. Every number is a mean +- std over `--draws` random stored
sets. Single-shot is one step of the HAM's dynamics with dt = 1; iterated runs
on to `--steps` steps (or to convergence).

Memories (each built with hamax's own machinery, except where said):
  classical   hamax.zoo.make_classical_hopfield on binarised images (+-1), recalled
              with hamax.zoo.recall; scored against the binarised image
  poly3       hamax.zoo.make_dense_am(separation=RePU(3)) on binarised images
  softmax     identity layer + DenseHiddenSynapse(N, Softmax(beta)) holding the
              images: one step with dt = 1 is the UHN / modern Hopfield update
              M^T softmax(beta M q), checked against NumPy in the same run
  euclidean   identity layer + EuclideanHiddenSynapse(N, Softmax(beta)): weights
              softmax(-beta/2 |m - q|^2)
  manhattan   the UHN formula M^T softmax(-beta |M - q|_1) (jax.numpy, not a HAM:
              no energy has that update, since its gradient in q is sign(m - q))
  sparsemax, entmax15, logsumrelu: DenseHiddenSynapse with those Lagrangians,
              when hamax.lagrangians has them

    python benchmarks/retrieval.py --data ../shared/data --out docs/img
    python benchmarks/retrieval.py --data ../shared/data --quick   # seconds

Writes retrieval.csv (one row per draw), retrieval_summary.csv (mean, std),
retrieval_<dataset>_capacity.png and retrieval_<dataset>_strength.png to --out.
"""

import argparse
import csv
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

import hamax
from hamax import lagrangians as L, zoo
from hamax.memory import (
    gaussian_noise,
    mask_bottom_half,
    mask_random,
    recalled_by_cosine,
    recalled_by_squared_error,
)
from hamax.synapses import DenseHiddenSynapse, EuclideanHiddenSynapse


CORRUPTIONS = {
    "bottom": lambda x, s, key: mask_bottom_half(x, fraction=s),
    "noise": lambda x, s, key: gaussian_noise(x, s, key=key),
    "random": lambda x, s, key: mask_random(x, s, key=key),
}
CAPACITY_STRENGTH = {"bottom": 0.5, "noise": 0.5, "random": 0.5}
STRENGTHS = {
    "bottom": [0.1, 0.3, 0.5, 0.7, 0.9],
    "noise": [0.05, 0.1, 0.2, 0.5, 1.0],
    "random": [0.1, 0.3, 0.5, 0.7, 0.9],
}
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def uhn_numpy(M, Q, beta):
    """The UHN / modern Hopfield single-shot update in float64 NumPy, written
    independently of hamax: z = M^T softmax(beta M q) for each query row."""
    M = np.asarray(M, np.float64)
    S = beta * np.asarray(Q, np.float64) @ M.T  # similarity: dot product
    S -= S.max(axis=1, keepdims=True)  # separation: a stable softmax
    P = np.exp(S)
    P /= P.sum(axis=1, keepdims=True)
    return P @ M  # projection onto the memories


def _sparse_lagrangians(beta):
    """The sparse and log-sum-ReLU separations, when this hamax has them."""
    found = {}
    for name, cls, kw in (
        ("sparsemax", "Sparsemax", {}),
        ("entmax15", "Entmax", {"alpha": 1.5}),
        ("logsumrelu", "LogSumReLU", {}),
    ):
        if hasattr(L, cls):
            found[name] = lambda c=getattr(L, cls), kw=kw: c(beta=beta, **kw)
    return found


def _layer_ham(M, synapse):
    return hamax.HAM(
        {"x": hamax.NeuronLayer(L.Identity(), M.shape[1])},
        {"memories": synapse},
        [(("x",), "memories")],
        dtype=M.dtype,
    )


@eqx.filter_jit
def _descend(ham, Q, steps):
    # Single-shot: `steps=1`; iterated: continue until converged or `steps`.
    def one(q):
        if steps == 1:
            sol = hamax.descend(ham, {"x": q}, dt=1.0, steps=1)
        else:
            stop = hamax.Converged(atol=1e-4, max_steps=steps)
            sol = hamax.descend(ham, {"x": q}, dt=1.0, stop=stop, throw=False)
        return sol.states["x"], sol.num_steps

    return jax.vmap(one)(Q)


@jax.jit
def _manhattan(M, Q, beta):
    def one(q):
        return M.T @ jax.nn.softmax(-beta * jnp.sum(jnp.abs(M - q[None, :]), axis=1))

    return jax.lax.map(one, Q)


def retrievers(M, names, beta, steps):
    """name -> (single(Q), iterated(Q, start), targets): flat [0, 1] arrays."""
    bip = jnp.where(M > 0.5, 1.0, -1.0).astype(M.dtype)
    binary = (bip + 1) / 2
    out = {}
    for name in names:
        if name in ("classical", "poly3"):
            if name == "classical":
                ham = zoo.make_classical_hopfield(bip)
            else:
                ham = zoo.make_dense_am(memories=bip, separation=L.RePU(3.0))

            def single(Q, ham=ham):
                cue = jnp.where(Q > 0.5, 1.0, -1.0).astype(Q.dtype)
                return (zoo.recall(ham, cue, dt=1.0, steps=1) + 1) / 2, 1

            def iterated(Q, start, ham=ham):
                del start  # the zoo's own recall: dt 0.5, 40 steps, from the cue
                cue = jnp.where(Q > 0.5, 1.0, -1.0).astype(Q.dtype)
                return (zoo.recall(ham, cue) + 1) / 2, 40

            out[name] = (single, iterated, binary)
            continue
        if name == "manhattan":
            out[name] = (
                lambda Q: (_manhattan(M, Q, beta), 1),
                lambda Q, start: _iterate_manhattan(M, start, beta, steps),
                M,
            )
            continue
        sparse = _sparse_lagrangians(beta)
        if name == "softmax":
            syn = DenseHiddenSynapse(len(M), L.Softmax(beta), Ws=(M.T[:, None, :],))
        elif name == "euclidean":
            syn = EuclideanHiddenSynapse(len(M), L.Softmax(beta), Ws=(M.T,))
        elif name in sparse:
            syn = DenseHiddenSynapse(len(M), sparse[name](), Ws=(M.T[:, None, :],))
        else:
            raise ValueError(f"retrieval.py: unknown memory {name!r}")
        ham = _layer_ham(M, syn)

        def single(Q, ham=ham):
            x, _ = _descend(ham, Q, 1)
            return x, 1

        def iterated(Q, start, ham=ham):
            x, n = _descend(ham, start, steps - 1)
            return x, 1 + float(jnp.mean(n))

        out[name] = (single, iterated, M)
    return out


def _iterate_manhattan(M, start, beta, steps):
    x = start
    for _ in range(steps - 1):
        x = _manhattan(M, x, beta)
    return x, steps


def _score(R, T, threshold):
    uhn = recalled_by_squared_error(R, T, threshold=threshold)
    cos = recalled_by_cosine(2 * R - 1, 2 * T - 1, threshold=0.9)
    return float(jnp.mean(uhn)), float(jnp.mean(cos))


def run_dataset(images, name, cfg, log=print):
    """All rows for one dataset (`images`: uint8 `(n, h, w, c)`), and the largest
    difference between the single-shot softmax rows and `uhn_numpy`."""
    shape = images.shape[1:]
    rows, max_diff = [], 0.0
    for draw in range(cfg.draws):
        order = np.random.default_rng([cfg.seed, draw]).permutation(len(images))
        for N in cfg.Ns:
            M = jnp.asarray(images[order[:N]].reshape(N, -1), jnp.float32) / 255
            q = min(N, cfg.queries)
            t0 = time.perf_counter()
            mems = retrievers(M, cfg.memories, cfg.beta, cfg.steps)
            jobs = [("capacity", c, s) for c, s in CAPACITY_STRENGTH.items()]
            if N == cfg.strength_n:
                jobs += [
                    ("strength", c, s) for c in STRENGTHS for s in cfg.strengths[c]
                ]
            for j, (experiment, corruption, strength) in enumerate(jobs):
                key = jr.fold_in(jr.key(cfg.seed), draw * 1000 + j)
                clean = M[:q].reshape(q, *shape)
                Q = CORRUPTIONS[corruption](clean, strength, key).reshape(q, -1)
                for mem, (single, iterated, targets) in mems.items():
                    R1, _ = single(Q)
                    if mem == "softmax":
                        ref = uhn_numpy(M, Q, cfg.beta)
                        diff = float(np.max(np.abs(np.asarray(R1, np.float64) - ref)))
                        max_diff = max(max_diff, diff)
                        assert diff < 2e-3, f"softmax row differs from NumPy by {diff}"
                    RT, steps = iterated(Q, R1)
                    for mode, R, n in (("single", R1, 1), ("iterated", RT, steps)):
                        uhn, cos = _score(R, targets[:q], cfg.threshold)
                        rows.append(
                            dict(
                                dataset=name, experiment=experiment, memory=mem,
                                corruption=corruption, strength=strength, N=N,
                                draw=draw, mode=mode, uhn=uhn, cosine=cos,
                                steps=n, queries=q,
                            )
                        )  # fmt: skip
            log(
                f"{name} draw {draw} N={N}: {len(jobs)} corruptions x "
                f"{len(mems)} memories in {time.perf_counter() - t0:.1f}s"
            )
    return rows, max_diff


def summarize(rows):
    """Mean and std over draws of each (dataset, experiment, memory, corruption,
    strength, N, mode)."""
    groups = {}
    for r in rows:
        k = tuple(r[f] for f in ("dataset", "experiment", "memory", "corruption"))
        k += (r["strength"], r["N"], r["mode"])
        groups.setdefault(k, []).append(r)
    out = []
    for k, rs in groups.items():
        row = dict(zip(("dataset", "experiment", "memory", "corruption"), k[:4]))
        row.update(strength=k[4], N=k[5], mode=k[6], draws=len(rs))
        for f in ("uhn", "cosine", "steps"):
            v = np.array([r[f] for r in rs], float)
            row[f"{f}_mean"], row[f"{f}_std"] = float(v.mean()), float(v.std())
        out.append(row)
    return out


def plot(summary, name, experiment, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        r for r in summary if r["dataset"] == name and r["experiment"] == experiment
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharey=True)
    memories = list(dict.fromkeys(r["memory"] for r in rows))
    colors = dict(zip(memories, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    xf = "N" if experiment == "capacity" else "strength"
    for col, corruption in enumerate(CORRUPTIONS):
        for row, crit in enumerate(("uhn", "cosine")):
            ax = axes[row, col]
            for mem in memories:
                for mode, ls in (("single", "-"), ("iterated", "--")):
                    rs = [
                        r
                        for r in rows
                        if r["memory"] == mem
                        and r["corruption"] == corruption
                        and r["mode"] == mode
                    ]
                    rs.sort(key=lambda r: r[xf])
                    x = [r[xf] for r in rs]
                    m = np.array([r[f"{crit}_mean"] for r in rs])
                    s = np.array([r[f"{crit}_std"] for r in rs])
                    label = mem if mode == "single" else None
                    ax.plot(x, m, ls, color=colors[mem], label=label, marker=".")
                    ax.fill_between(x, m - s, m + s, color=colors[mem], alpha=0.12)
            if experiment == "capacity":
                ax.set_xscale("log")
            ax.set_title(
                f"{corruption} ({'squared error' if crit == 'uhn' else 'cosine > 0.9'})"
            )
            ax.set_xlabel("images stored N" if xf == "N" else f"{corruption} strength")
    axes[0, 0].set_ylabel("fraction retrieved")
    axes[1, 0].set_ylabel("fraction retrieved")
    axes[0, 0].legend(fontsize=8, title="solid: single-shot, dashed: iterated")
    title = "against N" if experiment == "capacity" else "against corruption strength"
    fig.suptitle(f"{NAMES.get(name, name)}: retrieval {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load(data, name):
    with np.load(os.path.join(data, f"{name}.npz")) as f:
        x = f["x_train"]
    return x[..., None] if x.ndim == 3 else x


def _write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with mnist.npz, cifar10.npz")
    p.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    p.add_argument("--out", default=".")
    p.add_argument("--Ns", nargs="+", type=int, default=[10, 100, 1000, 10000])
    p.add_argument("--strength-n", type=int, default=100)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--threshold", type=float, default=50.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--memories",
        nargs="+",
        default=["classical", "poly3", "softmax", "euclidean", "manhattan"]
        + list(_sparse_lagrangians(1.0)),
    )
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds)")
    cfg = p.parse_args(argv)
    cfg.strengths = dict(STRENGTHS)
    if cfg.quick:
        cfg.Ns, cfg.strength_n, cfg.queries, cfg.draws, cfg.steps = (
            [10, 20],
            10,
            8,
            2,
            3,
        )
        cfg.strengths = {c: v[1:4:2] for c, v in STRENGTHS.items()}
    return cfg


def main(argv=None):
    cfg = parse(argv)
    os.makedirs(cfg.out, exist_ok=True)
    rows = []
    for name in cfg.datasets:
        t0 = time.perf_counter()
        new, diff = run_dataset(load(cfg.data, name), name, cfg)
        rows += new
        print(
            f"{name}: {time.perf_counter() - t0:.0f}s; single-shot softmax vs NumPy "
            f"UHN update: max |difference| = {diff:.2e}"
        )
    summary = summarize(rows)
    _write(os.path.join(cfg.out, "retrieval.csv"), rows)
    _write(os.path.join(cfg.out, "retrieval_summary.csv"), summary)
    for name in cfg.datasets:
        for experiment in ("capacity", "strength"):
            path = os.path.join(cfg.out, f"retrieval_{name}_{experiment}.png")
            plot(summary, name, experiment, path)
    return rows, summary


if __name__ == "__main__":
    main()
