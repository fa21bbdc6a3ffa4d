"""Data-parallel scaling: throughput on 1, 2, 4 devices and the all-reduce's share.

    python benchmarks/scaling.py [--model hn_relu_mnist] [--batch-size 400]
    python benchmarks/scaling.py --estimate-only   # the paper-scale estimate alone

1. One process with 1, 2 and 4 devices (forced CPU host devices, or the
   accelerators it has), then 2 processes x 1 and 2 x 2 devices on this machine
   (`jax.distributed` over loopback, gloo CPU collectives). Each runs the zoo
   model's training step (`hamax.training.make_step`, global batch
   `--batch-size` split over every device) and reports the median step time and
   examples/s.
2. The communication share: the same configuration's gradient all-reduce alone
   (a sum over the "batch" mesh axis of one float32 vector per device with the
   model's parameter count, compiled to an all-reduce) against the step time.
3. Memory-sharded retrieval (`--memories-only` for these rows alone): a Dense
   AM's memories split over 1, 2 and 4 devices (`hamax.training.shard_memories`
   on a 1 x n mesh), queries/s and the per-step collectives' share; and the
   estimate for 8 and 64 GPUs (memory per GPU, bytes exchanged per step).
4. The estimate for the paper's four models on 8 and 64 GPUs: ring all-reduce
   bytes per GPU per step, its time at the stated link bandwidth and latency,
   against compute time per step from the step's FLOPs (XLA's cost analysis of
   hamax's step at the paper's batch) at the stated sustained GPU rate.

Prints JSON lines, then markdown tables for docs/scaling.md.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap


CHILD = """
import json, os, sys, time
import jax, jax.numpy as jnp, numpy as np
import equinox as eqx
from jax.sharding import NamedSharding, PartitionSpec as P
from hamax import training as T
model, batch, steps, hidden, n, pid, addr = sys.argv[1:8]
batch, steps, n, pid = int(batch), int(steps), int(n), int(pid)
if n > 1:
    T.initialize_distributed(addr, n, pid, heartbeat_timeout=30)
hp = {"num_hidden": int(hidden)} if int(hidden) else None
ham = T.build_classifier(model, hp, seed=0)
objective, optim = T.zoo_objective(model), T.adamw(1e-3)
opt = T.init_opt_state(ham, optim)
bs, rep = T.data_parallel()
ham, opt = eqx.filter_shard((ham, opt), rep)
image = objective.image if hasattr(objective, "image") else "image"
shape = ham.neurons[image].shape
rng = np.random.default_rng(0)
b = {image: rng.standard_normal((batch, *shape), np.float32),
     objective.label: rng.integers(0, 10, batch).astype(np.int32)}
from hamax.training._parallel import global_batch
gb = global_batch(bs, b)
def step():
    out = T.make_step(ham, opt, gb, objective=objective, optim=optim)
    return out[2]
def timed(f, k):
    jax.block_until_ready(f())
    ts = []
    for _ in range(k):
        t = time.perf_counter(); jax.block_until_ready(f()); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]
t_step = timed(step, steps)
nparam = sum(x.size for x in jax.tree.leaves(eqx.filter(ham, eqx.is_inexact_array)))
ndev = len(jax.devices())
g = jax.make_array_from_callback((ndev, nparam), NamedSharding(bs.mesh, P("batch")),
                                 lambda idx: np.ones((1, nparam), np.float32))
allreduce = jax.jit(lambda g: g.sum(0), out_shardings=rep)
t_ar = timed(lambda: allreduce(g), steps)
if pid == 0:
    print(json.dumps(dict(model=model, processes=n, devices=ndev, batch=batch,
        params=int(nparam), step_ms=1e3 * t_step, examples_per_s=batch / t_step,
        allreduce_ms=1e3 * t_ar, comm_share=t_ar / t_step,
        platform=jax.devices()[0].platform)), flush=True)
