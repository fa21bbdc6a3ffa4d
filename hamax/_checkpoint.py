import hashlib
import io
import json
import pathlib
from typing import Any

import equinox as eqx

from .data._download import atomic_write_bytes


_MAGIC = b"HAMAX-CHECKPOINT\n"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, or does not match the model."""


def describe(tree: Any) -> dict | None:
    """The architecture of the HAM in `tree` (a HAM, or a tuple starting with one):
    layer shapes, Lagrangians and time constants, synapse types, connections."""
    from ._ham import HAM

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


def save(path: str | pathlib.Path, tree: Any, *, meta: dict | None = None) -> None:
    """Save a pytree (a HAM, or a training state holding one) with metadata.

    The file is a magic line, one JSON header line (format version, sha256 of the
    payload, `meta`), then `eqx.tree_serialise_leaves` bytes. It is written to a
    temporary file and renamed into place, so an interrupted save never destroys
    the previous checkpoint.

    **Arguments:**

    - `path`: destination file.
    - `tree`: any pytree of arrays (non-array leaves are not stored).
    - `meta`: JSON-serialisable metadata, e.g. the zoo model name and
      hyperparameters needed to rebuild the architecture, the epoch.
    """
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    payload = buf.getvalue()
    header = {
        "format": "hamax-checkpoint",
        "version": FORMAT_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "meta": meta or {},
        "architecture": describe(tree),
    }
    line = json.dumps(header, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(pathlib.Path(path), _MAGIC + line + payload)


def read_meta(path: str | pathlib.Path) -> dict:
    """The metadata of a checkpoint, after checking its integrity."""
    return _read(pathlib.Path(path))[0]["meta"]


def _read(path: pathlib.Path) -> tuple[dict, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"Checkpoint {path} does not exist.")
    data = path.read_bytes()
    if not data.startswith(_MAGIC):
        raise CheckpointError(f"{path} is not a hamax checkpoint (bad magic line).")
    rest = data[len(_MAGIC) :]
    nl = rest.find(b"\n")
    try:
        header = json.loads(rest[:nl])
        assert isinstance(header, dict) and header["format"] == "hamax-checkpoint"
    except Exception:
        raise CheckpointError(
            f"{path} has a corrupt header; the file is damaged."
        ) from None
    if header.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {header.get('version')}, this hamax "
            f"reads version {FORMAT_VERSION}."
        )
    payload = rest[nl + 1 :]
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise CheckpointError(
            f"{path} failed its checksum: the file is truncated or corrupted. Use an "
            "earlier checkpoint or retrain."
        )
    return header, payload


def load(path: str | pathlib.Path, like: Any) -> tuple[Any, dict]:
    """Load a checkpoint into the structure of `like`; returns `(tree, meta)`.

    `like` is a pytree of the same architecture (e.g. a freshly built model), whose
    array leaves are replaced by the stored ones.

    **Raises:** `CheckpointError` for a corrupt, truncated or mismatched file.
    """
    path = pathlib.Path(path)
    header, payload = _read(path)
    stored, given = header.get("architecture"), describe(like)
    if stored is not None and given is not None and stored != given:
        diff = [k for k in stored if stored[k] != given.get(k)]
        raise CheckpointError(
            f"{path} holds a different architecture than the given model (differs "
            f"in {', '.join(diff)}): stored {stored}. Build that architecture to "
            "load it."
        )
    try:
        tree = eqx.tree_deserialise_leaves(io.BytesIO(payload), like)
    except Exception as e:
        raise CheckpointError(
            f"{path} does not match the given model structure ({type(e).__name__}: "
            f"{e}). Build the same architecture (meta: {header['meta']}) to load it."
        ) from None
    return tree, header["meta"]
