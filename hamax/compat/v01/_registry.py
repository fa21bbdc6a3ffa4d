"""v0.1's model registry: `register_model`, `create_model` and the paper's
named configurations (`hn_relu_mnist`, `conv_ham_maxpool_mnist`, ...), each a
factory returning `(ham, forward)`."""

import functools as ft

import jax.numpy as jnp
import jax.tree_util as jtu

from .. import _layers as hmx
from .._list_ham import ListHAM
from ._lagrangians import LRelu, LRepu, LSoftmax


_MODELS: dict = {}


def register_model(fgen):
    """Register a factory under its `__name__` (returns it, so it decorates)."""
    _MODELS[fgen.__name__] = fgen
    return fgen


def create_model(mname: str, *args, **kwargs):
    """Call the factory registered as `mname` with `args` and `kwargs`."""
    if mname not in _MODELS:
        raise ValueError(
            f"create_model got {mname!r}, which is not registered (have: "
            f"{', '.join(sorted(_MODELS))}). Register it with @register_model."
        )
    return _MODELS[mname](*args, **kwargs)


def named_partial(f, *args, new_name=None, **kwargs):
    """`functools.partial` that keeps (or renames) the function's name."""
    fnew = ft.partial(f, *args, **kwargs)
    fnew.__doc__ = f.__doc__
    fnew.__name__ = new_name if new_name is not None else f.__name__  # type: ignore[attr-defined]
    return fnew


def simple_fwd(model: ListHAM, x, depth: int, dt: float, rng=None):
    """The paper's forward pass: clamp `x` in layer 0 with a mask, take `depth`
    steps of `dt`, return the last layer's activation."""
    xs = model.init_states(x.shape[0], rng=rng)
    xs[0] = jnp.array(x)
    masks = jtu.tree_map(lambda x: jnp.ones_like(x, dtype=jnp.int8), xs)
    masks[0] = jnp.zeros_like(masks[0], dtype=jnp.int8)
    for _ in range(depth):
        xs = model.step(xs, model.vupdates(xs), dt=dt, masks=masks)
    return model.layers[-1].g(xs[-1])


def fwd_vec(model: ListHAM, x, depth: int, dt: float, rng=None):
    """`simple_fwd` on images given channels-first `(..., c, h, w)`, flattened."""
    return simple_fwd(model, x.reshape(*x.shape[:-3], -1), depth, dt, rng)


def fwd_conv(model: ListHAM, x, depth: int, dt: float, rng=None):
    """`simple_fwd` on images given channels-first, moved to `(..., h, w, c)`."""
    return simple_fwd(model, jnp.moveaxis(x, -3, -1), depth, dt, rng)


@register_model
def hn(hidden_lagrangian, img_shape, label_shape, nhid: int = 1000, do_norm=False):
    """Two-layer Hopfield network (image, label) with `nhid` hidden units in the
    synapse; forward: `fwd_vec`, depth 4, dt 0.4."""
    layers = [hmx.TanhLayer(img_shape), hmx.SoftmaxLayer(label_shape)]
    synapses = [
        hmx.DenseMatrixSynapseWithHiddenLayer(
            nhid, hidden_lagrangian=hidden_lagrangian, do_norm=do_norm
        )
    ]
    ham = ListHAM(layers, synapses, [((0, 1), 0)])
    return ham, ft.partial(fwd_vec, depth=4, dt=0.4)


hn_relu = register_model(named_partial(hn, LRelu(), new_name="hn_relu"))
hn_repu5 = register_model(named_partial(hn, LRepu(n=5), new_name="hn_repu5"))
hn_softmax = register_model(named_partial(hn, LSoftmax(), new_name="hn_softmax"))


def _preset(name: str, doc: str, build, *args, nhid: int, **kwargs):
    """Register `build(*args, nhid=nhid, **kwargs)` as the model `name`: a
    factory whose one argument is `nhid` (the paper's named configurations)."""

    def make(nhid: int = nhid):
        return build(*args, nhid=nhid, **kwargs)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = doc
    return register_model(make)


