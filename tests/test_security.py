"""Issue #15: no file a user passes can execute code; run directories are locked."""

import hashlib
import io
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from hamax import data as D
from hamax.data import _cifar
from hamax.data._safe_pickle import UnsafePickleError, restricted_loads
from hamax.training._rundir import RunDir, RunLockedError


class Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def make_archive(path, batches: dict[str, bytes]) -> str:
    """Write a tar.gz laid out like cifar-10-python.tar.gz; return its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    d = {
        b"batch_label": b"synthetic",
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"x.png"] * n,
    }
    return pickle.dumps(d, protocol=4)


NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": Payload(marker), b"labels": []}, protocol=3)
    # The payload is live: plain pickle would run it.
    pickle.loads(pickle.dumps(Payload(tmp_path / "live")))
    assert (tmp_path / "live").exists()
    root = tmp_path / "data"
    root.mkdir()
    blobs = {n: batch(2, i) for i, n in enumerate(NAMES)}
    blobs["data_batch_1"] = evil
    sha = make_archive(root / "cifar-10-python.tar.gz", blobs)
    return root, marker, sha


def test_local_cifar_archive_is_hash_checked_before_parsing(evil):
    root, marker, sha = evil
    for download in (False, True):  # with download, the local copy is used
        with pytest.raises(
            D.ChecksumError,
            match=rf"cifar-10-python.tar.gz has sha256 {sha}, expected "
            rf"{_cifar._SHA256}: the file is corrupt or not the canonical one",
        ):
            D.load_cifar10(root, download=download)
    assert not marker.exists()


def test_restricted_unpickler_refuses_code_even_without_the_hash(evil, monkeypatch):
    root, marker, sha = evil
    monkeypatch.setattr(_cifar, "_SHA256", sha)  # as if the hash check were gone
    with pytest.raises(
        UnsafePickleError,
        match=r"data_batch_1 asks to load the Python object `posix.system`, which a "
        r"CIFAR-10 batch never holds \(allowed: numpy._core.multiarray._reconstruct, "
        r".*\). The file is not a canonical CIFAR-10 batch and may be malicious",
    ):
        D.load_cifar10(root, download=False)
    assert not marker.exists()
    for module, name in [("builtins", "eval"), ("numpy", "load"), ("os", "system")]:
        blob = f"c{module}\n{name}\n.".encode()  # protocol-0 GLOBAL opcode
        with pytest.raises(UnsafePickleError, match=rf"`{module}.{name}`"):
            restricted_loads(blob, name="x")


def test_restricted_unpickler_reads_numpy_batches(tmp_path, monkeypatch):
    blobs = {n: batch(3, i) for i, n in enumerate(NAMES)}
    # The canonical batches were written by NumPy 1, whose rebuilder lives in
    # `numpy.core.multiarray` (protocol 3 spells globals out as text).
    p3 = pickle.dumps(pickle.loads(blobs["test_batch"]), protocol=3)
    old = b"cnumpy._core.multiarray\n_reconstruct\n"
    assert old in p3
    blobs["test_batch"] = p3.replace(old, b"cnumpy.core.multiarray\n_reconstruct\n")
    monkeypatch.setattr(
        _cifar, "_SHA256", make_archive(tmp_path / "cifar-10-python.tar.gz", blobs)
    )
    out = D.load_cifar10(tmp_path, download=False)
    assert out["x_train"].shape == (15, 32, 32, 3) and out["x_test"].shape == (
        3,
        32,
        32,
        3,
    )
    d = pickle.loads(blobs["data_batch_2"])
    np.testing.assert_array_equal(
        out["x_train"][3:6], d[b"data"].reshape(3, 3, 32, 32).transpose(0, 2, 3, 1)
    )
    assert out["y_train"].dtype == np.uint8
    with pytest.raises(
        ValueError, match=r"test_batch is not a readable CIFAR-10 batch"
    ):
        restricted_loads(blobs["test_batch"][:-9], name="test_batch")


def test_damaged_cifar_archives(tmp_path, monkeypatch):
    blobs = {n: batch(1, i) for i, n in enumerate(NAMES[:5])}
    path = tmp_path / "cifar-10-python.tar.gz"
    monkeypatch.setattr(_cifar, "_SHA256", make_archive(path, blobs))
    with pytest.raises(
        ValueError, match=r"lacks the CIFAR-10 batches \['test_batch'\]"
    ):
        D.load_cifar10(tmp_path, download=False)
    blobs["test_batch"] = pickle.dumps({b"data": [1, 2], b"labels": [0]})
    monkeypatch.setattr(_cifar, "_SHA256", make_archive(path, blobs))
    with pytest.raises(
        ValueError, match=r"test_batch is not a CIFAR-10 batch \(expected"
    ):
        D.load_cifar10(tmp_path, download=False)
    path.write_bytes(path.read_bytes()[:50])
    monkeypatch.setattr(
        _cifar, "_SHA256", hashlib.sha256(path.read_bytes()).hexdigest()
    )
    with pytest.raises(ValueError, match=r"is not a readable tar.gz archive"):
        D.load_cifar10(tmp_path, download=False)


CHILD = """
import sys, time
from hamax.training._rundir import RunDir
RunDir(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_run_dir_lock_against_a_live_then_killed_process(tmp_path):
    run = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"
        with pytest.raises(
            RunLockedError,
            match=rf"Run directory {re.escape(str(run))} is in use by process "
            rf"{child.pid} on {re.escape(socket.gethostname())}, started 20.* Wait "
            r"for that run to finish or stop it, or use another output directory",
        ):
            RunDir(run).acquire()
        assert issubclass(RunLockedError, RuntimeError)
    finally:
        child.kill()  # SIGKILL: no cleanup, the lock file stays behind
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert json.loads((run / "run.lock").read_text())["pid"] == child.pid
    (run / ".checkpoint.eqx.abc123.tmp").write_bytes(b"half-written")
    with pytest.warns(
        UserWarning,
        match=rf"taking over the stale lock of process {child.pid} on .* which is no "
        "longer running",
    ):
        removed = (taker := RunDir(run)).acquire()
    assert [p.name for p in removed] == [".checkpoint.eqx.abc123.tmp"]
    assert json.loads((run / "run.lock").read_text())["pid"] == os.getpid()
    taker.release()


def test_run_dir_lock_in_process_release_and_paths(tmp_path):
    a, b = RunDir(tmp_path / "r"), RunDir(tmp_path / "r")
    with a.lock():
        assert a.locked and (tmp_path / "r" / "run.lock").exists()
        with pytest.raises(RunLockedError, match=rf"in use by process {os.getpid()}"):
            b.acquire()
        with pytest.raises(RuntimeError, match=r"already holds its lock; release\(\)"):
            a.acquire()
    assert not a.locked and not (tmp_path / "r" / "run.lock").exists()
    with b.lock():  # free again, no warning
        pass
    assert (a.checkpoint.name, a.metrics_json.name, a.metrics_csv.name) == (
        "checkpoint.eqx",
        "metrics.json",
        "metrics.csv",
    )
    assert a.settings == tmp_path / "r" / "settings.json"


def test_run_dir_not_writable_is_refused_up_front(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(
        PermissionError,
        match=rf"Run directory {re.escape(str(tmp_path / 'file' / 'run'))} is not "
        r"writable \(.*\). Choose another output directory \(CLI: --out\)",
    ):
        RunDir(tmp_path / "file" / "run").acquire()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            # Root ignores permission bits: make the write fail as it would for
            # any other user, so the check is exercised either way.
            import tempfile

            def denied(*a, **k):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(tempfile, "TemporaryFile", denied)
        with pytest.raises(
            PermissionError, match=r"is not writable \(Permission denied\)"
        ):
            RunDir(ro).check_writable()
    finally:
        ro.chmod(0o700)


def test_run_dir_settings(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_settings() is None
    saved = {"seed": 0, "batch_size": 400, "lr": 1e-3, "shape": (28, 28)}
    run.write_settings(saved)
    assert run.read_settings() == {**saved, "shape": [28, 28]}
    assert run.check_settings(run.read_settings() or {}, saved) == []
    nested = {"objective": {"dt": 0.4, "adjoint": {"class": "Remat", "every": 1}}}
    reordered = {"objective": {"adjoint": {"every": 1, "class": "Remat"}, "dt": 0.4}}
    assert run.check_settings(nested, reordered) == []
    given = {"seed": 1, "batch_size": 100, "lr": 1e-3, "shape": [28, 28], "new": 2}
    with pytest.raises(
        ValueError,
        match=r"(?s)was started with other settings; resuming would mix them:\n  "
        r"batch_size: 400 -> 100\n  new: '<unset>' -> 2\n  seed: 0 -> 1\nResume with "
        r"the saved settings, .* \(CLI: --force-resume\)",
    ):
        run.check_settings(saved, given, force=False)
    assert run.check_settings(saved, given, force=True) == [
        "batch_size: 400 -> 100",
        "new: '<unset>' -> 2",
        "seed: 0 -> 1",
    ]
    run.settings.write_text("[1, 2]")
    with pytest.raises(
        ValueError, match=r"settings.json is damaged \(not a JSON object\)"
    ):
        run.read_settings()