"""


# Memory-sharded retrieval: one process with `n` devices on a 1 x n memory mesh,
# a Dense AM of `memories` random ±1 patterns of dimension `dim`, `batch` queries,
# `steps` descent steps (hamax.zoo.recall); and the per-step collectives alone:
# the all-reduce of the (batch, dim) visible gradient and the two (batch,)
# all-reduces of the softmax's maximum and sum.
MEM_CHILD = """
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from hamax import training as T, zoo
memories, dim, batch, steps, repeats = map(int, sys.argv[1:6])
mesh = T.memory_mesh()
n = mesh.shape["memory"]
rng = np.random.default_rng(0)
pats = (rng.integers(0, 2, (memories, dim)) * 2 - 1).astype(np.float32)
ham = T.shard_memories(zoo.make_dense_am(memories=pats, remove_self_coupling=False), mesh)
cues = jax.device_put(pats[:batch], NamedSharding(mesh, P()))
def timed(f, k):
    jax.block_until_ready(f())
    ts = []
    for _ in range(k):
        t = time.perf_counter(); jax.block_until_ready(f()); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]
t = timed(lambda: zoo.recall(ham, cues, steps=steps), repeats) / steps
rep = NamedSharding(mesh, P())
def allreduce(shape):
    g = jax.make_array_from_callback((n, *shape), NamedSharding(mesh, P("memory")),
                                     lambda idx: np.ones((1, *shape), np.float32))
    f = jax.jit(lambda g: g.sum(0), out_shardings=rep)
    return timed(lambda: f(g), repeats)
t_coll = allreduce((batch, dim)) + 2 * allreduce((batch,))
print(json.dumps(dict(devices=n, memories=memories, dim=dim, batch=batch,
    step_ms=1e3 * t, queries_per_s=batch / t, collective_ms=1e3 * t_coll,
    comm_share=t_coll / t)), flush=True)
