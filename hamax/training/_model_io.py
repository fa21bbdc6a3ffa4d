import pathlib
from typing import Any

from .._io import _checkpoint
from .._io._checkpoint import CheckpointError
from .._io._spec import from_spec
from ..zoo import CLASSIFIERS
from ._step import adamw, init_opt_state
from ._zoo import build_classifier


def _resolve(path: str | pathlib.Path) -> pathlib.Path:
    p = pathlib.Path(path).expanduser()
    if p.is_dir():
        for name in ("model.eqx", "checkpoint.eqx"):
            if (p / name).exists():
                return p / name
        raise FileNotFoundError(
            f"{p} is a directory without a model (no model.eqx or checkpoint.eqx); "
            "give the run directory that `hamax train` (or hamax.training.train with "
            "run=RunDir(...)) wrote, or the .eqx file itself."
        )
    if not p.exists():
        raise FileNotFoundError(
            f"{p} does not exist; give a run directory or a .eqx file written by hamax."
        )
    return p


def load_run(path: str | pathlib.Path) -> tuple[Any, dict]:
    """Load a trained model and its metadata from a run directory or a `.eqx`
    file; returns `(ham, meta)`.

    A run directory written by [`hamax.training.train`][] holds `model.eqx`, the
    model with its architecture stored as data, so any HAM trained this way is
    rebuilt without code; a zoo model is also rebuilt from its name. `meta`
    holds the training metadata (epoch, objective, zoo model name, ...).

    **Raises:** `FileNotFoundError` for a missing file or a directory without a
    model; `CheckpointError` for a damaged file or one that does not say how to
    rebuild its model.
    """
    file = _resolve(path)
    header = _checkpoint.read_header(file)
    meta = header["meta"]
    ham = _skeleton(file, header)
    # A training checkpoint stores (model, optimiser state): more arrays than
    # the model alone.
    training_state = len(header["leaves"]) > len(_checkpoint._leaves(ham))
    if training_state:
        like: Any = (ham, _opt_skeleton(file, ham, meta))
        (ham, _), meta = _checkpoint.load(file, like)
    else:
        ham, meta = _checkpoint.load(file, ham)
    return ham, meta


def load_model(path: str | pathlib.Path) -> Any:
    """The trained HAM in a run directory or `.eqx` file (see
    [`hamax.load_run`][], which also returns its metadata)."""
    return load_run(path)[0]


def _skeleton(file: pathlib.Path, header: dict) -> Any:
    spec = header.get("spec")
    if spec is not None:
        try:
            return from_spec(spec)
        except ValueError as e:
            raise CheckpointError(f"{file}: cannot rebuild its model: {e}") from None
    meta = header["meta"]
    model = meta.get("model")
    if model in CLASSIFIERS:
        return build_classifier(model, meta.get("hyperparams"), seed=0)
    raise CheckpointError(
        f"{file} does not store its architecture (no spec) and names no zoo model "
        f"(meta model: {model!r}); load it with hamax.load(path, like=<a model of "
        "the same architecture>)."
    )


def _opt_skeleton(file: pathlib.Path, ham, meta: dict) -> Any:
    settings = meta.get("settings", {})
    if settings.get("optimizer", "adamw") != "adamw":
        raise CheckpointError(
            f"{file} is a training checkpoint made with a custom optimiser "
            f"({settings.get('optimizer')}); load the model from model.eqx in the "
            "same directory (written at the end of each epoch)."
        )
    return init_opt_state(ham, adamw())
