"""`make bench`: hamax against the original HAMUX (hamux==0.2.2) and the hardware.

Runs the same workloads on both libraries in one run and writes a table of median
times, their ratio (hamax / hamux), the FLOP rate of each hamax program (the work
it really does, every descent step counted: `_flops.py`), and that rate as a
fraction of a float32 matmul roofline measured in the same run. hamux runs in its own venv (created on first
use, with `fastcore`, which hamux 0.2.2 needs but does not declare).

    python benchmarks/run.py --out bench-results [--repeats 20] [--skip-hamux]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

import hamax
from hamax import training, zoo
from hamax._cli._reproduce import machine as _machine


sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _flops import count_flops  # noqa: E402
from eqprop_step import eqprop_table, eqprop_workloads  # noqa: E402
from user_loops import table as user_loop_table, user_loop_workloads  # noqa: E402


HERE = pathlib.Path(__file__).parent
B, D_IMG, D_LAB, HID, DT = 400, 784, 10, 1000, 0.1


def median_time(f, *args, repeats):
    """Median of `repeats` timed calls after one warm-up call (compilation); a
    single timed call when the warm-up took over 10 s."""
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    if time.perf_counter() - t > 10:
        repeats = 1
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def flops(fn, *args):
    """The work `fn(*args)` really does, every descent step counted (XLA's
    `cost_analysis()` counts a loop body once: see `_flops.py`)."""
    return count_flops(fn, *args)


def augmentation_workloads(repeats):
    """The paper's Table 2 augmentation of one batch of 400 (jitted, as the
    trainer runs it) against a training step of the model it feeds."""
    from hamax.data import AUGMENTATIONS

    res = {}
    for name, shape, model in (
        ("mnist", (B, 28, 28, 1), "hn_relu_mnist"),
        ("cifar10", (B, 32, 32, 3), "hn_relu_cifar10"),
    ):
        x = jr.uniform(jr.key(0), shape, jnp.float32)
        aug = jax.jit(lambda x, k, name=name: AUGMENTATIONS[name](x, key=k))
        t_aug = median_time(aug, x, jr.key(1), repeats=repeats)
        ham = training.build_classifier(model)
        obj = training.zoo_objective(model)
        optim = training.adamw(1e-3)
        state = training.init_opt_state(ham, optim)
        batch = {"image": x, "label": jr.randint(jr.key(2), (B,), 0, 10)}
        t_step = median_time(
            lambda h, s, b=batch, o=obj, opt=optim: training.make_step(
                h, s, b, objective=o, optim=opt
            ),
            ham,
            state,
            repeats=max(3, repeats // 4),
        )
        res[name] = {"augment": t_aug, "step": t_step, "model": model}
    return res


def roofline(repeats):
    """float32 matmul GFLOP/s: a large square one and one shaped like the HN."""
    out = {}
    for name, (m, k, n) in {
        "square2048": (2048, 2048, 2048),
        "hn_shape": (B, D_IMG + D_LAB, HID),
    }.items():
        a = jr.normal(jr.key(0), (m, k), jnp.float32)
        b = jr.normal(jr.key(1), (k, n), jnp.float32)
        f = jax.jit(jnp.matmul)
        t = median_time(f, a, b, repeats=repeats)
        out[name] = 2 * m * k * n / t / 1e9
    return out


def handwritten_workloads(repeats):
    """The same math as (a)-(c) written directly in JAX, batched, with no library:
    the image drive computed once, only the label layer in the loop, the ReLU
    and softmax gradients written out, steps checkpointed. A floor for what any
    library built on XLA can reach on this machine."""
    img = jr.normal(jr.key(1), (B, D_IMG), jnp.float32)
    y = jr.randint(jr.key(2), (B,), 0, D_LAB)
    k1, k2 = jr.split(jr.key(0))
    scale = (D_IMG + D_LAB) ** -0.5
    P = {
        "Wi": scale * jr.normal(k1, (D_IMG, HID), jnp.float32),
        "Wl": scale * jr.normal(k2, (D_LAB, HID), jnp.float32),
    }

    def run(P, img, depth, remat=False):
        drive = jnp.tanh(img) @ P["Wi"]

        def body(x, _):
            r = jax.nn.relu(drive + jax.nn.softmax(x, -1) @ P["Wl"])
            return x - DT * (x - r @ P["Wl"].T), None

        body = jax.checkpoint(body) if remat else body
        return jax.lax.scan(body, jnp.zeros((img.shape[0], D_LAB)), length=depth)[0]

    def loss(P):
        logp = jax.nn.log_softmax(run(P, img, 10, remat=True), -1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], 1))

    optim = optax.adam(1e-3)

    @jax.jit
    def train(P, state):
        grads = jax.grad(loss)(P)
        upd, state = optim.update(grads, state, P)
        return optax.apply_updates(P, upd), state

    step = jax.jit(lambda P, img: run(P, img, 1))
    fwd = jax.jit(lambda P, img: run(P, img, 10))
    return {
        "step": median_time(step, P, img, repeats=repeats),
        "forward10": median_time(fwd, P, img, repeats=repeats),
        "train10": median_time(train, P, optim.init(P), repeats=repeats),
    }


def compat_agreement(out: pathlib.Path) -> str:
    """Run the hamux 0.2 README loop under hamux and under hamax.compat."""
    script = str(HERE / "hamux02_readme.py")
    py = out / ".hamux-venv" / "bin" / "python"
    runs = [
        subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for cmd in (
            [sys.executable, script, "hamax.compat"],
            [str(py), script, "hamux"],
        )
    ]
    a, b = (r.replace("Post init\n", "").strip() for r in runs)
    return "identical" if a == b else f"DIFFERENT:\nhamax.compat:\n{a}\nhamux:\n{b}"


def hamax_workloads(repeats):
    ham = zoo.make_hn((D_IMG,), num_hidden=HID, key=jr.key(0), dtype=jnp.float32)
    img = jr.normal(jr.key(1), (B, D_IMG), jnp.float32)
    y = jr.randint(jr.key(2), (B,), 0, D_LAB)
    res = {}

    def step(ham, img):
        x0 = ham.init_states(dtype=jnp.float32)
        one = lambda im: hamax.descend(
            ham, {**x0, "image": im}, dt=DT, steps=1, clamp=["image"]
        ).states["label"]  # noqa: E731
        return jax.vmap(one)(img)

    objective = training.Classification(dt=DT, steps=10)

    def fwd(ham, img):
        return objective.predict(ham, img)

    for name, f in {"step": step, "forward10": fwd}.items():
        jf = eqx.filter_jit(f)
        res[name] = {
            "seconds": median_time(jf, ham, img, repeats=repeats),
            "flops": flops(jax.jit(f), ham, img),
        }

    optim = optax.adam(1e-3)
    state = training.init_opt_state(ham, optim)
    batch = {"image": img, "label": y}
    for key, adjoint in (("train10", hamax.Remat()), ("train10_plain", hamax.BPTT())):
        obj = training.Classification(dt=DT, steps=10, adjoint=adjoint)

        def loss(h, obj=obj):
            return obj.loss(h, batch)[0]

        res[key] = {
            "seconds": median_time(
                lambda h, s, obj=obj: training.make_step(
                    h, s, batch, objective=obj, optim=optim
                ),
                ham,
                state,
                repeats=repeats,
            ),
            "flops": flops(jax.jit(lambda h: eqx.filter_grad(loss)(h)), ham),
        }

    # Peak temporary memory of one gradient, from XLA's buffer assignment.
    mem = {}
    for mode in ("bptt", "checkpoint", "implicit"):
        mem[mode] = {}
        for depth in (10, 40, 160):
            adj = {"bptt": hamax.BPTT(), "checkpoint": hamax.Remat()}.get(mode)
            obj = training.Classification(
                dt=DT,
                steps=depth,
                adjoint=adj or hamax.Implicit(),
                stop=hamax.Converged(atol=0.0, max_steps=depth)
                if adj is None
                else None,
            )

            def g(h, obj=obj):
                return eqx.filter_grad(lambda h: obj.loss(h, batch)[0])(h)

            compiled = jax.jit(g).lower(ham).compile()
            mem[mode][str(depth)] = compiled.memory_analysis().temp_size_in_bytes
    res["train_temp_bytes"] = mem

    conv = zoo.make_conv_ham_mnist(key=jr.key(0), dtype=jnp.float32)
    cimg = jr.normal(jr.key(1), (100, 28, 28, 1), jnp.float32)
    cy = jr.randint(jr.key(2), (100,), 0, 10)
    cobj = training.Classification(dt=0.3, steps=7)
    cbatch = {"image": cimg, "label": cy}
    cf = cobj.predict
    res["conv_forward7_b100"] = {
        "seconds": median_time(
            eqx.filter_jit(cf), conv, cimg, repeats=max(3, repeats // 4)
        ),
        "flops": flops(jax.jit(cf), conv, cimg),
    }
    cstate = training.init_opt_state(conv, optim)
    res["conv_train7_b100"] = {
        "seconds": median_time(
            lambda h, s: training.make_step(h, s, cbatch, objective=cobj, optim=optim),
            conv,
            cstate,
            repeats=max(3, repeats // 4),
        ),
        "flops": flops(
            jax.jit(lambda h: eqx.filter_grad(lambda h: cobj.loss(h, cbatch)[0])(h)),
            conv,
        ),
    }
    return res


def hamux_workloads(out: pathlib.Path, repeats: int):
    venv = out / ".hamux-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pins = [
            f"jax=={jax.__version__}",
            f"jaxlib=={jax.__version__}",
            f"equinox=={eqx.__version__}",
            "optax",
        ]
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--quiet",
                "hamux==0.2.2",
                "fastcore",
                *pins,
            ],
            check=True,
        )
    r = subprocess.run(
        [str(py), str(HERE / "_workloads_hamux.py"), str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def machine():
    """The processor, cores and JAX backend, as `hamax reproduce` records them."""
    return f"{_machine()}; jax {jax.__version__}"


def memories_at_scale(out: pathlib.Path) -> str:
    """`benchmarks/memories_at_scale.py`'s table (its own subprocesses, each
    reporting its peak RSS): whole datasets and a million patterns stored."""
    subprocess.run(
        [sys.executable, str(HERE / "memories_at_scale.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return (out / "memories_at_scale.md").read_text()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--skip-hamux", action="store_true")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    roof = roofline(args.repeats)
    ours = hamax_workloads(args.repeats)
    floor = handwritten_workloads(args.repeats)
    loops = user_loop_workloads(args.repeats)
    augs = augmentation_workloads(args.repeats)
    ep = eqprop_workloads(max(3, args.repeats // 4))
    theirs = None if args.skip_hamux else hamux_workloads(out, args.repeats)
    agreement = None if args.skip_hamux else compat_agreement(out)
    scale = memories_at_scale(out)
    peak = roof["square2048"]
    rows = [
        f"Machine: {machine()}. Matmul roofline (float32, same run): {roof['square2048']:.0f} GFLOP/s "
        f"(2048^3), {roof['hn_shape']:.0f} GFLOP/s (400x794 @ 794x1000).",
        "",
        "| workload (batch 400, float32) | hamax ms | hamux 0.2.2 ms | hamax / hamux | hand-written JAX ms | hamax GFLOP/s | % of roofline |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = {
        "step": "(a) one dynamics step",
        "forward10": "(b) depth-10 forward, image clamped",
        "train10": "(c) train step, BPTT depth 10, Adam (default: steps checkpointed)",
        "train10_plain": "(c') the same without checkpointing",
        "conv_forward7_b100": "conv HAM forward, depth 7 (batch 100)",
        "conv_train7_b100": "conv HAM train step, depth 7, Adam (batch 100)",
    }
    for key, label in names.items():
        t = ours[key]["seconds"]
        gf = ours[key]["flops"] / t / 1e9
        h = theirs.get(key) if theirs else None
        hcol = f"{1e3 * h:.2f}" if h else "n/a"
        ratio = f"{t / h:.2f}" if h else "n/a"
        fl = f"{1e3 * floor[key]:.2f}" if key in floor else "n/a"
        rows.append(
            f"| {label} | {1e3 * t:.2f} | {hcol} | {ratio} | {fl} | {gf:.0f} | {100 * gf / peak:.0f}% |"
        )
    rows += [
        "",
        "Peak temporary memory of one training gradient (XLA buffer assignment, MiB):",
        "",
        "| depth | hamax BPTT | hamax BPTT + checkpoint | hamax implicit | hamux 0.2.2 BPTT |",
        "| --- | --- | --- | --- | --- |",
    ]
    for d in ("10", "40", "160"):
        m = ours["train_temp_bytes"]
        hm = f"{theirs['train_temp_bytes'][d] / 2**20:.1f}" if theirs else "n/a"
        rows.append(
            f"| {d} | {m['bptt'][d] / 2**20:.1f} | {m['checkpoint'][d] / 2**20:.1f} | {m['implicit'][d] / 2**20:.1f} | {hm} |"
        )
    rows += [
        "",
        "Data augmentation (the paper's Table 2, jitted, batch 400) against one "
        "training step of the zoo model it feeds:",
        "",
        "| dataset | augmentation ms | train step ms (model) | augmentation / step |",
        "| --- | --- | --- | --- |",
    ]
    for name, r in augs.items():
        rows.append(
            f"| {name} | {1e3 * r['augment']:.2f} | {1e3 * r['step']:.1f} "
            f"({r['model']}) | {100 * r['augment'] / r['step']:.0f}% |"
        )
    rows += [
        "",
        "Every way to run the dynamics (`benchmarks/user_loops.py`; the paper's HN, "
        "depth 10): native `descend`, loops the user writes, and a training step "
        "(Adam) through each; x native = time / native time.",
        "",
        user_loop_table(loops),
    ]
    rows += [
        "",
        "Gradient estimators (`benchmarks/eqprop_step.py`; float32, AdamW step, "
        "docs/equilibrium_propagation.md):",
        "",
        eqprop_table(ep),
    ]
    if agreement is not None:
        rows += [
            "",
            "hamux 0.2 README loop (`benchmarks/hamux02_readme.py`) under hamux and "
            f"under hamax.compat: {agreement}.",
        ]
    rows += ["", "Memories at scale (`benchmarks/memories_at_scale.py`):", "", scale]
    table = "\n".join(rows) + "\n"
    (out / "results.md").write_text(table)
    (out / "results.json").write_text(
        json.dumps(
            {
                "roofline_gflops": roof,
                "hamax": ours,
                "hamux": theirs,
                "handwritten": floor,
                "user_loops": loops,
                "augmentation": augs,
                "eqprop": ep,
                "compat_agreement": agreement,
                "machine": machine(),
            },
            indent=1,
        )
    )
    print(table)


if __name__ == "__main__":
    main()
