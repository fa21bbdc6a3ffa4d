import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray


class Augment(eqx.Module):
    """Paper-style data augmentation in JAX for float images `(n, h, w, c)` in [0, 1].

    Each transform is skipped at its neutral setting. Applied per image with
    independent keys; jit- and vmap-friendly (no torch).

    **Arguments:**

    - `crop_scale`, `crop_ratio`: random resized crop; area fraction and aspect
      ratio ranges (bilinear resize back to full size). `crop_scale=(1, 1)` and
      `crop_ratio=(1, 1)` disable it.
    - `hflip`: random horizontal flips (CIFAR-10, not MNIST).
    - `jitter`: colour jitter strength for brightness, contrast and saturation.
    - `erase_prob`, `erase_scale`: random erasing probability and area range.
    """

    crop_scale: tuple[float, float] = eqx.field(static=True, default=(1.0, 1.0))
    crop_ratio: tuple[float, float] = eqx.field(static=True, default=(1.0, 1.0))
    hflip: bool = eqx.field(static=True, default=False)
    jitter: float = eqx.field(static=True, default=0.0)
    erase_prob: float = eqx.field(static=True, default=0.0)
    erase_scale: tuple[float, float] = eqx.field(static=True, default=(0.02, 0.2))

    def __call__(
        self, images: Float[Array, "..."], *, key: PRNGKeyArray
    ) -> Float[Array, "n h w c"]:
        if images.ndim != 4:
            raise ValueError(
                f"Augment expected images of shape (n, h, w, c), got {images.shape}."
            )
        keys = jr.split(key, images.shape[0])
        return jax.vmap(self._one)(images, keys)

    def _one(self, x, key):
        kc, kf, kj, ke = jr.split(key, 4)
        if self.crop_scale != (1.0, 1.0) or self.crop_ratio != (1.0, 1.0):
            x = _resized_crop(x, kc, self.crop_scale, self.crop_ratio)
        if self.hflip:
            x = jnp.where(jr.bernoulli(kf), x[:, ::-1], x)
        if self.jitter > 0:
            x = _jitter(x, kj, self.jitter)
        if self.erase_prob > 0:
            x = _erase(x, ke, self.erase_prob, self.erase_scale)
        return x


def _resized_crop(x, key, scale, ratio):
    h, w = x.shape[:2]
    ks, kr, ky, kx = jr.split(key, 4)
    area = jr.uniform(ks, minval=scale[0], maxval=scale[1])
    logr = jr.uniform(kr, minval=jnp.log(ratio[0]), maxval=jnp.log(ratio[1]))
    r = jnp.exp(logr)
    ch = jnp.clip(jnp.sqrt(area / r) * h, 1.0, h)
    cw = jnp.clip(jnp.sqrt(area * r) * w, 1.0, w)
    y0 = jr.uniform(ky) * (h - ch)
    x0 = jr.uniform(kx) * (w - cw)
    sy, sx = h / ch, w / cw
    # output[i] = input[(i - t) / s]: the crop [y0, y0 + ch) fills [0, h).
    return jax.image.scale_and_translate(
        x,
        x.shape,
        (0, 1),
        jnp.stack([sy, sx]),
        jnp.stack([-y0 * sy, -x0 * sx]),
        "linear",
    )


def _jitter(x, key, s):
    kb, kc, ks = jr.split(key, 3)
    b = jr.uniform(kb, minval=1 - s, maxval=1 + s)
    c = jr.uniform(kc, minval=1 - s, maxval=1 + s)
    sat = jr.uniform(ks, minval=1 - s, maxval=1 + s)
    x = x * b
    x = (x - x.mean()) * c + x.mean()
    gray = x.mean(axis=-1, keepdims=True)
    x = gray + (x - gray) * sat
    return jnp.clip(x, 0.0, 1.0)


def _erase(x, key, p, scale):
    h, w = x.shape[:2]
    kp, ka, kr, ky, kx = jr.split(key, 5)
    area = jr.uniform(ka, minval=scale[0], maxval=scale[1]) * h * w
    r = jnp.exp(jr.uniform(kr, minval=jnp.log(0.3), maxval=jnp.log(3.3)))
    eh = jnp.clip(jnp.sqrt(area * r), 1, h)
    ew = jnp.clip(jnp.sqrt(area / r), 1, w)
    y0 = jr.uniform(ky) * (h - eh)
    x0 = jr.uniform(kx) * (w - ew)
    ii = jnp.arange(h, dtype=x.dtype)[:, None]
    jj = jnp.arange(w, dtype=x.dtype)[None, :]
    box = (ii >= y0) & (ii < y0 + eh) & (jj >= x0) & (jj < x0 + ew)
    box = box[:, :, None] & jr.bernoulli(kp, p)
    return jnp.where(box, 0.0, x)


# Per-dataset defaults in the spirit of the paper's Table 2 (crop + erasing for
# MNIST; crop, flips, jitter and erasing for CIFAR-10).
AUGMENTATIONS = {
    "none": Augment(),
    "mnist": Augment(crop_scale=(0.8, 1.0), crop_ratio=(0.9, 1.1), erase_prob=0.1),
    "cifar10": Augment(
        crop_scale=(0.35, 1.0),
        crop_ratio=(0.75, 1.33),
        hflip=True,
        jitter=0.2,
        erase_prob=0.25,
    ),
}
