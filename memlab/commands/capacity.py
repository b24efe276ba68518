"""CLI commands for capacity (being built; see docs/CONTRIBUTING.md)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Adds no command yet."""
