"""Copy a long run's small records into the repository while it runs.

Run directories do not survive a move to a new machine, so the learning curves of
the Table 1 runs are committed as they go: `metrics.csv` (copied), `curves.png`
(drawn from it with `hamax reproduce`'s own figure) and `reproduce.json` (copied
when the run has written one; else a `progress.json` with the epochs so far and
best/final test accuracy). Never checkpoints.

    python benchmarks/sync_run_records.py RUN_DIR [RUN_DIR ...] --to docs/runs
"""

import argparse
import csv
import json
import pathlib
import shutil

from hamax._cli._reproduce import PAPER_100, curves_figure


def sync(run: pathlib.Path, to: pathlib.Path) -> dict:
    """Copy `run`'s records into `to/<model>/`; returns its progress summary."""
    model = run.name
    dest = to / model
    dest.mkdir(parents=True, exist_ok=True)
    with open(run / "metrics.csv", newline="") as f:
        rows = [
            {k: (float(v) if k != "epoch" else int(v)) for k, v in r.items() if v}
            for r in csv.DictReader(f)
        ]
    shutil.copyfile(run / "metrics.csv", dest / "metrics.csv")
    curves_figure(rows, dest / "curves.png", PAPER_100.get(model))
    if (run / "reproduce.json").exists():
        shutil.copyfile(run / "reproduce.json", dest / "reproduce.json")
    accs = [r["test_accuracy"] for r in rows]
    best = max(range(len(accs)), key=accs.__getitem__)
    summary = {
        "model": model,
        "epochs": rows[-1]["epoch"],
        "best_test_accuracy": accs[best],
        "best_epoch": rows[best]["epoch"],
        "final_test_accuracy": accs[-1],
        "paper_100_epochs": PAPER_100.get(model),
        "median_epoch_seconds": sorted(r["epoch_seconds"] for r in rows)[
            len(rows) // 2
        ],
    }
    (dest / "progress.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=pathlib.Path)
    p.add_argument("--to", type=pathlib.Path, default=pathlib.Path("docs/runs"))
    args = p.parse_args(argv)
    for run in args.runs:
        print(json.dumps(sync(run, args.to)))


if __name__ == "__main__":
    main()
