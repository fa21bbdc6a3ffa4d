"""The examples gallery cannot rot: every script in examples/ runs here with
`--small`, and what it prints is checked, not only that it ran (issue #17).

To share the cost of importing JAX and of compiling the small operations every
example uses, the scripts run in two fresh Python processes at once, each a
driver that runs its share one after the other with `runpy` (as
`python examples/x.py --small` would, but without x64 or the strict promotion
rules this suite enables). `multi_device.py` runs first in its process: it
forces two CPU devices before JAX is imported, so the examples after it in
that process train data-parallel on two devices (same results, up to float32
reduction order).
"""

import json
import os
import pathlib
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist.npz"
EXAMPLES = ROOT / "examples"
NEEDS_DATA = {
    "train_hn",
    "figure2",
    "dense_am",
    "conv_ham",
    "custom_synapse",
    "multi_device",
}
# Two groups of about the same CPU time (conv_ham alone is about a quarter).
GROUPS = [
    ["readme_ham", "figure2", "dense_am", "conv_ham"],
    ["multi_device", "train_hn", "classical_hopfield", "energy_transformer"]
    + ["custom_synapse"],
]
ALL = [name for group in GROUPS for name in group]

DRIVER = """
import contextlib, io, json, runpy, sys, time, traceback
jobs, report = json.loads(sys.argv[1]), {}
for name, script, argv in jobs:
    buf, t0, c0 = io.StringIO(), time.perf_counter(), time.process_time()
    sys.argv = [script, *argv]
    error = None
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path(script, run_name="__main__")
    except BaseException:
        error = traceback.format_exc()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    report[name] = {"stdout": buf.getvalue(), "error": error, "seconds": seconds, "cpu": cpu}
print("REPORT " + json.dumps(report))
"""


def _parse(stdout: str) -> dict:
    """The `name: value` result lines an example prints, values as numbers."""
    out: dict = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(": ")
        if not sep or " " in key:
            continue
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def test_every_example_is_tested():
    scripts = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(ALL)
    assert set(CHECKS) == set(ALL)


def _run_all(out: pathlib.Path) -> dict:
    """Run every example with --small; the driver's report, by example name."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["MPLBACKEND"] = "Agg"
    procs = []
    for group in GROUPS:
        jobs = []
        for name in group:
            argv = ["--small", "--out", str(out)]
            argv += ["--data", str(DATA)] if name in NEEDS_DATA else []
            jobs.append([name, str(EXAMPLES / f"{name}.py"), argv])
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", DRIVER, json.dumps(jobs)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    report: dict = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        lines = [s for s in stdout.splitlines() if s.startswith("REPORT ")]
        assert proc.returncode == 0 and lines, stderr[-3000:]
        report.update(json.loads(lines[-1][len("REPORT ") :]))
    return report


def _energy_never_rises(r):
    assert r["energy_max_rise_rel"] <= 1e-5


def _check_readme_ham(r):
    _energy_never_rises(r)
    assert r["energy_end"] < r["energy_start"]
    assert abs(r["probs_sum"] - 1) < 1e-5
    assert r["hand_loop_max_diff"] < 1e-5


def _check_train_hn(r):
    _energy_never_rises(r)
    assert r["test_accuracy"] > 0.7  # chance is 0.1


def _check_figure2(r):
    _energy_never_rises(r)
    assert r["recalled_right_digit"] >= 8  # of 10 labels
    assert r["mean_best_correlation"] > 0.6  # one digit, not a blur
    assert r["activation_min"] < -0.5 and r["activation_max"] > 0.5  # visible


def _check_classical_hopfield(r):
    _energy_never_rises(r)
    assert r["min_overlap"] > 0.9
    assert r["recalled_at_lowest_load"] > 0.9
    assert r["recalled_at_highest_load"] < 0.5  # past the capacity


def _check_dense_am(r):
    assert r["dense_min_overlap_flipped"] > 0.95
    assert r["dense_mean_overlap_erased"] > 0.9
    assert r["classical_mean_overlap_flipped"] < 0.9  # Hebb's rule fails here


def _check_conv_ham(r):
    _energy_never_rises(r)
    assert r["test_accuracy"] > 0.2  # chance is 0.1


def _check_energy_transformer(r):
    _energy_never_rises(r)
    assert r["converged"] == 1  # printed as 1 (True)
    assert r["energy_end"] < r["energy_start"]
    assert r["grad_norm_ratio"] < 0.05


def _check_custom_synapse(r):
    assert r["grad_autodiff_vs_hand_max_diff"] < 1e-5
    assert r["test_accuracy"] > 0.5  # chance is 0.1


def _check_multi_device(r):
    assert r["num_devices"] == 2 and r["param_devices"] == 2
    # One short epoch: the runs differ only by float32 summation order so far.
    assert r["max_param_diff_rel"] < 1e-3
    assert r["accuracy_gap"] < 0.02
    assert r["test_accuracy"] > 0.6


CHECKS = {
    "readme_ham": _check_readme_ham,
    "train_hn": _check_train_hn,
    "figure2": _check_figure2,
    "classical_hopfield": _check_classical_hopfield,
    "dense_am": _check_dense_am,
    "conv_ham": _check_conv_ham,
    "energy_transformer": _check_energy_transformer,
    "custom_synapse": _check_custom_synapse,
    "multi_device": _check_multi_device,
}


# One test, not one per example: under pytest-xdist, tests of one module may land
# on different workers, and each would run every example again.
def test_every_example_runs_and_its_results_hold(tmp_path):
    # CI has ../shared; a missing copy fails here instead of skipping the gallery.
    assert DATA.exists(), (
        f"the examples read {DATA}; put the shared data beside the repo"
    )
    report = _run_all(tmp_path)
    failures = []
    for name in ALL:
        run = report[name]
        try:
            assert run["error"] is None, run["error"]
            CHECKS[name](_parse(run["stdout"]))
            assert (tmp_path / f"{name}.png").stat().st_size > 10_000, "no figure"
        except AssertionError as e:
            failures.append(f"examples/{name}.py --small: {e}\n{run['stdout']}")
    assert not failures, "\n\n".join(failures)
