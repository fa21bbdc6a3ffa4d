"""Multi-process training (issue #16): two local processes over gloo CPU collectives,
two forced CPU devices each, against one process with four; one writer; SIGKILL
both and resume; processes that disagree on the checkpoint stop cleanly."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from hamax import training as T

from .test_training import synthetic_mnist


ROOT = pathlib.Path(__file__).parent.parent
TIMEOUT = 120  # seconds per launch: a hang fails the test instead of blocking CI

# One process of a run: initialize (two processes) or not (one), train a small
# HAM, save its parameters. argv: process id, process count, out dir ("" = none),
# epochs, result prefix; the launch values come from JAX_* variables or argv.
WORKER = """
import os, sys
import jax
import equinox as eqx, numpy as np
from hamax import training as T
pid, n, out, epochs, res, *addr = sys.argv[1:]
if int(n) > 1:  # from arguments, else from JAX_COORDINATOR_ADDRESS etc.
    launch = (addr[0], int(n), int(pid)) if addr else ()
    T.initialize_distributed(*launch, heartbeat_timeout=10)
r = T.train_classifier(
    "hn_relu_mnist", dict(np.load(os.environ["DATA"])), epochs=int(epochs),
    batch_size=32, limits=T.Limits(batches=4), progress=True,
    seed=1,
    hyperparams={"num_hidden": 16},
    run=T.RunDir(out, checkpoint_every=2) if out else None,
)
leaves = jax.tree.leaves(eqx.filter(r.ham, eqx.is_inexact_array))
np.savez(f"{res}_{pid}.npz", *[np.asarray(x) for x in leaves])
print(f"process {pid}: done", flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    np.savez(tmp / "data.npz", **synthetic_mnist(160, 32))
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "DATA": str(tmp / "data.npz"),
        "TMP": str(tmp),
    }


