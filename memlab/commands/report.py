"""``memlab report``: the leaderboard as one self-contained HTML page, rendered from its records only
(no compute): a sortable table, length-generalisation curves, the per-class summary of the
automaton-class tasks, memory profiles and links to each run's figures.

    memlab report                                   # results/leaderboard/records.jsonl -> …/report.html
    memlab report --set records=PATH --out DIR      # another records file; DIR/report.html
    memlab report --set screenshot=true             # also report.png (headless Chromium)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from memlab.commands._common import add_out, add_set

HELP = ("render the leaderboard records into one self-contained HTML page (--set records=PATH, "
        "default results/leaderboard/records.jsonl; screenshot=true also writes report.png)")


@dataclass
class ReportSettings:
    """``--set`` keys: the records file, whether to keep a PNG screenshot of the page, its size."""

    records: str = "results/leaderboard/records.jsonl"
    screenshot: bool = False
    width: int = 1280
    height: int = 1600

    def validate(self) -> None:
        from memlab.commands._common import check_int
        from memlab.core.errors import ConfigError

        if not self.records or "\0" in self.records:
            raise ConfigError(f"records={self.records!r} is not a path")
        check_int("width", self.width, 320, 8192)
        check_int("height", self.height, 240, 16384)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_set(p, "records=PATH (default results/leaderboard/records.jsonl) screenshot=true|false "
               "width=N height=N (of the screenshot)")
    add_out(p, None, "folder of report.html (and report.png); default: the records' folder")


def run(args: argparse.Namespace) -> dict:
    from pathlib import Path

    from memlab.commands._common import settings
    from memlab.core.io import atomic_write_text
    from memlab.experiments.runner import prepare_out_dir
    from memlab.report.html import render_html
    from memlab.report.records import load_records, summarise

    st = settings(ReportSettings, args.set)
    if st.screenshot:
        from memlab.report.screenshot import require_chromium

        require_chromium()
    records = load_records(st.records)  # every check before anything is written
    out = prepare_out_dir(args.out if args.out is not None else str(Path(st.records).parent))
    page = atomic_write_text(out / "report.html", render_html(records, st.records, out))
    res: dict = {"report": str(page), "cells": len(records), "rows": len(summarise(records)),
                 "bytes": page.stat().st_size}
    if st.screenshot:
        from memlab.report.screenshot import screenshot

        png = screenshot(page, out / "report.png", st.width, st.height)
        res.update(screenshot=str(png), screenshot_bytes=png.stat().st_size)
    if not args.json:
        print(f"wrote {page} ({res['rows']} rows from {res['cells']} cells of {st.records}, {res['bytes']:,} bytes)"
              + (f" and {res['screenshot']}" if st.screenshot else ""))
    return res
