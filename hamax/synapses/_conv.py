import abc
import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax import lax
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ._base import AbstractSynapse, PartialEnergy, require_param


Padding = str | int | tuple[int, int] | Sequence[tuple[int, int]]


def pair(v, owner: str, arg: str) -> tuple[int, int]:
    """(v, v) for an int, a 2-tuple as is; anything else is an error."""
    out = (v, v) if isinstance(v, int) else tuple(v)
    if len(out) != 2 or not all(isinstance(i, int) and i > 0 for i in out):
        raise ValueError(
            f"{owner} expected `{arg}` to be a positive int or a pair of them, "
            f"got {v!r}."
        )
    return out


def check_padding(owner: str, padding: Padding) -> Padding:
    """Validate a padding spec; lists become tuples (static fields must hash)."""
    if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
        raise ValueError(
            f"{owner} expected `padding` to be 'SAME', 'VALID', an int or pairs of "
            f"ints, got {padding!r}."
        )
    return tuple(padding) if isinstance(padding, list) else padding


def conv_padding(padding: Padding):
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    pads: list = list(padding)
    if all(isinstance(p, int) for p in pads):  # (ph, pw): symmetric per axis
        return tuple((p, p) for p in pads)
    return tuple(tuple(p) for p in pads)


def conv(g1, W, strides, padding, *, impl: str | None = None, rows_cols=None):
    """Cross-correlation of one HWC image with an HWIO kernel, as in `lax`.

    `rows_cols=(r, c)` computes only the first `r` rows and `c` columns of the
    output (what a 'VALID' pooling after it reads), by convolving only the part of
    the padded input that those outputs see.

    `impl="matmul"` (the default on CPU) gathers the kernel windows into one
    `(positions, kh * kw * c_in)` patch matrix and multiplies it with the kernel,
    so the forward pass and both gradients are matrix products. Inside a descent
    loop XLA:CPU compiles the kernel gradient of `lax.conv_general_dilated` to a
    slow direct convolution: differentiating a 7-step loop through one 3x3
    convolution took 1.37 s at batch 50 and 61 s at batch 400 that way, against
    0.055 s and 0.54 s as matrix products (`benchmarks/conv_scaling.py`).
    `impl="xla"` (the default elsewhere) is `lax.conv_general_dilated`.
    """
    if impl is None:
        impl = "matmul" if jax.default_backend() == "cpu" else "xla"
    if impl not in ("matmul", "xla"):
        raise ValueError(f"conv expected impl='matmul' or 'xla', got {impl!r}.")
    pads = conv_padding(padding)
    kh, kw, c_in, c_out = W.shape
    if impl == "xla" and rows_cols is None:
        out = lax.conv_general_dilated(
            g1[None],
            W,
            window_strides=strides,
            padding=pads,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return out[0]
    if isinstance(pads, str):
        pads = lax.padtype_to_pads(g1.shape[:2], (kh, kw), strides, pads)
    zero = jnp.zeros((), g1.dtype)
    x = lax.pad(g1, zero, [(lo, hi, 0) for lo, hi in pads] + [(0, 0, 0)])
    s0, s1 = strides
    p = (x.shape[0] - kh) // s0 + 1
    q = (x.shape[1] - kw) // s1 + 1
    if rows_cols is not None:
        p, q = min(p, rows_cols[0]), min(q, rows_cols[1])
        x = x[: (p - 1) * s0 + kh, : (q - 1) * s1 + kw]  # what those outputs see
    if impl == "xla":
        out = lax.conv_general_dilated(
            x[None],
            W,
            window_strides=strides,
            padding="VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return out[0]
    windows = [
        lax.slice(
            x,
            (i, j, 0),
            (i + (p - 1) * s0 + 1, j + (q - 1) * s1 + 1, c_in),
            (s0, s1, 1),
        )
        for i in range(kh)
        for j in range(kw)
    ]
    patches = jnp.concatenate(windows, axis=-1) if len(windows) > 1 else windows[0]
    return patches @ W.reshape(kh * kw * c_in, c_out)


def check_hwc(owner: str, shapes):
    for s in shapes:
        if len(s) != 3:
            raise ValueError(
                f"{owner} connects image-like layers of shape (height, width, "
                f"channels), got a layer of shape {s}. Give the layer a 3-D shape, "
                "e.g. (28, 28, 1)."
            )


def checked_kernel(owner: str, W, g1):
    """`W`, after checking that `g1` is one (h, w, W.shape[2]) image."""
    W = require_param(W, owner)
    if g1.ndim != 3 or g1.shape[-1] != W.shape[2]:
        raise ValueError(
            f"{owner} with W.shape={W.shape} expected g1 of shape (h, w, "
            f"{W.shape[2]}), got g1.shape={g1.shape}. hamax functions act on one "
            "example; batch with jax.vmap."
        )
    return W


def new_kernel(kernel_size, init_std, cin: int, cout: int, dtype, key):
    """A normal HWIO kernel; default std 1/sqrt(fan-in). Returns (W, std)."""
    dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
    std = init_std or 1 / math.sqrt(math.prod(kernel_size) * cin)
    return std * jr.normal(key, (*kernel_size, cin, cout), dtype), std


def with_new_kernel(syn, shapes, dtype, key):
    """Shared `init` of the convolutional synapses: check the layers are images,
    draw a kernel for their channels, and find the drive's spatial shape.

    Returns `(initialised synapse, drive (h, w), input (h, w), output (h, w, c))`.
    """
    owner = type(syn).__name__
    check_hwc(owner, shapes)
    (h, w, cin), (h2, w2, cout) = shapes
    W, std = new_kernel(syn.kernel_size, syn.init_std, cin, cout, dtype, key)
    new = eqx.tree_at(
        lambda s: (s.W, s.init_std), syn, (W, std), is_leaf=lambda x: x is None
    )
    out = jax.eval_shape(new.forward, jax.ShapeDtypeStruct((h, w, cin), W.dtype))
    return new, tuple(out.shape[:2]), (h, w), (h2, w2, cout)


class AbstractDriveSynapse(AbstractSynapse):
    r"""A synapse $E = -\langle g_2, f(g_1)\rangle$: layer 1 drives layer 2 through
    a map `forward` (a convolution, a pooled convolution). Its gradient for $g_2$
    is $-f(g_1)$, computed once per descent when layer 1 is clamped."""

    arity = 2

    @abc.abstractmethod
    def forward(self, g1: Float[Array, "..."]) -> Float[Array, "..."]:
        """The drive $f(g_1)$ into the second layer."""

    def __call__(self, g1: Float[Array, "..."], g2: Float[Array, "..."]) -> Scalar:
        with jax.named_scope(f"hamax.{type(self).__name__}"):
            h = self.forward(g1)
            if h.shape != g2.shape:
                raise ValueError(
                    f"{type(self).__name__} expected g2 of shape {h.shape} (what it "
                    f"computes from g1.shape={g1.shape}), got g2.shape={g2.shape}."
                )
            return -jnp.sum(g2 * h)

    def partial(self, fixed):
        if set(fixed) == {0}:
            h = self.forward(fixed[0])  # the drive from a clamped layer, once
            return PartialEnergy(_driven_energy, h)
        return super().partial(fixed)


class _AbstractKernelSynapse(AbstractDriveSynapse):
    """A drive synapse with one HWIO kernel `W` drawn at `init` (the convolutional
    synapses share this)."""

    W: eqx.AbstractVar[Float[Array, "kh kw cin cout"] | None]

    @property
    def is_initialized(self) -> bool:
        return self.W is not None

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        """Draw the kernel for the layers' channels; the output layer must have
        the spatial shape of the drive."""
        new, out, hw, hwc2 = with_new_kernel(self, shapes, dtype, key)
        if out != hwc2[:2]:
            raise ValueError(self._shape_error(hw, out, hwc2))
        return new

    def _shape_error(self, hw, out, hwc2) -> str:
        """The message when the drive of an `hw` image has spatial shape `out`
        but the output layer is `hwc2`."""
        return f"{type(self).__name__} maps {hw} to {out}, not {hwc2[:2]}."


class ConvSynapse(_AbstractKernelSynapse):
    r"""Convolutional synapse $E = -\langle g_2, W \star g_1\rangle$ (NHWC, HWIO).

    $\partial E/\partial g_2 = -W \star g_1$ (a forward convolution) and
    $\partial E/\partial g_1$ is the transposed convolution of $g_2$. Channels are
    inferred from the layers: `W` has shape `(kh, kw, g1 channels, g2 channels)`.
    The output layer's spatial shape must equal that of the convolution.

    **Arguments:**

    - `kernel_size`: int or `(kh, kw)`.
    - `strides`: int or pair. Default 1.
    - `padding`: `"SAME"`, `"VALID"`, an int, `(ph, pw)`, or
      `((top, bottom), (left, right))`.
    - `W`: the kernel; leave as None to infer its shape.
    - `init_std`: default $1/\sqrt{kh\,kw\,c_{in}}$.

    !!! example

        ```python
        ConvSynapse((3, 3), strides=2)  # between (28, 28, 1) and (14, 14, 8) layers
        ```
    """

    kernel_size: tuple[int, int] = eqx.field(static=True)
    strides: tuple[int, int] = eqx.field(static=True)
    padding: Padding = eqx.field(static=True)
    W: Float[Array, "kh kw cin cout"] | None
    init_std: float | None

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: Padding = "SAME",
        *,
        W: Float[Array, "kh kw cin cout"] | None = None,
        init_std: float | None = None,
    ):
        self.kernel_size = pair(kernel_size, "ConvSynapse", "kernel_size")
        self.strides = pair(strides, "ConvSynapse", "strides")
        self.padding = check_padding("ConvSynapse", padding)
        self.W = W
        self.init_std = init_std

    def _shape_error(self, hw, out, hwc2) -> str:
        return (
            f"ConvSynapse with kernel_size={self.kernel_size}, strides="
            f"{self.strides}, padding={self.padding!r} maps a {hw} image to "
            f"{out}, but the output layer is {hwc2[:2]}. Change the output layer "
            f"shape to {(*out, hwc2[2])} or the strides/padding."
        )

    def forward(self, g1: Float[Array, "..."]) -> Float[Array, "h2 w2 cout"]:
        """The convolution $W \\star g_1$ (the drive into the output layer)."""
        W = checked_kernel("ConvSynapse", self.W, g1)
        return conv(g1, W, self.strides, self.padding)


def _driven_energy(h, g2):
    return -jnp.sum(g2 * h)
