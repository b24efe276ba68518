"""Fused sequence kernels (hand-written BPTT), each tested against the ``*_ref`` step it speeds up."""
