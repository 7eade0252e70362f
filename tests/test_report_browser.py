"""The report site in a real headless Chromium, from file:// with no network: the leaderboard renders,
sorts when a header is clicked, the drill-down's video loads, and hostile names run no script.

Talks to Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe), so it needs no
driver or extra package. CI installs Debian's chromium (.ci/run); without one the test is skipped.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time

import pytest
from test_report import make_run, site  # noqa: F401  (module fixture: two runs, VBench, human labels)

from vrbench.cli import main

CHROMIUM = os.environ.get("VRBENCH_CHROMIUM") or next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (CI installs Debian's chromium in .ci/run)")]


class Chromium:
    """Just enough of the DevTools protocol: commands, and the events seen while waiting for replies."""

    def __init__(self, exe: str, timeout: float = 30.0):
        self.profile = tempfile.mkdtemp(prefix="vrbench-chromium-")
        self.timeout = timeout
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():  # Chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session: str | None = None

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def open_page(self) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def goto(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (not element.click())."""
        x, y = self.eval(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                         " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    b = Chromium(CHROMIUM)
    try:
        b.open_page()
        yield b
    finally:
        b.close()


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
