"""The report in a real browser: headless Chromium (Debian's ``chromium`` + ``chromium-driver``,
installed by ``.ci/run`` when missing; skipped without them) driven by selenium loads the page
from a file:// URL. One row per (model, task), every image decoded (naturalWidth > 0), a click on
a column header reorders the rows numerically with cells without a number last, and the console
holds no error."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.xdist_group("report")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver; .ci/run does)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)  # the driver given: selenium-manager unused
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


ROWS_JS = """var col = arguments[0];
return Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(function (tr) {
  var td = tr.cells[col];
  return [tr.dataset.model, tr.dataset.task, td.getAttribute('data-v'), td.textContent.trim()]; });"""


def _column(driver, head: str) -> int:
    heads = driver.execute_script("return Array.from(document.querySelectorAll('#leaderboard thead th'))"
                                  ".map(function (th) { return th.textContent.trim(); });")
    return heads.index(head)


def _numbers_then_blanks(rows: list, descending: bool) -> None:
    vals = [r[2] for r in rows]
    k = next((i for i, v in enumerate(vals) if v is None), len(vals))
    assert all(v is None for v in vals[k:]), f"cells without a number not last: {rows}"
    nums = [float(v) for v in vals[:k]]
    assert nums == sorted(nums, reverse=descending), rows


def test_report_in_headless_chromium(browser, synthetic_page):
    from selenium.webdriver.common.by import By

    path, text = synthetic_page
    page = path.parent / "report.html"
    page.write_text(text)
    browser.get(page.as_uri())
    browser.get_log("browser")  # (drops anything logged before this page)
    browser.get(page.as_uri())

    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    pairs = {(r["model"], r["task"]) for r in recs}
    col = _column(browser, "params")
    before = browser.execute_script(ROWS_JS, col)
    assert len(before) == len(pairs) and {(r[0], r[1]) for r in before} == pairs

    imgs = browser.execute_script("return Array.from(document.images).map(function (i) {"
                                  " return [i.alt, i.complete, i.naturalWidth]; });")
    assert len(imgs) >= len({r["task"] for r in recs}) + 2  # curves per task, classes, profiles
    assert all(done and width > 0 for _, done, width in imgs), imgs

    # params: as numbers 45 < 9000 < 120000 (as text "120,000" would come first); the model never built last
    header = browser.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")[col]
    header.click()
    asc = browser.execute_script(ROWS_JS, col)
    assert asc != before and header.get_attribute("aria-sort") == "ascending"
    _numbers_then_blanks(asc, descending=False)
    assert [r[2] for r in asc][:2] == ["45.0", "9000.0"] and asc[-1][3] == "n/a"
    header.click()
    desc = browser.execute_script(ROWS_JS, col)
    assert header.get_attribute("aria-sort") == "descending"
    _numbers_then_blanks(desc, descending=True)
    assert desc[0][2] == "120000.0" and desc[-1][3] == "n/a"

    # a score column with n/a, diverged and per-length ("–") cells: those stay last both ways
    col = _column(browser, "coarse 1x")
    header = browser.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")[col]
    for descending in (False, True):
        header.click()
        rows = browser.execute_script(ROWS_JS, col)
        _numbers_then_blanks(rows, descending)
        assert {r[3] for r in rows if r[2] is None} >= {"n/a", "–"}

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
