"""Figure 2 from trained run directories, scored by an independent classifier.

For each run directory (made by `hamax train` or `hamax reproduce`), clamp each
label, start the image from noise and descend at `hamax retrieve`'s recipe
(the paper's: hidden temperature lowered 10x, label state 20 * one-hot, image
noise of standard deviation 0.1, 15 steps of dt 0.4; each can be changed by a
flag), for seeds 0, 1, 2, and
score the ten images as benchmarks/figure2.py does:

  (a) how many an independent MLP (trained here on MNIST train[:50000], never
      the HAM) labels as their clamped digit (target >= 9 of 10);
  (b) the mean correlation with the closest training image of the same label;
  (c) the range of the tanh activations.

    python benchmarks/figure2_runs.py --data ../shared/data/mnist.npz \
        RUN_DIR [RUN_DIR ...] --out bench-results/figure2_runs

Writes `results.json` and one `seed<k>.png` per run and seed (the paper's way
of showing the images: tanh activations, colour scaled per image, colour bar).
"""

import argparse
import json
import pathlib
import sys

import jax.random as jr
import numpy as np


sys.path.insert(0, str(pathlib.Path(__file__).parent))

import figure2  # noqa: E402

import hamax  # noqa: E402
from hamax.memory import recall_labels  # noqa: E402


def retrieve(ham, *, seed, beta_scale, amplitude, noise, steps, dt):
    """The ten retrieved images (tanh activations) and their energy curves."""
    imgs, energies = recall_labels(
        ham,
        list(range(10)),
        amplitude=amplitude,
        noise=noise,
        beta_scale=beta_scale,
        dt=dt,
        steps=steps,
        key=jr.key(seed),
    )
    return np.asarray(imgs, np.float32), np.asarray(energies)


def show(images, labels, path: pathlib.Path, title: str) -> None:
    """The paper's display: each image on its own colour scale, with a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(1.6 * len(images), 1.9))
    for ax, img, lab in zip(axes, images, labels):
        im = ax.imshow(img.reshape(28, 28), cmap="viridis")
        ax.set_title(f"label {lab}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=5)
    fig.suptitle(title, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def load_or_fit_scorer(cache: str | None, x, y):
    """The independent MLP: fit on `x, y`, or read from `cache` (an .npz this
    script wrote; plain arrays, loaded without pickle)."""
    if cache is not None and pathlib.Path(cache).exists():
        with np.load(cache, allow_pickle=False) as f:
            return [f[f"p{i}"] for i in range(len(f.files))]
    scorer = figure2.fit_scorer(x, y)
    if cache is not None:
        np.savez(cache, **{f"p{i}": np.asarray(v) for i, v in enumerate(scorer)})
    return scorer


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--data", default="../shared/data/mnist.npz")
    p.add_argument("--out", default="bench-results/figure2_runs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--beta-scale", type=float, default=10.0)
    p.add_argument("--amplitude", type=float, default=20.0)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--dt", type=float, default=0.4)
    p.add_argument(
        "--scorer-cache",
        default=None,
        help="an .npz to keep the independent scorer's weights in (fit once)",
    )
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    with np.load(args.data) as f:
        x, y = f["x_train"], f["y_train"].astype(np.int64)
    held = figure2.HELD_OUT
    scorer = load_or_fit_scorer(args.scorer_cache, x[:held], y[:held])
    rows = []
    for run in args.runs:
        ham = hamax.load_model(run)
        learned = hamax.learned_values(ham)
        for seed in args.seeds:
            imgs, energies = retrieve(
                ham,
                seed=seed,
                beta_scale=args.beta_scale,
                amplitude=args.amplitude,
                noise=args.noise,
                steps=args.steps,
                dt=args.dt,
            )
            s = figure2.score(imgs, np.arange(10), scorer, x[:held], y[:held])
            row = {
                "run": str(run),
                "seed": seed,
                **s,
                "energy_rose": bool(np.any(np.diff(energies, axis=1) > 1e-3)),
                "learned": learned,
                "recipe": {
                    k: getattr(args, k)
                    for k in ("beta_scale", "amplitude", "noise", "steps", "dt")
                },
            }
            rows.append(row)
            name = pathlib.Path(run).name
            show(
                imgs,
                range(10),
                out / name / f"seed{seed}.png",
                f"{name}, seed {seed}: {s['a_correct']}/10 recognised, closest-digit "
                f"corr. {s['b_closest_corr']:.2f}",
            )
            print(
                f"{name} seed {seed}: (a) {s['a_correct']}/10  (b) "
                f"{s['b_closest_corr']:.3f}  (c) [{s['c_min']:.3f}, {s['c_max']:.3f}]",
                flush=True,
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
