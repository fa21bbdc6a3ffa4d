"""Associative memory: every kind of recall (from a cue, from a label, the
paper's retrieval), storing patterns, inspecting a HAM's memories."""

from ._corrupt import (
    gaussian_noise as gaussian_noise,
    mask_bottom_half as mask_bottom_half,
    mask_random as mask_random,
)
from ._cue import recall as recall
from ._inspect import (
    LabelMemories as LabelMemories,
    memories_for_label as memories_for_label,
)
from ._outcome import RecallOutcome as RecallOutcome, outcomes as outcomes
from ._recall import recall_labels as recall_labels
from ._retrieve import retrieve as retrieve
from ._scoring import (
    cosine_similarities as cosine_similarities,
    recalled_by_cosine as recalled_by_cosine,
    recalled_by_squared_error as recalled_by_squared_error,
    squared_errors as squared_errors,
)
from ._store import store_patterns as store_patterns
