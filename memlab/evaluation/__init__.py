"""Evaluation: fine/coarse scores over length scales, as records."""
