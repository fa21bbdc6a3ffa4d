import hashlib
import io
import json
import os
import stat

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hamax import zoo
from hamax._io import _checkpoint as C
from hamax._io._atomic import clean_stale_tmp

from .helpers import tiny_ham


def split(data: bytes) -> tuple[bytes, bytes]:
    """(header line, payload) of a format-2 file."""
    rest = data[len(C._MAGIC) :]
    nl = rest.index(b"\n")
    return rest[: nl + 1], rest[nl + 1 + len(C._DIGEST) + 65 :]


def resign(line: bytes, payload: bytes) -> bytes:
    """A file with this header line and payload and a *valid* checksum, as a buggy
    or forged writer would produce."""
    digest = hashlib.sha256(C._MAGIC + line + payload).hexdigest().encode()
    return C._MAGIC + line + C._DIGEST + digest + b"\n" + payload


def small_hn(key, hidden=4):
    return zoo.make_hn((6,), num_hidden=hidden, num_labels=2, key=key)


def test_round_trip(tmp_path, getkey):
    ham = tiny_ham(getkey())
    C.save(tmp_path / "m.eqx", ham, meta={"model": "tiny", "epoch": 3})
    like = tiny_ham(getkey())
    loaded, meta = C.load(tmp_path / "m.eqx", like)
    # (the user-written synapse function is rebuilt by `like`, so compare arrays)
    assert eqx.tree_equal(
        eqx.filter(loaded, eqx.is_array), eqx.filter(ham, eqx.is_array)
    )
    assert meta == {"model": "tiny", "epoch": 3} == C.read_meta(tmp_path / "m.eqx")


def test_round_trip_with_python_scalars_and_spec(tmp_path):
    tree = {"w": jnp.arange(3.0), "n": 3, "lr": 0.5, "np": np.ones((2,), np.int32)}
    spec = {"layers": [{"shape": [3], "kind": "relu"}], "note": "é"}
    C.save(tmp_path / "t.eqx", tree, meta={"a": 1}, spec=spec)
    like = {"w": jnp.zeros(3), "n": 0, "lr": 0.0, "np": np.zeros((2,), np.int32)}
    out, meta = C.load(tmp_path / "t.eqx", like)
    assert out["n"] == 3 and out["lr"] == 0.5 and meta == {"a": 1}
    np.testing.assert_array_equal(out["w"], tree["w"])
    header = C.read_header(tmp_path / "t.eqx")
    assert header["spec"] == spec and header["version"] == C.FORMAT_VERSION == 2
    assert header["leaves"][0] == [[], "float"]  # sorted keys: lr, n, np, w
    C.save(tmp_path / "u.eqx", tree)
    assert "spec" not in C.read_header(tmp_path / "u.eqx")


def test_corrupted_files_are_detected(tmp_path, getkey):
    ham = small_hn(getkey())
    path = tmp_path / "m.eqx"
    C.save(path, ham)
    good = path.read_bytes()
    path.write_bytes(good[:-7])
    with pytest.raises(
        C.CheckpointError,
        match=r"failed its checksum: the file is truncated or corrupted",
    ):
        C.load(path, ham)
    for where in (-5, len(C._MAGIC) + 3):  # the payload, then the header
        flipped = bytearray(good)
        flipped[where] ^= 0x10
        path.write_bytes(bytes(flipped))
        with pytest.raises(C.CheckpointError, match=r"failed its checksum"):
            C.load(path, ham)
    path.write_bytes(b"garbage" + good)
    with pytest.raises(
        C.CheckpointError, match=r"is not a hamax checkpoint \(bad magic line\)"
    ):
        C.load(path, ham)
    path.write_bytes(good[: len(C._MAGIC) + 20])
    with pytest.raises(C.CheckpointError, match=r"has a corrupt header \(no checksum"):
        C.load(path, ham)
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        C.load(tmp_path / "nope.eqx", ham)
    with pytest.raises(
        C.CheckpointError,
        match=r"is a directory, not a checkpoint file; pass .*checkpoint.eqx",
    ):
        C.read_meta(tmp_path)


