import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray


class Augment(eqx.Module):
    """timm-style training augmentation in JAX for float images `(n, h, w, c)` in
    [0, 1]: random resized crop, horizontal flip, colour jitter, random erasing.

    Each transform is skipped at its neutral setting. Every image gets its own
    random draws; the whole batch is transformed with batched matrix products
    (the crop is separable: one `h x h` and one `w x w` bilinear interpolation
    matrix per image), so under `jax.jit` it costs a small fraction of a training
    step. The trainers jit it once (see [`hamax.training.train`][]'s `transform`).

    **Arguments:**

    - `crop_scale`, `crop_ratio`: random resized crop; area fraction and aspect
      ratio (width / height, drawn log-uniformly) ranges, the crop resized back to
      full size bilinearly. A crop larger than the image is clipped to it.
      `crop_scale=(1, 1)` and `crop_ratio=(1, 1)` disable it.
    - `hflip`: probability of a horizontal flip.
    - `jitter`: colour jitter strength for brightness, contrast and saturation
      (each factor uniform in `[max(0, 1 - jitter), 1 + jitter]`; saturation is a
      no-op on one-channel images).
    - `erase_prob`, `erase_scale`: random erasing probability and area range
      (aspect ratio log-uniform in `[0.3, 1/0.3]`, as in timm).
    - `erase_value`: what erased pixels become, one value per channel or one for
      all; timm's default `'const'` mode erases to zero *after* normalisation, i.e.
      to the dataset mean, which is what [`hamax.data.AUGMENTATIONS`][] uses.
    """

    crop_scale: tuple[float, float] = eqx.field(static=True, default=(1.0, 1.0))
    crop_ratio: tuple[float, float] = eqx.field(static=True, default=(1.0, 1.0))
    hflip: float | bool = eqx.field(static=True, default=0.0)
    jitter: float = eqx.field(static=True, default=0.0)
    erase_prob: float = eqx.field(static=True, default=0.0)
    erase_scale: tuple[float, float] = eqx.field(static=True, default=(0.02, 1 / 3))
    erase_value: tuple[float, ...] = eqx.field(static=True, default=(0.0,))

    def __check_init__(self):
        for name in ("hflip", "erase_prob"):
            p = float(getattr(self, name))  # hflip=True means always
            if not 0.0 <= p <= 1.0:
                raise ValueError(
                    f"Augment({name}={p}) must be a probability in [0, 1]."
                )
        for name in ("crop_scale", "crop_ratio", "erase_scale"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi:
                raise ValueError(
                    f"Augment({name}=({lo}, {hi})) must be a range 0 < low <= high."
                )
        if self.crop_scale[1] > 1.0 or self.erase_scale[1] > 1.0:
            raise ValueError(
                f"Augment area fractions must be at most 1, got crop_scale="
                f"{self.crop_scale}, erase_scale={self.erase_scale}."
            )
        if not 0.0 <= self.jitter:
            raise ValueError(f"Augment(jitter={self.jitter}) must be >= 0.")

    def __call__(
        self, images: Float[Array, "..."], *, key: PRNGKeyArray
    ) -> Float[Array, "n h w c"]:
        if images.ndim != 4:
            raise ValueError(
                f"Augment expected images of shape (n, h, w, c), got {images.shape}."
            )
        n, h, w, c = images.shape
        if len(self.erase_value) not in (1, c):
            raise ValueError(
                f"Augment(erase_value={self.erase_value}) needs 1 or {c} values for "
                f"{c}-channel images."
            )
        kc, kf, kj, ke = jr.split(key, 4)
        x = images
        if self.crop_scale != (1.0, 1.0) or self.crop_ratio != (1.0, 1.0):
            ry, rx = _crop_matrices(
                kc, n, h, w, self.crop_scale, self.crop_ratio, x.dtype
            )
            # (n, c, h, w) so that both resizes are batched matrix products.
            xt = jnp.moveaxis(x, -1, 1)
            xt = jnp.matmul(
                jnp.matmul(ry[:, None], xt), jnp.swapaxes(rx, 1, 2)[:, None]
            )
            x = jnp.moveaxis(xt, 1, -1)
        if self.hflip > 0:
            flip = jr.bernoulli(kf, float(self.hflip), (n, 1, 1, 1))
            x = jnp.where(flip, x[:, :, ::-1], x)
        if self.jitter > 0:
            x = _jitter(x, kj, self.jitter)
        if self.erase_prob > 0:
            box = _erase_boxes(ke, n, h, w, self.erase_prob, self.erase_scale, x.dtype)
            x = jnp.where(
                box, jnp.asarray(self.erase_value, x.dtype).reshape(1, 1, 1, -1), x
            )
        return x


def _bilinear(start, length, size, dtype):
    """`(n, size, size)` matrices resizing `[start, start + length)` of a length-
    `size` axis to the full axis (bilinear, pixel centres, edges clamped)."""
    i = jnp.arange(size, dtype=dtype)
    src = start[:, None] + (i[None, :] + 0.5) * (length[:, None] / size) - 0.5
    src = jnp.clip(src, 0.0, size - 1.0)
    k = jnp.arange(size, dtype=dtype)
    return jnp.maximum(0.0, 1.0 - jnp.abs(src[:, :, None] - k[None, None, :]))


def _crop_matrices(key, n, h, w, scale, ratio, dtype):
    ks, kr, ky, kx = jr.split(key, 4)
    area = jr.uniform(ks, (n,), dtype, scale[0], scale[1]) * h * w
    r = jnp.exp(jr.uniform(kr, (n,), dtype, jnp.log(ratio[0]), jnp.log(ratio[1])))
    cw = jnp.clip(jnp.sqrt(area * r), 1.0, w)
    ch = jnp.clip(jnp.sqrt(area / r), 1.0, h)
    y0 = jr.uniform(ky, (n,), dtype) * (h - ch)
    x0 = jr.uniform(kx, (n,), dtype) * (w - cw)
    return _bilinear(y0, ch, h, dtype), _bilinear(x0, cw, w, dtype)


def _factor(key, n, s, dtype):
    return jr.uniform(key, (n, 1, 1, 1), dtype, max(0.0, 1.0 - s), 1.0 + s)


def _jitter(x, key, s):
    kb, kc, ks = jr.split(key, 3)
    n, c = x.shape[0], x.shape[-1]
    weights = jnp.asarray([0.299, 0.587, 0.114] if c == 3 else [1.0 / c] * c, x.dtype)

    def gray(v):
        return jnp.einsum("nhwc,c->nhw", v, weights)[..., None]

    x = jnp.clip(x * _factor(kb, n, s, x.dtype), 0.0, 1.0)
    mean = gray(x).mean(axis=(1, 2, 3), keepdims=True)
    x = jnp.clip((x - mean) * _factor(kc, n, s, x.dtype) + mean, 0.0, 1.0)
    if c > 1:
        g = gray(x)
        x = jnp.clip((x - g) * _factor(ks, n, s, x.dtype) + g, 0.0, 1.0)
    return x


def _erase_boxes(key, n, h, w, p, scale, dtype):
    kp, ka, kr, ky, kx = jr.split(key, 5)
    area = jr.uniform(ka, (n,), dtype, scale[0], scale[1]) * h * w
    r = jnp.exp(jr.uniform(kr, (n,), dtype, jnp.log(0.3), jnp.log(1 / 0.3)))
    eh = jnp.clip(jnp.sqrt(area * r), 1.0, h)
    ew = jnp.clip(jnp.sqrt(area / r), 1.0, w)
    y0 = jr.uniform(ky, (n,), dtype) * (h - eh)
    x0 = jr.uniform(kx, (n,), dtype) * (w - ew)
    ii = jnp.arange(h, dtype=dtype)[None, :, None]
    jj = jnp.arange(w, dtype=dtype)[None, None, :]
    box = (
        (ii >= y0[:, None, None])
        & (ii < (y0 + eh)[:, None, None])
        & (jj >= x0[:, None, None])
        & (jj < (x0 + ew)[:, None, None])
    )
    return (box & jr.bernoulli(kp, p, (n, 1, 1)))[..., None]


# The paper's Table 2 (timm `create_transform` settings): re_prob, hflip, scale,
# color_jitter and ratio per dataset; erasing in timm's default 'const' mode (to
# the dataset mean after normalisation).
AUGMENTATIONS = {
    "none": Augment(),
    "mnist": Augment(
        crop_scale=(0.9, 1.0),
        crop_ratio=(0.75, 1.33),
        jitter=0.4,
        erase_prob=0.1,
        erase_value=(0.1307,),
    ),
    "cifar10": Augment(
        crop_scale=(0.2, 1.0),
        crop_ratio=(0.75, 1.33),
        hflip=0.5,
        jitter=0.5,
        erase_prob=0.2,
        erase_value=(0.4914, 0.4822, 0.4465),
    ),
}
