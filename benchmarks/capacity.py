"""Storage capacity of the zoo's associative memories, at their defaults.

For each model and N, store P random ±1 patterns, corrupt 10% of the bits of
(a sample of) them, retrieve with `hamax.zoo.recall` (its default dt and
steps) and count a pattern as restored when the sign of every retrieved
activation equals the pattern. Also records the mean |activation| of the
retrieved states (all cues, and the restored ones), and P_50, the load at which
half the cues are restored (log-interpolated), with its growth exponent in N.
Writes `capacity.csv`, `capacity_p50.csv` and the plots `capacity_accuracy.png`,
`capacity_softmax_small_n.png`, `capacity_sparse.png` (when the sparse
separations were run) and `capacity_scaling.png` to `--out`.

    python benchmarks/capacity.py --out docs/img

Theory (drawn dashed): the signal-to-noise analysis of the overlap with the
cued pattern. Neuron i of a state with overlap m with the pattern gets the
signal f(mN) and crosstalk from the P-1 other memories of variance
P N^{n-1} (2n-3)!! / 2 for the rectified polynomial RePU(n) (P N for the
classical, zero-diagonal Hebb rule); iterating eps <- Phi(-(1-2 eps)^{n-1} S)
from the cue's eps = 0.1 gives the fraction of wrong bits, and (1 - eps)^N the
chance that a pattern is restored exactly. For the classical network the
critical load 0.138 N (Amit, Gutfreund & Sompolinsky 1985) is drawn too. For
softmax the nearest memory to the cue wins: the pattern is restored when no
other memory is closer to the cue than its k flipped bits, and otherwise when it
wins the tie among the T memories at distance k: (1 - q_<)^{P-1} E[1/(1+T)],
with q_< = P(Binomial(N, 1/2) < k) and T ~ Binomial(P - 1, P(Binomial(N, 1/2) = k)).

Sparse and compact-support separations (`--models sparsemax entmax15 lsr`, run at
small N like softmax): Sparsemax(1) and Entmax(1.5) on overlaps that differ by at
least 2 are a hard nearest-memory rule. A tie averages the tied memories, but
that mixture is unstable (the sparse weights follow the overlaps with slope 1, so
any asymmetry grows), so round-off breaks ties at random and the softmax theory
applies; (1 - q_<=)^(P-1), every tie lost, is its lower bound. LogSumReLU(1/(3k), shift=N)
makes every memory within 1.5 k bits of the state active with equal weight, so
the pattern is restored when no other memory lies within that support of the cue
or of the pattern itself.
"""

import argparse
import csv
import math
import os
import time

import jax.numpy as jnp
import numpy as np

from hamax import zoo
from hamax.lagrangians import Entmax, LogSumReLU, RePU, Softmax, Sparsemax


SPARSE = ["sparsemax", "entmax15", "lsr"]
# P = 8, 32, ..., 32768 for the exponential-capacity separations at small N.
_SPARSE_P = [2.0**e for e in range(3, 16, 2)]