def test_edited_header_fails_the_checksum(tmp_path, getkey):
    # Issue #15: the header used to lie outside the checksum; an edited shape made
    # `load` allocate gigabytes. Now any edit is a checksum failure.
    ham = small_hn(getkey())
    path = tmp_path / "m.eqx"
    C.save(path, ham, meta={"epoch": 1})
    good = path.read_bytes()
    path.write_bytes(good.replace(b'"epoch": 1', b'"epoch": 7'))
    with pytest.raises(C.CheckpointError, match=r"failed its checksum"):
        C.read_meta(path)
    path.write_bytes(good.replace(b"[6, 1, 4]", b"[60000, 1, 40000]"))
    with pytest.raises(C.CheckpointError, match=r"failed its checksum"):
        C.load(path, ham)


def test_old_and_new_format_versions(tmp_path, getkey):
    ham = small_hn(getkey())
    path = tmp_path / "m.eqx"
    for version, match in [
        (
            1,
            r"was written by an older hamax \(format 1\); this hamax reads format 2"
            r". Retrain, or load it with hamax <= 0.1",
        ),
        (
            9,
            r"has checkpoint format 9, newer than this hamax reads \(format 2\); "
            r"upgrade hamax",
        ),
    ]:
        # The format-1 layout: magic, a JSON line with the payload's sha256, payload.
        payload = b"\x93NUMPY..."
        header = {
            "format": "hamax-checkpoint",
            "version": version,
            "meta": {},
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        path.write_bytes(C._MAGIC + json.dumps(header).encode() + b"\n" + payload)
        with pytest.raises(C.CheckpointError, match=match):
            C.load(path, ham)


def test_mismatched_architecture(tmp_path, getkey):
    C.save(tmp_path / "m.eqx", small_hn(getkey()), meta={"model": "a"})
    other = small_hn(getkey(), hidden=5)
    with pytest.raises(
        C.CheckpointError,
        match=r"does not match the given model structure: \.synapses\['memories'\]"
        r"\.Ws\[0\] is stored as shape \(6, 1, 4\) float\d+, the model has shape "
        r"\(6, 1, 5\) float\d+. Build the same architecture \(meta: \{'model': 'a'\}\)",
    ):
        C.load(tmp_path / "m.eqx", other)
    with pytest.raises(
        C.CheckpointError, match=r"it stores \d+ arrays, the model has 1"
    ):
        C.load(tmp_path / "m.eqx", {"w": jnp.zeros(3)})


def test_architecture_description_is_checked(tmp_path, getkey):
    import hamax

    ham = small_hn(getkey())
    hamax.save(tmp_path / "m.eqx", ham, meta={"note": "x"})
    other = zoo.make_hn((7,), num_hidden=4, num_labels=2, key=getkey())
    with pytest.raises(
        hamax.CheckpointError,
        match=r"holds a different architecture than the given model \(differs in neurons\)",
    ):
        hamax.load(tmp_path / "m.eqx", other)
    loaded, meta = hamax.load(tmp_path / "m.eqx", ham)
    assert meta == {"note": "x"} == hamax.read_meta(tmp_path / "m.eqx")


def test_forged_payload_is_refused_before_allocation(tmp_path, monkeypatch):
    # A forger can recompute the sha256 (it is not a signature): the array headers
    # inside the payload are still compared with the model before NumPy allocates.
    path = tmp_path / "m.eqx"
    C.save(path, {"w": jnp.zeros((2, 3), jnp.float32)})
    line, payload = split(path.read_bytes())
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": (200000, 300000)}
    )
    huge = buf.getvalue() + b"\0" * 24
    line_huge = line.replace(
        f'"payload_bytes": {len(payload)}'.encode(),
        f'"payload_bytes": {len(huge)}'.encode(),
    )
    path.write_bytes(resign(line_huge, huge))
    monkeypatch.setattr(np.lib.format, "read_array", None)  # would allocate
    with pytest.raises(
        C.CheckpointError,
        match=r"\['w'\] is stored as shape \(200000, 300000\) float32, the model has "
        r"shape \(2, 3\) float32",
    ):
        C.load(path, {"w": jnp.zeros((2, 3), jnp.float32)})
    line2 = line.replace(b"[2, 3]", b"[200000, 300000]")
    path.write_bytes(resign(line2, payload))
    with pytest.raises(
        C.CheckpointError,
        match=r"malformed header \(its leaves need 60000000000 bytes, the payload has",
    ):
        C.load(path, {"w": jnp.zeros((2, 3), jnp.float32)})


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda c: (
        st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3)
    ),
    max_leaves=6,
)
KEYS = ["format", "version", "meta", "architecture", "leaves", "payload_bytes", "spec"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    edit=st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(KEYS), st.none()),
        st.tuples(st.just("set"), st.sampled_from(KEYS), JSON),
        st.tuples(
            st.just("set"),
            st.sampled_from(["version", "payload_bytes"]),
            st.integers(min_value=-(10**30), max_value=10**30),
        ),
        st.tuples(
            st.just("leaf"),
            st.integers(0, 40),
            st.lists(st.integers(-(10**20), 10**20), max_size=4) | JSON,
        ),
        st.tuples(
            st.just("bytes"), st.integers(0, 400), st.binary(min_size=1, max_size=4)
        ),
    ),
    resigned=st.booleans(),
)
def test_fuzzed_headers_give_checkpoint_error(tmp_path_factory, edit, resigned):
    path = tmp_path_factory.mktemp("fuzz") / "m.eqx"
    if not FUZZ_BASE:
        C.save(path, small_hn(jr.key(0)), meta={"epoch": 2})
        FUZZ_BASE.append(path.read_bytes())
    line, payload = split(FUZZ_BASE[0])
    header = json.loads(line)
    kind, key, value = edit
    if kind == "drop":
        header.pop(key, None)
    elif kind == "set":
        header[key] = value
    elif kind == "leaf":
        header["leaves"][key % len(header["leaves"])][0] = value
    if kind == "bytes":
        i = key % (len(line) - 1)
        new = line[:i] + value + line[i + len(value) :]
    else:
        new = json.dumps(header).encode() + b"\n"
    if (
        new == line
        or (kind == "set" and key == "spec")
        or (kind == "drop" and key == "spec")
    ):
        return  # no change, or a change that a valid file may hold
    path.write_bytes(
        resign(new, payload)
        if resigned
        else C._MAGIC + new + FUZZ_BASE[0][len(C._MAGIC) + len(line) :]
    )
    try:
        C.load(path, small_hn(jr.key(0)))
    except C.CheckpointError as e:
        assert str(path) in str(e)
        if not resigned:
            assert "failed its checksum" in str(e) or "corrupt header" in str(e)
    else:
        # Only an edit that leaves a valid header may load (e.g. another meta).
        assert resigned and kind in ("set", "bytes"), edit


