"""The run directory: what each stage writes, and safe ways to write and read it.

Layout (DESIGN.md)::

    runs/<name>/
      run.json                  written first; never holds secrets
      videos/<case>-s<seed>.mp4
      generations.jsonl         one row per finished video, appended and flushed
      judgments/<judge>.jsonl   one row per video x question
      scores/<judge>.json       written last
      audit/<judge>.jsonl       `vrbench audit`: the judge's answers on control clips (audit/controls/<kind>/)

A VBench run (`vrbench generate --prompts vbench`, run.json ``"kind": "vbench"``) holds VBench's prompt
suite instead: ``videos/{prompt}-{index}.mp4`` as VBench's standard mode looks them up, and VBench's own
``vbench/*_eval_results.json`` (`vrbench vbench evaluate`); it is never judged or scored.

Writing goes through ``files.py`` (atomic, crash-safe); this module knows where each stage's files live,
validates the rows it reads back, and finds the suite a run was made with.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .answers import ANSWERS
from .errors import VRBenchError
from .files import atomic_write_json, file_lock, iter_jsonl
from .suite import Suite, find_bundled_suite, load_suite

RUN_FILE = "run.json"
log = logging.getLogger(__name__)
Pair = tuple[str, int]  # (case id, seed)
VBENCH_KIND = "vbench"  # run.json "kind" of a run that holds VBench's prompt suite (absent: VR-Bench's suite)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe version of a model or judge name (no separators, no leading dots)."""
    cleaned = _SAFE.sub("_", name).strip("._") or "unnamed"
    return cleaned[:120]


def video_name(case_id: str, seed: int) -> str:
    return f"{case_id}-s{seed}.mp4"


@dataclass(frozen=True)
class JudgmentRow:
    case: str
    seed: int
    question: str
    answer: str
    p_yes: float | None
    line: int


def parse_judgment(obj: dict, where: str) -> JudgmentRow:
    """Validate one judgments.jsonl row; ``where`` is 'file:line' for the error message."""

    def fail(field: str, expected: str) -> VRBenchError:
        return VRBenchError(f"{where}: {field}: expected {expected}, got {obj.get(field)!r}")

    case, seed, question, answer = obj.get("case"), obj.get("seed"), obj.get("question"), obj.get("answer")
    if not isinstance(case, str) or not case:
        raise fail("case", "a case id such as ETV-07")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise fail("seed", "a non-negative integer")
    if not isinstance(question, str) or not question:
        raise fail("question", "a question id such as Q3")
    if answer not in ANSWERS:
        raise fail("answer", "one of yes, no, invalid")
    p_yes = obj.get("p_yes")
    if p_yes is not None:
        if isinstance(p_yes, bool) or not isinstance(p_yes, (int, float)) or not math.isfinite(p_yes) or not 0.0 <= p_yes <= 1.0:
            raise fail("p_yes", "null or a probability in [0, 1]")
        p_yes = float(p_yes)
    return JudgmentRow(case, seed, question, answer, p_yes, int(where.rsplit(":", 1)[-1]))


