"""memlab: build, train and scientifically evaluate memory in neural networks.

The top-level import is kept light: heavy parts (training, theory, plots) are imported
on use. See README.md for the quick start and ``memlab --help`` for the CLI.
"""

__version__ = "0.1.0"
