"""The leaderboard report page: one self-contained HTML file (inline CSS and JS, figures as
``data:image/png`` URIs, nothing fetched from a network) rendered from the leaderboard records.

Sections: the sortable leaderboard table (one row per (model, task)), length-generalisation
curves (one figure per task, every model on it), the per-class summary of the automaton-class
tasks, memory profiles beside the task scores, and every cell with its reason and links to its
run's figures. A figure path that does not exist when the page is rendered is shown as plain
text, never as a broken link; links are relative to the page's folder.

Sorting: a click on a column header sorts by that column (ascending, then descending on the next
click); numbers sort as numbers (each cell's ``data-v``); a cell without a number (n/a, diverged,
timeout without a score, not scored at scales) sorts last in both directions.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from memlab.report.records import CLASSES, STATUSES, Row, Stat, class_summary, ranked, summarise

Records = list[dict[str, Any]]
E = html.escape


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class Cell:
    """One table cell: its HTML text, the number it sorts by (None: last), a CSS class, a tooltip."""

    text: str
    v: float | str | None = None
    cls: str = ""
    title: str = ""

    def td(self) -> str:
        attrs = ""
        if self.v is not None:
            attrs += f' data-v="{E(str(self.v))}"'
        if self.cls:
            attrs += f' class="{self.cls}"'
        if self.title:
            attrs += f' title="{E(self.title)}"'
        return f"<td{attrs}>{self.text}</td>"


def _missing_text(st: Stat) -> str:
    return "/".join(st.missing) or "–"


def _missing_cell(st: Stat, title: str = "") -> Cell:
    return Cell(E(_missing_text(st)), None, "missing " + " ".join("st-" + s.replace("/", "") for s in st.missing),
                title)


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def stat_cell(st: Stat, fmt: Callable[[float], str], scale: float = 1.0, title: str = "") -> Cell:
    """Median (min–max) over seeds; ``k/n seeds`` when some seeds lack the figure (their statuses
    in the tooltip)."""
    if not st.ok:
        return _missing_cell(st, title)
    text = E(fmt(st.median))
    if st.n > 1 and fmt(st.lo) != fmt(st.hi):  # a spread that rounds to one value is not shown
        text += f' <span class="spread">({E(fmt(st.lo))}–{E(fmt(st.hi))})</span>'
    if st.n < st.of:
        text += f' <span class="part">{st.n}/{st.of} seeds; {E(_missing_text(st))}</span>'
    return Cell(text, round(st.median * scale, 10), "num", title)


def _per_seed(row: Row, key: tuple[str, int], which: str) -> str:
    parts = []
    for r in row.records:
        s = next((s for s in r["scores"] if (("scale", s["scale"]) if s["scale"] is not None
                                              else ("length", s["length"])) == key), None)
        v = s[which] if s else None
        parts.append(f"seed {r['seed']}: {pct(v) if v is not None else '–'} ({r['status']})")
    return "; ".join(parts)


def _status_cell(row: Row) -> Cell:
    text = " · ".join(f'<span class="st-{s.replace("/", "")}">{n} {E(s)}</span>' for s, n in row.status.items())
    done = row.status.get("done", 0) / max(1, len(row.records))
    return Cell(text, round(done, 6), "status", " | ".join(row.reasons))


def _to_target_cell(row: Row) -> Cell:
    st = row.to_target
    if not st.ok:
        text = "/".join(dict.fromkeys("not reached" if s in ("done", "timeout") else s for s in st.missing))
        return Cell(E(text or "–"), None, "missing", f"target coarse {_targets(row)}")
    c = stat_cell(st, lambda x: f"{x:,.0f}", title=f"target coarse {_targets(row)}")
    if st.n < st.of:  # say how many reached rather than the statuses of those that did not
        text = E(f"{st.median:,.0f}") + f' <span class="part">{st.n}/{st.of} reached</span>'
        return Cell(text, c.v, c.cls, c.title)
    return c


def _targets(row: Row) -> str:
    return ", ".join(sorted({f"{100 * r['target_coarse']:g}%" for r in row.records
                             if isinstance(r.get("target_coarse"), (int, float))})) or "?"


def _profile_reason(row: Row) -> str | None:
    return next((str(r["profile_reason"]) for r in row.records if r.get("profile_reason")), None)


def _capacity_cell(row: Row) -> Cell:
    if row.profile is None:
        why = _profile_reason(row)
        return Cell("–", None, "missing", why or "no memory profile in the records")
    return Cell(E(f"{row.profile['capacity']:g}"), row.profile["capacity"], "num",
                f"seed {row.profile_seed}: {row.profile['measure']}")


@dataclass(frozen=True)
class Column:
    head: str
    kind: str  # "num" or "str"
    cell: Callable[[Row], Cell]
    title: str = ""
    cls: str = ""


def _score_column(key: tuple[str, int], which: str) -> Column:
    label = f"{key[1]}x" if key[0] == "scale" else f"L={key[1]}"

    def cell(row: Row) -> Cell:
        p = row.point(key)
        if p is None:
            if row.kind == "length" and key[0] == "scale":
                return Cell("–", None, "missing not-scored", "scored per length, not at scales: see the curves")
            return _missing_cell(Stat(None, None, None, 0, len(row.records),
                                      tuple(s for s in STATUSES if s in row.status)))
        return stat_cell(getattr(p, which), pct, title=_per_seed(row, key, which))

    return Column(f"{which} {label}", "num", cell, f"{which} score at {label}, %: median over seeds (min–max)",
                  "score " + which)


def columns(rows: list[Row]) -> list[Column]:
    """The table's columns: identity, statuses, scores at every scale any row has, the mean over each
    row's points, then training figures and the memory."""
    scales = sorted({p.key for r in rows for p in r.points if p.key[0] == "scale"})
    return [
        Column("model", "str", lambda r: Cell(E(r.model), r.model, "id")),
        Column("task", "str", lambda r: Cell(E(r.task), r.task, "id")),
        Column("class", "str", lambda r: Cell(E(r.automaton or "–"), r.automaton or None),
               "automaton class of the task (regular, dcf, cs, transduction)"),
        Column("seeds", "num", _status_cell, "status of each seed's cell; sorts by the fraction done"),
        *[_score_column(k, "coarse") for k in scales],
        *[_score_column(k, "fine") for k in scales],
        Column("coarse mean", "num", lambda r: stat_cell(r.mean_coarse, pct),
               "coarse %, mean over the row's scales or lengths per seed, then median over seeds (min–max)",
               "score coarse"),
        Column("fine mean", "num", lambda r: stat_cell(r.mean_fine, pct),
               "fine %, mean over the row's scales or lengths per seed, then median over seeds (min–max)",
               "score fine"),
        Column("seq. to target", "num", _to_target_cell,
               "training sequences until the test coarse score first reached the target: median over the seeds "
               "that reached it"),
        Column("wall s", "num", lambda r: stat_cell(r.wall_s, lambda x: f"{x:,.1f}"), "training wall seconds"),
        Column("params", "num", lambda r: stat_cell(r.params, lambda x: f"{x:,.0f}"), "trainable parameters"),
        Column("seq/s", "num", lambda r: stat_cell(r.seq_per_s, lambda x: f"{x:,.0f}"),
               "training sequences per wall second"),
        Column("state size", "num", lambda r: Cell(f"{r.state_size:,}", r.state_size, "num") if r.state_size
               is not None else Cell("–", None, "missing", "no separable memory core"),
               "scalars in the trained memory's state"),
        Column("capacity", "num", _capacity_cell, "capacity of the trained memory (its profile, seed 0)"),
    ]


