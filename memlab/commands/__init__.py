"""Thin adapters of the ``memlab`` verbs (one module per verb) over the library.

Each module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> dict``.
Modules import only the standard library and ``memlab.core.errors`` at import time, so that
``memlab --help`` and usage errors stay fast; the work is imported inside ``run``.
"""
