"""General file helpers: atomic writes, appends that survive a crash, locks shared by processes, the cache
folder, and readers of user files that fail in one line naming the file and line.

Writes are atomic (temporary file + rename) or append-and-fsync, so a crash or Ctrl-C never leaves a
half-written file that a rerun would trust; files get the mode the umask gives.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import VRBenchError

log = logging.getLogger(__name__)

CACHE_ENV = "VRBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """Caches shared by all runs (judge answers, converted weights): $VRBENCH_CACHE_DIR, else
    $XDG_CACHE_HOME/vrbench, else ~/.cache/vrbench."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vrbench"


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


