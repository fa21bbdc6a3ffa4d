import itertools as it
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
import hamax.lagrangians as L
from hamax import synapses as S

from .helpers import SYNAPSE_CASES, tree_allclose


IDS = [f"{type(s).__name__}-{i}" for i, (s, _) in enumerate(SYNAPSE_CASES)]
LAGS = [L.Tanh(), L.Sigmoid(), L.Identity()]


def build(syn, shapes, key, dtype=None):
    """A HAM with one layer per argument of `syn` (parameters inferred)."""
    neurons = {f"l{i}": hamax.NeuronLayer(LAGS[i % 3], s) for i, s in enumerate(shapes)}
    names = tuple(neurons)
    return hamax.HAM(neurons, {"s": syn}, [(names, "s")], key=key, dtype=dtype), names


def acts(ham, names, key, dtype=None):
    xs = ham.init_states(scale=1.0, key=key, dtype=dtype)
    gs = ham.activations(xs)
    return xs, [gs[n] for n in names]


@pytest.mark.parametrize("syn, shapes", SYNAPSE_CASES, ids=IDS)
def test_scalar_jit_vmap_and_partial(syn, shapes, getkey):
    ham, names = build(syn, shapes, getkey())
    s = ham.synapses["s"]
    assert s.is_initialized
    _, gs = acts(ham, names, getkey())
    E = s(*gs)
    assert E.shape == ()
    np.testing.assert_allclose(eqx.filter_jit(s)(*gs), E, rtol=1e-12)
    batch = [jnp.stack([g, 0.5 * g]) for g in gs]
    np.testing.assert_allclose(
        jax.vmap(s)(*batch), jnp.stack([E, s(*[0.5 * g for g in gs])]), rtol=1e-12
    )
    # partial() with any subset fixed equals the full energy, and so do its grads
    n = len(gs)
    for r in range(1, n):
        for fixed_idx in it.combinations(range(n), r):
            fixed = {i: gs[i] for i in fixed_idx}
            free = [gs[i] for i in range(n) if i not in fixed]
            fn = s.partial(fixed)
            np.testing.assert_allclose(fn(*free), E, rtol=1e-12)
            full_grads = jax.grad(
                lambda *a: s(*a), argnums=tuple(i for i in range(n) if i not in fixed)
            )(*gs)
            part_grads = jax.grad(fn, argnums=tuple(range(len(free))))(*free)
            assert tree_allclose(full_grads, part_grads, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("syn, shapes", SYNAPSE_CASES, ids=IDS)
def test_float32_preserved(syn, shapes, getkey):
    ham, names = build(syn, shapes, getkey(), dtype=jnp.float32)
    _, gs = acts(ham, names, getkey(), dtype=jnp.float32)
    assert ham.synapses["s"](*gs).dtype == jnp.float32


@pytest.mark.parametrize("syn, shapes", SYNAPSE_CASES, ids=IDS)
def test_energy_decreases_in_a_ham(syn, shapes, getkey):
    ham, _ = build(syn, shapes, getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    sol = hamax.descend(
        ham, xs, dt=0.02, steps=25, save=hamax.Save(energy=True), check_monotone=True
    )
    E = np.asarray(sol.energies)
    assert np.all(np.diff(E) <= 1e-10 * (1 + np.abs(E[1:]))) and E[-1] < E[0]


def test_dense_gradients_are_W_g(getkey):
    ham, names = build(S.DenseSynapse(use_bias=True), [(2, 2), (3,)], getkey())
    s = ham.synapses["s"]
    s = S.DenseSynapse(W=s.W, b=jr.normal(getkey(), (3,), jnp.float64), use_bias=True)
    g1, g2 = (
        jr.normal(getkey(), (2, 2), jnp.float64),
        jr.normal(getkey(), (3,), jnp.float64),
    )
    d1, d2 = jax.grad(s, argnums=(0, 1))(g1, g2)
    W = np.asarray(s.W)
    np.testing.assert_allclose(d1.reshape(-1), -W @ np.asarray(g2), rtol=1e-12)
    np.testing.assert_allclose(
        d2, -W.T @ np.asarray(g1).reshape(-1) - np.asarray(s.b), rtol=1e-12
    )


def np_conv(x, W, stride, pad):
    """Direct float64 cross-correlation, HWC x HWIO, explicit (top, left) padding."""
    kh, kw, cin, cout = W.shape
    xp = np.pad(x, ((pad[0][0], pad[0][1]), (pad[1][0], pad[1][1]), (0, 0)))
    ho = (xp.shape[0] - kh) // stride + 1
    wo = (xp.shape[1] - kw) // stride + 1
    out = np.zeros((ho, wo, cout))
    for i in range(ho):
        for j in range(wo):
            patch = xp[i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[i, j] = np.einsum("hwc,hwck->k", patch, W)
    return out


def np_conv_input_grad(g2, W, stride, pad, in_shape):
    """d/dx <g2, conv(x)>: scatter each output back over its window (transpose)."""
    kh, kw, _, _ = W.shape
    xp = np.zeros(
        (
            in_shape[0] + pad[0][0] + pad[0][1],
            in_shape[1] + pad[1][0] + pad[1][1],
            in_shape[2],
        )
    )
    for i in range(g2.shape[0]):
        for j in range(g2.shape[1]):
            xp[i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "hwck,k->hwc", W, g2[i, j]
            )
    return xp[pad[0][0] : pad[0][0] + in_shape[0], pad[1][0] : pad[1][0] + in_shape[1]]


@pytest.mark.parametrize(
    "kernel, strides, padding",
    [
        ((3, 3), (1, 1), "SAME"),
        ((3, 3), (2, 2), "SAME"),  # asymmetric padding (0, 1)
        ((4, 4), (2, 2), ((2, 2), (2, 2))),
        ((2, 3), (1, 2), "VALID"),
        ((3, 2), (3, 1), ((1, 0), (0, 2))),
        ((1, 1), (1, 1), "VALID"),
    ],
)
def test_conv_matmul_impl_matches_xla_and_reference(kernel, strides, padding, getkey):
    """The patch-matrix convolution (CPU default) equals lax.conv_general_dilated
    in value and in both gradients, and its kernel gradient equals a direct
    float64 sum over windows."""
    from hamax.synapses._conv import conv

    x = jr.normal(getkey(), (9, 8, 3))
    W = jr.normal(getkey(), (*kernel, 3, 4))
    y_m = conv(x, W, strides, padding, impl="matmul")
    y_x = conv(x, W, strides, padding, impl="xla")
    assert y_m.shape == y_x.shape
    np.testing.assert_allclose(y_m, y_x, rtol=1e-12, atol=1e-12)
    ct = jr.normal(getkey(), y_m.shape)
    _, vjp_m = jax.vjp(lambda x, W: conv(x, W, strides, padding, impl="matmul"), x, W)
    _, vjp_x = jax.vjp(lambda x, W: conv(x, W, strides, padding, impl="xla"), x, W)
    for a, b in zip(vjp_m(ct), vjp_x(ct)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    # Kernel gradient from first principles: sum of (window of x) x (cotangent).
    if isinstance(padding, str):
        pads = jax.lax.padtype_to_pads(x.shape[:2], kernel, strides, padding)
    else:
        pads = padding
    xp = np.pad(np.asarray(x), (*pads, (0, 0)))
    dW = np.zeros(W.shape)
    for p in range(ct.shape[0]):
        for q in range(ct.shape[1]):
            win = xp[
                p * strides[0] : p * strides[0] + kernel[0],
                q * strides[1] : q * strides[1] + kernel[1],
            ]
            dW += np.einsum("hwc,o->hwco", win, np.asarray(ct[p, q]))
    np.testing.assert_allclose(vjp_m(ct)[1], dW, rtol=1e-11)


@pytest.mark.parametrize(
    "kernel, stride, padding, pad, shapes",
    [
        (3, 1, "SAME", ((1, 1), (1, 1)), [(6, 6, 2), (6, 6, 3)]),
        (3, 2, 1, ((1, 1), (1, 1)), [(7, 7, 2), (4, 4, 3)]),
        (2, 1, "VALID", ((0, 0), (0, 0)), [(5, 5, 1), (4, 4, 2)]),
    ],
)
def test_conv_gradients_are_conv_and_transpose(
    kernel, stride, padding, pad, shapes, getkey
):
    ham, names = build(S.ConvSynapse(kernel, stride, padding), shapes, getkey())
    s = ham.synapses["s"]
    _, (g1, g2) = acts(ham, names, getkey())
    d1, d2 = jax.grad(s, argnums=(0, 1))(g1, g2)
    W = np.asarray(s.W)
    np.testing.assert_allclose(d2, -np_conv(np.asarray(g1), W, stride, pad), rtol=1e-11)
    np.testing.assert_allclose(
        d1, -np_conv_input_grad(np.asarray(g2), W, stride, pad, shapes[0]), rtol=1e-11
    )
    # and against the jax.lax references
    fwd = jax.lax.conv_general_dilated(
        g1[None], s.W, (stride, stride), pad, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )[0]
    np.testing.assert_allclose(d2, -fwd, rtol=1e-12)
    if stride == 1 and padding == "VALID":
        tr = jax.lax.conv_transpose(
            g2[None],
            s.W,
            (1, 1),
            "VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            transpose_kernel=True,
        )[0]
        np.testing.assert_allclose(d1, -tr, rtol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg", "soft"])
def test_conv_pool_gradient_is_pooled_conv(kind, getkey):
    shapes = [(6, 6, 2), (3, 3, 3)]
    ham, names = build(S.ConvPoolSynapse(3, pool=kind, pool_beta=1.5), shapes, getkey())
    s = ham.synapses["s"]
    _, (g1, g2) = acts(ham, names, getkey())
    h = np_conv(np.asarray(g1), np.asarray(s.W), 1, ((1, 1), (1, 1)))
    win = h.reshape(3, 2, 3, 2, 3).transpose(0, 2, 4, 1, 3).reshape(3, 3, 3, 4)
    ref = {
        "max": win.max(-1),
        "avg": win.mean(-1),
        "soft": np.log(np.exp(1.5 * win).mean(-1)) / 1.5,
    }[kind]
    np.testing.assert_allclose(jax.grad(s, argnums=1)(g1, g2), -ref, rtol=1e-10)


def test_dense_hidden_gradient_closed_form(getkey):
    shapes = [(2, 3), (4,)]
    ham, names = build(
        S.DenseHiddenSynapse(5, L.Softmax(beta=2.0), normalize=True, num_heads=2),
        shapes,
        getkey(),
    )
    s = ham.synapses["s"]
    _, gs = acts(ham, names, getkey())
    W1, W2 = (np.asarray(w).transpose(1, 2, 0) for w in s.Ws)  # (heads, hidden, d)
    norm = np.sqrt((W1**2).sum(-1, keepdims=True) + (W2**2).sum(-1, keepdims=True))
    W1, W2 = W1 / norm, W2 / norm  # unit-norm memories across both layers
    np.testing.assert_allclose(
        np.sqrt((W1**2).sum(-1) + (W2**2).sum(-1)), 1.0, rtol=1e-12
    )
    h = np.einsum("khd,d->kh", W1, np.asarray(gs[0]).reshape(-1)) + np.einsum(
        "khd,d->kh", W2, np.asarray(gs[1])
    )
    p = np.exp(2 * h) / np.exp(2 * h).sum(-1, keepdims=True)  # softmax per head
    np.testing.assert_allclose(
        s(*gs), -(np.log(np.exp(2 * h).sum(-1)) / 2).sum(), rtol=1e-12
    )
    d1, d2 = jax.grad(s, argnums=(0, 1))(*gs)
    np.testing.assert_allclose(
        d1.reshape(-1), -np.einsum("khd,kh->d", W1, p), rtol=1e-11
    )
    np.testing.assert_allclose(d2, -np.einsum("khd,kh->d", W2, p), rtol=1e-11)


def test_dense_hidden_per_layer_normalisation(getkey):
    ham, names = build(
        S.DenseHiddenSynapse(4, L.Softmax(), normalize="per_layer"),
        [(5,), (2,)],
        getkey(),
    )
    s = ham.synapses["s"]
    for W in s.memories():
        np.testing.assert_allclose(
            np.linalg.norm(np.asarray(W), axis=-1), 1.0, rtol=1e-12
        )
    _, gs = acts(ham, names, getkey())
    W1, W2 = (np.asarray(w)[0] for w in s.memories())
    h = W1 @ np.asarray(gs[0]) + W2 @ np.asarray(gs[1])
    np.testing.assert_allclose(s(*gs), -np.log(np.exp(h).sum()), rtol=1e-12)


def test_dense_hidden_relu_is_paper_hn(getkey):
    ham, names = build(S.DenseHiddenSynapse(8), [(6,), (3,)], getkey())
    s = ham.synapses["s"]
    _, gs = acts(ham, names, getkey())
    W = np.concatenate([np.asarray(w)[:, 0].T for w in s.Ws], axis=1)  # (8, 9) memories
    np.testing.assert_array_equal(
        W, np.concatenate([np.asarray(m)[0] for m in s.memories()], axis=1)
    )
    h = W @ np.concatenate([np.asarray(g) for g in gs])
    np.testing.assert_allclose(s(*gs), -0.5 * (np.maximum(h, 0) ** 2).sum(), rtol=1e-12)
    grad = np.concatenate(jax.grad(s, argnums=(0, 1))(*gs))
    np.testing.assert_allclose(grad, -W.T @ np.maximum(h, 0), rtol=1e-12)


def test_self_attention_gradient_is_energy_transformer_update(getkey):
    ham, names = build(
        S.SelfAttentionSynapse(num_heads=2, head_dim=3, beta=0.7), [(4, 5)], getkey()
    )
    s = ham.synapses["s"]
    _, (g,) = acts(ham, names, getkey())
    Wq, Wk, beta, G = np.asarray(s.Wq), np.asarray(s.Wk), 0.7, np.asarray(g)
    ref = np.zeros_like(G)
    for h in range(2):
        Q, K = G @ Wq[h].T, G @ Wk[h].T  # (N, Y)
        logits = beta * Q @ K.T  # [C, B]
        np.fill_diagonal(logits, -np.inf)
        A = np.exp(logits - logits.max(1, keepdims=True))
        A /= A.sum(1, keepdims=True)  # softmax over keys B for each query C
        # ET update (Hoover et al. 2023): -dE/dg_A = sum_C A[C,A] Wk^T Q_C + Wq^T sum_B A[A,B] K_B
        ref += A.T @ Q @ Wk[h] + A @ K @ Wq[h]
    np.testing.assert_allclose(-jax.grad(s)(g), ref, rtol=1e-10)


def test_nary_closed_form(getkey):
    ham, names = build(S.NaryDenseSynapse(), [(2,), (3,), (2,)], getkey())
    s = ham.synapses["s"]
    _, gs = acts(ham, names, getkey())
    a, b, c = (np.asarray(g) for g in gs)
    W = np.asarray(s.W)
    np.testing.assert_allclose(
        s(*gs), -np.einsum("i,j,k,ijk->", a, b, c, W), rtol=1e-12
    )
    np.testing.assert_allclose(
        jax.grad(s, argnums=1)(*gs), -np.einsum("i,k,ijk->j", a, c, W), rtol=1e-12
    )


def test_paper_parameter_counts(getkey):
    import equinox as eqx

    from hamax import zoo

    def count(h):
        return sum(
            x.size
            for x in jax.tree_util.tree_leaves(eqx.filter(h.synapses, eqx.is_array))
        )

    assert count(zoo.make_hn_mnist(key=getkey())) == 794_000  # Table 1: 0.79M
    assert count(zoo.make_conv_ham_mnist(key=getkey())) == 596_752  # Table 1: 0.60M


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda k: build(S.ConvSynapse(3, strides=2), [(6, 6, 1), (6, 6, 2)], k),
            r"ConvSynapse with kernel_size=\(3, 3\), strides=\(2, 2\), padding='SAME' maps a \(6, 6\) image to \(3, 3\), but the output layer is \(6, 6\). Change the output layer shape to \(3, 3, 2\)",
        ),
        (
            lambda k: build(S.ConvSynapse(3), [(36,), (6, 6, 2)], k),
            r"ConvSynapse connects image-like layers of shape \(height, width, channels\), got a layer of shape \(36,\)",
        ),
        (
            lambda k: S.ConvPoolSynapse(3, padding="FULL"),
            r"ConvPoolSynapse expected `padding` to be 'SAME', 'VALID'",
        ),
        (
            lambda k: S.ConvSynapse(3, padding="FULL"),
            r"ConvSynapse expected `padding` to be 'SAME', 'VALID'",
        ),
        (
            lambda k: S.ConvSynapse((3, 3, 3)),
            r"ConvSynapse expected `kernel_size` to be a positive int or a pair of them",
        ),
        (
            lambda k: S.ConvPoolSynapse(3, pool="median"),
            r"ConvPoolSynapse expected `pool` to be 'max', 'avg' or 'soft', got 'median'",
        ),
        (
            lambda k: build(S.ConvPoolSynapse(3), [(6, 6, 1), (6, 6, 2)], k),
            r"ConvPoolSynapse maps a \(6, 6\) image to \(3, 3\)",
        ),
        (
            lambda k: S.DenseHiddenSynapse(0),
            r"DenseHiddenSynapse expected `num_hidden` to be a positive int, got 0",
        ),
        (
            lambda k: S.DenseHiddenSynapse(3, normalize="rows"),
            r"DenseHiddenSynapse expected `normalize` to be False, True or 'per_layer', got 'rows'",
        ),
        (
            lambda k: build(
                S.DenseHiddenSynapse(3, per_token=True), [(4, 3), (5, 3)], k
            ),
            r"DenseHiddenSynapse\(per_token=True\) needs layers with the same leading \(token\) axes",
        ),
        (
            lambda k: build(S.SelfAttentionSynapse(), [(1, 4)], k),
            r"SelfAttentionSynapse needs at least 2 tokens",
        ),
        (
            lambda k: build(S.SelfAttentionSynapse(), [(6,)], k),
            r"could not infer the parameters of synapse 's' .*SelfAttentionSynapse needs at least 2 tokens, got a layer of shape \(6,\)",
        ),
        (
            lambda k: S.AttentionSynapse(num_heads=0),
            r"AttentionSynapse expected `num_heads` to be a positive int, got 0",
        ),
        (
            lambda k: S.DenseSynapse()(jnp.ones(2), jnp.ones(2)),
            r"DenseSynapse has no parameters yet: its shapes are inferred from the layers it connects. Build the HAM with a key",
        ),
        (
            lambda k: S.BiasSynapse(b=jnp.ones(3))(jnp.ones((2, 3))),
            r"BiasSynapse expected activations of shapes \(3,\), got g1.shape=\(2, 3\). hamax functions act on one example",
        ),
        (
            lambda k: S.SelfAttentionSynapse(
                head_dim=2, Wq=jnp.ones((1, 2, 4)), Wk=jnp.ones((1, 2, 4))
            )(jnp.ones((3, 5))),
            r"SelfAttentionSynapse expected `g` with 4 features on its last axis \(shape \(..., 4\)\), got g.shape=\(3, 5\)",
        ),
        (
            lambda k: S.NaryDenseSynapse(W=jnp.ones((2, 2)))(jnp.ones(2), jnp.ones(3)),
            r"NaryDenseSynapse with W.shape=\(2, 2\) expected activations",
        ),
    ],
)
def test_errors(make, match, getkey):
    with pytest.raises(ValueError, match=match):
        make(getkey())


@pytest.mark.parametrize("cls", [S.ConvSynapse, S.ConvPoolSynapse])
def test_conv_call_shape_errors(cls, getkey):
    shapes = [(6, 6, 2), (6, 6, 3) if cls is S.ConvSynapse else (3, 3, 3)]
    ham, _ = build(cls(3), shapes, getkey())
    s = ham.synapses["s"]
    name = cls.__name__
    with pytest.raises(
        ValueError,
        match=rf"{name} with W.shape=\(3, 3, 2, 3\) expected g1 of shape \(h, w, 2\), got g1.shape=\(4, 6, 6, 2\). hamax functions act on one example",
    ):
        s(jnp.ones((4, 6, 6, 2)), jnp.ones(shapes[1]))
    expected = re.escape(
        f"{name} expected g2 of shape {shapes[1]} (what it computes from g1.shape=(6, 6, 2)), got g2.shape=(2, 2, 3)."
    )
    with pytest.raises(ValueError, match=expected):
        s(jnp.ones((6, 6, 2)), jnp.ones((2, 2, 3)))


def test_conv_pool_computes_only_what_its_pooling_reads(getkey):
    # Issue #18: the paper's second conv makes 5x5 outputs of which a 2x2 VALID
    # pooling reads 4x4. The cropped convolution must equal pooling the full one
    # (values and both gradients) for any kernel, stride, padding and window.
    from hamax.synapses._conv import conv
    from hamax.synapses._conv_pool import pool

    cases = [
        ((10, 10, 2), 3, 1, "SAME", 2, None, "max"),  # the paper's 5x5 -> 4x4
        ((10, 10, 2), 3, 2, "SAME", 2, None, "soft"),
        ((11, 9, 1), (3, 2), (2, 1), "VALID", (2, 3), None, "avg"),
        ((9, 13, 2), 2, 3, ((2, 0), (1, 3)), (2, 2), (1, 3), "soft"),
    ]
    for shape, k, s, pad, win, pstr, kind in cases:
        syn = S.ConvPoolSynapse(
            k, s, pad, pool=kind, pool_window=win, pool_strides=pstr, pool_beta=1.3
        )
        W = jr.normal(getkey(), (*syn.kernel_size, shape[-1], 4), jnp.float64)
        g1 = jr.normal(getkey(), shape, jnp.float64)

        def full(W, g1, syn=syn, kind=kind):
            h = conv(g1, W, syn.strides, syn.padding)
            return pool(h, kind, syn.pool_window, syn.pool_strides, 1.3)

        def cropped(W, g1, syn=syn):
            return eqx.tree_at(
                lambda m: m.W, syn, W, is_leaf=lambda x: x is None
            ).forward(g1)

        @jax.jit
        def both(W, g1):
            def value_and_grads(f):
                return f(W, g1), jax.grad(
                    lambda W, g: jnp.sum(jnp.sin(f(W, g))), (0, 1)
                )(W, g1)

            return value_and_grads(full), value_and_grads(cropped)

        (ref, gf), (out, gc) = both(W, g1)
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        for a, b in zip(gc, gf):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        # the lax.conv path (GPU default) crops identically
        r, c = syn._pooled_extent(g1)
        np.testing.assert_allclose(
            conv(g1, W, syn.strides, syn.padding, impl="xla", rows_cols=(r, c)),
            conv(g1, W, syn.strides, syn.padding, impl="xla")[:r, :c],
            rtol=1e-12,
            atol=1e-12,
        )
    # the paper's conv HAM layer: 5x5 convolution outputs, only 4x4 computed
    syn = S.ConvPoolSynapse(3, 1, "SAME", pool_window=2)
    assert syn._pooled_extent(jnp.zeros((5, 5, 1))) == (4, 4)
