"""Associative memory: every kind of recall (from a cue, from a label, the
paper's retrieval), storing patterns, inspecting a HAM's memories."""

from ._cue import recall as recall
from ._inspect import (
    LabelMemories as LabelMemories,
    memories_for_label as memories_for_label,
)
from ._recall import recall_labels as recall_labels
from ._retrieve import retrieve as retrieve
from ._store import store_patterns as store_patterns