class RunDir:
    """Paths and small readers for one run directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def run_file(self) -> Path:
        return self.root / RUN_FILE

    @property
    def videos_dir(self) -> Path:
        return self.root / "videos"

    @property
    def generations_file(self) -> Path:
        return self.root / "generations.jsonl"

    def judgments_file(self, judge: str) -> Path:
        return self.root / "judgments" / f"{safe_name(judge)}.jsonl"

    def scores_file(self, judge: str) -> Path:
        return self.root / "scores" / f"{safe_name(judge)}.json"

    @property
    def audit_dir(self) -> Path:
        return self.root / "audit"

    def audit_file(self, judge: str) -> Path:
        """The judge's answers on control clips, a row per clip x question."""
        return self.audit_dir / f"{safe_name(judge)}.jsonl"

    def audit_summary_file(self, judge: str) -> Path:
        return self.audit_dir / f"{safe_name(judge)}.json"

    def control_path(self, kind: str, case_id: str, seed: int) -> Path:
        """Where the control clip of kind ``kind`` made from the video of (case, seed) lives."""
        return self.audit_dir / "controls" / safe_name(kind) / video_name(case_id, seed)

    def video_path(self, case_id: str, seed: int) -> Path:
        return self.videos_dir / video_name(case_id, seed)

    @property
    def vbench_dir(self) -> Path:
        """VBench's own output (``*_eval_results.json``) for a VBench run (`vrbench vbench evaluate`)."""
        return self.root / "vbench"

    def judges(self) -> list[str]:
        """Judges with a judgments file in this run."""
        d = self.root / "judgments"
        return sorted(p.stem for p in d.glob("*.jsonl")) if d.is_dir() else []

    def read_manifest(self) -> dict | None:
        if not self.run_file.exists():
            return None
        try:
            data = json.loads(self.run_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise VRBenchError(f"{self.run_file}: not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise VRBenchError(f"{self.run_file}: expected a JSON object")
        return data

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(self.run_file, manifest)

    def read_judgments(self, judge: str) -> list[JudgmentRow]:
        path = self.judgments_file(judge)
        if not path.exists():
            known = ", ".join(self.judges()) or "none"
            raise VRBenchError(f"{path}: no judgments for judge '{judge}' in this run (judged by: {known})")
        return [parse_judgment(obj, f"{path}:{lineno}") for lineno, obj in iter_jsonl(path)]


# --- sharing a run between processes (ranks, shards, a judge next to a generator) -----------------


def run_lock(run_dir: str | Path, name: str = "run"):
    """The lock ``<run_dir>/.<name>.lock`` that every process using the run shares (see :func:`file_lock`)."""
    return file_lock(Path(run_dir) / f".{name}.lock")


def run_file(root: str | Path, name: object, where: str) -> Path:
    """The file a run's own records name (``generations.jsonl``'s ``video``), confined to the run.

    Run directories are shared and submitted: a path they name must be relative, without ``..``,
    and resolve (symlinks followed) inside the run directory, so reading a run never reads, sends or
    publishes a file from elsewhere. ``where`` (file:line) starts the one-line error.
    """
    if not isinstance(name, str) or not name:
        raise VRBenchError(f"{where}: video: expected a path relative to the run directory, got {name!r}")
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or name.startswith("~"):
        raise VRBenchError(f"{where}: video: {name!r} must be a path inside the run directory (no absolute path, no '..')")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base):
        raise VRBenchError(f"{where}: video: {name!r} leads outside the run directory (through a symbolic link)")
    return target


def update_manifest(run_dir: str | Path, change: Callable[[dict], None]) -> dict:
    """Read run.json, apply ``change`` to it in place, write it back atomically, under the run lock."""
    run = RunDir(run_dir)
    with run_lock(run.root):
        manifest = run.read_manifest() or {}
        change(manifest)
        run.write_manifest(manifest)
    return manifest


def latest_generations(run_dir: str | Path) -> dict[Pair, dict]:
    """The latest ``generations.jsonl`` row per (case, seed) (a rerun may follow an error row with a video)."""
    run = RunDir(run_dir)
    path = run.generations_file
    if not path.exists():
        return {}
    rows: dict[Pair, dict] = {}
    for lineno, row in iter_jsonl(path):
        case, seed = row.get("case"), row.get("seed")
        if not isinstance(case, str) or not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise VRBenchError(f"{path}:{lineno}: expected a row with a case id and a non-negative integer seed")
        if "error" not in row and not isinstance(row.get("video"), str):
            raise VRBenchError(f"{path}:{lineno}: video: expected a path relative to the run directory")
        rows[(case, seed)] = row
    return rows


def finished_videos(run_dir: str | Path) -> dict[Pair, dict]:
    """Pairs whose latest row has a video that exists on disk: what the judge stage reads."""
    root = Path(run_dir)
    return {k: r for k, r in latest_generations(root).items() if "error" not in r and (root / r["video"]).is_file()}


# --- which suite a run was made with, and what it set out to make ----------------------------------


def is_vbench_manifest(manifest: dict | None) -> bool:
    """Whether a run.json is a VBench run's (VBench's prompt suite, evaluated by VBench, never judged)."""
    return manifest is not None and manifest.get("kind") == VBENCH_KIND


def suite_for_run(run: RunDir, suite_path: str | Path | None = None) -> Suite:
    """The suite a run was made with. Without ``--suite`` it is the bundled suite whose sha256 the run
    recorded (so a run made with v1.0 is scored with v1.0); a given suite whose content differs from the
    one recorded is refused."""
    manifest = run.read_manifest()
    if is_vbench_manifest(manifest):
        raise VRBenchError(f"{run.root}: this run holds VBench's prompt suite, not VR-Bench's; evaluate it with "
                           f"`vrbench vbench evaluate {run.root} --vbench-python PATH`")
    recorded = (manifest or {}).get("suite") or {}
    sha = recorded.get("sha256")
    if suite_path is None and (sha or recorded.get("version")):
        found = find_bundled_suite(sha, recorded.get("version"))
        if found is not None:
            return found
        if sha:
            raise VRBenchError(
                f"{run.run_file}: run was made with suite {recorded.get('name')} {recorded.get('version')} (sha256 {sha[:12]}), "
                "which is not bundled with this vrbench; pass --suite with the suite the run used"
            )
    suite = load_suite(suite_path)
    if sha and sha != suite.sha256:
        raise VRBenchError(
            f"{run.run_file}: run was made with suite {recorded.get('name')} {recorded.get('version')} "
            f"(sha256 {sha[:12]}), but the loaded suite {suite.name} {suite.version} has sha256 {suite.sha256[:12]}; "
            "pass --suite with the suite the run used"
        )
    return suite


def suite_for_runs(run_dirs, suite_path: str | Path | None = None) -> Suite:
    """The one suite several runs were made with; runs of different suites are not comparable, so refused."""
    by_sha: dict[str, tuple[Suite, list[str]]] = {}
    for d in run_dirs:
        suite = suite_for_run(RunDir(d), suite_path)
        by_sha.setdefault(suite.sha256, (suite, []))[1].append(str(d))
    if not by_sha:
        return load_suite(suite_path)
    if len(by_sha) > 1:
        groups = "; ".join(f"{s.name} {s.version} ({s.sha256[:12]}): {', '.join(dirs)}" for s, dirs in by_sha.values())
        raise VRBenchError(f"these runs were made with different suites, whose scores are not comparable: {groups}; "
                           "use them separately")
    return next(iter(by_sha.values()))[0]


def expected_pairs(manifest: dict, suite: Suite, generated: dict) -> set[tuple[str, int]]:
    """The (case, seed) pairs a run set out to make: its run.json's cases (else those with a generation
    row, else the whole suite) times its seeds."""
    known = {c.id for c in suite.cases}
    cases = [c for c in (manifest.get("cases") or sorted({c for c, _ in generated}) or sorted(known)) if c in known]
    seeds = [s for s in (manifest.get("seeds") or sorted({s for _, s in generated}) or [0]) if isinstance(s, int)]
    return {(c, s) for c in cases for s in seeds}


def missing_videos(expected: set[tuple[str, int]], generated: dict) -> int:
    """How many expected pairs have no video: no generation row yet, or only a failed one."""
    return sum(1 for pair in expected if not (generated.get(pair) or {}).get("video") or (generated.get(pair) or {}).get("error"))
