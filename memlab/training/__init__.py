"""Training: the trainer (seed 004 protocol) and run folders."""
