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

Writes `results.json` and, per run and seed, what `hamax retrieve` writes:
`<run>/seed<k>/retrieved.png` (the energy curves and the images the paper's
way: tanh activations, colour scaled per image, colour bar) and
`retrieved.npz`.
"""

import argparse
import json
import pathlib
import sys

import numpy as np


sys.path.insert(0, str(pathlib.Path(__file__).parent))

import figure2  # noqa: E402

import hamax  # noqa: E402
from hamax._cli._figures import retrieval_with_energies, rising_labels  # noqa: E402


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
        name = pathlib.Path(run).name
        for seed in args.seeds:
            # What `hamax retrieve` does: the same recall, figure and npz.
            where = out / name / f"seed{seed}"
            ret = retrieval_with_energies(
                ham,
                None,
                where,
                seed=seed,
                beta_scale=args.beta_scale,
                amplitude=args.amplitude,
                noise=args.noise,
                steps=args.steps,
                dt=args.dt,
            )
            with np.load(where / "retrieved.npz") as f:
                imgs = f["images"]
            s = figure2.score(imgs, ret.labels, scorer, x[:held], y[:held])
            row = {
                "run": str(run),
                "seed": seed,
                **s,
                "energy_rose": bool(rising_labels(ret.labels, ret.energies)),
                "learned": learned,
                "recipe": {
                    k: getattr(args, k)
                    for k in ("beta_scale", "amplitude", "noise", "steps", "dt")
                },
            }
            rows.append(row)
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
