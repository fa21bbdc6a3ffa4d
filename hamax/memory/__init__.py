"""Associative memory: recall what a HAM stores for a label, inspect its memories."""

from ._inspect import (
    LabelMemories as LabelMemories,
    memories_for_label as memories_for_label,
)
from ._recall import recall_labels as recall_labels
from ._store import store_patterns as store_patterns
