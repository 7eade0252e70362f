"""`vrbench label` in a real headless Chromium: an annotator labels by key presses, undoes, the server is
killed mid-way and restarted, the page resumes where it stopped, and the study is finished. The file
holds every answer once, the page and its requests never name a run or a model, and the video plays
and seeks through the server's range requests.

The browser is tests/chromium.py's DevTools client; without Chromium the tests are skipped, except
under CI=true, where they fail.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from chromium import needs_chromium
from test_label import SECRETS, runs  # noqa: F401  (module fixture: two labelled runs with three videos each)

from vrbench.cli import main
from vrbench.label import LabelSession, load_videos, plan_videos

pytestmark = [pytest.mark.slow, needs_chromium]


class LabelProcess:
    """`vrbench label` as a user starts it, in its own process."""

    def __init__(self, run_dirs, labels, annotator="alice", port=0):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vrbench", "label", *map(str, run_dirs), "--annotator", annotator, "--labels", str(labels),
             "--port", str(port), "--no-browser", "--seed", "3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if m := re.search(r"open (http://127\.0\.0\.1:\d+/)", line):
                self.url = m.group(1)
                return
        self.proc.kill()
        raise AssertionError("vrbench label did not start:\n" + "".join(self.lines) + self.proc.stdout.read())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)  # no clean shutdown: what a crash or a closed laptop does
        self.proc.wait(10)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = self.proc.communicate(timeout=10)
        return "".join(self.lines) + out


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def settle(b, n_rows: int, path) -> None:
    """Wait until the page is idle and the file holds ``n_rows`` rows."""
    b.wait_until("state.item !== null && !state.busy")
    deadline = time.monotonic() + 10
    while len(rows(path)) != n_rows:
        assert time.monotonic() < deadline, f"expected {n_rows} rows, got {len(rows(path))}"
        time.sleep(0.05)


def test_label_by_keys_survive_a_killed_server_and_finish(browser, runs, tmp_path):  # noqa: F811
    labels = tmp_path / "labels.csv"
    server = LabelProcess(runs, labels)
    b = browser
    b.goto(server.url)
    b.wait_until("state.item !== null")
    assert b.eval("document.querySelector('#count').textContent") == "0 / 6 videos · 0 / 48 answers"
    assert b.eval("document.querySelector('#position').textContent") == "video 1 of 6"
    assert b.eval("document.querySelectorAll('li.q').length") == 8

    # the video plays, loops, and seeks (the server answers range requests)
    video = b.wait_until("(() => { const v = document.querySelector('video'); return v.readyState >= 1 && "
                         "{duration: v.duration, width: v.videoWidth, loop: v.loop}; })()")
    assert video["width"] == 32 and video["loop"] and video["duration"] == pytest.approx(1.0, abs=0.2)
    assert b.eval("new Promise(r => { const v = document.querySelector('video'); v.addEventListener('seeked', () => r(v.currentTime), {once: true});"
                  " v.currentTime = 0.5; setTimeout(() => r(-1), 10000); })") == pytest.approx(0.5, abs=0.2)

    # first video: y n space y y n y y -> eight rows, then the page moves to video 2
    keys = ["y", "n", " ", "y", "y", "n", "y", "y"]
    for i, key in enumerate(keys):
        b.press(key)
        settle(b, i + 1, labels)
    assert [r["answer"] for r in rows(labels)] == ["yes", "no", "cant-tell", "yes", "yes", "no", "yes", "yes"]
    assert b.eval("document.querySelector('#position').textContent") == "video 2 of 6"
    first = rows(labels)[0]

    # two answers on video 2, undo the second (a retract row), answer it again; arrows move between questions
    b.press("y")
    settle(b, 9, labels)
    b.press("y")
    settle(b, 10, labels)
    b.press("u")
    settle(b, 11, labels)
    assert rows(labels)[-1]["answer"] == "retract" and rows(labels)[-1]["question"] == rows(labels)[-2]["question"]
    assert b.eval("state.current") == 1  # back at the undone question
    b.press("n")
    settle(b, 12, labels)
    b.press("ArrowUp")
    b.press("ArrowUp")
    assert b.eval("state.current") == 0
    b.press("ArrowRight")  # to video 3 and back: answers given are shown as chosen
    b.wait_until("state.item.index === 2")
    b.press("ArrowLeft")
    b.wait_until("state.item.index === 1")
    chosen = b.eval("Array.from(document.querySelectorAll('li.q')).map(li => (li.querySelector('button.chosen') || {}).textContent || '')")
    assert chosen[:3] == ["Yes", "No", ""]

    # the mouse works too: click "No" on question 3
    b.click("li.q:nth-child(3) button[data-answer='no']")
    settle(b, 13, labels)

    # the server dies; the next answer is refused visibly, and nothing already given is lost
    server.kill()
    b.press("y")
    b.wait_until("document.querySelector('#status').textContent.startsWith('Not saved')")
    assert len(rows(labels)) == 13

    # restarted (same command): the page resumes at the first unfinished video and question
    server = LabelProcess(runs, labels)
    assert "1 done already" in "".join(server.lines)
    b.goto(server.url)
    b.wait_until("state.item !== null")
    assert b.eval("document.querySelector('#position').textContent") == "video 2 of 6"
    assert b.eval("state.current") == 3
    assert b.eval("document.querySelector('#count').textContent") == "1 / 6 videos · 11 / 48 answers"

    # finish: 5 more on video 2, then 8 on each of the four others
    n = 13
    for _ in range(5 + 8 * 4):
        b.press("n" if n % 3 else "y")
        n += 1
        settle(b, n, labels)
    b.wait_until("document.querySelector('#done').style.display === 'block'")
    assert b.eval("document.querySelector('#count').textContent") == "6 / 6 videos · 48 / 48 answers"

    # blind: nothing on the page, in its requests or in their answers names a run or a model
    html = b.eval("document.documentElement.outerHTML")
    urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("http://127.0.0.1:", "data:")) for u in urls)  # nothing else is fetched (data: the video controls)
    for secret in SECRETS:
        assert secret not in html and not any(secret in u for u in urls)

    out = server.stop()
    assert "6 / 6 videos labelled (48 answers)" in out
    written = rows(labels)
    assert written[0] == first  # rows are only ever appended
    final = {}
    for r in written:
        key = (r["run"], r["case"], r["seed"], r["question"])
        final.pop(key, None)
        if r["answer"] != "retract":
            final[key] = r["answer"]
    assert len(final) == 48 and {r["annotator"] for r in written} == {"alice"}
    assert {k[0] for k in final} == {"alpha-model", "beta-model"}
    assert not [e for e in b.events if e.get("method") in ("Page.javascriptDialogOpening", "Runtime.exceptionThrown")]
    check_agreement(runs, labels, final, tmp_path)


def check_agreement(runs, labels, alice: dict, tmp_path) -> None:  # noqa: F811
    """A second annotator (bob, who says yes to everything) labels into his own file; `vrbench agreement` over
    both files must give the numbers computed here from the raw rows and the judge's own JSON lines."""
    videos, suite = load_videos(runs)
    bob = LabelSession(plan_videos(videos, suite), suite, tmp_path / "bob.csv", "bob")
    for i in range(len(bob.plan)):
        for q in bob.questions(i):
            bob.answer(i, q, "yes")
    out = tmp_path / "agreement.json"
    assert main(["agreement", *map(str, runs), "--human", str(labels), str(bob.path), "--json", str(out), "--bootstrap", "50"]) == 0
    result = json.loads(out.read_text())

    # the majority of alice and bob: can't-tell is no vote, so alice's can't-tell leaves bob's yes; yes/no is a tie
    majority = {k: "yes" if a in ("yes", "cant-tell") else None for k, a in alice.items()}
    judge = {}
    for run in runs:
        label = json.loads((run / "run.json").read_text())["label"]
        for line in (run / "judgments" / "judge-a.jsonl").read_text().splitlines():
            r = json.loads(line)
            judge[(label, r["case"], str(r["seed"]), r["question"])] = r["answer"]
    pairs = [(judge[k], m) for k, m in majority.items() if m is not None and judge[k] in ("yes", "no")]
    accuracy = sum(j == m for j, m in pairs) / len(pairs)
    p_judge_yes = sum(j == "yes" for j, _ in pairs) / len(pairs)
    p_human_yes = sum(m == "yes" for _, m in pairs) / len(pairs)
    chance = p_judge_yes * p_human_yes + (1 - p_judge_yes) * (1 - p_human_yes)
    human = result["human"][0]
    assert human["n_no_majority"] == sum(m is None for m in majority.values()) > 0
    assert human["questions"]["n"] == len(pairs)
    assert human["questions"]["accuracy"] == pytest.approx(accuracy)
    if chance < 1:
        assert human["questions"]["kappa"] == pytest.approx((accuracy - chance) / (1 - chance))

    annotators = result["annotators"]
    assert annotators["annotators"] == ["alice", "bob"] and annotators["n_tied"] == human["n_no_majority"]
    assert annotators["n_cant_tell"] == sum(a == "cant-tell" for a in alice.values())
    krippendorff = pytest.importorskip("krippendorff")
    code = {"yes": 1.0, "no": 0.0, "cant-tell": np.nan}
    keys = sorted(alice)
    matrix = np.array([[code[alice[k]] for k in keys], [1.0] * len(keys)])
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert annotators["alpha"] == pytest.approx(expected, abs=1e-9)
