"""Figures: one function per figure, reading records only."""
