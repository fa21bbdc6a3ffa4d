"""Fuzz properties of the CLI (`hamax train|eval|retrieve`, in process through
hamax._cli.main): fuzzed flags end in exit code 0 (a result written whole) or
1/2 with a one-line message on stderr, never a traceback; an existing run
directory loses nothing and gains no stray .tmp file."""

import contextlib
import io
import pathlib
import tempfile

import jax.numpy as jnp
import jax.random as jr
from hypothesis import given, strategies as st

from hamax import zoo
from hamax._io import _checkpoint

from .fuzz_common import Counter, examples


DATA = pathlib.Path(__file__).parents[2] / "shared" / "data" / "mnist.npz"


def _run_dir() -> pathlib.Path:
    """A small zoo run directory (hn_softmax_mnist with 16 memories)."""
    from hamax.training import adamw, init_opt_state

    ham = zoo.make_hn_softmax_beta5_mnist(
        num_hidden=16, normalize=False, key=jr.key(0), dtype=jnp.float32
    )
    run = pathlib.Path(tempfile.mkdtemp()) / "run"
    run.mkdir()
    meta = {"model": "hn_softmax_beta5_mnist", "epoch": 1, "seed": 0}
    meta["hyperparams"] = {"num_hidden": 16, "normalize": False}
    _checkpoint.save(
        run / "checkpoint.eqx", (ham, init_opt_state(ham, adamw())), meta=meta
    )
    (run / "metrics.json").write_text("[]")
    return run


RUN = _run_dir()
NUMBERS = ["0", "-3", "2", "1e9", "nan", "inf", "-inf", "x", "", "1.5", "0x10"]
FLAGS = {
    "train": [
        "--epochs",
        "--batch-size",
        "--lr",
        "--max-batches",
        "--checkpoint-every",
        "--seed",
    ],
    "eval": ["--batch-size", "--max-batches", "--seed"],
    "retrieve": [
        "--dt",
        "--steps",
        "--labels",
        "--beta-scale",
        "--noise",
        "--amplitude",
        "--seed",
    ],
}


def _snapshot(d: pathlib.Path) -> dict:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


@examples(30)
@given(
    command=st.sampled_from(["train", "eval", "retrieve", "retrieve"]),
    pairs=st.lists(st.tuples(st.integers(0, 10), st.sampled_from(NUMBERS)), max_size=3),
    target=st.sampled_from(["run", "run", "missing", "file", "empty_dir"]),
)
def _cli(counter, command, pairs, target):
    from hamax._cli import main

    counter.tick()
    tmp = pathlib.Path(tempfile.mkdtemp())
    where = {
        "run": RUN,
        "missing": tmp / "nope",
        "file": RUN / "metrics.json",
        "empty_dir": tmp,
    }[target]
    flags = FLAGS[command]
    argv = [command]
    if command == "retrieve":
        argv += [str(where), "--out", str(tmp / "fig")]
        # Real descents are the slow part: keep them short.
        pairs = [(i, v) for i, v in pairs if not (flags[i % len(flags)] == "--steps")]
        argv += ["--steps", "2", "--labels", "0", "1"]
    elif command == "eval":
        argv += [str(where), "--data", str(DATA), "--max-batches", "1"]
    else:
        argv += ["--model", "hn_softmax_mnist", "--out", str(where)]
        argv += ["--data", str(tmp / "no-data.npz"), "--max-batches", "1"]
    for i, v in pairs:
        argv += [flags[i % len(flags)], v]
    before = _snapshot(RUN)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors
            code = e.code
    text = err.getvalue()
    assert "Traceback" not in text, f"{argv}: {text}"
    assert code in (0, 1, 2, 3), f"{argv}: exit {code}: {text}"
    if code:
        assert len(text.strip()) > 20, f"{argv}: terse error {text!r}"
    assert _snapshot(RUN) == before, f"{argv} changed the run directory"
    assert not [p for p in RUN.iterdir() if p.name.endswith(".tmp")]
    fig = tmp / "fig"
    if command == "retrieve" and code == 0:
        assert {"retrieved.png", "retrieved.npz"} <= {p.name for p in fig.iterdir()}
    elif fig.exists():
        assert not [p for p in fig.iterdir() if p.name.endswith(".tmp")]


def test_fuzz_cli():
    counter = Counter("CLI train/eval/retrieve")
    _cli(counter)
    counter.done(28)