"""


def run_memories(args, devices: int) -> dict:
    """Memory-sharded retrieval on `devices` forced CPU devices."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}"
    argv = [args.memories, args.memory_dim, args.memory_batch, 5, args.steps]
    r = subprocess.run(
        [sys.executable, "-c", MEM_CHILD, *map(str, argv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if r.returncode:
        raise SystemExit(f"memories on {devices} devices failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def estimate_memories(args) -> list[dict]:
    """Memory-sharded retrieval on n GPUs, per descent step: each GPU holds M/n
    memories (bfloat16) and does 4 B (M/n) d FLOPs (drive and its gradient); the
    GPUs then all-reduce the (B, d) float32 visible gradient and the softmax's
    (B,) maximum and sum (three ring all-reduces)."""
    rows = []
    B = args.paper_batch
    for M, d in ((1_000_000, 784), (10_000_000, 784), (10_000_000, 3072)):
        row = dict(memories=M, dim=d, batch=B)
        for n, bw in ((8, args.node_gbps), (64, args.net_gbps)):
            nbytes = 2 * (n - 1) / n * 4 * (B * d + 2 * B)
            comm = nbytes / (bw * 1e9) + 3 * 2 * (n - 1) * args.latency_us * 1e-6
            comp = max(
                4 * B * M * d / n / args.gpu_tflops / 1e12, args.gpu_floor_ms / 1e3
            )
            row[f"gib_{n}"] = 2 * M * d / n / 2**30
            row[f"mb_{n}"] = nbytes / 1e6
            row[f"comm_ms_{n}"] = 1e3 * comm
            row[f"compute_ms_{n}"] = 1e3 * comp
            row[f"share_{n}"] = comm / (comm + comp)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, processes: int, devices: int) -> dict:
    """One configuration: `processes` processes with `devices` devices each."""
    addr = f"127.0.0.1:{free_port()}"
    env = dict(os.environ)
    if args.cpu:
        flags = env.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={devices}"
        env["JAX_PLATFORMS"] = "cpu"
    else:  # accelerators: each process sees `devices` of them
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
    procs = []
    for pid in range(processes):
        e = dict(env)
        if not args.cpu and processes > 1:
            first = pid * devices
            e["CUDA_VISIBLE_DEVICES"] = ",".join(str(first + i) for i in range(devices))
        argv = [args.model, args.batch_size, args.steps, args.hidden]
        argv += [processes, pid, addr]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, *map(str, argv)],
                env=e,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=1800) for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode:
            raise SystemExit(f"{processes}x{devices} failed:\n{err[-3000:]}")
    return json.loads(outs[0][0].strip().splitlines()[-1])


PAPER = ("hn_relu_mnist", "hn_relu_cifar10", "conv_ham_mnist", "conv_ham_cifar10")


def step_cost(model: str, batch: int) -> tuple[int, float]:
    """(parameter count, FLOPs of one training step at `batch`) from XLA's cost
    analysis of hamax's compiled step (on this machine's backend)."""
    import equinox as eqx
    import jax
    import numpy as np

    from hamax import training as T

    ham = T.build_classifier(model, None, seed=0)
    objective, optim = T.zoo_objective(model), T.adamw(1e-3)
    opt = T.init_opt_state(ham, optim)
    shape = ham.neurons[objective.image].shape
    b = {
        objective.image: np.zeros((batch, *shape), np.float32),
        objective.label: np.zeros(batch, np.int32),
    }
    params, static = eqx.partition((ham, opt), eqx.is_inexact_array)

    def f(params, b):  # the batch an argument, not a constant XLA would fold
        h, o = eqx.combine(params, static)
        return T.make_step(h, o, b, objective=objective, optim=optim)[2]

    cost = jax.jit(f).lower(params, b).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    nparam = sum(x.size for x in jax.tree.leaves(params[0]))
    return int(nparam), float(cost["flops"])


def estimate(args) -> list[dict]:
    rows = []
    for model in PAPER:
        nparam, flops = step_cost(model, args.paper_batch)
        one = max(flops / args.gpu_tflops / 1e12, args.gpu_floor_ms / 1e3)
        row = dict(model=model, params=nparam, step_gflop=flops / 1e9)
        row["t1_ms"] = 1e3 * one
        for n, bw in ((8, args.node_gbps), (64, args.net_gbps)):
            nbytes = 2 * (n - 1) / n * 4 * nparam  # ring all-reduce, per GPU
            comm = nbytes / (bw * 1e9) + 2 * (n - 1) * args.latency_us * 1e-6
            comp = max(flops / n / args.gpu_tflops / 1e12, args.gpu_floor_ms / 1e3)
            row[f"mb_{n}"] = nbytes / 1e6
            row[f"comm_ms_{n}"] = 1e3 * comm
            row[f"compute_ms_{n}"] = 1e3 * comp
            row[f"share_{n}"] = comm / (comm + comp)
            row[f"speedup_{n}"] = one / (comm + comp)
            # Weak scaling: each GPU keeps the paper's batch (global batch x n).
            row[f"weak_{n}"] = n * one / (one + comm)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="hn_relu_mnist")
    p.add_argument("--batch-size", type=int, default=400)
    p.add_argument("--hidden", type=int, default=0, help="num_hidden; 0 = zoo's")
    p.add_argument("--steps", type=int, default=10, help="timed steps (median)")
    p.add_argument(
        "--gpu",
        dest="cpu",
        action="store_false",
        help="use this machine's accelerators instead of CPU devices",
    )
    p.add_argument("--estimate-only", action="store_true")
    p.add_argument(
        "--memories-only",
        action="store_true",
        help="only the memory-sharded rows (measured and estimated)",
    )
    p.add_argument("--memories", type=int, default=16384)
    p.add_argument("--memory-dim", type=int, default=256)
    p.add_argument("--memory-batch", type=int, default=128)
    p.add_argument("--paper-batch", type=int, default=400)
    p.add_argument(
        "--gpu-tflops",
        type=float,
        default=20.0,
        help="sustained float32 rate of one GPU in the estimate",
    )
    p.add_argument(
        "--gpu-floor-ms",
        type=float,
        default=0.5,
        help="least time of one step on a GPU (kernel launches)",
    )
    p.add_argument(
        "--node-gbps",
        type=float,
        default=100.0,
        help="all-reduce bandwidth per GPU inside a node, GB/s",
    )
    p.add_argument(
        "--net-gbps",
        type=float,
        default=20.0,
        help="all-reduce bandwidth per GPU across nodes, GB/s",
    )
    p.add_argument(
        "--latency-us",
        type=float,
        default=5.0,
        help="latency of one ring hop, microseconds",
    )
    args = p.parse_args()
    mem = [] if args.estimate_only else [run_memories(args, n) for n in (1, 2, 4)]
    for r in mem:
        print(json.dumps(r), flush=True)
    print(
        "\n| memory shards | step (ms) | queries/s | speedup | collectives (ms) "
        "| comm share |\n|---|---|---|---|---|---|"
    )
    for r in mem:
        print(
            f"| {r['devices']} | {r['step_ms']:.2f} | {r['queries_per_s']:.0f} "
            f"| {r['queries_per_s'] / mem[0]['queries_per_s']:.2f} "
            f"| {r['collective_ms']:.3f} | {100 * r['comm_share']:.1f}% |"
        )
    print(
        "\n| memories x dim | 8 GPUs: GiB/GPU / MB exchanged / comm ms / compute ms "
        "/ share | 64 GPUs: GiB/GPU / MB exchanged / comm ms / compute ms / share "
        "|\n|---|---|---|"
    )
    for r in estimate_memories(args):
        cells = [
            f"{r[f'gib_{n}']:.2f} / {r[f'mb_{n}']:.2f} / {r[f'comm_ms_{n}']:.3f} / "
            f"{r[f'compute_ms_{n}']:.3f} / {100 * r[f'share_{n}']:.0f}%"
            for n in (8, 64)
        ]
        print(f"| {r['memories']:,} x {r['dim']} | {cells[0]} | {cells[1]} |")
    if args.memories_only:
        return
    measured = []
    if not args.estimate_only:
        for procs, devs in ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2)):
            r = run(args, procs, devs)
            print(json.dumps(r), flush=True)
            measured.append(r)
    est = estimate(args)
    print(
        textwrap.dedent(
            """
        | processes x devices | step (ms) | examples/s | speedup | all-reduce (ms) | comm share |
        |---|---|---|---|---|---|"""
        ).strip()
    )
    for r in measured:
        print(
            f"| {r['processes']} x {r['devices'] // r['processes']} "
            f"| {r['step_ms']:.2f} | {r['examples_per_s']:.0f} "
            f"| {r['examples_per_s'] / measured[0]['examples_per_s']:.2f} "
            f"| {r['allreduce_ms']:.3f} | {100 * r['comm_share']:.1f}% |"
        )
    print(
        "\n| model | params | step GFLOP | 1 GPU (ms) | 8 GPUs: MB / comm ms / "
        "compute ms / share / speedup / weak | 64 GPUs: MB / comm ms / compute ms / "
        "share / speedup / weak |\n|---|---|---|---|---|---|"
    )
    for r in est:
        cells = [
            f"{r[f'mb_{n}']:.2f} / {r[f'comm_ms_{n}']:.3f} / "
            f"{r[f'compute_ms_{n}']:.3f} / {100 * r[f'share_{n}']:.0f}% / "
            f"{r[f'speedup_{n}']:.1f}x / {r[f'weak_{n}']:.1f}x"
            for n in (8, 64)
        ]
        print(
            f"| {r['model']} | {r['params'] / 1e6:.2f}M | {r['step_gflop']:.2f} "
            f"| {r['t1_ms']:.2f} | {cells[0]} | {cells[1]} |"
        )


if __name__ == "__main__":
    main()
