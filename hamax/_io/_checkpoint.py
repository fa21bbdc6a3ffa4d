import hashlib
import io
import json
import math
import pathlib
from typing import Any

import equinox as eqx
import jax
import jax.tree_util as jtu
import numpy as np

from .._ham import HAM
from ._atomic import atomic_write_bytes


_MAGIC = b"HAMAX-CHECKPOINT\n"
_DIGEST = b"sha256:"
FORMAT_VERSION = 2
# Header keys and the JSON types they must have; `spec` may be any JSON value.
_HEADER_TYPES: dict[str, type | tuple[type, ...]] = dict(
    format=str, version=int, meta=dict, leaves=list, payload_bytes=int
) | {"architecture": (dict, type(None))}


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, or does not match the model."""


def describe(tree: Any) -> dict | None:
    """The architecture of the HAM in `tree` (a HAM, or a tuple starting with one):
    layer shapes, Lagrangians and time constants, synapse types, connections."""
    ham = tree[0] if isinstance(tree, tuple) and tree else tree
    if not isinstance(ham, HAM):
        return None
    return {
        "neurons": {
            k: [type(v.lagrangian).__name__, list(v.shape), v.tau]
            for k, v in sorted(ham.neurons.items())
        },
        "synapses": {k: type(v).__name__ for k, v in sorted(ham.synapses.items())},
        "connections": [[list(n), s] for n, s in ham.connections],
    }


def _leaf_spec(x: Any) -> list | None:
    """`[shape, dtype]` of a leaf that `eqx.tree_serialise_leaves` stores, else None.
    (A Python scalar's stored dtype depends on x64: it is named by its type.)"""
    if isinstance(x, jax.Array | np.ndarray | jax.ShapeDtypeStruct):
        return [list(x.shape), str(x.dtype)]
    if isinstance(x, np.generic | bool | int | float | complex):
        return [[], type(x).__name__]
    return None


def _leaves(tree: Any) -> list[tuple[str, list]]:
    """(path, [shape, dtype]) of each stored leaf, in serialisation order."""
    flat = jtu.tree_flatten_with_path(tree)[0]
    specs = ((jtu.keystr(p), _leaf_spec(x)) for p, x in flat)
    return [(p, s) for p, s in specs if s is not None]


def save(
    path: str | pathlib.Path,
    tree: Any,
    *,
    meta: dict | None = None,
    spec: Any = None,
) -> None:
    """Save a pytree (a HAM, or a training state holding one) with metadata.

    The file is a magic line, a JSON header line (format version, `meta`, `spec`,
    architecture, shape and dtype of every array), a `sha256:` line over all
    that and the `eqx.tree_serialise_leaves` payload, then the payload. It is
    written to a temporary file renamed into place: an interrupted save never
    destroys the previous checkpoint.

    **Arguments:**

    - `path`: destination file.
    - `tree`: any pytree of arrays (non-array leaves are not stored).
    - `meta`: JSON-serialisable metadata, e.g. the zoo model name and
      hyperparameters needed to rebuild the architecture, the epoch.
    - `spec`: optional JSON-serialisable description of the model (stored in the
      header and covered by the checksum; `read_header` returns it).
    """
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(
            f"hamax.save expected `meta` to be a dict or None, got {meta!r:.80}. "
            "Pass e.g. meta={'epoch': 3}."
        )
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    payload = buf.getvalue()
    header: dict[str, Any] = {
        "format": "hamax-checkpoint",
        "version": FORMAT_VERSION,
        "meta": meta or {},
        "architecture": describe(tree),
        "leaves": [s for _, s in _leaves(tree)],
        "payload_bytes": len(payload),
    }
    if spec is not None:
        header["spec"] = spec
    try:
        line = json.dumps(header, sort_keys=True, allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"hamax.save expected `meta` and `spec` to be JSON-serialisable (plain "
            f"dicts, lists, strings, finite numbers), got an error: {e}. Convert "
            "arrays with .tolist() and non-finite floats to strings."
        ) from None
    digest = hashlib.sha256(_MAGIC + line + payload).hexdigest()
    data = _MAGIC + line + _DIGEST + digest.encode() + b"\n" + payload
    atomic_write_bytes(pathlib.Path(path), data)


def read_meta(path: str | pathlib.Path) -> dict:
    """The metadata of a checkpoint, after checking its integrity."""
    return _read(pathlib.Path(path))[0]["meta"]


def read_header(path: str | pathlib.Path) -> dict:
    """The verified header of a checkpoint: `format`, `version`, `meta`,
    `architecture`, `leaves` (shape and dtype of each stored array),
    `payload_bytes`, and `spec` when `save` was given one.

    **Raises:** `CheckpointError` for a corrupt, truncated or malformed file.
    """
    return _read(pathlib.Path(path))[0]


def _version_error(path: pathlib.Path, header_line: bytes) -> CheckpointError:
    # Only reached when the checksum line is missing: an older format, or damage.
    try:
        v = json.loads(header_line).get("version")
    except Exception:  # not JSON, or not an object: damage
        v = None
    if type(v) is int and v < FORMAT_VERSION:
        return CheckpointError(
            f"{path} was written by an older hamax (format {v}); this hamax reads "
            f"format {FORMAT_VERSION}. Retrain, or load it with hamax <= 0.1."
        )
    if type(v) is int:
        return CheckpointError(
            f"{path} has checkpoint format {v}, newer than this hamax reads (format "
            f"{FORMAT_VERSION}); upgrade hamax to load it."
        )
    return CheckpointError(
        f"{path} has a corrupt header (no checksum line); the file is damaged. Use "
        "an earlier checkpoint or retrain."
    )


def _read(path: pathlib.Path) -> tuple[dict, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"Checkpoint {path} does not exist.")
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory, not a checkpoint file; pass the checkpoint "
            f"inside it, e.g. {path / 'checkpoint.eqx'}."
        )
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise CheckpointError(f"{path} is not a hamax checkpoint (bad magic line).")
    end = data.find(b"\n", len(_MAGIC))
    line = data[len(_MAGIC) : end + 1]
    rest = data[end + 1 :]
    n = len(_DIGEST) + 64
    if end < 0 or not rest.startswith(_DIGEST) or rest[n : n + 1] != b"\n":
        raise _version_error(path, line)
    digest, payload = rest[len(_DIGEST) : n], rest[n + 1 :]
    if hashlib.sha256(_MAGIC + line + payload).hexdigest().encode() != digest:
        raise CheckpointError(
            f"{path} failed its checksum: the file is truncated or corrupted. Use an "
            "earlier checkpoint or retrain."
        )
    return _check_header(path, line, len(payload)), payload


