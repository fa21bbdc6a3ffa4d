import os

import equinox as eqx
import jax.random as jr
import pytest

from hamax import _checkpoint as C, zoo

from .helpers import tiny_ham


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


def test_corrupted_files_are_detected(tmp_path, getkey):
    ham = zoo.make_hn((6,), num_hidden=4, num_labels=2, key=getkey())
    path = tmp_path / "m.eqx"
    C.save(path, ham)
    good = path.read_bytes()
    path.write_bytes(good[:-7])
    with pytest.raises(
        C.CheckpointError,
        match=r"failed its checksum: the file is truncated or corrupted",
    ):
        C.load(path, ham)
    flipped = bytearray(good)
    flipped[-5] ^= 0x10
    path.write_bytes(bytes(flipped))
    with pytest.raises(C.CheckpointError, match=r"failed its checksum"):
        C.load(path, ham)
    path.write_bytes(b"garbage" + good)
    with pytest.raises(
        C.CheckpointError, match=r"is not a hamax checkpoint \(bad magic line\)"
    ):
        C.load(path, ham)
    path.write_bytes(good.replace(b'"version": 1', b'"version": 9'))
    with pytest.raises(
        C.CheckpointError,
        match=r"has checkpoint format version 9, this hamax reads version 1",
    ):
        C.load(path, ham)
    path.write_bytes(good.replace(b'"format"', b'"fxrmat"'))
    with pytest.raises(C.CheckpointError, match=r"has a corrupt header"):
        C.load(path, ham)
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        C.load(tmp_path / "nope.eqx", ham)


def test_mismatched_architecture(tmp_path, getkey):
    C.save(
        tmp_path / "m.eqx",
        zoo.make_hn((6,), num_hidden=4, num_labels=2, key=getkey()),
        meta={"model": "a"},
    )
    other = zoo.make_hn((6,), num_hidden=5, num_labels=2, key=getkey())
    with pytest.raises(
        C.CheckpointError,
        match=r"does not match the given model structure .*changed shape.*\(meta: \{'model': 'a'\}\)",
    ):
        C.load(tmp_path / "m.eqx", other)


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


def test_architecture_description_is_checked(tmp_path, getkey):
    import hamax

    ham = zoo.make_hn((6,), num_hidden=4, num_labels=2, key=getkey())
    hamax.save(tmp_path / "m.eqx", ham, meta={"note": "x"})
    other = zoo.make_hn((7,), num_hidden=4, num_labels=2, key=getkey())
    with pytest.raises(
        hamax.CheckpointError,
        match=r"holds a different architecture than the given model \(differs in neurons\)",
    ):
        hamax.load(tmp_path / "m.eqx", other)
    loaded, meta = hamax.load(tmp_path / "m.eqx", ham)
    assert meta == {"note": "x"} == hamax.read_meta(tmp_path / "m.eqx")
