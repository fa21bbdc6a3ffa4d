"""Storage capacity of the zoo's associative memories, at their defaults.

For each model and N, store P random ±1 patterns, corrupt 10% of the bits of
(a sample of) them, retrieve with `hamax.zoo.recall` (its default dt and
steps) and count a pattern as restored when the sign of every retrieved
activation equals the pattern. Writes `capacity.csv` and the plots
`capacity_accuracy.png` and `capacity_softmax_small_n.png` to `--out`.

    python benchmarks/capacity.py --out docs/img

Theory (drawn dashed): the signal-to-noise analysis of the overlap with the
cued pattern. Neuron i of a state with overlap m with the pattern gets the
signal f(mN) and crosstalk from the P-1 other memories of variance
P N^{n-1} (2n-3)!! / 2 for the rectified polynomial RePU(n) (P N for the
classical, zero-diagonal Hebb rule); iterating eps <- Phi(-(1-2 eps)^{n-1} S)
from the cue's eps = 0.1 gives the fraction of wrong bits, and (1 - eps)^N the
chance that a pattern is restored exactly. For the classical network the
critical load 0.138 N (Amit, Gutfreund & Sompolinsky 1985) is drawn too. For
softmax the retrieval fails only when another memory overlaps the cue at least
as much as the pattern does: (1 - q)^{P-1} with q = P(Binomial(N, 1/2) <= k).
"""

import argparse
import csv
import math
import os
import time

import jax.numpy as jnp
import numpy as np

from hamax import zoo
from hamax.lagrangians import RePU, Softmax


MAX_ENTRIES = 2e7  # P * N: the memories of one model (80 MB in float32)


def models(n):
    """name -> (factory of the zoo at its defaults, grid of P/N, RePU degree)."""
    return {
        "classical": (
            zoo.make_classical_hopfield,
            [0.05, 0.1, 0.14, 0.2, 0.3],
            2,
        ),
        "repu2": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(2.0)),
            [0.1, 0.2, 0.3, 0.4, 0.6],
            2,
        ),
        "repu3": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(3.0)),
            [n * a for a in (0.02, 0.05, 0.1, 0.2)],
            3,
        ),
        "repu4": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(4.0)),
            [n * n * a for a in (0.005, 0.02, 0.05)],
            4,
        ),
        "softmax": (
            lambda p: zoo.make_dense_am(memories=p, separation=Softmax(1.0)),
            [1.0, 4.0, 16.0, 64.0],
            None,
        ),
    }


def double_factorial(k):
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


def snr_theory(name, n, p, flip):
    """(exact-restore probability, bit error rate) from the iterated SNR."""
    if name == "classical":
        degree, s = 2, math.sqrt((n - 1) / max(p - 1, 1))
    else:
        degree = int(name[-1])
        s = math.sqrt(2 * n ** (degree - 1) / (double_factorial(2 * degree - 3) * p))
    eps = flip
    for _ in range(200):
        eps = phi(-((1 - 2 * eps) ** (degree - 1)) * s)
    return (1 - eps) ** n, eps


def softmax_theory(n, p, k):
    q = sum(math.comb(n, j) for j in range(k + 1)) / 2**n
    return math.exp((p - 1) * math.log1p(-q)), None


def corrupt(patterns, k, rng):
    """Flip exactly k random bits of each pattern (NumPy: no compile per shape)."""
    q, n = patterns.shape
    idx = np.argsort(rng.random((q, n)), axis=1)[:, :k]
    flip = np.zeros((q, n), bool)
    np.put_along_axis(flip, idx, True, axis=1)
    return np.where(flip, -patterns, patterns)


def measure(make, n, p, k, queries, rng):
    patterns = rng.choice(np.array([-1.0, 1.0], np.float32), size=(p, n))
    ham = make(jnp.asarray(patterns))
    target = patterns[:queries]
    g = np.asarray(zoo.recall(ham, jnp.asarray(corrupt(target, k, rng))))
    wrong = np.sign(g) != target
    return {
        "accuracy": float(np.mean(~np.any(wrong, axis=1))),
        "bit_error": float(np.mean(wrong)),
        "mean_abs_g": float(np.mean(np.abs(g))),
    }


