import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from .._descend import Converged
from .._ham import HAM
from ._classify import accuracy, cross_entropy, forward, log_probs


def adamw(
    learning_rate: float = 1e-3,
    *,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    """The paper's optimiser (Appendix A): AdamW(1e-3, b1=0.9, b2=0.99, wd=1e-4)."""
    return optax.adamw(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)


def init_opt_state(ham: HAM, optim: optax.GradientTransformation):
    """The optimiser state for the trainable arrays of `ham`."""
    return optim.init(eqx.filter(ham, eqx.is_inexact_array))


def classification_loss(
    ham: HAM,
    images: Float[Array, "n ..."],
    labels: Int[Array, " n"],
    *,
    steps: int,
    dt: float,
    image: str = "image",
    label: str = "label",
    checkpoint: bool = True,
    stop: Converged | None = None,
    adjoint: str = "bptt",
):
    """Cross-entropy of the label layer after `steps` of descent (or descent to
    convergence with `stop`) with the image clamped. Returns `(loss, accuracy)`."""
    x = forward(
        ham,
        images,
        steps=steps,
        dt=dt,
        image=image,
        label=label,
        checkpoint=checkpoint,
        stop=stop,
        adjoint=adjoint,
    )
    logp = log_probs(ham, label, x)
    return cross_entropy(logp, labels), accuracy(logp, labels)


@eqx.filter_jit
def make_step(
    ham: HAM,
    opt_state,
    images: Float[Array, "n ..."],
    labels: Int[Array, " n"],
    *,
    optim: optax.GradientTransformation,
    steps: int,
    dt: float,
    image: str = "image",
    label: str = "label",
    checkpoint: bool = True,
    stop: Converged | None = None,
    adjoint: str = "bptt",
):
    """One jitted training step (backprop through the descent, then `optim`).

    Returns `(ham, opt_state, loss, accuracy)`. The loss is NaN when it, or any
    updated parameter, is not finite. Compiles once per model structure, batch
    shape and static settings.
    """

    def loss_fn(h):
        return classification_loss(
            h,
            images,
            labels,
            steps=steps,
            dt=dt,
            image=image,
            label=label,
            checkpoint=checkpoint,
            stop=stop,
            adjoint=adjoint,
        )

    (loss, acc), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(ham)
    # optax mixes Python floats and int32 step counts, which strict dtype
    # promotion rejects; its arithmetic is standard-promotion by design.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optim.update(
            grads, opt_state, eqx.filter(ham, eqx.is_inexact_array)
        )
    ham = eqx.apply_updates(ham, updates)
    # Divergence shows up as non-finite parameters even when the loss is still
    # finite (descend keeps the last finite state); report both as a NaN loss.
    leaves = jax.tree_util.tree_leaves(eqx.filter(ham, eqx.is_inexact_array))
    finite = jnp.isfinite(loss) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])
    )
    return ham, opt_state, jnp.where(finite, loss, jnp.nan), acc


@eqx.filter_jit
def eval_step(
    ham: HAM,
    images: Float[Array, "n ..."],
    labels: Int[Array, " n"],
    *,
    steps: int,
    dt: float,
    image: str = "image",
    label: str = "label",
):
    """Loss and number of correct predictions on one batch (jitted)."""
    x = forward(ham, images, steps=steps, dt=dt, image=image, label=label)
    logp = log_probs(ham, label, x)
    correct = jnp.sum(jnp.argmax(logp, -1).astype(labels.dtype) == labels)
    return cross_entropy(logp, labels), correct
