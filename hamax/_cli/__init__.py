"""The `hamax` command line (the console script is `hamax._cli:main`)."""

from ._main import main as main, parser as parser