def run(args):
    rows = []
    rng = np.random.default_rng(args.seed)
    jobs = [
        (name, n, ratio)
        for n in args.ns
        for name in args.models
        for ratio in models(n)[name][1]
    ]
    jobs += [
        ("softmax_small_n", n, 2.0**e / n)
        for n in args.small_ns
        for e in range(3, 19, 2)
    ]
    for name, n, ratio in jobs:
        p = max(2, round(ratio * n))
        if p * n > MAX_ENTRIES:
            print(f"skip {name} N={n} P={p}: P*N over {MAX_ENTRIES:.0e}")
            continue
        k = round(args.flip * n)
        base = "softmax" if name == "softmax_small_n" else name
        make = models(n)[base][0]
        t0 = time.perf_counter()
        out = measure(make, n, p, k, min(p, args.queries), rng)
        if base == "softmax":
            theory, theory_err = softmax_theory(n, p, k)
        else:
            theory, theory_err = snr_theory(base, n, p, args.flip)
        row = dict(
            model=name,
            N=n,
            P=p,
            P_over_N=p / n,
            flipped=k,
            queries=min(p, args.queries),
            **out,
            theory_accuracy=theory,
            theory_bit_error=theory_err,
            seconds=time.perf_counter() - t0,
        )
        rows.append(row)
        print(
            f"{name:16s} N={n:4d} P={p:7d} P/N={p / n:9.3f} "
            f"acc={out['accuracy']:.3f} theory={theory:.3f} "
            f"bit_err={out['bit_error']:.4f} |g|={out['mean_abs_g']:.3f} "
            f"({row['seconds']:.1f} s)",
            flush=True,
        )
    return rows


def plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["classical", "repu2", "repu3", "repu4", "softmax"]
    titles = {
        "classical": "classical Hopfield",
        "repu2": "DAM RePU n=2",
        "repu3": "DAM RePU n=3",
        "repu4": "DAM RePU n=4",
        "softmax": "DAM softmax (exponential)",
    }
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.2), sharey=True)
    for ax, name in zip(axes, names):
        sel = [r for r in rows if r["model"] == name]
        for i, n in enumerate(sorted({r["N"] for r in sel})):
            rs = sorted((r for r in sel if r["N"] == n), key=lambda r: r["P"])
            x = [r["P_over_N"] for r in rs]
            color = f"C{i}"
            ax.plot(x, [r["accuracy"] for r in rs], "o-", color=color, label=f"N={n}")
            ax.plot(x, [r["theory_accuracy"] for r in rs], "--", color=color)
        if name == "classical":
            ax.axvline(0.138, color="k", lw=0.8, ls=":", label="0.138 (AGS)")
        ax.set_xscale("log")
        ax.set_title(titles[name])
        ax.set_xlabel("P / N")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("fraction restored exactly (10% bits flipped)")
    fig.suptitle(
        "hamax.zoo memories at their defaults: measured (solid) and "
        "signal-to-noise theory (dashed)"
    )
    fig.tight_layout()
    fig.savefig(os.path.join(out, "capacity_accuracy.png"), dpi=90)

    sel = [r for r in rows if r["model"] == "softmax_small_n"]
    if sel:
        fig, ax = plt.subplots(figsize=(6, 4.2))
        for i, n in enumerate(sorted({r["N"] for r in sel})):
            rs = sorted((r for r in sel if r["N"] == n), key=lambda r: r["P"])
            ax.plot(
                [r["P"] for r in rs],
                [r["accuracy"] for r in rs],
                "o-",
                color=f"C{i}",
                label=f"N={n}, {rs[0]['flipped']} flipped",
            )
            ax.plot(
                [r["P"] for r in rs],
                [r["theory_accuracy"] for r in rs],
                "--",
                color=f"C{i}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("P (number of stored patterns)")
        ax.set_ylabel("fraction restored exactly")
        ax.set_title("softmax DAM at small N: capacity grows exponentially in N")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "capacity_softmax_small_n.png"), dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="capacity_out")
    parser.add_argument("--ns", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--small-ns", type=int, nargs="*", default=[12, 16, 20])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["classical", "repu2", "repu3", "repu4", "softmax"],
    )
    parser.add_argument(
        "--queries", type=int, default=100, help="corrupted cues per point (at most P)"
    )
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    rows = run(args)
    with open(os.path.join(args.out, "capacity.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out)
    print(f"total {time.perf_counter() - t0:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
