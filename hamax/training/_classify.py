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
    """uint8 images `(n, h, w[, c])` -> float32 `(n, h, w, c)`, standardised."""
    x = images.astype(np.float32) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    mean, std = STATS[dataset]
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