def leaderboard_table(rows: list[Row]) -> str:
    cols = columns(rows)
    head = "".join(f'<th data-type="{c.kind}" class="{c.cls}" title="{E(c.title)}" aria-sort="none" tabindex="0">'
                   f"{E(c.head)}</th>" for c in cols)
    body = "\n".join(f'<tr data-model="{E(r.model)}" data-task="{E(r.task)}">' + "".join(c.cell(r).td() for c in cols)
                     + "</tr>" for r in rows)
    return (f'<div class="scroll"><table id="leaderboard" class="sortable">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


# --------------------------------------------------------------------------- other sections
def _img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="{E(alt)}">'


def class_table(rows: list[Row]) -> str:
    summ = class_summary(rows)
    classes = [c for c in CLASSES if any(c in cells for cells in summ.values())]
    tasks = {c: sorted({r.task for r in rows if r.automaton == c}) for c in classes}
    head = "".join(f'<th data-type="num" aria-sort="none" tabindex="0" title="{E(", ".join(tasks[c]))}">'
                   f"{E(c)} <span class=\"part\">{len(tasks[c])} task(s)</span></th>" for c in classes)
    lines = []
    for m, cells in summ.items():
        tds = [Cell(E(m), m, "id").td()]
        for c in classes:
            cell = cells.get(c)
            if cell is None:
                tds.append(Cell("–", None, "missing", "no task of this class was run").td())
            elif cell.mean is None:
                tds.append(Cell("no scores", None, "missing", f"0 of {cell.of} tasks scored").td())
            else:
                text = pct(cell.mean) + (f' <span class="spread">({pct(cell.lo)}–{pct(cell.hi)})</span>'
                                         if cell.n > 1 else "")
                text += f' <span class="part">{cell.n}/{cell.of} tasks</span>'
                tds.append(Cell(text, round(cell.mean, 10), "num", ", ".join(cell.tasks)).td())
        lines.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<table id="classes" class="sortable"><thead><tr><th data-type="str" aria-sort="none" tabindex="0">'
            f"model</th>{head}</tr></thead>\n<tbody>\n" + "\n".join(lines) + "\n</tbody></table>")


