"""Memories at scale: a Dense Associative Memory holding whole datasets (issue #26).

    python benchmarks/memories_at_scale.py --out bench-results [--data ../shared/data]
        [--only timing,quality,million] [--million 1000000]

Every measurement runs in its own subprocess, which reports its peak resident
memory (`ru_maxrss`) and its resident memory once the memories are stored:

0. *temp*: XLA's temporary buffers for the compiled 15-step retrieval below
   (`memory_analysis()`), unchunked and with two chunk sizes.
1. *timing*: all 50,000 CIFAR-10 training images stored, 400 queries, 15
   retrieval steps (`hamax.zoo.recall`, one jitted descent), with and without
   `memory_chunk`: median time of a retrieval and peak RSS.
2. *quality*: all 60,000 MNIST and all 50,000 CIFAR-10 training images stored
   (chunked); `--queries` (default 400) training images and as many test images
   with their lower half set to zero are the cues. The metric is this script's own (not the UHN metrics):
   for training cues, the fraction whose retrieved state's nearest stored image
   (cosine) is the cued image itself, and the fraction with cosine > 0.9 to it;
   for test cues (not stored), the mean cosine between the retrieved state and
   the complete test image, and the fraction whose nearest stored image has the
   test image's label.
3. *million*: `--million` random ±1 patterns of dimension 784 stored in
   bfloat16, 100 cues with 20% of their bits flipped, `--million-steps` steps:
   time per query batch, fraction recovered exactly (sign), peak RSS.

The memory is a modern Hopfield network as a HAM: one identity layer `"x"` (so a
step of `dt = 1` is the update $x \\leftarrow \\Xi^\\top \\mathrm{softmax}(\\beta
\\Xi x)$ of Ramsauer et al.) and a `DenseHiddenSynapse` with a `Softmax`
Lagrangian over unit-norm, mean-centred images.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time


HERE = pathlib.Path(__file__).parent
CHUNK = 4096


def _memory(patterns, beta, chunk):
    """A HAM storing the rows of `patterns` (a (n, d) array, any float dtype)."""
    import jax.numpy as jnp

    import hamax
    from hamax import lagrangians as L, synapses as S

    n, d = patterns.shape
    W = jnp.asarray(patterns).T[:, None, :]
    syn = S.DenseHiddenSynapse(n, L.Softmax(beta), Ws=(W,), memory_chunk=chunk)
    layer = hamax.NeuronLayer(L.Identity(), d)
    return hamax.HAM({"x": layer}, {"memories": syn}, [(("x",), "memories")])


def _rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _images(data, name):
    """(train, y_train, test, y_test): float32 rows, centred, unit norm."""
    import numpy as np

    from hamax.data import load_cifar10, load_mnist

    load = load_mnist if name == "mnist" else load_cifar10
    raw = load(pathlib.Path(data) / f"{name}.npz", download=False)

    def prep(x):
        x = x.reshape(len(x), -1).astype(np.float32) / 255.0
        x -= x.mean(axis=1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return prep(raw["x_train"]), raw["y_train"], prep(raw["x_test"]), raw["y_test"]


def _mask_lower_half(x):
    x = x.copy()
    x[:, x.shape[1] // 2 :] = 0.0
    return x


def _recall(ham, cues, steps):
    import jax

    from hamax import zoo

    out = zoo.recall(ham, cues, dt=1.0, steps=steps)
    return jax.block_until_ready(out)


def child_timing(args):
    import jax.numpy as jnp

    train, _, _, _ = _images(args.data, "cifar10")
    ham = _memory(train, 200.0, None if args.chunk == 0 else args.chunk)
    stored = _rss_mib()
    cues = jnp.asarray(_mask_lower_half(train[:400]))
    t = time.perf_counter()
    _recall(ham, cues, 15)  # compiles
    first = time.perf_counter() - t
    ts = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        _recall(ham, cues, 15)
        ts.append(time.perf_counter() - t)
    ts.sort()
    return {
        "chunk": args.chunk,
        "first_call_s": first,
        "median_s": ts[len(ts) // 2],
        "rss_stored_mib": stored,
        "peak_rss_mib": _rss_mib(),
    }


def child_temp(args):
    """XLA's temporary buffers of the compiled 15-step retrieval (no run): what
    the descent allocates beyond its inputs, for each chunk size."""
    import jax.numpy as jnp

    from hamax.memory._cue import _recall as compiled_recall

    n, d, b = 50_000, 3072, 400
    out = []
    for chunk in (None, 1024, 4096):
        ham = _memory(jnp.zeros((n, d), jnp.float32), 200.0, chunk)
        cues = jnp.zeros((b, d), jnp.float32)
        lowered = compiled_recall.lower(ham, cues, jnp.asarray(1.0), 15, "x")
        mem = lowered.lowered.compile().memory_analysis()
        out.append({"chunk": chunk, "temp_mib": mem.temp_size_in_bytes / 2**20})
    return {"temp": out}


def child_quality(args):
    import jax.numpy as jnp
    import numpy as np

    train, y_train, test, y_test = _images(args.data, args.dataset)
    ham = _memory(train, args.beta, CHUNK)
    rng = np.random.default_rng(0)
    res = {"dataset": args.dataset, "stored": len(train), "beta": args.beta}
    res["queries"] = args.queries
    for split, pool, labels in (("train", train, y_train), ("test", test, y_test)):
        idx = rng.choice(len(pool), args.queries, replace=False)
        full = pool[idx]
        t = time.perf_counter()
        out = np.array(_recall(ham, jnp.asarray(_mask_lower_half(full)), 15))
        res[f"{split}_seconds"] = time.perf_counter() - t
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        cos_full = np.sum(out * full, axis=1)
        nearest = np.concatenate(
            [np.argmax(train @ o, axis=0) for o in np.array_split(out.T, 8, axis=1)]
        )
        if split == "train":
            res["train_nearest_is_cued"] = float(np.mean(nearest == idx))
            res["train_cos_gt_0.9"] = float(np.mean(cos_full > 0.9))
        else:
            res["test_mean_cos"] = float(np.mean(cos_full))
            res["test_nearest_label"] = float(np.mean(y_train[nearest] == labels[idx]))
    res["peak_rss_mib"] = _rss_mib()
    return res


def child_million(args):
    import jax
    import jax.numpy as jnp
    import numpy as np

    n, d, per = args.million, 784, 1 << 17
    rng = np.random.default_rng(0)
    # Generated a block at a time, stored as exact ±1 in bfloat16.
    blocks = [
        jnp.asarray(rng.integers(0, 2, (min(per, n - s), d), np.int8) * 2 - 1).astype(
            jnp.bfloat16
        )
        for s in range(0, n, per)
    ]
    pats = jnp.concatenate(blocks)
    del blocks
    # Overlaps of ±1 patterns are up to d: beta / d keeps beta * overlap modest.
    ham = _memory(pats, 40.0 / d, CHUNK)
    del pats
    stored = _rss_mib()
    idx = rng.choice(n, 100, replace=False)
    W = ham.synapses["memories"].Ws[0]
    clean = np.asarray(jnp.take(W[:, 0, :], jnp.asarray(idx), axis=1).T, np.float32)
    flips = np.where(rng.random(clean.shape) < 0.2, -1.0, 1.0).astype(np.float32)
    cues = jnp.asarray(clean * flips)
    t = time.perf_counter()
    out = _recall(ham, cues, args.million_steps)  # compiles
    first = time.perf_counter() - t
    t = time.perf_counter()
    out = _recall(ham, cues, args.million_steps)
    second = time.perf_counter() - t
    exact = np.all(np.sign(np.asarray(out)) == clean, axis=1)
    return {
        "stored": n,
        "dim": d,
        "storage_dtype": "bfloat16",
        "weights_mib": W.size * W.dtype.itemsize / 2**20,
        "queries": 100,
        "steps": args.million_steps,
        "first_call_s": first,
        "batch_s": second,
        "exact_fraction": float(np.mean(exact)),
        "rss_stored_mib": stored,
        "peak_rss_mib": _rss_mib(),
        "devices": str(jax.devices()),
    }


def _child(argv, limit):
    cmd = [sys.executable, __file__, "--child", *argv]
    env = dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        cmd, capture_output=True, text=True, timeout=limit, env=env, check=False
    )
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(res) -> str:
    rows = []
    if "temp" in res:
        rows += [
            "Temporary memory XLA allocates for the compiled retrieval of 400 "
            "queries, 15 steps, 50,000 x 3,072 float32 memories:",
            "",
            "| memory_chunk | temp MiB |",
            "| --- | --- |",
        ]
        rows += [f"| {r['chunk']} | {r['temp_mib']:.0f} |" for r in res["temp"]]
        rows.append("")
    if "timing" in res:
        rows += [
            "CIFAR-10, 50,000 images stored, 400 queries, 15 steps (float32):",
            "",
            "| memory_chunk | retrieval s (median) | first call s | RSS stored MiB "
            "| peak RSS MiB |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in res["timing"]:
            rows.append(
                f"| {r['chunk'] or 'None'} | {r['median_s']:.2f} | "
                f"{r['first_call_s']:.2f} | {r['rss_stored_mib']:.0f} | "
                f"{r['peak_rss_mib']:.0f} |"
            )
    if "quality" in res:
        rows += [
            "",
            "Cues with their lower half zeroed, 15 steps, memory_chunk=4096 (this "
            "script's own metric; queries per split in the first column):",
            "",
            "| stored | beta | train: nearest is cued | train: cos > 0.9 | "
            "test: mean cos | test: nearest has label | peak RSS MiB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in res["quality"]:
            rows.append(
                f"| {r['stored']} {r['dataset']} ({r['queries']}) | {r['beta']:g} | "
                f"{r['train_nearest_is_cued']:.3f} | {r['train_cos_gt_0.9']:.3f} | "
                f"{r['test_mean_cos']:.3f} | {r['test_nearest_label']:.3f} | "
                f"{r['peak_rss_mib']:.0f} |"
            )
    if "million" in res:
        r = res["million"]
        rows += [
            "",
            f"{r['stored']:,} random ±1 patterns of dimension {r['dim']} in "
            f"{r['storage_dtype']} ({r['weights_mib']:.0f} MiB), memory_chunk=4096: "
            f"{r['queries']} cues with 20% of bits flipped, {r['steps']} steps: "
            f"{r['batch_s']:.1f} s per query batch (first call {r['first_call_s']:.1f}"
            f" s), {r['exact_fraction']:.2f} recovered exactly, peak RSS "
            f"{r['peak_rss_mib']:.0f} MiB.",
        ]
    return "\n".join(rows) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--only", default="temp,timing,quality,million")
    ap.add_argument("--datasets", default="mnist,cifar10", help="for quality")
    ap.add_argument("--million", type=int, default=1_000_000)
    ap.add_argument("--million-steps", type=int, default=5)
    ap.add_argument("--queries", type=int, default=400, help="quality cues per split")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--limit", type=int, default=900, help="seconds per subprocess")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, default=CHUNK, help=argparse.SUPPRESS)
    ap.add_argument("--dataset", default="mnist", help=argparse.SUPPRESS)
    ap.add_argument("--beta", type=float, default=200.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        run = {"timing": child_timing, "quality": child_quality, "temp": child_temp}
        print(json.dumps(run.get(args.child, child_million)(args)))
        return
    common = ["--data", args.data, "--repeats", str(args.repeats)]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {}

    def record(key, value):  # written after every stage: a late failure keeps the rest
        res[key] = value
        (out / "memories_at_scale.json").write_text(json.dumps(res, indent=1))
        (out / "memories_at_scale.md").write_text(table(res))

    only = args.only.split(",")
    if "temp" in only:
        record("temp", _child(["temp", *common], args.limit)["temp"])
    if "timing" in only:
        record(
            "timing",
            [
                _child(["timing", "--chunk", str(c), *common], args.limit)
                for c in (0, CHUNK)
            ],
        )
    if "quality" in only:
        record(
            "quality",
            [
                _child(
                    ["quality", "--dataset", ds, "--queries", str(args.queries)]
                    + common,
                    args.limit,
                )
                for ds in args.datasets.split(",")
            ],
        )
    if "million" in only:
        record(
            "million",
            _child(
                ["million", "--million", str(args.million), *common]
                + ["--million-steps", str(args.million_steps)],
                args.limit,
            ),
        )
    print(table(res))


if __name__ == "__main__":
    main()