def models(n, flip=0.1):
    """name -> (factory of the zoo at its defaults, grid of P/N, RePU degree)."""
    # The Epanechnikov support is 1.5 times the corruption: 1/beta = 3k overlap
    # units, i.e. memories within 1.5 k bits of the state are active.
    lsr = LogSumReLU(beta=1 / (3 * max(1, round(flip * n))), shift=float(n))
    return {
        "classical": (
            zoo.make_classical_hopfield,
            [0.05, 0.08, 0.1, 0.12, 0.14, 0.17, 0.2, 0.3],
            2,
        ),
        "repu2": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(2.0)),
            [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6],
            2,
        ),
        "repu3": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(3.0)),
            [n * a for a in (0.02, 0.035, 0.05, 0.07, 0.1, 0.14, 0.2)],
            3,
        ),
        "repu4": (
            lambda p: zoo.make_dense_am(memories=p, separation=RePU(4.0)),
            [n * n * a for a in (0.002, 0.005, 0.01, 0.02, 0.05)],
            4,
        ),
        "softmax": (
            lambda p: zoo.make_dense_am(memories=p, separation=Softmax(1.0)),
            [1.0, 4.0, 16.0, 64.0, 256.0],
            None,
        ),
        "sparsemax": (
            lambda p: zoo.make_dense_am(memories=p, separation=Sparsemax(1.0)),
            [p / n for p in _SPARSE_P],
            None,
        ),
        "entmax15": (
            lambda p: zoo.make_dense_am(memories=p, separation=Entmax(1.5)),
            [p / n for p in _SPARSE_P],
            None,
        ),
        "lsr": (
            lambda p: zoo.make_dense_am(memories=p, separation=lsr),
            [p / n for p in _SPARSE_P],
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
    """Nearest memory wins, ties broken at random (see the module docstring)."""
    closer = sum(math.comb(n, j) for j in range(k)) / 2**n
    tie = math.comb(n, k) / 2**n
    # E[1 / (1 + T)] for T ~ Binomial(P - 1, tie) tied memories
    share = -math.expm1(p * math.log1p(-tie)) / (p * tie)
    return math.exp((p - 1) * math.log1p(-closer)) * share, None


def sparse_theory(n, p, k):
    """Hard nearest memory: the softmax theory's tie-aware count (a tie is an
    unstable equilibrium of the sparse dynamics, broken by round-off)."""
    return softmax_theory(n, p, k)


def sparse_theory_ties_lost(n, p, k):
    """The lower bound where every tie is lost: no other memory within k bits."""
    q = sum(math.comb(n, j) for j in range(k + 1)) / 2**n
    return math.exp((p - 1) * math.log1p(-q))


def lsr_theory(n, p, k):
    """No other memory within the support (fewer than 1.5 k bits) of the cue or of
    the pattern. A random memory differs from the pattern in a ~ Bin(N - k, 1/2)
    of the bits the cue kept and b ~ Bin(k, 1/2) of the k it flipped: a + b bits
    from the pattern, a + k - b from the cue."""
    q = sum(
        math.comb(n - k, a) * math.comb(k, b) / 2**n
        for a in range(n - k + 1)
        for b in range(k + 1)
        if min(a + b, a + k - b) < 1.5 * k
    )
    return math.exp((p - 1) * math.log1p(-q)), None


def corrupt(patterns, k, rng):
    """Flip exactly k random bits of each pattern (NumPy: no compile per shape)."""
    q, n = patterns.shape
    idx = np.argsort(rng.random((q, n)), axis=1)[:, :k]
    flip = np.zeros((q, n), bool)
    np.put_along_axis(flip, idx, True, axis=1)
    return np.where(flip, -patterns, patterns)


def measure(make, n, p, k, queries, rng):
    """Cue `queries` stored patterns, drawing fresh pattern sets while P < queries."""
    gs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    done = 0
    while done < queries:
        patterns = rng.choice(np.array([-1.0, 1.0], np.float32), size=(p, n))
        ham = make(jnp.asarray(patterns))
        target = patterns[: queries - done]
        cues = jnp.asarray(corrupt(target, k, rng))
        gs.append(np.asarray(zoo.recall(ham, cues)))
        targets.append(target)
        done += len(target)
    g, target = np.concatenate(gs), np.concatenate(targets)
    wrong = np.sign(g) != target
    ok = ~np.any(wrong, axis=1)
    return {
        "pattern_sets": len(targets),
        "accuracy": float(np.mean(ok)),
        "bit_error": float(np.mean(wrong)),
        "mean_abs_g": float(np.mean(np.abs(g))),
        "mean_abs_g_restored": float(np.mean(np.abs(g[ok]))) if ok.any() else None,
    }


def theory(name, n, p, k, flip):
    """Exact-restore probability predicted for `name` at (N, P)."""
    if name.startswith("softmax"):
        return softmax_theory(n, p, k)[0]
    if name == "lsr":
        return lsr_theory(n, p, k)[0]
    if name in SPARSE:
        return sparse_theory(n, p, k)[0]
    return snr_theory(name, n, p, flip)[0]


def p50_theory(name, n, k, flip):
    """The P at which the predicted exact-restore probability falls to one half."""
    lo, hi = math.log(2), math.log(1e200)
    for _ in range(100):  # bisection in log P
        mid = (lo + hi) / 2
        lo, hi = (
            (mid, hi) if theory(name, n, math.exp(mid), k, flip) > 0.5 else (lo, mid)
        )
    return math.exp(lo)


def p50_measured(rows):
    """(P where the measured accuracy crosses one half, log-interpolated; bound)."""
    rs = sorted(rows, key=lambda r: r["P"])
    if rs[0]["accuracy"] < 0.5:
        return rs[0]["P"], "<"
    for a, b in zip(rs, rs[1:]):
        if a["accuracy"] >= 0.5 > b["accuracy"]:
            t = (a["accuracy"] - 0.5) / (a["accuracy"] - b["accuracy"])
            return math.exp(math.log(a["P"]) + t * math.log(b["P"] / a["P"])), ""
    return rs[-1]["P"], ">"


def summary(rows, flip):
    """One row per (model, N): measured and predicted P_50 and growth exponents."""
    out = []
    names = ["classical", "repu2", "repu3", "repu4", "softmax", "softmax_small_n"]
    for name in names + SPARSE:
        prev = None
        for n in sorted({r["N"] for r in rows if r["model"] == name}):
            sel = [r for r in rows if r["model"] == name and r["N"] == n]
            p50, bound = p50_measured(sel)
            th = p50_theory(name, n, sel[0]["flipped"], flip)
            row = dict(
                model=name,
                N=n,
                P50=p50,
                P50_bound=bound,
                P50_theory=th,
                exponent=None,
                exponent_theory=None,
            )
            if prev is not None and not bound and not prev["P50_bound"]:
                # softmax: ln P_50 per neuron; polynomial: d ln P_50 / d ln N
                lg = (
                    n - prev["N"]
                    if name in ("softmax_small_n", *SPARSE)
                    else math.log(n / prev["N"])
                )
                row["exponent"] = math.log(p50 / prev["P50"]) / lg
                row["exponent_theory"] = math.log(th / prev["P50_theory"]) / lg
            out.append(row)
            prev = row
    return out


def print_summary(summ):
    print("| model | N | P_50 measured | P_50 theory | P_50 / N | exponent (theory) |")
    print("|---|---|---|---|---|---|")
    for r in summ:
        e = r["exponent"]
        exp = "" if e is None else f"{e:.2f} ({r['exponent_theory']:.2f})"
        print(
            f"| {r['model']} | {r['N']} | {r['P50_bound']}{r['P50']:.4g} "
            f"| {r['P50_theory']:.3g} | {r['P50_bound']}{r['P50'] / r['N']:.3g} "
            f"| {exp} |"
        )


def run(args):
    rows = []
    rng = np.random.default_rng(args.seed)
    jobs = [
        (name, n, ratio)
        for n in args.ns
        for name in args.models
        for ratio in models(n, args.flip)[name][1]
    ]
    jobs += [
        ("softmax_small_n", n, 2.0**e / n)
        for n in args.small_ns
        for e in range(3, 21, 2)
    ]
    for name, n, ratio in jobs:
        p = max(2, round(ratio * n))
        if p * n > args.max_entries:
            print(f"skip {name} N={n} P={p}: P*N over {args.max_entries:.0e}")
            continue
        k = round(args.flip * n)
        base = "softmax" if name == "softmax_small_n" else name
        make = models(n, args.flip)[base][0]
        t0 = time.perf_counter()
        out = measure(make, n, p, k, args.queries, rng)
        if base == "softmax":
            th, th_err = softmax_theory(n, p, k)
        elif base == "lsr":
            th, th_err = lsr_theory(n, p, k)
        elif base in SPARSE:
            th, th_err = sparse_theory(n, p, k)
        else:
            th, th_err = snr_theory(base, n, p, args.flip)
        row = dict(
            model=name,
            N=n,
            P=p,
            P_over_N=p / n,
            flipped=k,
            queries=args.queries,
            **out,
            theory_accuracy=th,
            theory_bit_error=th_err,
            seconds=time.perf_counter() - t0,
        )
        rows.append(row)
        print(
            f"{name:16s} N={n:4d} P={p:7d} P/N={p / n:9.3f} "
            f"acc={out['accuracy']:.3f} theory={th:.3f} "
            f"bit_err={out['bit_error']:.4f} |g|={out['mean_abs_g']:.3f} "
            f"({row['seconds']:.1f} s)",
            flush=True,
        )
    return rows


def plot(rows, out):
    import matplotlib
    import matplotlib.ticker

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
        if name == "softmax" and sel:
            text = "theory P_50 / N:\n" + "\n".join(
                f"N={n}: {p50_theory(name, n, k, 0.1) / n:.1e}"
                for n, k in sorted({(r["N"], r["flipped"]) for r in sel})
            )
            ax.text(0.05, 0.45, text, transform=ax.transAxes, fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
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


def plot_sparse(rows, out):
    """Restored fraction against P for the sparse separations, next to softmax."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {
        "sparsemax": "DAM Sparsemax(1)",
        "entmax15": "DAM Entmax(1.5)",
        "lsr": "DAM LogSumReLU (support 1.5 k bits)",
    }
    names = [m for m in SPARSE if any(r["model"] == m for r in rows)]
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2))
    for ax, name in zip(np.atleast_1d(axes), names):
        sel = [r for r in rows if r["model"] == name]
        for i, n in enumerate(sorted({r["N"] for r in sel})):
            rs = sorted((r for r in sel if r["N"] == n), key=lambda r: r["P"])
            ps = [r["P"] for r in rs]
            ax.plot(
                ps, [r["accuracy"] for r in rs], "o-", color=f"C{i}", label=f"N={n}"
            )
            ax.plot(ps, [r["theory_accuracy"] for r in rs], "--", color=f"C{i}")
            soft = sorted(
                (r for r in rows if r["model"] == "softmax_small_n" and r["N"] == n),
                key=lambda r: r["P"],
            )
            if soft:
                ax.plot(
                    [r["P"] for r in soft],
                    [r["accuracy"] for r in soft],
                    ":",
                    color=f"C{i}",
                    label=f"softmax N={n}",
                )
        ax.set_xscale("log")
        ax.set_xlabel("P (number of stored patterns)")
        ax.set_title(titles[name])
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("fraction restored exactly (10% bits flipped)")
    fig.suptitle("measured (solid), theory (dashed), softmax measured (dotted)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "capacity_sparse.png"), dpi=90)


def plot_scaling(summ, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, name in enumerate(["classical", "repu2", "repu3", "repu4"]):
        rs = [r for r in summ if r["model"] == name]
        if not rs:
            continue
        ns = [r["N"] for r in rs]
        exact = [r for r in rs if not r["P50_bound"]]
        ax.plot([r["N"] for r in exact], [r["P50"] for r in exact], "o", color=f"C{i}")
        for r in rs:
            if r["P50_bound"]:
                ax.plot(
                    r["N"],
                    r["P50"],
                    "^" if r["P50_bound"] == ">" else "v",
                    color=f"C{i}",
                    mfc="none",
                )
        ax.plot(ns, [r["P50_theory"] for r in rs], "--", color=f"C{i}", label=name)
        if exact:  # growth N^(n-1) through the first measured point
            e = 1 if name == "classical" else int(name[-1]) - 1
            n0, p0 = exact[0]["N"], exact[0]["P50"]
            ax.plot(ns, [p0 * (m / n0) ** e for m in ns], ":", color=f"C{i}", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("P_50 (half the cues restored exactly)")
    ax.set_title("measured (o), SNR theory (--), N^(n-1) (:)")
    ax.legend(fontsize=8)
    rs = [r for r in summ if r["model"] == "softmax_small_n"]
    if rs:
        exact = [r for r in rs if not r["P50_bound"]]
        bx.plot([r["N"] for r in exact], [r["P50"] for r in exact], "o", color="C4")
        bx.plot(
            [r["N"] for r in rs],
            [r["P50_theory"] for r in rs],
            "--",
            color="C4",
            label="nearest-memory theory",
        )
        bx.set_yscale("log")
        bx.set_xlabel("N")
        bx.set_ylabel("P_50")
        bx.set_title("softmax at small N: exponential in N")
        bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "capacity_scaling.png"), dpi=90)


def write_csv(path, rows):
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path):
    def value(v):
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
        return None if v == "" else v

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in r.items()} for r in csv.DictReader(f)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="capacity_out")
    parser.add_argument("--ns", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--small-ns", type=int, nargs="*", default=[10, 20, 30])
    parser.add_argument(
        "--models",
        nargs="+",
        default=["classical", "repu2", "repu3", "repu4", "softmax"],
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=100,
        help="corrupted cues per point (fresh pattern sets while P is smaller)",
    )
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-entries",
        type=float,
        default=4e7,
        help="skip points whose memories have more than this many entries P*N",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="merge into the CSV in --out (replacing equal model, N, P rows)",
    )
    parser.add_argument(
        "--replot", action="store_true", help="redo summary and plots from the CSV"
    )
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    if args.replot:
        rows = read_csv(os.path.join(args.out, "capacity.csv"))
        for r in rows:
            base = "softmax" if r["model"] == "softmax_small_n" else r["model"]
            r["theory_accuracy"] = theory(base, r["N"], r["P"], r["flipped"], args.flip)
        write_csv(os.path.join(args.out, "capacity.csv"), rows)
    else:
        rows = run(args)
        if args.append:
            new = {(r["model"], r["N"], r["P"]) for r in rows}
            old = read_csv(os.path.join(args.out, "capacity.csv"))
            rows = [r for r in old if (r["model"], r["N"], r["P"]) not in new] + rows
        write_csv(os.path.join(args.out, "capacity.csv"), rows)
    summ = summary(rows, args.flip)
    write_csv(os.path.join(args.out, "capacity_p50.csv"), summ)
    print_summary(summ)
    plot(rows, args.out)
    plot_sparse(rows, args.out)
    plot_scaling(summ, args.out)
    print(f"total {time.perf_counter() - t0:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
