"""The leaderboard report (issue 18): one self-contained HTML file rendered from the leaderboard
records only (``memlab report``).

- ``records.py``: read and check ``results/leaderboard/records.jsonl``; medians and spreads over
  seeds per (model, task); the per-class summary of the automaton-class tasks.
- ``html.py``: the page (inline CSS and JS, figures as ``data:`` URIs, no network).
- ``screenshot.py``: a PNG of the page by headless Chromium.

The figures are drawn by ``memlab.plots.leaderboard`` from the same records.
"""
