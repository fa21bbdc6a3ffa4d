"""Kill -9 trial: SIGKILL `hamax train` at random times, resume, compare.

    python benchmarks/kill_resume.py --kills 10 --data ../shared/data/mnist.npz

1. An uninterrupted reference run; a copy of every checkpoint it writes is kept,
   keyed by (epoch, batch).
2. The same run, SIGKILLed and resumed until `--kills` kills have landed, then
   resumed to the end. Each resumed process is killed at a random time after it
   has written its first new checkpoint: uniform over twice the reference's
   median time between checkpoints, so kills land in training steps, in
   checkpoint and metrics writes, and in the end-of-epoch evaluation.
3. After each kill the checkpoint left on disk must load and equal, bit for bit,
   the reference's checkpoint at the same (epoch, batch): that is the state the
   next resume starts from. At the end the final parameters must equal the
   reference's, and the run directory must hold no leftover `.tmp` files.

Prints `N kills, M bit-identical resumes, K leaked files` and exits non-zero
unless M == N, the final parameters match and K == 0.
"""

import argparse
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


# The reference run keeps a copy of each checkpoint by wrapping the save function.
_REFERENCE = """
import shutil, sys
from hamax._io import _checkpoint
from hamax._cli import main
snapshots, real = sys.argv[1], _checkpoint.save
def save(path, tree, **kw):
    real(path, tree, **kw)
    if str(path).endswith("checkpoint.eqx"):  # not model.eqx, the model alone
        m = _checkpoint.read_meta(path)
        shutil.copy(path, f"{snapshots}/{m['epoch']}_{m.get('batch', 0)}.eqx")
_checkpoint.save = save
raise SystemExit(main(sys.argv[2:]))
"""
_PLAIN = "import sys; from hamax._cli import main; raise SystemExit(main(sys.argv[1:]))"


def payload(path: pathlib.Path) -> tuple[tuple[int, int], bytes]:
    """((epoch, batch), array bytes) of a checkpoint; raises if it is damaged."""
    from hamax._io import _checkpoint

    header, data = _checkpoint._read(path)
    meta = header["meta"]
    return (meta["epoch"], meta.get("batch", 0)), data


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--data", default="../shared/data/mnist.npz")
    p.add_argument("--model", default="hn_relu_mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-batches", type=int, default=20)
    p.add_argument("--checkpoint-every", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    p.add_argument("--workdir", default=None, help="default: a temporary directory")
    args = p.parse_args()
    if args.kills < 1:
        p.error(f"--kills must be >= 1, got {args.kills}")
    work = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="kill_resume_"))
    ref, run, snaps = work / "reference", work / "killed", work / "snapshots"
    for d in (ref, run, snaps):
        shutil.rmtree(d, ignore_errors=True)
    snaps.mkdir(parents=True)
    train = ["train", "--model", args.model, "--data", args.data]
    train += ["--epochs", str(args.epochs), "--max-batches", str(args.max_batches)]
    train += ["--checkpoint-every", str(args.checkpoint_every)]
    train += ["--batch-size", str(args.batch_size)]

    t0, wall0 = time.perf_counter(), time.time()
    r = subprocess.run(
        [sys.executable, "-c", _REFERENCE, str(snaps), *train, "--out", str(ref)],
        capture_output=True,
        text=True,
    )
    t_ref = time.perf_counter() - t0
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        return 1
    reference = dict(payload(s) for s in snaps.glob("*.eqx"))
    # When the reference reached each checkpoint, in seconds from its start.
    reached = {payload(s)[0]: s.stat().st_mtime - wall0 for s in snaps.glob("*.eqx")}
    times = sorted(reached.values())
    gap = sorted(b - a for a, b in zip(times, times[1:]))[len(times) // 2 - 1]
    print(
        f"reference run: {t_ref:.1f} s, {len(reference)} checkpoints, the first "
        f"after {times[0]:.1f} s, then one every {gap:.2f} s (median)"
    )

    rng = random.Random(args.seed)
    kills, identical, attempts = 0, 0, 0
    while kills < args.kills and attempts < 5 * args.kills:
        attempts += 1
        child = subprocess.Popen(
            [sys.executable, "-c", _PLAIN, *train, "--out", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ckpt = run / "checkpoint.eqx"
        before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        while child.poll() is None:  # wait for the first new checkpoint
            if ckpt.exists() and ckpt.stat().st_mtime_ns != before:
                break
            time.sleep(0.05)
        delay = rng.uniform(0.0, 2.0 * gap)
        try:
            child.wait(timeout=delay)
            print(f"attempt {attempts}: finished before the kill")
            break  # the run is complete: no more kills can land
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        kills += 1
        if not ckpt.exists():
            print(f"kill {kills}: before the first checkpoint")
            identical += 1  # nothing to resume from: the resume starts afresh
            continue
        where, data = payload(ckpt)
        same = reference.get(where) == data
        identical += same
        print(
            f"kill {kills} ({delay:.2f} s after a checkpoint): checkpoint at epoch "
            f"{where[0]}, batch "
            f"{where[1]}: {'bit-identical' if same else 'DIFFERS'} to the reference"
        )
    r = subprocess.run(
        [sys.executable, "-c", _PLAIN, *train, "--out", str(run)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        return 1
    final_same = payload(run / "checkpoint.eqx") == payload(ref / "checkpoint.eqx")
    leaked = sorted(
        {q.name for q in run.glob("*.tmp")} | {q.name for q in run.glob(".*.tmp")}
    )
    print(f"final parameters bit-identical to the uninterrupted run: {final_same}")
    if leaked:
        print(f"leaked: {', '.join(leaked)}")
    print(
        f"{kills} kills, {identical} bit-identical resumes, {len(leaked)} leaked files"
    )
    return 0 if (identical == kills and final_same and not leaked) else 1


if __name__ == "__main__":
    raise SystemExit(main())