def _check_header(path: pathlib.Path, line: bytes, payload_bytes: int) -> dict:
    # The checksum matched, so this is what a writer wrote; still, a buggy or
    # forged writer must get a CheckpointError, never a KeyError or TypeError.
    def bad(what: str) -> CheckpointError:
        return CheckpointError(
            f"{path} has a malformed header ({what}) although its checksum matches: "
            "it was not written by hamax.save. Use an earlier checkpoint or retrain."
        )

    try:
        header = json.loads(line)
    except Exception as e:  # bad JSON, too-long integers, too deep nesting
        raise bad(f"not JSON: {type(e).__name__}") from None
    if not isinstance(header, dict):
        raise bad(f"a {type(header).__name__}, not an object")
    for key, types in _HEADER_TYPES.items():
        if key not in header:
            raise bad(f"missing key {key!r}")
        value = header[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise bad(f"{key!r} is {value!r:.80}")
    if header["format"] != "hamax-checkpoint":
        raise bad(f"format {header['format']!r:.80}")
    if header["version"] != FORMAT_VERSION:
        raise bad(f"version {header['version']} in a format-2 file")
    if header["payload_bytes"] != payload_bytes:
        raise bad(f"payload_bytes {header['payload_bytes']} != {payload_bytes}")
    need = 0
    for i, leaf in enumerate(header["leaves"]):
        ok = isinstance(leaf, list) and len(leaf) == 2 and isinstance(leaf[1], str)
        shape = leaf[0] if ok else None
        if not (
            isinstance(shape, list)
            and all(type(d) is int and 0 <= d < 2**62 for d in shape)
        ):
            raise bad(f"leaf {i} is {leaf!r:.80}")
        need += math.prod(shape)
    # Every stored element takes at least one byte of payload: a header claiming
    # more is refused before anything is allocated.
    if need > payload_bytes:
        raise bad(f"its leaves need {need} bytes, the payload has {payload_bytes}")
    return header


def _check_npy(f: io.BytesIO, want: list, where: str) -> None:
    # Read the .npy header of the next leaf and compare it with the model before
    # NumPy allocates the array it describes.
    pos, fmt = f.tell(), np.lib.format
    try:
        v1 = fmt.read_magic(f) == (1, 0)
        read = fmt.read_array_header_1_0 if v1 else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
    except Exception as e:
        raise _Mismatch(f"{where}: damaged array header ({e})") from None
    f.seek(pos)
    # A Python scalar leaf is stored as a 0-d array of a dtype that depends on x64.
    scalar = want[1] in ("bool", "int", "float", "complex")
    _compare(where, [list(shape), want[1] if scalar else str(dtype)], want)


def _compare(where: str, got: list, want: list) -> None:
    if got != want:
        raise _Mismatch(
            f"{where} is stored as shape {tuple(got[0])} {got[1]}, the model has "
            f"shape {tuple(want[0])} {want[1]}"
        )


class _Mismatch(Exception):
    """A stored array differs from the model's (caught in `load`)."""


def load(path: str | pathlib.Path, like: Any) -> tuple[Any, dict]:
    """Load a checkpoint into the structure of `like`; returns `(tree, meta)`.

    `like` is a pytree of the same architecture (e.g. a freshly built model), whose
    array leaves are replaced by the stored ones. The architecture, the shape
    and dtype of every array are compared with `like` before anything is
    allocated.

    **Raises:** `CheckpointError` for a corrupt, truncated, malformed or
    mismatched file.
    """
    path = pathlib.Path(path)
    header, payload = _read(path)
    meta = header["meta"]
    stored, given = header["architecture"], describe(like)
    if stored is not None and given is not None and stored != given:
        diff = [k for k in stored if stored[k] != given.get(k)] or ["keys"]
        raise CheckpointError(
            f"{path} holds a different architecture than the given model (differs "
            f"in {', '.join(diff)}): stored {stored}. Build that architecture to "
            "load it."
        )
    want, got = _leaves(like), header["leaves"]
    specs = iter(want)

    def read_leaf(f, x):
        if _leaf_spec(x) is not None:
            where, spec = next(specs)
            _check_npy(f, spec, where)
        return eqx.default_deserialise_filter_spec(f, x)

    try:
        if len(want) != len(got):
            raise _Mismatch(f"it stores {len(got)} arrays, the model has {len(want)}")
        for (where, spec), g in zip(want, got):
            _compare(where, g, spec)
        tree = eqx.tree_deserialise_leaves(io.BytesIO(payload), like, read_leaf)
    except Exception as e:
        inner: BaseException | None = e  # equinox wraps it: find ours in the chain
        while inner is not None and not isinstance(inner, _Mismatch):
            inner = inner.__cause__ or inner.__context__
        why = str(inner) if inner is not None else f"{type(e).__name__}: {e}"
        raise CheckpointError(
            f"{path} does not match the given model structure: {why}. Build the "
            f"same architecture (meta: {meta}) to load it."
        ) from None
    return tree, meta
