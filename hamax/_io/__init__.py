"""Persistence: checkpoints, the architecture spec and atomic writes (private;
the public names are re-exported by `hamax/__init__.py`)."""
