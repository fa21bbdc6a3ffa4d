"""Whether a recall counts as correct: the two criteria retrieval papers report."""

import math
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float


def _pair(retrieved: Any, targets: Any, where: str) -> tuple[Array, Array]:
    r = jnp.asarray(retrieved)
    t = jnp.asarray(targets)
    if r.shape != t.shape or r.ndim < 2:
        raise ValueError(
            f"{where} expected `retrieved` and `targets` of the same shape (n, ...) "
            f"(one row per query), got {r.shape} and {t.shape}."
        )
    dtype = jnp.result_type(r, t, float)
    return r.astype(dtype).reshape(len(r), -1), t.astype(dtype).reshape(len(t), -1)


def _threshold(value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v):
        raise ValueError(
            f"{where} expected `threshold` to be a finite number, got {value!r}."
        )
    return v


def squared_errors(
    retrieved: Float[ArrayLike, "..."], targets: Float[ArrayLike, "..."]
) -> Float[Array, " n"]:
    r"""The sum of squared differences $\sum_i (r_i - t_i)^2$ of each retrieved
    pattern to its target (over all axes but the first)."""
    r, t = _pair(retrieved, targets, "squared_errors")
    return jnp.sum((r - t) ** 2, axis=1)


def cosine_similarities(
    retrieved: Float[ArrayLike, "..."], targets: Float[ArrayLike, "..."]
) -> Float[Array, " n"]:
    r"""The cosine $\frac{r \cdot t}{\lVert r\rVert\,\lVert t\rVert}$ of each
    retrieved pattern with its target; 0 where either is the zero vector."""
    r, t = _pair(retrieved, targets, "cosine_similarities")
    norms = jnp.linalg.norm(r, axis=1) * jnp.linalg.norm(t, axis=1)
    dots = jnp.sum(r * t, axis=1)
    return jnp.where(norms > 0, dots / jnp.where(norms > 0, norms, 1), 0)


def recalled_by_squared_error(
    retrieved: Float[ArrayLike, "..."],
    targets: Float[ArrayLike, "..."],
    *,
    threshold: float = 50.0,
) -> Bool[Array, " n"]:
    r"""The Universal Hopfield Networks criterion (Millidge et al. 2022): a
    recall is correct when the sum of squared differences to the stored pattern
    is at most `threshold`.

    The criterion is absolute, so it depends on the scale and size of the
    patterns: UHN applies it to images with pixels in $[0, 1]$, and its paper
    sweeps the threshold and marks 50 (its code's default is 60).

    **Arguments:**

    - `retrieved`, `targets`: shape `(n, ...)`, one row per query.
    - `threshold`: the largest sum of squared errors that counts as a success.

    **Returns:** a boolean array of shape `(n,)`.

    ??? cite "References"

        ```bibtex
        @inproceedings{millidge2022universal,
          title={Universal Hopfield Networks: A General Framework for Single-Shot
                 Associative Memory Models},
          author={Millidge, Beren and Salvatori, Tommaso and Song, Yuhang and
                  Lukasiewicz, Thomas and Bogacz, Rafal},
          booktitle={ICML}, year={2022}}
        ```
    """
    thr = _threshold(threshold, "recalled_by_squared_error")
    return squared_errors(retrieved, targets) <= thr


def recalled_by_cosine(
    retrieved: Float[ArrayLike, "..."],
    targets: Float[ArrayLike, "..."],
    *,
    threshold: float = 0.9,
) -> Bool[Array, " n"]:
    r"""The Hopfield-Fenchel-Young networks criterion (Santos et al.): a recall is
    correct when its cosine similarity to the stored pattern exceeds `threshold`.

    Cosines of images with non-negative pixels are all large (CIFAR-10 images in
    $[0, 1]$ have cosines near 0.9 with each other); HFYN scores images scaled to
    $[-1, 1]$, and so does `benchmarks/retrieval.py`.

    **Arguments:**

    - `retrieved`, `targets`: shape `(n, ...)`, one row per query.
    - `threshold`: a recall counts when its cosine is strictly above this.

    **Returns:** a boolean array of shape `(n,)`.

    ??? cite "References"

        ```bibtex
        @article{santos2024hopfield,
          title={Hopfield-Fenchel-Young Networks: A Unified Framework for
                 Associative Memory Retrieval},
          author={Santos, Saul and Niculae, Vlad and McNamee, Daniel and
                  Martins, Andr{\'e} F. T.},
          journal={arXiv:2411.08590}, year={2024}}
        ```
    """
    thr = _threshold(threshold, "recalled_by_cosine")
    return cosine_similarities(retrieved, targets) > thr
