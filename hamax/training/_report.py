"""What a training run reports: one line per epoch (with an ETA) and its
metrics files."""

import csv
import io
import json
import sys

import equinox as eqx
from tqdm.auto import tqdm

from .._io._atomic import atomic_write_bytes
from ._rundir import RunDir


def write_metrics(run: RunDir, history: list[dict]) -> None:
    """`metrics.json` and `metrics.csv` of `history`, written atomically."""
    # One column order whatever the rows' key order (a resumed run's history
    # comes back from the checkpoint with its keys sorted).
    fields = sorted(dict.fromkeys(k for row in history for k in row), key=_column)
    history = [{k: row[k] for k in fields if k in row} for row in history]
    atomic_write_bytes(run.metrics_json, json.dumps(history, indent=1).encode())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(run.metrics_csv, buf.getvalue().encode())


def _column(key: str) -> tuple:
    """epoch, train_*, test_*, other metrics, epoch_seconds; loss before
    accuracy within a split."""
    split = key.split("_", 1)[0]
    group = {"epoch": 0, "train": 1, "test": 2}.get(split, 3)
    group = 4 if key == "epoch_seconds" else group
    metric = key.split("_", 1)[-1]
    return group, {"loss": 0, "accuracy": 1}.get(metric, 2), key


def epoch_line(row: dict, epochs: int | None, eta: float | None = None) -> str:
    """One plain line for a finished epoch: `epoch 3/100 | train_loss ... |
    2.1s | ETA 3m27s` (the ETA: mean wall time per epoch so far, evaluation
    included, times the epochs left)."""
    parts = [f"epoch {row.get('epoch')}" + (f"/{epochs}" if epochs else "")]
    for k, v in row.items():
        if k not in ("epoch", "epoch_seconds") and isinstance(v, float):
            parts.append(f"{k} {v:.4f}")
    if "epoch_seconds" in row:
        parts.append(f"{row['epoch_seconds']:.1f}s")
    if eta is not None:
        parts.append(f"ETA {duration(eta)}")
    return " | ".join(parts)


def duration(seconds: float) -> str:
    """`75` -> `1m15s`, `4000` -> `1h06m40s`."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def say(line: str) -> None:
    """A line to stderr that does not break a progress bar on a terminal: one
    line per epoch in a log, never carriage-return updates."""
    tqdm.write(line, file=sys.stderr)
    sys.stderr.flush()


def describe(transform) -> str | None:
    """How a resume recognises the transform: an equinox module's repr (its
    settings; arrays show as shapes), else the function's qualified name."""
    if transform is None:
        return None
    if isinstance(transform, eqx.Module):
        return repr(transform)
    return getattr(transform, "__qualname__", type(transform).__name__)


def out_of_time(limit: float | None, walls: list[float], now: float) -> bool:
    """Whether one more epoch from `now` would end after `limit` seconds from
    `walls[0]`; `walls` are the clock at the start and after each epoch. An
    epoch is estimated as the mean of those after the first (which compiles),
    or as the first when it is the only one."""
    if limit is None or len(walls) < 2:
        return False
    spans = [b - a for a, b in zip(walls, walls[1:])]
    each = sum(spans[1:]) / len(spans[1:]) if len(spans) > 1 else spans[0]
    return now - walls[0] + each > limit
