"""Corrupted queries for retrieval benchmarks: masked halves, noise, dropped pixels."""

import math
from typing import Any

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, Shaped


def _images(images: Any, where: str) -> Array:
    """`images` as a float array of shape `(*batch, h, w, c)`."""
    arr = jnp.asarray(images)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    if arr.ndim < 3:
        raise ValueError(
            f"{where} expected images of shape (*batch, height, width, channels), "
            f"got shape {arr.shape}. Give a grey image a channel axis, e.g. "
            "images[..., None] for MNIST's (n, 28, 28)."
        )
    return arr


def _fraction(value: Any, where: str, arg: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not 0.0 <= v <= 1.0:
        raise ValueError(
            f"{where} expected `{arg}` to be a number in [0, 1], got {value!r}."
        )
    return v


def mask_bottom_half(
    images: Shaped[ArrayLike, "..."],
    *,
    fraction: float = 0.5,
    fill: float = 0.0,
) -> Float[Array, "*batch h w c"]:
    r"""Blank the bottom rows of each image: the Universal Hopfield Networks
    query (Millidge et al. 2022), an image whose lower half must be recalled.

    The last `floor(fraction * h)` rows are set to `fill` (the UHN code keeps
    the first `int((1 - fraction) * h)` rows; the two agree for a half).

    **Arguments:**

    - `images`: shape `(*batch, h, w, c)`, channels last (MNIST as
      `(n, 28, 28, 1)`).
    - `fraction`: the share of rows blanked, in `[0, 1]`; default a half.
    - `fill`: the value written there; default 0 (black on `[0, 1]` images).

    **Returns:** the masked images, shape and dtype of `images`.
    """
    arr = _images(images, "mask_bottom_half")
    frac = _fraction(fraction, "mask_bottom_half", "fraction")
    h = arr.shape[-3]
    keep = h - math.floor(frac * h + 1e-9)
    rows = jnp.arange(h)[:, None, None] < keep
    return jnp.where(rows, arr, jnp.asarray(fill, arr.dtype))


def gaussian_noise(
    images: Shaped[ArrayLike, "..."],
    sigma: float,
    *,
    clip: tuple[float, float] | None = (0.0, 1.0),
    key: PRNGKeyArray,
) -> Float[Array, "*batch h w c"]:
    r"""Add independent Gaussian noise of standard deviation `sigma` to every
    pixel, then clip to the image range.

    **Arguments:**

    - `images`: any shape (a batch of images, or one).
    - `sigma`: the noise's standard deviation, a finite number $\ge 0$.
    - `clip`: `(low, high)` range the result is clipped to, default `(0, 1)`;
      `None` keeps the raw sum. (The UHN code also takes the absolute value
      before clipping; HFYN clips to `(-1, 1)` for images on that scale.)
    - `key`: a JAX PRNG key.

    **Returns:** the noisy images, shape and dtype of `images`.
    """
    arr = jnp.asarray(images)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        s = math.nan
    if not (math.isfinite(s) and s >= 0):
        raise ValueError(
            f"gaussian_noise expected `sigma` to be a finite number >= 0, got "
            f"{sigma!r}."
        )
    if clip is not None and not (len(clip) == 2 and clip[0] < clip[1]):
        raise ValueError(
            f"gaussian_noise expected `clip` to be (low, high) with low < high, or "
            f"None, got {clip!r}."
        )
    noisy = arr + jnp.asarray(s, arr.dtype) * jr.normal(key, arr.shape, arr.dtype)
    if clip is None:
        return noisy
    return jnp.clip(noisy, clip[0], clip[1])


def mask_random(
    images: Shaped[ArrayLike, "..."],
    fraction: float,
    *,
    fill: float = 0.0,
    key: PRNGKeyArray,
) -> Float[Array, "*batch h w c"]:
    r"""Blank each pixel independently with probability `fraction`; a blanked
    pixel loses all its channels (as in the UHN code's colour variant).

    **Arguments:**

    - `images`: shape `(*batch, h, w, c)`, channels last.
    - `fraction`: the probability that a pixel is blanked, in `[0, 1]`.
    - `fill`: the value written there; default 0.
    - `key`: a JAX PRNG key.

    **Returns:** the masked images, shape and dtype of `images`.
    """
    arr = _images(images, "mask_random")
    frac = _fraction(fraction, "mask_random", "fraction")
    drop = jr.uniform(key, arr.shape[:-1] + (1,)) < frac
    return jnp.where(drop, jnp.asarray(fill, arr.dtype), arr)
