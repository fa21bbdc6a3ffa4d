"""Checked flag values for the `hamax` command line (argparse `type=`)."""

import argparse
import math


def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {lo}, got {text!r}"
            ) from None
        if v < lo:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {lo}, got {v}"
            )
        return v

    return parse


positive_int = _int_at_least(1)  # argparse `type=`: an int >= 1
nonnegative_int = _int_at_least(0)  # an int >= 0


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """A finite float > 0 (argparse `type=`)."""
    v = _float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {v:g}")
    return v


def nonnegative_float(text: str) -> float:
    """A finite float >= 0 (argparse `type=`)."""
    v = _float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {v:g}")
    return v


def minutes(text: str) -> float:
    """A finite number of minutes > 0 whose seconds are finite too (argparse
    `type=`)."""
    v = positive_float(text)
    if not math.isfinite(60 * v):
        raise argparse.ArgumentTypeError(
            f"expected a number of minutes whose seconds are finite, got {text!r}"
        )
    return v
