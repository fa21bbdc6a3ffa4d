from collections.abc import Iterator

import numpy as np


def iterate_batches(
    arrays: tuple[np.ndarray, ...],
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    drop_last: bool = True,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Yield aligned mini-batches of `arrays` (shuffled when `rng` is given).

    With `drop_last`, every batch has exactly `batch_size` rows, so a jitted train
    step compiles once.
    """
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "iterate_batches got arrays of different lengths "
            f"{[len(a) for a in arrays]}."
        )
    if batch_size <= 0:
        raise ValueError(
            f"iterate_batches expected `batch_size` > 0, got {batch_size}."
        )
    order = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        idx = order[i : i + batch_size]
        yield tuple(a[idx] for a in arrays)


def num_batches(n: int, batch_size: int, drop_last: bool = True) -> int:
    """How many batches `iterate_batches` yields for `n` rows."""
    return n // batch_size if drop_last else -(-n // batch_size)
