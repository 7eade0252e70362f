"""The run directory: what each stage writes, and safe ways to write and read it.

Layout (DESIGN.md)::

    runs/<name>/
      run.json                  written first; never holds secrets
      videos/<case>-s<seed>.mp4
      generations.jsonl         one row per finished video, appended and flushed
      judgments/<judge>.jsonl   one row per video x question
      scores/<judge>.json       written last

Writes are atomic (temporary file + rename) or append-and-fsync, so a crash or Ctrl-C never leaves a
half-written file that a rerun would trust.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import VRBenchError
from .scoring import ANSWERS

RUN_FILE = "run.json"
log = logging.getLogger(__name__)
Pair = tuple[str, int]  # (case id, seed)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


CACHE_ENV = "VRBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """Caches shared by all runs (judge answers, converted weights): $VRBENCH_CACHE_DIR, else
    $XDG_CACHE_HOME/vrbench, else ~/.cache/vrbench."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vrbench"


def safe_name(name: str) -> str:
    """A file-system-safe version of a model or judge name (no separators, no leading dots)."""
    cleaned = _SAFE.sub("_", name).strip("._") or "unnamed"
    return cleaned[:120]


def video_name(case_id: str, seed: int) -> str:
    return f"{case_id}-s{seed}.mp4"


@contextmanager
def atomic_output(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, fsync it and rename it into
    place, otherwise remove it. Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600; the final file gets what the umask gives
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it is to set it; done once, at import, before any threads
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def default_file_mode() -> int:
    """The mode a plainly created file gets under the process's umask (0644 under umask 022)."""
    return 0o666 & ~_UMASK


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8"))


def repair_torn_tail(path: Path) -> bool:
    """Cut a last line without a newline (what a crash mid-append leaves), so new rows never follow half a row."""
    try:
        with open(path, "rb+") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return False
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        return False
    log.warning("%s: removed a half-written last row (a crash mid-append); it is redone", path)
    return True


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append whole lines and fsync, after cutting any half-written last line a crash left behind."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_torn_tail(path)
    data = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in rows).encode("utf-8")
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_user_text(path: Path, *, what: str = "file", expected: str = "UTF-8 text", encoding: str = "utf-8") -> str:
    """A text file the user pointed at, or a one-line error: ``path: {what} not found`` / ``path: expected {expected}``."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise VRBenchError(f"{path}: {what} not found") from None
    except UnicodeDecodeError:
        raise VRBenchError(f"{path}: expected {expected}") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each row; bad JSON is a one-line error naming file:line.

    A last line without a newline is what a crash mid-append leaves behind; it is skipped (the row is
    redone on resume) rather than reported.
    """
    text = read_user_text(path, expected="UTF-8 JSON lines")
    lines = text.split("\n")
    torn = lines[-1] != ""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if torn and lineno == len(lines):
                return
            raise VRBenchError(f"{path}:{lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise VRBenchError(f"{path}:{lineno}: expected a JSON object per line")
        yield lineno, obj


def csv_rows(reader, n_columns: int, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each non-blank row of a ``csv.reader`` past its header; a row with a
    different number of columns than the header is a one-line ``file:line`` error."""
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != n_columns:
            raise VRBenchError(f"{path}:{reader.line_num}: expected {n_columns} columns like the header, got {len(cells)}")
        yield reader.line_num, cells


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

    def video_path(self, case_id: str, seed: int) -> Path:
        return self.videos_dir / video_name(case_id, seed)

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


_held_locks: dict[Path, int] = {}  # lock file -> how deep this process holds it


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive advisory lock on the file ``path`` (created if missing, in an existing folder), shared by
    every process (POSIX).

    Re-entrant within a process (``vrbench run`` holds the judge lock around ``judge_run``, which
    takes it too); flock alone would deadlock on a second open of the same file.
    """
    path = Path(path).resolve()
    if _held_locks.get(path):
        _held_locks[path] += 1
        try:
            yield
        finally:
            _held_locks[path] -= 1
        return
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): single-process use only
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _held_locks[path] = 1
        try:
            yield
        finally:
            _held_locks.pop(path, None)
            fcntl.flock(f, fcntl.LOCK_UN)


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