def profile_table(rows: list[Row]) -> str:
    """Per (model, task) with a state size or profile: state size, capacity and the task score. The
    profile's measure is said once above the table when every profile shares it, else per row."""
    shown = [r for r in rows if r.profile is not None or r.state_size is not None]
    if not shown:
        return '<p class="none">No cell holds a memory profile or state size.</p>'
    measures = list(dict.fromkeys(r.profile["measure"] for r in shown if r.profile))
    per_row = len(measures) > 1
    lines = []
    for r in shown:
        why = _profile_reason(r)
        tds = [Cell(E(r.model), r.model, "id"), Cell(E(r.task), r.task, "id"),
               Cell(f"{r.state_size:,}", r.state_size, "num") if r.state_size is not None else Cell("–"),
               Cell(E(f"{r.profile['capacity']:g}"), r.profile["capacity"], "num", f"seed {r.profile_seed}")
               if r.profile else Cell("–", None, "missing", why or "no profile in the records"),
               stat_cell(r.mean_coarse, pct)]
        if per_row:
            tds.append(Cell(E(r.profile["measure"] if r.profile else (why or "no profile in the records"))))
        lines.append("<tr>" + "".join(c.td() for c in tds) + "</tr>")
    heads = [("model", "str"), ("task", "str"), ("state size", "num"), ("capacity", "num"),
             ("task coarse mean %", "num")] + ([("measure", "str")] if per_row else [])
    head = "".join(f'<th data-type="{k}" aria-sort="none" tabindex="0">{E(h)}</th>' for h, k in heads)
    note = f'<p class="note">Measure: {E(measures[0])}.</p>' if len(measures) == 1 else ""
    return (f'{note}<table id="profiles" class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(lines) + "\n</tbody></table>")


def resolve_figure(fig: str, run: str, base: Path) -> Path | None:
    """The file a record's figure path names: absolute, else relative to ``base`` (where the
    records were made: the working folder), else relative to the run folder; None if none exists."""
    p = Path(fig)
    tries = [p] if p.is_absolute() else [base / p] + ([base / run / p] if run else [])
    return next((t for t in tries if t.is_file()), None)


def runs_table(records: Records, out_dir: Path, base: Path) -> str:
    lines = []
    for r in sorted(records, key=lambda r: (r["model"], r["task"], r["seed"])):
        links = []
        for f in r["figures"]:
            p = resolve_figure(f, r["run"], base)
            if p is None:
                links.append(f'<span class="missing-file" title="not found when the report was rendered">{E(f)}</span>')
            else:
                href = quote(os.path.relpath(p.resolve(), out_dir.resolve()).replace(os.sep, "/"))
                links.append(f'<a href="{E(href)}">{E(Path(f).name)}</a>')
        tds = [Cell(E(r["unit"]), r["unit"], "id"), Cell(E(r["status"]), r["status"], "st-" + r["status"].replace("/", "")),
               Cell(E(r["reason"] or "")), Cell(f"<code>{E(r['run'])}</code>" if r["run"] else "–"),
               Cell(" ".join(links) or "–")]
        lines.append("<tr>" + "".join(c.td() for c in tds) + "</tr>")
    head = "".join(f'<th data-type="str" aria-sort="none" tabindex="0">{h}</th>'
                   for h in ("cell", "status", "reason", "run folder", "figures"))
    return (f'<table id="runs" class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(lines)
            + "\n</tbody></table>")


def small_png(png: bytes, colors: int = 256) -> bytes:
    """``png`` quantised to an adaptive palette (fast octree: the colours stay; line plots take a quarter of the bytes)."""
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(png)) as im:
        buf = BytesIO()
        im.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def figures(records: Records, rows: list[Row]) -> dict[str, bytes]:
    """The report's PNG figures by name (curves-TASK, classes, profiles, profile-curves), drawn by
    ``memlab.plots.leaderboard`` from the records into a temporary folder, then made small."""
    from memlab.plots import leaderboard as plots

    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="memlab-report-") as tmp:
        d = Path(tmp)
        for i, task in enumerate(dict.fromkeys(r.task for r in rows)):
            out[f"curves-{task}"] = plots.plot_length_curves(records, task, d / f"curves-{i}.png").read_bytes()
        if any(r.automaton in CLASSES for r in rows):
            out["classes"] = plots.plot_class_summary(records, d / "classes.png").read_bytes()
        if any(r.profile is not None for r in rows):
            out["profiles"] = plots.plot_profiles(records, d / "profiles.png").read_bytes()
            out["profile-curves"] = plots.plot_profile_curves(records, d / "profile-curves.png").read_bytes()
    return {k: small_png(v) for k, v in out.items()}


