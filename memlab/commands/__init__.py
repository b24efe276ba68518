"""CLI command groups; see ``memlab.cli``."""
