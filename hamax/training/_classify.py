import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._ham import HAM
from ..lagrangians import Softmax


# Per-dataset pixel statistics (of the training sets) used to standardise images.
STATS = {
    "mnist": (np.array([0.1307]), np.array([0.3081])),
    "cifar10": (np.array([0.4914, 0.4822, 0.4465]), np.array([0.2470, 0.2435, 0.2616])),
}


def standardize(images: np.ndarray, dataset: str) -> np.ndarray:
    """Standardise raw pixels with a dataset's training-set mean and std.

    **Arguments:**

    - `images`: raw pixels `(n, h, w)` or `(n, h, w, c)`, with values in 0-255
      (uint8, as [`hamax.data.load_mnist`][] and [`hamax.data.load_cifar10`][]
      return them, or any integer or float array in that range).
    - `dataset`: `"mnist"` (one channel) or `"cifar10"` (three channels).

    **Returns:**

    float32 `(n, h, w, c)`: `(images / 255 - mean) / std`, per channel.

    Raises `ValueError` for an unknown dataset, a wrong number of dimensions or
    channels, NaN or inf, values outside 0-255, and float images already scaled
    to [0, 1] (they would be read as nearly black): multiply those by 255 first.
    """
    if dataset not in STATS:
        raise ValueError(
            f"standardize: unknown dataset {dataset!r}; the known ones are "
            f"{sorted(STATS)}. For another dataset, standardise the images yourself."
        )
    mean, std = STATS[dataset]
    x = np.asarray(images)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(
            f"standardize: images have dtype {x.dtype}; expected raw pixels as "
            "uint8 (or any integer or float array) with values in 0-255."
        )
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != len(mean):
        c = len(mean)
        fit = " or (n, h, w, 1)" if c == 1 else f" with a last axis of {c}"
        raise ValueError(
            f"standardize: images of shape {np.shape(images)} do not fit {dataset!r}, "
            f"which has {len(mean)} channel(s): pass (n, h, w)"
            f"{fit} (channels last)."
        )
    if x.size:
        if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
            raise ValueError("standardize: images contain NaN or inf.")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 255:
            raise ValueError(
                f"standardize: pixel values span [{lo:g}, {hi:g}]; expected raw "
                "pixels in 0-255. Images that are already standardised need no "
                "second standardisation."
            )
        if np.issubdtype(x.dtype, np.floating) and hi <= 1.0 and hi > 0:
            raise ValueError(
                f"standardize: float images with values in [{lo:g}, {hi:g}] look "
                "already scaled to [0, 1], and would be read as nearly black "
                "pixels of 0-255: pass `images * 255` (or the uint8 originals)."
            )
    x = x.astype(np.float32) / 255.0
    return ((x - mean) / std).astype(np.float32)


def log_probs(
    ham: HAM, label: str, x_label: Float[Array, "n k"]
) -> Float[Array, "n k"]:
    """Log class probabilities read from the label layer: log-softmax for a softmax
    layer (stable), else the log of the activations."""
    lag = ham.neurons[label].lagrangian
    if isinstance(lag, Softmax):
        return jax.nn.log_softmax(lag.resolved().beta * x_label, axis=-1)
    g = jax.vmap(ham.neurons[label].activation)(x_label)
    return jnp.log(jnp.clip(g, jnp.finfo(g.dtype).tiny, None))


def cross_entropy(
    logp: Float[Array, "n k"], labels: Int[Array, " n"]
) -> Float[Array, ""]:
    """Mean negative log-likelihood of the true labels."""
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


def accuracy(logp: Float[Array, "n k"], labels: Int[Array, " n"]) -> Float[Array, ""]:
    """Fraction of rows whose arg-max is the true label."""
    return jnp.mean(jnp.argmax(logp, axis=-1).astype(labels.dtype) == labels)
