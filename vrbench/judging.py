"""The judge stage: ask a judge every question of every video of a run, and keep the answers.

Reads ``generations.jsonl`` and the videos, writes ``judgments/<judge>.jsonl`` (a row per video x
question) and the judge's signature in ``run.json``. Resumable and idempotent: a question with a row
is never asked again and never written twice; answers already in the judge cache (same video bytes,
question text and judge signature) are reused without a request.

Per video: frames are sampled once, then the first question is sent alone and the other seven
together, so a vLLM server computes the video prefix once and serves the rest from its caches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VRBenchError
from .runstore import RunDir, append_jsonl, atomic_write_bytes, iter_jsonl, latest_generations, update_manifest
from .scoring import INVALID
from .stages import suite_for_run
from .video import sha256_file

log = logging.getLogger(__name__)


@dataclass
class _Video:
    case: str
    seed: int
    path: Path
    prompt: str
    questions: list[tuple[str, str]]  # (question id, text) still to answer


@dataclass
class _Tally:
    videos: int = 0
    asked: int = 0
    cached: int = 0
    requests: int = 0
    answers: dict[str, int] = field(default_factory=lambda: {"yes": 0, "no": 0, "invalid": 0})
    errors: int = 0


def _videos_to_judge(run: RunDir, suite, done: set[tuple[str, int, str]], cases: list[str] | None) -> tuple[list[_Video], int]:
    """Videos of the run with their unanswered questions, and how many (case, seed) pairs have no video."""
    if not run.generations_file.exists():
        raise VRBenchError(f"{run.generations_file}: not found (run `vrbench generate` first)")
    by_id = {c.id: c for c in suite.cases}
    wanted = {c.id for c in suite.select(cases)} if cases else None
    videos, failed = [], 0
    for (case_id, seed), row in latest_generations(run.root).items():
        if case_id not in by_id:
            raise VRBenchError(f"{run.generations_file}: case: unknown case {case_id!r} (not in suite {suite.name} {suite.version})")
        if wanted is not None and case_id not in wanted:
            continue
        if row.get("error") or not row.get("video"):
            failed += 1
            continue
        case = by_id[case_id]
        todo = [(q.id, q.text) for q in case.questions if (case_id, seed, q.id) not in done]
        if todo:
            videos.append(_Video(case_id, seed, run.root / row["video"], case.prompt, todo))
    return videos, failed


def _record_signature(run: RunDir, judge: str, signature: dict, has_rows: bool) -> None:
    def change(manifest: dict) -> None:
        judges = manifest.setdefault("judges", {})
        old = judges.get(judge)
        if has_rows and old and old != signature:
            changed = sorted(k for k in set(old) | set(signature) if old.get(k) != signature.get(k))
            raise VRBenchError(
                f"{run.judgments_file(judge)}: judged with different '{judge}' settings ({', '.join(changed)} differ); "
                "rerun with the original --judge-arg values, or move that file away to judge afresh"
            )
        judges[judge] = signature

    update_manifest(run.root, change)


def _drop_error_rows(path: Path) -> int:
    """Rewrite the judgments file without rows that failed (request or video errors), atomically; how many were dropped.

    Rows the judge answered unreadably stay: asking again would get the same reply.
    """
    if not path.exists():
        return 0
    keep, dropped = [], 0
    for _, row in iter_jsonl(path):
        if row.get("error") and row.get("error_kind") != "unreadable":
            dropped += 1
        else:
            keep.append(row)
    if dropped:
        import json

        atomic_write_bytes(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep).encode("utf-8"))
    return dropped


def judge_run(run_dir, judge: str, *, options: dict | None = None, judge_url: str | None = None,
              concurrency: int = 8, suite_path=None, cases: list[str] | None = None, progress: bool = True,
              use_cache: bool = True, retry_errors: bool = False) -> dict:
    """Judge every video of a run with the judge registered as ``judge``; return a summary.

    ``options`` are the judge's constructor arguments (``--judge-arg``); ``judge_url`` is the server
    of a server judge; ``concurrency`` bounds questions in flight; ``retry_errors`` first removes rows
    that failed with an error (not those the judge answered unreadably) so they are asked again.
    """
    from vrbench.judges import JUDGES, get_judge

    from vrbench.judges.cache import JudgeCache

    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    if concurrency < 1:
        raise VRBenchError(f"--concurrency: expected >= 1, got {concurrency}")
    cls = get_judge(judge)
    kwargs = dict(options or {})
    if judge_url is not None:
        from .options import option_types

        if "url" not in option_types(cls):
            raise VRBenchError(f"judge '{judge}' runs locally and takes no --judge-url")
        kwargs["url"] = judge_url
    instance = JUDGES.create(judge, kwargs)
    instance.check()
    signature = instance.signature()

    suite = suite_for_run(run, suite_path)
    path = run.judgments_file(judge)
    dropped = _drop_error_rows(path) if retry_errors else 0
    done = {(r["case"], r["seed"], r["question"]) for _, r in iter_jsonl(path)} if path.exists() else set()
    already = len(done)
    videos, failed = _videos_to_judge(run, suite, done, cases)
    _record_signature(run, judge, signature, has_rows=bool(done))
    if failed:
        log.warning("%d generation rows carry an error (no video); they are not judged", failed)

    tally = _Tally()
    if videos:
        cache = JudgeCache() if use_cache else None
        try:
            asyncio.run(_judge_videos(instance, videos, path, done, signature, cache, tally,
                                      min(concurrency, instance.max_concurrency or concurrency), progress))
        finally:
            if cache is not None:
                cache.close()
    return {
        "judge": judge,
        "judgments": str(path),
        "videos": tally.videos,
        "questions": tally.asked + tally.cached,
        "already_judged": already,
        "retried_errors": dropped,
        "cache_hits": tally.cached,
        "requests": tally.requests,
        "skipped_generation_errors": failed,
        **tally.answers,
        "errors": tally.errors,
    }


async def _judge_videos(judge, videos: list[_Video], path: Path, done: set, signature: dict, cache, tally: _Tally,
                        concurrency: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    from vrbench.judges.cache import cache_key
    from vrbench.judges.parsing import parse_yes_no

    judge.load()
    slots = asyncio.Semaphore(concurrency)  # questions in flight
    write_lock = asyncio.Lock()
    video_slots = asyncio.Semaphore(2 * concurrency)  # videos decoded and held in memory at once
    bar = tqdm(total=sum(len(v.questions) for v in videos), desc=f"judge {judge.registry_name}", unit="q",
               disable=not progress, dynamic_ncols=True)

    async def ask(video, v: _Video, qid: str, text: str) -> dict[str, Any]:
        started = time.perf_counter()
        async with slots:
            reply = await judge.ask(video, text, prompt=v.prompt)
        requests, raw, p_yes, error = reply.requests, reply.text, reply.p_yes, reply.error
        answer = parse_yes_no(raw) if error is None else None
        retried = False
        if error is None and answer is None:  # one retry with a stricter instruction, then invalid
            retried = True
            async with slots:
                strict = await judge.ask(video, text, prompt=v.prompt, strict=True)
            requests += strict.requests
            if strict.error is not None:
                error = strict.error
            else:
                raw, p_yes, answer = strict.text, strict.p_yes, parse_yes_no(strict.text)
        row = {
            "case": v.case, "seed": v.seed, "question": qid,
            "answer": answer or INVALID, "p_yes": p_yes if answer else None, "raw": raw,
            "latency": round(time.perf_counter() - started, 4),
            "error": error if error else (None if answer else "no yes/no in the reply, also after a stricter retry"),
            "error_kind": "request" if error else (None if answer else "unreadable"),
            "retried": retried, "requests": requests, "video_sha256": video.sha256, "cached": False,
        }
        tally.asked += 1
        tally.requests += requests
        bar.update(1)
        return row

    async def one_video(v: _Video) -> None:
        async with video_slots:
            rows: dict[str, dict] = {}
            try:
                sha = await asyncio.to_thread(sha256_file, v.path)
            except OSError as e:
                sha, failure = None, f"video: cannot read {v.path} ({e.strerror or e})"
            else:
                failure = None
            todo = []
            for qid, text in v.questions:
                hit = cache.get(cache_key(sha, text, signature)) if (cache is not None and sha) else None
                if hit is not None:
                    rows[qid] = {"case": v.case, "seed": v.seed, "question": qid, **hit, "video_sha256": sha, "cached": True}
                    tally.cached += 1
                    bar.update(1)
                else:
                    todo.append((qid, text))
            if todo and failure is None:
                try:
                    video = await asyncio.to_thread(judge.prepare, v.path, sha)
                except VRBenchError as e:
                    failure = f"video: {e}"
            if todo and failure is not None:
                log.warning("%s seed %d: %s", v.case, v.seed, failure)
                for qid, _ in todo:
                    rows[qid] = {"case": v.case, "seed": v.seed, "question": qid, "answer": INVALID, "p_yes": None,
                                 "raw": None, "latency": 0.0, "error": failure, "error_kind": "video",
                                 "video_sha256": sha, "cached": False}
                    bar.update(1)
            elif todo:
                first = await ask(video, v, *todo[0])  # first alone: the server caches the video prefix ...
                rest = await asyncio.gather(*(ask(video, v, qid, text) for qid, text in todo[1:]))  # ... the rest reuse it
                for row in (first, *rest):
                    rows[row["question"]] = row
                    if cache is not None and row["error_kind"] in (None, "unreadable"):
                        cache.put(cache_key(sha, dict(todo)[row["question"]], signature),
                                  {k: row[k] for k in ("answer", "p_yes", "raw", "latency", "error", "error_kind")})
            ordered = [rows[qid] for qid, _ in v.questions if (v.case, v.seed, qid) not in done]
            for row in ordered:
                tally.answers[row["answer"]] += 1
                tally.errors += row["error_kind"] in ("request", "video")
                done.add((v.case, v.seed, row["question"]))
            async with write_lock:  # a video's rows together, fsynced off the event loop so requests keep flowing
                await asyncio.to_thread(append_jsonl, path, ordered)
            tally.videos += 1

    try:
        await asyncio.gather(*(one_video(v) for v in videos))
    finally:
        bar.close()
        await judge.aclose()
