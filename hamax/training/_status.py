"""How a training run ended: `TrainStatus`, matched by value."""

import enum
import warnings


# The words of the free-text status that earlier versions returned, so that
# `"time limit" in result.status` still answers for one release.
_LEGACY = {
    "completed": "completed",
    "time_limit": "stopped: time limit",
    "nonfinite": "stopped: non-finite loss",
    "interrupted": "stopped: interrupted",
}


class TrainStatus(enum.StrEnum):
    """How [`hamax.training.train`][] ended (`TrainResult.status`); the details
    (which epoch, which batch) are in `TrainResult.message`.

    - `completed`: every epoch ran.
    - `time_limit`: stopped before an epoch that would not have ended within
      the time limit; a checkpoint holds the run, and the same call continues it.
    - `nonfinite`: stopped at a non-finite loss (or a failed
      [`hamax.Implicit`][] solve without a fallback, which the message names);
      the last good state is kept.
    - `interrupted`: stopped by `KeyboardInterrupt` (Ctrl-C); the run directory
      keeps its last checkpoint.

    Compare by value (`result.status is TrainStatus.completed`, or with the
    string `"completed"`).
    """

    completed = "completed"
    time_limit = "time_limit"
    nonfinite = "nonfinite"
    interrupted = "interrupted"

    def __contains__(self, text: object) -> bool:
        # Deprecated: `status` was free text that callers searched.
        warnings.warn(
            "TrainResult.status is a hamax.training.TrainStatus now; compare it "
            f"with TrainStatus.{self.name}, or search TrainResult.message.",
            DeprecationWarning,
            stacklevel=2,
        )
        return isinstance(text, str) and text in _LEGACY[self.value]

    def __eq__(self, other: object) -> bool:
        if (
            isinstance(other, str)
            and not isinstance(other, TrainStatus)
            and other.startswith("stopped:")
        ):
            # Deprecated: the free-text status of earlier versions.
            warnings.warn(
                f"TrainResult.status is a hamax.training.TrainStatus now, never "
                f"{other!r}; compare it with TrainStatus.{self.name}, or compare "
                "TrainResult.message.",
                DeprecationWarning,
                stacklevel=2,
            )
            return False
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._name_)