# HN on flattened images: (dataset suffix, title, image shape, default nhid).
_FLAT = (("mnist", "MNIST", (784,), 1000), ("cifar", "CIFAR-10", (3072,), 6000))
for _name, _what, _build, _kw in (
    ("hn_relu", "HN (ReLU)", hn_relu, {}),
    ("hn_repu5", "Dense associative memory (RePU 5)", hn_repu5, {}),
    ("hn_softmax", "HN (softmax, unit-norm memories)", hn_softmax, {"do_norm": True}),
):
    for _data, _title, _image, _nhid in _FLAT:
        _preset(
            f"{_name}_{_data}",
            f"{_what} on flattened {_title}.",
            _build,
            _image,
            (10,),
            nhid=_nhid,
            **_kw,
        )


@register_model
def conv_ham(s1, s2, s3, pool_type, nhid: int = 1000):
    """The paper's conv HAM (Code 2) with layer shapes `s1, s2, s3` and pooling
    `pool_type`; forward: `fwd_conv`, depth 7, dt 0.3."""
    pool = dict(pool_window=(2, 2), pool_stride=(2, 2), pool_type=pool_type)
    layers = [hmx.TanhLayer(s) for s in (s1, s2, s3)] + [hmx.SoftmaxLayer((10,))]
    synapses = [
        hmx.ConvSynapseWithPool((4, 4), strides=(2, 2), padding=(2, 2), **pool),
        hmx.ConvSynapseWithPool((3, 3), strides=(1, 1), padding=(0, 0), **pool),
        hmx.DenseMatrixSynapseWithHiddenLayer(nhid),
    ]
    ham = ListHAM(layers, synapses, [((0, 1), 0), ((1, 2), 1), ((2, 3), 2)])
    return ham, ft.partial(fwd_conv, depth=7, dt=0.3)


# Conv HAM layer shapes: (dataset suffix, image, second and third layers).
_CONV = (
    ("mnist", (28, 28, 1), (7, 7, 64), (2, 2, 128)),
    ("cifar", (32, 32, 3), (8, 8, 90), (3, 3, 180)),
)
for _data, *_shapes in _CONV:
    for _pool in ("avg", "max"):
        _preset(
            f"conv_ham_{_pool}pool_{_data}",
            f"Conv HAM ({_pool} pooling) on {_data} images.",
            conv_ham,
            *_shapes,
            pool_type=_pool,
            nhid=1000,
        )


@register_model
def energy_attn(s1, s2, nheads_self, nheads_cross):
    """Image -> patch tokens (conv) with cross-attention to the label and
    attention of the tokens with themselves; forward: `fwd_conv`, depth 5."""
    layers = [
        hmx.TanhLayer(s1),
        hmx.TanhLayer(s2, use_bias=True),
        hmx.SoftmaxLayer((10,)),
    ]
    synapses = [
        hmx.ConvSynapse((4, 4), strides=(4, 4), padding=(0, 0)),
        hmx.AttentionSynapse(num_heads=nheads_cross, zspace_dim=64, stdinit=0.002),
        hmx.AttentionSynapse(num_heads=nheads_self, zspace_dim=64, stdinit=0.002),
    ]
    ham = ListHAM(layers, synapses, [((0, 1), 0), ((2, 1), 1), ((1, 1), 2)])
    return ham, ft.partial(fwd_conv, depth=5, dt=0.4)


@register_model
def energy_attn_mnist():
    """`energy_attn` on MNIST."""
    return energy_attn((28, 28, 1), (7, 7, 128), nheads_self=4, nheads_cross=2)


@register_model
def energy_attn_cifar():
    """`energy_attn` on CIFAR-10."""
    return energy_attn((32, 32, 3), (8, 8, 224), nheads_self=4, nheads_cross=2)