def start(env, argvs, *, ndev=2, via_env=True) -> list[subprocess.Popen]:
    """One process per `argvs` entry (Python arguments), `ndev` CPU devices each;
    the launch values in JAX_* variables when `via_env`."""
    port, procs = free_port(), []
    for i, argv in enumerate(argvs):
        e = {**env, "XLA_FLAGS": f"--xla_force_host_platform_device_count={ndev}"}
        if via_env:
            e["JAX_COORDINATOR_ADDRESS"] = f"127.0.0.1:{port}"
            e.update(JAX_NUM_PROCESSES=str(len(argvs)), JAX_PROCESS_ID=str(i))
        argv = [str(a).replace("PORT", str(port)) for a in argv]
        procs.append(
            subprocess.Popen(
                [sys.executable, *argv],
                env=e,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def launch(env, n, out, res, *, ndev=2, via_args=False):
    """`n` processes of WORKER, training into `out` (None: no run directory)."""
    o = "" if out is None else str(out)
    argvs = [["-c", WORKER, i, n, o, 3, res] for i in range(n)]
    if via_args:
        for a in argvs:
            a.append("127.0.0.1:PORT")
    return start(env, argvs, ndev=ndev, via_env=not via_args)


def cli(env, args_of):
    """Two `hamax train` processes, launched by flags; process i adds args_of[i]."""
    argvs = [
        ["-c", "import sys; from hamax._cli import main; sys.exit(main())"]
        + ["train", "--distributed", "--coordinator-address", "127.0.0.1:PORT"]
        + ["--num-processes", 2, "--process-id", i, "--model", "hn_relu_mnist"]
        + ["--data", env["DATA"], "--batch-size", 32, "--epochs", 1, "--no-plots"]
        + args_of[i]
        for i in range(2)
    ]
    return start(env, argvs, via_env=False)


def finish(procs) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            so, se = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"a process hung for {TIMEOUT}s (no clean error)")
        out.append((p.returncode, so, se))
    return out


def params(res: str, pid: int) -> list[np.ndarray]:
    with np.load(f"{res}_{pid}.npz") as f:
        return [f[k] for k in f.files]


@pytest.fixture(scope="module")
def reference(env):
    """Two processes x two devices, uninterrupted, via JAX_* variables; and one
    process with four devices. Started together to share the machine's wait."""
    tmp = pathlib.Path(env["TMP"])
    two = launch(env, 2, tmp / "ref", tmp / "two")
    one = launch(env, 1, None, tmp / "one", ndev=4)
    runs = finish(two) + finish(one)
    for rc, so, se in runs:
        assert rc == 0, se[-3000:]
    return tmp, runs


def test_two_processes_train_like_one(reference):
    tmp, runs = reference
    a, b, single = (
        params(tmp / "two", 0),
        params(tmp / "two", 1),
        params(tmp / "one", 0),
    )
    for x, y, z in zip(a, b, single, strict=True):
        np.testing.assert_array_equal(x, y)  # bit-identical across processes
        # Same training as one process with as many devices; only the float32
        # reduction order differs.
        np.testing.assert_allclose(x, z, rtol=1e-5, atol=1e-6)
    # One writer: process 0 wrote the run directory; process 1 only logged.
    names = sorted(p.name for p in (tmp / "ref").iterdir())
    assert names == ["checkpoint.eqx", "metrics.csv", "metrics.json", "model.eqx"]
    assert "[process 0/2] epoch 3/3" in runs[0][2]
    assert "[process 1/2] epoch 3/3" in runs[1][2]


def test_sigkill_then_resume_is_identical(env, reference):
    # SIGKILL process 1 after the first mid-epoch checkpoint: process 0 stops
    # with a clear error (not a hang); restarted, both resume bit-identically.
    tmp, _ = reference
    out = tmp / "killed"
    procs = launch(env, 2, out, tmp / "resumed", via_args=True)
    t0 = time.monotonic()
    while not (out / "checkpoint.eqx").exists():
        assert time.monotonic() - t0 < TIMEOUT, finish(procs)
        assert all(p.poll() is None for p in procs), finish(procs)
        time.sleep(0.01)
    procs[1].send_signal(signal.SIGKILL)
    t1 = time.monotonic()
    (rc, _, se), _ = finish(procs)
    assert rc != 0
    # Either the next all-reduce fails at once and hamax says why, or JAX's
    # heartbeat (10 s here) declares process 1 dead and ends process 0.
    ours = (
        "[process 0/2] train: a collective operation across the processes failed",
        "another process probably died or was killed",
        f"they resume from the last checkpoint in {out}",
    )
    assert all(m in se for m in ours) or (
        "Terminating process because the JAX distributed service detected fatal "
        "errors. This most likely indicates that another task died" in se
    ), se[-3000:]
    assert time.monotonic() - t1 < 10 + 30
    from hamax._io import _checkpoint

    meta = _checkpoint.read_meta(out / "checkpoint.eqx")
    assert (meta["epoch"], meta["batch"]) < (3, 0)  # killed mid-run
    for rc, so, se in finish(launch(env, 2, out, tmp / "resumed")):
        assert rc == 0, se[-3000:]
    for pid in (0, 1):  # bit-identical to the uninterrupted run
        for x, y in zip(params(tmp / "resumed", pid), params(tmp / "two", 0)):
            np.testing.assert_array_equal(x, y)


def test_different_checkpoints_stop_every_process(env, reference):
    # Process 0 finds the reference's final checkpoint; process 1 (as on a host
    # whose --out is not the shared one) finds none: both stop, neither hangs.
    tmp, _ = reference
    outs = [tmp / "ref", tmp / "empty"]
    t0 = time.monotonic()
    runs = finish(cli(env, [["--out", outs[0]], ["--out", outs[1]]]))
    for pid, (rc, so, se) in enumerate(runs):
        assert rc == 1, se[-3000:]
        assert (
            f"hamax train: error: [process {pid}/2] train: the processes found " in se
        )
        assert f"process 0: {tmp / 'ref' / 'checkpoint.eqx'} at epoch 3, batch 0" in se
        assert f"process 1: no checkpoint in {tmp / 'empty'}\n" in se
    # The same checkpoint (none) but another seed on process 1.
    seeds = [["--out", tmp / f"e{i}", "--seed", i + 1] for i in range(2)]
    for pid, (rc, so, se) in enumerate(finish(cli(env, seeds))):
        assert rc == 1, se[-3000:]
        assert f"[process {pid}/2] train: the processes were started with " in se
        assert "process 0: seed=1\n  process 1: seed=2\n" in se
    assert time.monotonic() - t0 < TIMEOUT


# Launch values and their errors, in this (single) process.

NO_ENV = {"JAX_COORDINATOR_ADDRESS": "", "JAX_NUM_PROCESSES": "", "JAX_PROCESS_ID": ""}


def test_launch_values_from_arguments_then_variables():
    env = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": " 4 "}
    got = T.resolve_distributed(process_id=3, environ=env)
    assert (got["coordinator_address"], got["num_processes"]) == ("h:1", 4)
    assert got["process_id"] == 3
    assert got["source"] == {
        "coordinator_address": "JAX_COORDINATOR_ADDRESS",
        "num_processes": "JAX_NUM_PROCESSES",
        "process_id": "argument",
    }
    got = T.resolve_distributed("a:2", 2, environ={**env, "JAX_PROCESS_ID": "1"})
    assert (got["coordinator_address"], got["num_processes"]) == ("a:2", 2)
    assert got["process_id"] == 1 and got["source"]["process_id"] == "JAX_PROCESS_ID"
    none = T.resolve_distributed(environ=NO_ENV)
    assert none["num_processes"] is None and none["source"]["process_id"] == "unset"


@pytest.mark.parametrize(
    "kw, env, match",
    [
        ({}, {"JAX_NUM_PROCESSES": "two"}, "JAX_NUM_PROCESSES='two' is not a whole"),
        (
            {"num_processes": 0},
            {},
            r"`num_processes` must be .* \(from argument\); got 0",
        ),
        (
            {"num_processes": 2, "process_id": 2},
            {},
            r"`process_id` must be .* got 2 with num_processes=2",
        ),
        ({}, {"JAX_PROCESS_ID": "-1"}, r"\(from JAX_PROCESS_ID\); got -1\."),
    ],
)
def test_bad_launch_values(kw, env, match):
    with pytest.raises(ValueError, match=match):
        T.resolve_distributed(**kw, environ={**NO_ENV, **env})


def test_missing_launch_values_are_named(monkeypatch):
    for k in NO_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1")
    with pytest.raises(ValueError) as e:
        T.initialize_distributed(process_id=0)
    msg = str(e.value)
    assert "missing `num_processes` (--num-processes or JAX_NUM_PROCESSES)" in msg
    assert "coordinator_address='127.0.0.1:1' (from JAX_COORDINATOR_ADDRESS)" in msg
    assert "process_id=0 (from argument)" in msg and "SLURM (srun)" in msg
    with pytest.raises(ValueError, match="`heartbeat_timeout` must be a whole"):
        T.initialize_distributed(heartbeat_timeout=0)


def test_single_process_is_the_writer_and_resumes_alone(tmp_path):
    from hamax.training import _distributed as D

    assert T.is_writer() and D.process_prefix() == ""
    run = T.RunDir(tmp_path)
    assert D.agree_on_checkpoint(None, {}, resume=True) is None
    assert D.agree_on_checkpoint(run, {}, resume=True) is None
    run.checkpoint.write_bytes(b"damaged")  # loading it will say so
    assert D.agree_on_checkpoint(run, {}, resume=False) is None
    assert D.agree_on_checkpoint(run, {}, resume=True) == run.checkpoint
    with pytest.raises(KeyError, match="x"):  # one process: errors pass unchanged
        try:
            raise KeyError("x")
        except KeyError as err:
            D.raise_lost_peer(err, tmp_path)