def _meta(records: Records, source: str) -> str:
    def distinct(k: str) -> list[str]:
        return sorted({str(r[k]) for r in records if r.get(k) not in (None, "")})

    commits = [c[:10] for c in distinct("commit")]
    dirty = sum(bool(r.get("dirty")) for r in records)
    times = distinct("time")
    models = list(dict.fromkeys(r["model"] for r in records))
    tasks = list(dict.fromkeys(r["task"] for r in records))
    seeds = sorted({r["seed"] for r in records})
    counts = " · ".join(f"{n} {s}" for s in STATUSES if (n := sum(r["status"] == s for r in records)))
    parts = [f"{len(records)} cells ({counts}) of {len(models)} model(s) × {len(tasks)} task(s) × seeds "
             f"{', '.join(map(str, seeds))}",
             "commit " + (", ".join(commits) or "?") + (f" ({dirty} cell(s) from a dirty tree)" if dirty else ""),
             "config " + (", ".join(distinct("config_hash")) or "?"),
             "budget " + (", ".join(f"{b:g} s" for b in sorted({r["budget_s"] for r in records if isinstance(
                 r.get("budget_s"), (int, float)) and not isinstance(r["budget_s"], bool)})) or "?") + " per cell"]
    if times:
        parts.append(f"recorded {times[0]}" + (f" – {times[-1]}" if len(times) > 1 else ""))
    return f"<p class=\"meta\">Rendered by <code>memlab report</code> from <code>{E(source)}</code>: " + \
        "; ".join(E(p) for p in parts) + ".</p>"


