"""memlab report without a browser: medians and spreads by hand, one row per (model, task), every
status shown, a self-contained page, figure links, one-line errors for malformed records."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("report")

from memlab.cli import main
from memlab.core.errors import MemlabError
from memlab.report.records import class_summary, load_records, ranked, summarise

# --------------------------------------------------------------------------- a tiny HTML reader


class Page(HTMLParser):
    """Tags with attributes, and the leaderboard table's rows as lists of (attrs, text) cells."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: dict[str, list[dict]] = {}  # table id -> rows: {"attrs", "cells": [(attrs, text)]}
        self._table: str | None = None
        self._row: dict | None = None
        self._cell: list | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id")
            self.rows[self._table] = []
        elif tag == "tr" and self._table:
            self._row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = [a, ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append((self._cell[0], " ".join(self._cell[1].split())))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def body_rows(self, table: str) -> list[dict]:
        return [r for r in self.rows[table] if not any(k == "aria-sort" for a, _ in r["cells"] for k in a)]

    def header(self, table: str) -> list[str]:
        return [t for _, t in self.rows[table][0]["cells"]]

    def cell(self, table: str, model: str, task: str, column: str) -> tuple[dict, str]:
        col = self.header(table).index(column)
        row = next(r for r in self.body_rows(table)
                   if r["attrs"].get("data-model") == model and r["attrs"].get("data-task") == task)
        return row["cells"][col]


# --------------------------------------------------------------------------- medians and spreads
def test_hand_checked_medians_on_the_leaderboard_fixture(lb_fixture):
    rows = {(r.model, r.task): r for r in summarise(load_records(lb_fixture))}
    assert len(rows) == 6
    lc = rows["lstm", "copy"]
    c1 = lc.point(("scale", 1)).coarse
    assert (c1.median, c1.lo, c1.hi, c1.n, c1.of) == (pytest.approx(0.575), 0.55, 0.6, 2, 2)
    assert lc.wall_s.median == pytest.approx(20.3)
    # lstm/parity: per-seed mean coarse over 8 lengths: (4*.6 + 4*.3)/8 = .45 and (4*.55 + 4*.275)/8 = .4125
    lp = rows["lstm", "parity"]
    assert lp.kind == "length" and lp.status == {"done": 1, "timeout": 1}
    assert (lp.mean_coarse.median, lp.mean_coarse.lo, lp.mean_coarse.hi) == (
        pytest.approx(0.43125), pytest.approx(0.4125), pytest.approx(0.45))
    # ntm/copy: seed 1 diverged without scores -> the median is seed 0's alone, and says so
    nc = rows["ntm", "copy"]
    assert nc.point(("scale", 8)).coarse.median == pytest.approx(0.65)
    assert (nc.point(("scale", 8)).coarse.n, nc.point(("scale", 8)).coarse.missing) == (1, ("diverged",))
    assert (nc.to_target.median, nc.to_target.n, nc.to_target.of) == (3200, 1, 2)
    assert rows["ntm", "parity"].to_target.median == pytest.approx(3360)  # 3200, 3520
    assert nc.profile["capacity"] == 4.0 and nc.profile_seed == 0 and nc.state_size == 2792
    mc = rows["memn2n", "copy"]
    assert not mc.mean_coarse.ok and mc.mean_coarse.missing == ("n/a",) and not mc.params.ok
    # per class (regular: parity): ntm's median mean coarse = median((4*.95+4*.475)/8, (4*.9+4*.45)/8)
    summ = class_summary(list(rows.values()))
    assert summ["ntm"]["regular"].mean == pytest.approx((0.7125 + 0.675) / 2)
    assert summ["lstm"]["regular"].mean == pytest.approx(0.43125)
    assert summ["memn2n"]["regular"].mean is None and summ["memn2n"]["regular"].of == 1


def test_hand_checked_medians_on_the_synthetic_records(synthetic):
    rows = {(r.model, r.task): r for r in summarise(load_records(synthetic))}
    assert len(rows) == 10  # alpha, beta × 3 tasks, gamma × 3 (n/a), delta × copy
    ac = rows["alpha", "copy"].point(("scale", 1)).coarse
    assert (ac.median, ac.lo, ac.hi) == (0.5, 0.2, 0.9)  # seeds 0.2, 0.9, 0.5
    to = rows["alpha", "copy"].to_target
    assert (to.median, to.n, to.of) == (200, 2, 3)  # 100, not reached, 300
    assert rows["alpha", "copy"].wall_s.median == 11.0  # 10, 11, 12
    bc = rows["beta", "copy"].point(("scale", 1)).coarse
    assert (bc.median, bc.n, bc.missing) == (0.7, 2, ("diverged",))
    assert rows["beta", "copy"].wall_s.n == 3  # the diverged seed trained: its wall time counts
    assert rows["alpha", "parity"].mean_coarse.median == pytest.approx((1 + 0.5 + 0.1) / 3)
    bp = rows["beta", "parity"].mean_coarse
    assert (bp.median, bp.n, bp.missing) == (pytest.approx(0.8), 2, ("failed",))
    summ = class_summary(list(rows.values()))
    assert summ["alpha"]["cs"].mean == pytest.approx(0.3) and summ["beta"]["cs"].mean == pytest.approx(0.9)
    assert summ["beta"]["regular"].mean == pytest.approx(0.8)
    assert "delta" not in summ  # no automaton-class task
    # each task's rows best first by coarse then fine at its first point; rows without a number last
    order = [(r.model, r.task) for r in ranked(list(rows.values()))]
    assert order[:4] == [("beta", "copy"), ("alpha", "copy"), ("delta", "copy"), ("gamma", "copy")]  # .7 .5 .3 n/a
    assert order[4:7] == [("alpha", "parity"), ("beta", "parity"), ("gamma", "parity")]  # coarse at L=5: 1.0, .8


# --------------------------------------------------------------------------- the page
NETWORK = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


@pytest.mark.parametrize("which", ["lb_page", "synthetic_page"])
def test_page_is_self_contained_with_one_row_per_model_task(which, request):
    path, text = request.getfixturevalue(which)
    page = Page(text)
    assert not NETWORK.search(text), NETWORK.search(text)
    assert not re.search(r"@import|url\(\s*['\"]?(?!data:)", text)  # no CSS fetches either
    assert not any(t == "link" and a.get("rel") == "stylesheet" for t, a in page.tags)
    assert not any(t == "script" and "src" in a for t, a in page.tags)
    imgs = [a["src"] for t, a in page.tags if t == "img"]
    assert imgs and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert all(base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for s in imgs)
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pairs = {(r["model"], r["task"]) for r in recs}
    rows = page.body_rows("leaderboard")
    assert len(rows) == len(pairs)
    assert {(r["attrs"]["data-model"], r["attrs"]["data-task"]) for r in rows} == pairs
    # one length-generalisation figure per task
    assert len([t for t, a in page.tags if t == "img" and a.get("alt") in {r["task"] for r in recs}]) == len(
        {r["task"] for r in recs})
    # every cell listed once in the cells table
    assert len(page.body_rows("runs")) == len(recs)


def test_statuses_are_shown_never_dropped(lb_page):
    page = Page(lb_page[1])
    attrs, text = page.cell("leaderboard", "ntm", "copy", "seeds")
    assert text == "1 done · 1 diverged" and "non-finite" in attrs["title"]
    attrs, text = page.cell("leaderboard", "ntm", "copy", "coarse 1x")
    assert text.startswith("95.0") and "1/2 seeds; diverged" in text and attrs["data-v"] == "0.95"
    assert "seed 1: – (diverged)" in attrs["title"]
    for col in ("coarse 1x", "fine 8x", "coarse mean", "wall s", "params", "seq/s"):
        attrs, text = page.cell("leaderboard", "memn2n", "copy", col)
        assert text == "n/a" and "data-v" not in attrs, (col, text)
    attrs, text = page.cell("leaderboard", "lstm", "parity", "seeds")
    assert "1 timeout" in text and "budget" in attrs["title"]
    attrs, text = page.cell("leaderboard", "lstm", "parity", "coarse 1x")  # scored per length, not at scales
    assert text == "–" and "data-v" not in attrs and "per length" in attrs["title"]
    attrs, text = page.cell("leaderboard", "lstm", "copy", "coarse 1x")
    assert text == "57.5 (55.0–60.0)" and float(attrs["data-v"]) == pytest.approx(0.575)
    attrs, text = page.cell("leaderboard", "lstm", "copy", "seq. to target")
    assert text == "not reached" and "data-v" not in attrs
    attrs, text = page.cell("leaderboard", "ntm", "copy", "seq. to target")
    assert text == "3,200 1/2 reached" and attrs["data-v"] == "3200.0"
    attrs, text = page.cell("leaderboard", "ntm", "copy", "capacity")
    assert text == "4" and "linear recover" in attrs["title"]
    statuses = {(c[1][1]) for c in (r["cells"] for r in page.body_rows("runs"))}
    assert statuses == {"done", "diverged", "timeout", "n/a"}


def test_figure_links_relative_and_missing_ones_plain_text(synthetic_page):
    synthetic, text = synthetic_page
    base, out = synthetic.parents[2], synthetic.parent
    page = Page(text)
    hrefs = [a["href"] for t, a in page.tags if t == "a" and not a["href"].startswith("#")]
    assert hrefs == ["../../runs/leaderboard/alpha-copy-s0/curve.png"]
    assert (out / hrefs[0]).resolve() == (base / "runs/leaderboard/alpha-copy-s0/curve.png").resolve()
    assert '<span class="missing-file"' in text and "runs/leaderboard/does-not-exist.png</span>" in text
    assert "does-not-exist.png\"" not in text  # never an href
    # sorting data: params sort as numbers, the never-built model has none
    assert page.cell("leaderboard", "delta", "copy", "params")[0]["data-v"] == "45.0"
    assert "data-v" not in page.cell("leaderboard", "gamma", "copy", "params")[0]


# --------------------------------------------------------------------------- the command
def test_cli_writes_the_page_beside_the_records(synthetic, monkeypatch, capsys):
    recs = [json.loads(x) for x in synthetic.read_text().splitlines()]
    synthetic.write_text("".join(json.dumps(r) + "\n" for r in recs if r["task"] == "copy"))  # fewer figures
    monkeypatch.chdir(synthetic.parents[2])
    assert main(["report", "--json"]) == 0  # the defaults: results/leaderboard/records.jsonl -> report.html
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["rows"] == 4 and res["cells"] == 8  # alpha, beta (3 seeds), gamma (n/a), delta on copy
    page = synthetic.parent / "report.html"
    assert Path(res["report"]) == Path("results/leaderboard/report.html") and page.is_file()
    assert 'href="../../runs/leaderboard/alpha-copy-s0/curve.png"' in page.read_text()


def _bad(tmp_path: Path, lines: list[str], end: str = "\n") -> Path:
    p = tmp_path / "records.jsonl"
    p.write_text("\n".join(lines) + end)
    return p


@pytest.mark.parametrize("mutate, line, words", [
    (lambda r: r.pop("status"), 2, "lacks 'status'"),
    (lambda r: r.update(status="ok"), 2, "status='ok' is not allowed; allowed: done"),
    (lambda r: r.update(seed="0"), 2, "seed='0' is not allowed; expected an integer"),
    (lambda r: r.update(params=True), 2, "params=True"),
    (lambda r: r["scores"][0].update(coarse=float("nan")), 2, "scores[0].coarse=nan"),
    (lambda r: r["scores"][0].update(coarse=57.5), 2, "scores[0].coarse=57.5 is out of range"),
    (lambda r: r["scores"][0].update(length=3), 2, "exactly one of them is set"),
    (lambda r: r.update(profile={"capacity": 1.0}), 2, "profile.lacks 'state_size'"),
    (lambda r: r.update(figures=[3]), 2, "figures holds 3"),
    (lambda r: r.update(unit="lstm/copy/s0"), 2, "unit 'lstm/copy/s0' is already on line 1"),
])
def test_malformed_records_are_one_line_naming_file_and_line(lb_fixture, tmp_path, capsys, mutate, line, words):
    recs = [json.loads(x) for x in lb_fixture.read_text().splitlines()[:3]]
    mutate(recs[1])
    p = _bad(tmp_path, [json.dumps(r) for r in recs])
    with pytest.raises(MemlabError, match=re.escape(f"{p}:{line}: ")):
        load_records(p)
    out = tmp_path / "out"
    assert main(["report", "--set", f"records={p}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{p}:{line}: " in err and words in err, err
    assert not out.exists()  # nothing written


def test_bad_files(lb_fixture, tmp_path, capsys):
    good = lb_fixture.read_text().splitlines()[:2]
    p = _bad(tmp_path, [good[0], "{not json", good[1]])
    with pytest.raises(MemlabError, match=re.escape(f"{p}:2: not valid JSON")):
        load_records(p)
    p = _bad(tmp_path, [good[0], "[1, 2]"])
    with pytest.raises(MemlabError, match=re.escape(f"{p}:2: not a record")):
        load_records(p)
    # a torn last line (a writer still running or killed) is skipped
    assert len(load_records(_bad(tmp_path, [good[0], good[1][:40]], end=""))) == 1
    with pytest.raises(MemlabError, match="holds no records"):
        load_records(_bad(tmp_path, [""]))
    with pytest.raises(MemlabError, match="no leaderboard records at"):
        load_records(tmp_path / "absent.jsonl")
    assert main(["report", "--set", f"records={tmp_path}"]) == 2
    assert "is not a file" in capsys.readouterr().err
    assert main(["report", "--set", "records=x.jsonl", "width=10"]) == 2
    assert "width=10 is out of range" in capsys.readouterr().err


def test_screenshot_without_a_browser_is_one_line(synthetic, tmp_path, monkeypatch, capsys):
    import memlab.report.screenshot as shot

    monkeypatch.setattr(shot, "find_chromium", lambda: None)
    assert main(["report", "--set", f"records={synthetic}", "screenshot=true", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs Chromium" in err
    assert not (tmp_path / "o").exists()  # checked before anything is written


def test_profiles_beside_task_scores(synthetic_page):
    _, text = synthetic_page
    page = Page(text)
    assert page.header("profiles") == ["model", "task", "state size", "capacity", "task coarse mean %"]
    rows = {(r["cells"][0][1], r["cells"][1][1]): [t for _, t in r["cells"][2:]] for r in page.body_rows("profiles")}
    # alpha/copy seed 0 profiled (capacity 3.5, 120 scalars); its mean coarse per seed: (c1 + .4 + .2 + .1) / 4
    assert rows["alpha", "copy"] == ["120", "3.5", "30.0 (22.5–40.0)"]
    assert rows["beta", "dup"] == ["64", "7", "90.0"]
    assert text.count("Measure: test measure.") == 1  # one shared measure: said once above the table
    assert [a.get("alt") for t, a in page.tags if t == "img"][-2:] == ["profiles", "profile-curves"]