FUZZ_BASE: list[bytes] = []


def test_save_is_atomic(tmp_path, getkey, monkeypatch):
    ham = tiny_ham(getkey())
    path = tmp_path / "m.eqx"
    C.save(path, ham, meta={"v": 1})
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        C.save(path, tiny_ham(jr.key(9)), meta={"v": 2})
    assert path.read_bytes() == before  # the old checkpoint survives
    assert [p.name for p in tmp_path.iterdir()] == ["m.eqx"]  # no temp files left


def test_files_get_the_umask_and_stale_tmp_files_are_cleaned(tmp_path):
    old = os.umask(0o027)
    try:
        C.save(tmp_path / "a.eqx", {"w": jnp.zeros(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.eqx").stat().st_mode) == 0o640
    C.save(tmp_path / "b.eqx", {"w": jnp.zeros(2)})
    assert stat.S_IMODE((tmp_path / "b.eqx").stat().st_mode) == 0o666 & ~old
    stale = [tmp_path / ".a.eqx.k3j_x.tmp", tmp_path / ".metrics.json.abc.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    (tmp_path / "keep.tmp").write_bytes(b"not ours")
    assert sorted(clean_stale_tmp(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.eqx", "b.eqx", "keep.tmp"]
    assert clean_stale_tmp(tmp_path / "missing") == []


def test_save_rejects_bad_meta(tmp_path):
    with pytest.raises(
        ValueError, match=r"expected `meta` to be a dict or None, got \[1\]"
    ):
        # (unwrapped: the test suite's runtime type checker would refuse it first)
        save = getattr(C.save, "__wrapped__", C.save)
        save(tmp_path / "m.eqx", {"w": jnp.zeros(2)}, meta=[1])  # type: ignore
    with pytest.raises(
        ValueError, match=r"expected `meta` and `spec` to be JSON-serialisable"
    ):
        C.save(tmp_path / "m.eqx", {"w": jnp.zeros(2)}, meta={"x": object()})
    assert not list(tmp_path.iterdir())
