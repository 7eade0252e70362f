"""The report site in a real headless Chromium, from file:// with no network: the leaderboard renders,
sorts when a header is clicked, the drill-down's video loads, and hostile names run no script.

The browser is tests/chromium.py's DevTools client; without Chromium the tests are skipped, except
under CI=true, where they fail.
"""

from __future__ import annotations

import pytest
from chromium import Chromium, needs_chromium
from test_report import make_run, site  # noqa: F401  (module fixture: two runs, VBench, human labels)

from vrbench.cli import main

pytestmark = [pytest.mark.slow, needs_chromium]


def column(b: Chromium, index: int) -> list[str]:
    return b.eval(f"Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => r.cells[{index}].textContent.trim())")


def test_leaderboard_renders_and_sorts(browser, site):  # noqa: F811
    browser.goto((site / "index.html").as_uri())
    headers = browser.eval("Array.from(document.querySelectorAll('#leaderboard thead th')).map(th => th.textContent.trim())")
    assert headers[:5] == ["Rank", "Run", "Model", "Judge", "Overall"] and "CAC" in headers and "VBench Total" in headers
    assert browser.eval("document.querySelectorAll('#leaderboard tbody tr').length") == 2
    assert browser.eval("getComputedStyle(document.querySelector('#leaderboard th')).cursor") == "pointer"  # the CSS loaded
    assert browser.eval("document.querySelectorAll('svg .bar').length") == 9 * 2

    first = column(browser, 1)
    assert first[0] == "good-model"  # the run's label; built sorted by overall, best first
    assert column(browser, 2)[0] == "good-generator"  # its model
    assert column(browser, 0) == ["1[1, 1]", "2[2, 2]"]  # rank and its interval
    browser.click("#leaderboard thead th:nth-child(5)")  # Overall: numbers sort high to low first...
    assert column(browser, 1) == first
    assert browser.eval("document.querySelector('#leaderboard thead th:nth-child(5)').getAttribute('aria-sort')") == "descending"
    browser.click("#leaderboard thead th:nth-child(5)")  # ...then low to high
    assert column(browser, 1) == first[::-1]
    overall = [float(v.split("[")[0]) for v in column(browser, 4)]
    assert overall == sorted(overall)
    browser.click("#leaderboard thead th:nth-child(1)")  # Rank: best (1) first, then the other way
    assert column(browser, 1) == first
    browser.click("#leaderboard thead th:nth-child(1)")
    assert column(browser, 1) == first[::-1]
    browser.click("#leaderboard thead th:nth-child(2)")  # run labels A-Z
    names = column(browser, 1)
    assert names == sorted(names, key=str.lower)

    # the hostile label and model name are text, not markup, and ran nothing
    assert any("<script>" in n for n in names) and any("<script>" in n for n in column(browser, 2))
    assert browser.eval("document.querySelectorAll('script').length") == 1
    assert not [e for e in browser.events if e.get("method") in ("Page.javascriptDialogOpening", "Runtime.exceptionThrown")]


@pytest.fixture(scope="module")
def partial_site(tmp_path_factory):
    """Three runs; "partial" was judged without one dimension, so it has no overall score."""
    tmp = tmp_path_factory.mktemp("partial")
    runs = [make_run(tmp / "partial", "partial", p_yes=0.9, seed=2, video_cases=(), skip_dimensions=("DRF",)),
            make_run(tmp / "high", "high", p_yes=0.8, video_cases=()),
            make_run(tmp / "low", "low", p_yes=0.3, seed=1, video_cases=())]
    assert main(["report", *map(str, runs), "--out", str(tmp / "site")]) == 0
    return tmp / "site"


def test_undefined_overall_is_last_on_load_and_after_sorting(browser, partial_site):
    browser.goto((partial_site / "index.html").as_uri())
    assert column(browser, 1) == ["high", "low", "partial"]  # as built
    assert column(browser, 0)[2] == "—"  # no overall score, no rank
    browser.click("#leaderboard thead th:nth-child(5)")
    assert browser.eval("document.querySelector('#leaderboard thead th:nth-child(5)').getAttribute('aria-sort')") == "descending"
    assert column(browser, 1) == ["high", "low", "partial"]
    browser.click("#leaderboard thead th:nth-child(5)")
    assert browser.eval("document.querySelector('#leaderboard thead th:nth-child(5)').getAttribute('aria-sort')") == "ascending"
    assert column(browser, 1) == ["low", "high", "partial"]
    browser.click("#leaderboard thead th:nth-child(1)")  # by rank, best first; the unranked run stays last both ways
    assert column(browser, 1) == ["high", "low", "partial"]
    browser.click("#leaderboard thead th:nth-child(1)")
    assert column(browser, 1) == ["low", "high", "partial"]


def test_case_page_video_loads_from_disk(browser, site):  # noqa: F811
    browser.goto((site / "models" / "good-model" / "DRF-01.html").as_uri())
    state = browser.eval(
        "new Promise(resolve => { const v = document.querySelector('video');"
        " const done = () => resolve({ready: v.readyState, width: v.videoWidth, duration: v.duration, error: v.error && v.error.code});"
        " if (v.readyState >= 1) done(); v.addEventListener('loadedmetadata', done); v.addEventListener('error', done);"
        " setTimeout(done, 15000); })"
    )
    assert state["error"] is None and state["ready"] >= 1, state
    assert state["width"] == 32 and state["duration"] == pytest.approx(1.0, abs=0.2)
    assert browser.eval("document.querySelectorAll('table.questions tbody tr').length") == 8


def test_evil_case_page_runs_no_injected_script(browser, site):  # noqa: F811
    browser.goto((site / "models" / "evil_script_alert_x_script" / "DRF-01.html").as_uri())
    assert browser.eval("document.querySelectorAll('script').length") == 1
    assert "<script>" in browser.eval("document.querySelector('h1').textContent")
    assert not [e for e in browser.events if e.get("method") in ("Page.javascriptDialogOpening", "Runtime.exceptionThrown")]


def test_nothing_is_fetched_from_the_network(browser, site):  # noqa: F811
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls, "no requests were recorded"
    assert all(u.startswith(("file://", "about:", "data:")) for u in urls), [u for u in urls if not u.startswith("file://")]


def test_significance_page_opens_from_the_leaderboard(browser, site):  # noqa: F811
    browser.goto((site / "index.html").as_uri())
    browser.events = [e for e in browser.events if e.get("method") != "Page.loadEventFired"]
    browser.click("a[href='significance.html']")
    browser.wait_for("Page.loadEventFired")
    assert browser.eval("location.pathname").endswith("/significance.html")
    cells = browser.eval("Array.from(document.querySelectorAll('table.matrix tbody td')).map(td => td.textContent.trim())")
    assert cells == ["—", "1.00", "0.00", "—"]  # good-model beats the other run in every resample
    assert browser.eval("getComputedStyle(document.querySelector('table.matrix td.sure')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert browser.eval("document.querySelectorAll('script').length") == 1
