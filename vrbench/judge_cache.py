"""The judge cache: one SQLite file (WAL) of answers keyed by video sha256 + question text + judge signature.

Re-judging a video that any run already judged with the same judge settings costs no request. Only
real answers are stored (yes, no, or invalid because the reply could not be read); failed requests
and unusable replies (cut, filtered, refused, empty) are not, so they are asked again next time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from .files import cache_dir


def default_cache_path() -> Path:
    return cache_dir() / "judge-cache.sqlite"


def cache_key(video_sha256: str, question: str, signature: dict, prompt_sha256: str | None = None) -> str:
    """The answer's key: the video's bytes, the question, every setting of the judge and, when the
    judge is shown the generation prompt, that prompt (the same video and question under another
    prompt may get another answer)."""
    parts: list = [video_sha256, question, signature]
    if prompt_sha256 is not None:
        parts.append(prompt_sha256)
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class JudgeCache:
    """A small key -> JSON store; safe for several processes at once (WAL, busy timeout)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash can lose the last answers, never corrupt
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False)))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._db.close()
