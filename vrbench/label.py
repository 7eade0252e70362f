"""Human labels made in the browser: the blind, resumable labelling study behind `vrbench label`.

A plan is the list of videos one annotator labels: every finished video of the runs given, or with
``sample`` a stratified sample of cases (spread evenly over the dimensions, the same cases for every
run, one seed each), in a seeded random order that interleaves the runs. The page never learns which
run a video comes from: it asks for videos and questions by their position in the plan.

Every answer is appended to the labels CSV (``LABEL_COLUMNS``, the format `vrbench agreement --human`
reads) the moment it is given, under a lock shared by processes, so a closed tab or a killed server
loses nothing and two annotators may write into one file. Undo appends a ``retract`` row; readers keep
the last row per (annotator, run, case, seed, question). Reopening replays the file: the answers given
so far come back, and the page starts at the first video with an unanswered question.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from .agreement import CANT_TELL, LABEL_COLUMNS, RETRACT, annotator_answers, read_label_rows
from .answers import NO, YES
from .errors import VRBenchError
from .files import file_lock, repair_torn_tail
from .results import check_labels, run_label
from .runstore import RunDir, finished_videos, suite_for_runs
from .suite import Suite

log = logging.getLogger(__name__)

#: what a page may send as an answer
ANSWERS = (YES, NO, CANT_TELL)
Key = tuple[str, str, int, str]  # (run label, case, seed, question)


@dataclass(frozen=True)
class Video:
    """One video to label; ``run`` (the run's label) stays on the server."""

    run: str
    case: str
    seed: int
    path: Path


def check_annotator(name: str) -> str:
    if not name or name != name.strip() or any(c in name for c in "\r\n,\"") or len(name) > 100:
        raise VRBenchError(f"--annotator: expected a short name without commas, quotes or surrounding spaces, got {name!r}")
    return name


def load_videos(run_dirs: Sequence[str | Path], suite_path: str | Path | None = None) -> tuple[list[Video], Suite]:
    """Every finished video of the runs, and the one suite they were made with (runs of different
    suites ask different questions, so they are refused). Two runs with one label are refused."""
    runs = [RunDir(d) for d in run_dirs]
    for run in runs:
        if not run.root.is_dir():
            raise VRBenchError(f"{run.root}: run directory not found")
    suite = suite_for_runs(run_dirs, suite_path)
    named = [_Named(run_label(run, run.read_manifest() or {}), run.root) for run in runs]
    check_labels(named)
    known = {c.id for c in suite.cases}
    videos: list[Video] = []
    for run, name in zip(runs, named):
        found = [Video(name.label, c, s, run.root / row["video"]) for (c, s), row in sorted(finished_videos(run.root).items())
                 if c in known]
        if not found:
            raise VRBenchError(f"{run.root}: no finished videos to label (run `vrbench generate` first)")
        videos += found
    return videos, suite


class _Named(NamedTuple):
    label: str
    root: Path


def plan_videos(videos: Sequence[Video], suite: Suite, sample: int | None = None, seed: int = 0) -> list[Video]:
    """The order an annotator sees the videos in: seeded, shuffled across runs.

    With ``sample`` N: N cases that every run has a video of, spread evenly over the dimensions
    (dimensions take turns; within one, cases are drawn at random), each shown once per run with the
    lowest seed every run has, so each run is judged on the same cases."""
    rng = random.Random(seed)
    chosen = list(videos)
    if sample is not None:
        if sample < 1:
            raise VRBenchError(f"--sample: expected a positive number of cases, got {sample}")
        runs = sorted({v.run for v in videos})
        seeds: dict[str, dict[str, set[int]]] = {}
        for v in videos:
            seeds.setdefault(v.case, {}).setdefault(v.run, set()).add(v.seed)
        common = {c: min(set.intersection(*by_run.values())) for c, by_run in seeds.items()
                  if len(by_run) == len(runs) and set.intersection(*by_run.values())}
        if sample > len(common):
            raise VRBenchError(f"--sample {sample}: only {len(common)} cases have a video (with a common seed) in every run")
        by_dimension: dict[str, list[str]] = {}
        for case in suite.cases:
            if case.id in common:
                by_dimension.setdefault(case.dimension, []).append(case.id)
        for cases in by_dimension.values():
            rng.shuffle(cases)
        order = sorted(by_dimension)
        rng.shuffle(order)
        picked: list[str] = []
        while len(picked) < sample:
            for dim in order:
                if by_dimension[dim] and len(picked) < sample:
                    picked.append(by_dimension[dim].pop())
        keep = {(c, common[c]) for c in picked}
        chosen = [v for v in videos if (v.case, v.seed) in keep]
    chosen.sort(key=lambda v: (v.run, v.case, v.seed))  # the shuffle below must not depend on the input's order
    rng.shuffle(chosen)
    return chosen


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class LabelSession:
    """One annotator's answers to a plan, kept in step with the labels file.

    Thread-safe (the server answers requests on threads); the file is appended under a lock shared by
    processes, so several servers may write into one file."""

    def __init__(self, plan: Sequence[Video], suite: Suite, labels_path: str | Path, annotator: str):
        self.plan = list(plan)
        self.cases = {c.id: c for c in suite.cases}
        self.path = Path(labels_path)
        self.annotator = check_annotator(annotator)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path):  # another server may be appending to the same file
            repair_torn_tail(self.path)  # a half row from a crash mid-append never precedes new rows
            self._write_header_if_new()
            self._check_header()
            rows = read_label_rows(self.path)
        given = sorted(annotator_answers(rows, self.annotator).values(), key=lambda row: row.line)
        # the answers given so far, and the order they were given in (latest last), which undo walks back
        self.answers: dict[Key, str] = {(r.run, r.case, r.seed, r.question): r.answer for r in given if r.seed is not None}
        planned = {(v.run, v.case, v.seed) for v in self.plan}
        self.history: list[Key] = [k for k in self.answers if k[:3] in planned]  # dicts keep the order: oldest first

    def _write_header_if_new(self) -> None:
        if self.path.stat().st_size == 0:
            self._append([list(LABEL_COLUMNS)])

    def _check_header(self) -> None:
        """Rows are appended in LABEL_COLUMNS order, so the file must have that header (not another label format)."""
        with open(self.path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
        if tuple(h.strip().lower() for h in header) != LABEL_COLUMNS:
            raise VRBenchError(f"{self.path}:1: header: expected {','.join(LABEL_COLUMNS)} (the file `vrbench label` writes), "
                               f"got {','.join(header)}; pass another --labels file")

    def _append(self, rows: list[list[str]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        with open(self.path, "ab") as f:  # one write of whole lines, then fsync: a kill loses at most the row being written
            f.write(buf.getvalue().encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def _record(self, key: Key, answer: str) -> None:
        run, case, seed, question = key
        row = {"run": run, "case": case, "seed": str(seed), "question": question, "answer": answer,
               "annotator": self.annotator, "time": _now()}
        with file_lock(self.path):
            repair_torn_tail(self.path)
            self._write_header_if_new()
            self._append([[row[c] for c in LABEL_COLUMNS]])

    # --- what the page sees: positions, prompts and questions, never a run ---

    def questions(self, index: int) -> list[str]:
        return [q.id for q in self.cases[self.plan[index].case].questions]

    def _key(self, index: int, question: str) -> Key:
        v = self.plan[index]
        return (v.run, v.case, v.seed, question)

    def finished(self, index: int) -> bool:
        return all(self._key(index, q) in self.answers for q in self.questions(index))

    def progress(self) -> dict:
        done = sum(self.finished(i) for i in range(len(self.plan)))
        given = sum(self._key(i, q) in self.answers for i in range(len(self.plan)) for q in self.questions(i))
        total_q = sum(len(self.questions(i)) for i in range(len(self.plan)))
        nxt = next((i for i in range(len(self.plan)) if not self.finished(i)), None)
        return {"done": done, "total": len(self.plan), "answered": given, "questions": total_q, "next": nxt}

    def item(self, index: int) -> dict:
        self._check_index(index)
        case = self.cases[self.plan[index].case]
        with self._lock:
            return {
                "index": index, "total": len(self.plan), "prompt": case.prompt, "video": f"/video/{index}",
                "questions": [{"id": q.id, "text": q.text, "answer": self.answers.get(self._key(index, q.id))}
                              for q in case.questions],
                "progress": self.progress(),
            }

    def answer(self, index: int, question: str, answer: str) -> dict:
        self._check_index(index)
        if question not in self.questions(index):
            raise VRBenchError(f"question: expected one of {', '.join(self.questions(index))}, got {question!r}")
        if answer not in ANSWERS:
            raise VRBenchError(f"answer: expected one of {', '.join(ANSWERS)}, got {answer!r}")
        key = self._key(index, question)
        with self._lock:
            self._record(key, answer)
            self.answers[key] = answer
            if key in self.history:
                self.history.remove(key)
            self.history.append(key)
        return self.item(index)

    def undo(self) -> dict | None:
        """Withdraw the latest answer still standing (a ``retract`` row); returns where it was, or None."""
        with self._lock:
            if not self.history:
                return None
            key = self.history.pop()
            self._record(key, RETRACT)
            del self.answers[key]
        position = {(v.run, v.case, v.seed): i for i, v in enumerate(self.plan)}.get(key[:3])
        return {"index": position, "question": key[3]}

    def video_path(self, index: int) -> Path:
        self._check_index(index)
        return self.plan[index].path

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.plan):
            raise VRBenchError(f"index: expected 0..{len(self.plan) - 1}, got {index}")