# --------------------------------------------------------------------------- page
CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em 2em;color:#222;background:#fff}
h1{font-size:1.6em;margin:.2em 0} h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
nav a{margin-right:1em} .meta,.note{color:#555;max-width:75em} code{font-size:.92em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;vertical-align:top}
th{background:#f3f4f6;cursor:pointer;user-select:none;white-space:nowrap;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
th.coarse{background:#e8f0fb} th.fine{background:#eef7ee}
td.num{text-align:right;white-space:nowrap} td.id,td.status{white-space:nowrap} td.id{font-weight:600}
td.num .part{display:block}
tbody tr:nth-child(even){background:#fafafa} tbody tr:hover{background:#fff7d6}
.spread{color:#777;font-size:.9em} .part{color:#a15c00;font-size:.85em}
td.missing{color:#888;font-style:italic;text-align:center}
.st-done{color:#1a7f37} .st-timeout{color:#a15c00} .st-diverged,.st-failed{color:#c62828} .st-na{color:#777}
td.missing.st-diverged,td.missing.st-failed{color:#c62828} td.missing.st-timeout{color:#a15c00}
.missing-file{color:#888;text-decoration:line-through dotted}
figure{display:inline-block;margin:.4em 1em .8em 0;vertical-align:top} figure img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em} .none{color:#777;font-style:italic}
"""

JS = """
(function () {
  "use strict";
  function key(td, type) {
    var v = td ? td.getAttribute("data-v") : null;
    if (v === null || v === "") { return null; }
    if (type === "num") { var x = parseFloat(v); return isNaN(x) ? null : x; }
    return v.toLowerCase();
  }
  function sortBy(table, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var type = th.getAttribute("data-type"), body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (tr, i) { return {tr: tr, i: i, k: key(tr.cells[col], type)}; });
    rows.sort(function (a, b) {
      if (a.k === null || b.k === null) { return a.k === b.k ? a.i - b.i : (a.k === null ? 1 : -1); }
      if (a.k < b.k) { return -dir; }
      if (a.k > b.k) { return dir; }
      return a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.tr); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, col, th); } });
    });
  });
})();
"""


def render_html(records: Records, source: str, out_dir: Path, base: Path | None = None,
                title: str = "memlab leaderboard") -> str:
    """The whole page from ``records`` (checked by ``load_records``); ``source`` is the records path
    as shown, ``out_dir`` the page's folder (figure links are relative to it), ``base`` the folder
    that relative figure paths start from (default: the working folder)."""
    base = Path.cwd() if base is None else Path(base)
    rows = summarise(records)
    figs = figures(records, rows)
    curves = "\n".join(f"<figure>{_img(png, name[7:])}<figcaption>{E(name[7:])}</figcaption></figure>"
                       for name, png in figs.items() if name.startswith("curves-"))
    has_classes = "classes" in figs
    classes = (class_table(rows) + f"<figure>{_img(figs['classes'], 'per-class summary')}</figure>" if has_classes
               else '<p class="none">No automaton-class task (regular, dcf, cs) in the records.</p>')
    profiles = "".join(f"<figure>{_img(figs[k], k)}</figure>" for k in ("profiles", "profile-curves")
                       if k in figs) + profile_table(rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{E(title)}</title><link rel="icon" href="data:,"><style>{CSS}</style></head>
<body>
<h1>{E(title)}</h1>
{_meta(records, source)}
<nav><a href="#board">table</a><a href="#curves">length generalisation</a><a href="#automata">automaton classes</a><a href="#memory">memory profiles</a><a href="#cells">cells and figures</a></nav>
<h2 id="board">Leaderboard</h2>
<p class="note">One row per (model, task), each task's best first (median coarse, then fine, at its first scale or
length). Scores are % of sequences (coarse: every answer symbol right) or of
symbols (fine): the median over seeds, the spread (min–max over seeds) in brackets; <span class="part">k/n seeds</span>
when some seeds have no score there, with their status. A cell without a number says why (n/a: the model cannot be built
for the task; diverged, timeout, failed). Click a column header to sort (again to reverse); cells without a number stay
last.</p>
{leaderboard_table(ranked(rows))}
<h2 id="curves">Length generalisation</h2>
<p class="note">Per task, every model: coarse (left) and fine (right) score against the length scale or the test length;
median over seeds, band min–max. A model without scores on a task is named in the legend with its cells' status.</p>
{curves}
<h2 id="automata">Automaton classes</h2>
<p class="note">Per class, each model's mean over the class's tasks of its coarse score (mean over test lengths, median
over seeds); brackets: min–max over the tasks.</p>
{classes}
<h2 id="memory">Memory profiles of the trained memories</h2>
<p class="note">Save/recover profile of the memory inside each trained model (the seed named), beside the task score.</p>
{profiles}
<h2 id="cells">Cells and figures</h2>
<p class="note">Every cell of the records with its status and reason; figure links are relative to this page
(struck-out names were not found when it was rendered).</p>
{runs_table(records, out_dir, base)}
<script>{JS}</script>
</body></html>
"""
