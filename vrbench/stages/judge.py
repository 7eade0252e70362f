"""The judge stage: ask a judge every question of every video of a run, and keep the answers.

Reads ``generations.jsonl`` and the videos, writes ``judgments/<judge>.jsonl`` (a row per video x
question) and the judge's signature in ``run.json``. Resumable and idempotent: a question with a row
is never asked again and never written twice; answers already in the judge cache (same video bytes,
question text, judge signature and, when the judge sees it, prompt) are reused without a request.
Every answer is kept the moment it arrives (cache, then its judgments row), so a crash or kill loses
none that the judge already gave. The stage holds the run's judge lock: two judge processes on one
run never write the same row twice.

Nothing is loaded and no server is contacted until a question is not in the cache. Then the judge
loads (a server judge checks that the server answers and serves the model), and the first question
goes alone: if it fails, the stage stops with one line and writes nothing. After that, a run of
``max_failures`` request failures of the same kind in a row (one HTTP status, one exception class)
stops it the same way, keeping the answers so far.

Per video: frames are sampled once, then the first question is sent alone and the other seven
together, so a vLLM server computes the video prefix once and serves the rest from its caches.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..answers import INVALID
from ..errors import VRBenchError
from ..files import append_jsonl, atomic_write_bytes, iter_jsonl
from ..runstore import RunDir, expected_pairs, latest_generations, run_file, run_lock, suite_for_run, update_manifest
from ..video import probe_video, sha256_file

if TYPE_CHECKING:
    from ..judge_cache import JudgeCache

log = logging.getLogger(__name__)

#: every ``judgments/<judge>.jsonl`` row has these fields in this order, fresh, cached or failed alike
#: (built only by ``judgment_row``); a field that does not apply is null, never missing
JUDGMENT_FIELDS = ("case", "seed", "question", "answer", "p_yes", "raw", "error", "error_kind", "finish_reason",
                   "usage", "latency", "retried", "requests", "video_sha256", "cached")
#: what the judge cache keeps of a row: the answer and how it was got (the rest is about this run: which video, caching)
ANSWER_FIELDS = ("answer", "p_yes", "raw", "error", "error_kind", "finish_reason", "usage", "latency", "retried")


@dataclass
class JudgeItem:
    """One video and the questions to ask about it (see :func:`judge_items`).

    ``extra`` holds fields added to each of its rows after ``JUDGMENT_FIELDS`` (the audit: which control
    clip, made from which video); their values also tell its rows apart in the set of answered
    questions. ``key_extra`` is added to the judge signature in its answers' cache keys, so the same
    bytes asked the same question in another role (a control clip) never share an answer."""

    case: str
    seed: int
    path: Path | None  # None when the run's row names no usable file (``problem`` says why)
    prompt: str
    questions: list[tuple[str, str]]  # (question id, text) still to answer
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key_extra: dict[str, Any] = field(default_factory=dict)

    def done_key(self, question: str) -> tuple:
        """How an answered question of this item is known in the ``done`` set of :func:`judge_items`."""
        return (self.case, self.seed, question, *self.extra.values())

    def row(self, question: str, **fields: Any) -> dict[str, Any]:
        """Its row for ``question``: ``judgment_row`` then ``extra``."""
        return {**judgment_row(self.case, self.seed, question, **fields), **self.extra}

    def key_signature(self, signature: dict) -> dict:
        return {**signature, **self.key_extra} if self.key_extra else signature


@dataclass
class _Tally:
    videos: int = 0
    asked: int = 0
    cached: int = 0
    requests: int = 0
    answers: dict[str, int] = field(default_factory=lambda: {"yes": 0, "no": 0, "invalid": 0})
    errors: int = 0


@dataclass
class JudgeOutcome:
    """What :func:`judge_items` did: counts, and whether the judge was loaded (so contacted)."""

    tally: _Tally
    loaded: bool


def judgment_row(case: str, seed: int, question: str, *, answer: str = INVALID, p_yes: float | None = None,
                 raw: str | None = None, error: str | None = None, error_kind: str | None = None,
                 finish_reason: str | None = None, usage: dict | None = None, latency: float | None = None,
                 retried: bool | None = False, requests: int = 0, video_sha256: str | None = None,
                 cached: bool = False) -> dict[str, Any]:
    """One ``judgments/<judge>.jsonl`` row with the fields of ``JUDGMENT_FIELDS``, fresh, cached or an error.

    ``latency`` is how long the judge took to give the answer (a cached row keeps the original's), null
    when no judge was asked or an older cache did not keep it; ``requests`` are those made by this run."""
    row = {"case": case, "seed": seed, "question": question, "answer": answer, "p_yes": p_yes, "raw": raw,
           "error": error, "error_kind": error_kind, "finish_reason": finish_reason, "usage": usage,
           "latency": None if latency is None else round(latency, 4), "retried": retried, "requests": requests,
           "video_sha256": video_sha256, "cached": cached}
    assert tuple(row) == JUDGMENT_FIELDS  # the schema has one home: keep the two in step
    return row


def _videos_to_judge(run: RunDir, suite, done: set[tuple[str, int, str]], cases: list[str] | None) -> tuple[list[JudgeItem], int, int]:
    """Videos with unanswered questions; how many generation rows failed; how many (case, seed) pairs have no row."""
    if not run.generations_file.exists():
        raise VRBenchError(f"{run.generations_file}: not found (run `vrbench generate` first)")
    by_id = {c.id: c for c in suite.cases}
    selected = suite.select(cases) if cases else suite.cases
    wanted = {c.id for c in selected}
    latest = latest_generations(run.root)
    videos, failed = [], 0
    for (case_id, seed), row in latest.items():
        if case_id not in by_id:
            raise VRBenchError(f"{run.generations_file}: case: unknown case {case_id!r} (not in suite {suite.name} {suite.version})")
        if case_id not in wanted:
            continue
        if row.get("error") or not row.get("video"):
            failed += 1
            continue
        case = by_id[case_id]
        todo = [(q.id, q.text) for q in case.questions if (case_id, seed, q.id) not in done]
        if not todo:
            continue
        try:
            path, problem = run_file(run.root, row["video"], f"{run.generations_file} ({case_id} seed {seed})"), None
        except VRBenchError as e:
            path, problem = None, str(e)
        videos.append(JudgeItem(case_id, seed, path, case.prompt, todo, problem))
    expected = {(c, s) for c, s in expected_pairs(run.read_manifest() or {}, suite, latest) if c in wanted}
    missing = sum(1 for pair in expected if pair not in latest)  # failed rows are counted as failed above
    return videos, failed, missing


def _record_signature(run: RunDir, judge: str, signature: dict, n_rows: int, rejudge: bool) -> int:
    """Record the judge's signature in run.json; refuse (one line) the ``n_rows`` answers already in the
    judgments file when they were given under another signature.

    With ``rejudge`` the old judgments file is set aside (kept beside it) and the run is judged
    afresh into the same file; returns how many old rows were set aside.
    """
    path = run.judgments_file(judge)
    set_aside = 0

    def change(manifest: dict) -> None:
        nonlocal set_aside
        judges = manifest.setdefault("judges", {})
        old = judges.get(judge)
        if n_rows and old != signature:
            changed = sorted(k for k in set(old or {}) | set(signature) if (old or {}).get(k) != signature.get(k))
            if not rejudge:
                raise VRBenchError(
                    f"{path}: its {n_rows} answers were given under other '{judge}' settings ({', '.join(changed) or 'unrecorded'} "
                    "differ, e.g. from an older vrbench); they stay valid for `vrbench score`. To add to them, rerun "
                    "with the settings in run.json; to re-judge the whole run with the current settings, add --rejudge "
                    "(the old file is kept beside the new one)")
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            backup = path.with_name(f"{path.name}.replaced-{stamp}")
            set_aside = n_rows
            path.rename(backup)
            log.warning("%s: %d answers under the old settings moved to %s; judging afresh", path, set_aside, backup.name)
        judges[judge] = signature

    update_manifest(run.root, change)
    return set_aside


def _drop_error_rows(path: Path) -> int:
    """Rewrite the judgments file without rows that failed (request, reply or video errors), atomically;
    how many were dropped. Rows the judge answered unreadably stay: asking again would get the same reply."""
    if not path.exists():
        return 0
    keep, dropped = [], 0
    for _, row in iter_jsonl(path):
        if row.get("error") and row.get("error_kind") != "unreadable":
            dropped += 1
        else:
            keep.append(row)
    if dropped:
        atomic_write_bytes(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep).encode("utf-8"))
    return dropped


def judge_run(run_dir, judge: str, *, options: dict | None = None, judge_url: str | None = None,
              concurrency: int = 8, suite_path=None, cases: list[str] | None = None, progress: bool = True,
              use_cache: bool = True, retry_errors: bool = False, rejudge: bool = False,
              max_failures: int = 20) -> dict:
    """Judge every video of a run with the judge registered as ``judge``; return a summary.

    ``options`` are the judge's constructor arguments (``--judge-arg``); ``judge_url`` is the server
    of a server judge; ``concurrency`` bounds questions in flight; ``retry_errors`` first removes rows
    that failed with an error (not those the judge answered unreadably) so they are asked again;
    ``rejudge`` sets aside answers given under other settings and judges afresh; ``max_failures``
    request failures of one kind in a row stop the stage.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    check_limits(concurrency, max_failures)
    instance = make_judge(judge, options, judge_url)
    signature = instance.signature()
    suite = suite_for_run(run, suite_path)

    with run_lock(run.root, "judge"):
        path = run.judgments_file(judge)
        dropped = _drop_error_rows(path) if retry_errors else 0
        done = {(r["case"], r["seed"], r["question"]) for _, r in iter_jsonl(path)} if path.exists() else set()
        set_aside = _record_signature(run, judge, signature, len(done), rejudge)
        if set_aside:  # the old answers went aside with their file
            done = set()
        already = len(done)
        videos, failed, missing = _videos_to_judge(run, suite, done, cases)
        if failed:
            log.warning("%d generation rows carry an error (no video); they are not judged", failed)
        if missing:
            log.warning("%d (case, seed) pairs have no video yet (a generation shard still running or dead?); "
                        "judging the videos there are; the score will say so", missing)

        outcome = judge_items(instance, path, videos, signature, done=done, concurrency=concurrency,
                              max_failures=max_failures, progress=progress, use_cache=use_cache,
                              on_loaded=lambda: _record_server(run, judge, instance.server_info()))
    tally = outcome.tally
    return {
        "judge": judge,
        "judgments": str(path),
        "videos": tally.videos,
        "questions": tally.asked + tally.cached,
        "already_judged": already,
        "retried_errors": dropped,
        "set_aside": set_aside,
        "cache_hits": tally.cached,
        "requests": tally.requests,
        "loaded": outcome.loaded,
        "skipped_generation_errors": failed,
        "missing_videos": missing,
        **tally.answers,
        "errors": tally.errors,
    }


def check_limits(concurrency: int, max_failures: int) -> None:
    """``--concurrency`` and ``--max-failures`` as every judging command checks them."""
    if concurrency < 1:
        raise VRBenchError(f"--concurrency: expected >= 1, got {concurrency}")
    if max_failures < 1:
        raise VRBenchError(f"--max-failures: expected >= 1, got {max_failures}")


def make_judge(judge: str, options: dict | None = None, judge_url: str | None = None):
    """The judge registered as ``judge``, made with ``options`` (``--judge-arg``) and ``judge_url`` and
    checked (cheaply: no server contact, no weights)."""
    from ..judge import JUDGES, get_judge

    cls = get_judge(judge)
    kwargs = dict(options or {})
    if judge_url is not None:
        from ..options import option_types

        if "url" not in option_types(cls):
            raise VRBenchError(f"judge '{judge}' runs locally and takes no --judge-url")
        kwargs["url"] = judge_url
    instance = JUDGES.create(judge, kwargs)
    instance.check()
    return instance


def judge_items(instance, path: Path, items: list[JudgeItem], signature: dict, *, done: set | None = None,
                concurrency: int = 8, max_failures: int = 20, progress: bool = True, use_cache: bool = True,
                on_loaded=None) -> JudgeOutcome:
    """Ask ``instance`` every question of ``items`` and append a row per answer to the jsonl ``path``.

    The one judging pass every command shares (``vrbench judge``, ``vrbench audit``): frames sampled
    once per item, the run's first question alone (preflight), bounded concurrency, one stricter retry
    of an unreadable reply, every answer kept at once (cache, then row), ``max_failures`` failures of
    one kind in a row stop it. ``signature`` (with each item's ``key_extra``) keys the cache; ``done``
    receives each item's ``done_key`` as its rows are kept. Hold the caller's lock around it.
    ``on_loaded`` runs at the end when the judge was loaded (to record what its server said).
    """
    stage = _Stage(instance, path, done if done is not None else set(), signature,
                   concurrency=min(concurrency, instance.max_concurrency or concurrency),
                   max_failures=max_failures, progress=progress)
    if items:
        from ..judge_cache import JudgeCache

        stage.cache = JudgeCache() if use_cache else None
        try:
            asyncio.run(stage.run(items))
        finally:
            if stage.cache is not None:
                stage.cache.close()
            if stage.loaded and on_loaded is not None:
                on_loaded()
    return JudgeOutcome(stage.tally, stage.loaded)


def count_cached(instance, items: list[JudgeItem], signature: dict) -> int:
    """How many questions of ``items`` the judge cache already answers (what asking them would not send)."""
    from ..judge_cache import JudgeCache

    cache = JudgeCache()
    try:
        hits = 0
        for item in items:
            if item.path is None or item.problem is not None:
                continue
            try:
                sha = sha256_file(item.path)
            except OSError:
                continue
            keys = _cache_keys(instance, item, sha, signature)
            hits += sum(cache.get(k) is not None for k in keys.values())
        return hits
    finally:
        cache.close()


def _cache_keys(judge, item: JudgeItem, sha: str, signature: dict) -> dict[str, str]:
    """The cache key of each of the item's questions (see ``judge_cache.cache_key``)."""
    from ..judge_cache import cache_key

    prompt_hash = _prompt_key(judge, item.prompt)
    sig = item.key_signature(signature)
    return {qid: cache_key(sha, text, sig, prompt_hash) for qid, text in item.questions}


def _record_server(run: RunDir, judge: str, info: dict) -> None:
    """What the judge's server said about itself (model, version): provenance, not a setting."""
    if info:
        update_manifest(run.root, lambda m: m.setdefault("judge_servers", {}).__setitem__(judge, info))


def _prompt_key(judge, prompt: str) -> str | None:
    """The case prompt's hash when the judge is shown it (then it is part of what the answer depends on)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest() if judge.show_prompt else None


class _Stage:
    """One judging pass over a run's videos (see the module docstring)."""

    def __init__(self, judge, path: Path, done: set, signature: dict, *, concurrency: int,
                 max_failures: int, progress: bool):
        self.judge, self.path, self.done, self.signature = judge, path, done, signature
        self.concurrency, self.max_failures, self.progress = concurrency, max_failures, progress
        self.cache: JudgeCache | None = None
        self._preflight_done = False  # the run's first question was answered (see _judge_video)
        self.tally = _Tally()
        self.loaded = False
        self._streak: tuple[str | None, int] = (None, 0)  # (failure kind, how many in a row)
        self._stop: Exception | None = None

    # -- keeping answers ------------------------------------------------------------------------
    async def _writer(self) -> None:
        """Append rows as they come, many per fsync when they come together (group commit)."""
        while True:
            rows = [await self.queue.get()]
            while not self.queue.empty():
                rows.append(self.queue.get_nowait())
            await asyncio.to_thread(append_jsonl, self.path, [r for r in rows if r is not None])
            for _ in rows:
                self.queue.task_done()
            if rows[-1] is None:
                return

    def _keep(self, row: dict, done_key: tuple, cache_key: str | None = None) -> None:
        """Persist one answer now: the cache first (so a kill between the two still costs no request), then its row."""
        if cache_key is not None and self.cache is not None and not row["cached"] and row["error_kind"] in (None, "unreadable"):
            self.cache.put(cache_key, {k: row[k] for k in ANSWER_FIELDS})
        self.done.add(done_key)
        self.tally.answers[row["answer"]] += 1
        self.tally.errors += bool(row["error"]) and row["error_kind"] != "unreadable"
        self.queue.put_nowait(row)
        self.bar.update(1)

    # -- asking ---------------------------------------------------------------------------------
    async def _load(self) -> None:
        async with self._load_lock:
            if not self.loaded:
                log.info("loading judge %s (%s)", self.judge.registry_name, self.judge.endpoint())
                await asyncio.to_thread(self.judge.load)
                self.loaded = True

    def _count_failure(self, failure: str | None, error: str) -> None:
        from ..judge import JudgeError

        kind, n = self._streak
        self._streak = (failure, n + 1 if failure == kind else 1) if failure else (None, 0)
        if failure and self._streak[1] >= self.max_failures:
            self._stop = JudgeError(f"{self.judge.endpoint()}: {self.max_failures} requests in a row failed ({error}); "
                                    f"stopped. Answers so far are kept; fix the server, then rerun with --retry-errors")
            raise self._stop

    async def _ask_once(self, video, v: JudgeItem, text: str, strict: bool):
        async with self.slots:
            if self._stop is not None:  # stopping: send nothing more
                raise self._stop
            try:
                reply = await self.judge.ask(video, text, prompt=v.prompt, strict=strict)
            except VRBenchError as e:  # JudgeError: no request can succeed (bad key, quota, unknown model)
                self._stop = e
                raise
        self.tally.requests += reply.requests
        if reply.error_kind == "request":
            self._count_failure(reply.failure or "error", reply.error)
        else:
            self._streak = (None, 0)
        return reply

    async def _ask(self, video, v: JudgeItem, qid: str, text: str, key: str, *, first: bool = False) -> None:
        """Ask one question and keep its row; ``first``: the run's first request, whose failure stops the stage."""
        from ..answers import parse_yes_no
        from ..judge import JudgeError

        started = time.perf_counter()
        reply = await self._ask_once(video, v, text, strict=False)
        if first and reply.error_kind == "request":
            self._stop = JudgeError(f"{self.judge.endpoint()}: the first request failed ({reply.error}); nothing was written")
            raise self._stop
        requests = reply.requests
        answer = parse_yes_no(reply.text) if reply.error is None else None
        retried = False
        if reply.error is None and answer is None:  # one retry with a stricter instruction, then invalid
            retried = True
            strict = await self._ask_once(video, v, text, strict=True)
            requests += strict.requests
            reply = strict
            answer = parse_yes_no(strict.text) if strict.error is None else None
        error, kind = reply.error, reply.error_kind
        if error is None and answer is None:
            error, kind = "no yes/no in the reply, also after a stricter retry", "unreadable"
        row = v.row(qid, answer=answer or INVALID, p_yes=reply.p_yes if answer else None,
                    raw=reply.text, error=error, error_kind=kind, finish_reason=reply.finish_reason,
                    usage=reply.usage, latency=time.perf_counter() - started, retried=retried,
                    requests=requests, video_sha256=video.sha256)
        self.tally.asked += 1
        self._keep(row, v.done_key(qid), key)

    async def _one_video(self, v: JudgeItem) -> None:
        async with self.video_slots:
            await self._judge_video(v)
            self.tally.videos += 1

    async def _judge_video(self, v: JudgeItem) -> None:
        from ..judge import JudgeError

        sha, problem = None, v.problem
        if problem is None:
            assert v.path is not None  # a video without a problem has a file
            try:
                sha = await asyncio.to_thread(sha256_file, v.path)
            except OSError as e:
                problem = f"video: cannot read {v.path} ({e.strerror or e})"
        keys = _cache_keys(self.judge, v, sha, self.signature) if sha else {}
        todo = []
        for qid, text in v.questions:
            hit = self.cache.get(keys[qid]) if (self.cache is not None and sha) else None
            if hit is not None:  # a field an older cache did not keep is null in the row, never missing
                fields: dict[str, Any] = {k: hit.get(k) for k in ANSWER_FIELDS}
                self._keep(v.row(qid, **fields, video_sha256=sha, cached=True), v.done_key(qid))
                self.tally.cached += 1
            else:
                todo.append((qid, text))
        if not todo:
            return
        video = None
        if problem is None:
            assert v.path is not None  # a video without a problem has a file
            try:  # check it is a video before any of its bytes go to a judge
                await asyncio.to_thread(probe_video, v.path)
                await self._load()
                video = await asyncio.to_thread(self.judge.prepare, v.path, sha)
            except JudgeError:
                raise
            except VRBenchError as e:
                problem = f"video: {e}"
        if problem is not None:
            log.warning("%s seed %d: %s", v.case, v.seed, problem)
            for qid, _ in todo:
                self._keep(v.row(qid, error=problem, error_kind="video", video_sha256=sha), v.done_key(qid))
            return
        (qid, text), rest = todo[0], todo[1:]
        asked = False
        if not self._preflight_done:
            async with self._first_lock:  # the run's very first question goes alone, and proves the judge works
                if not self._preflight_done:
                    await self._ask(video, v, qid, text, keys[qid], first=True)
                    self._preflight_done = asked = True
        if not asked:
            await self._ask(video, v, qid, text, keys[qid])  # first alone: the server caches the video prefix ...
        await asyncio.gather(*(self._ask(video, v, q, t, keys[q]) for q, t in rest))  # ... the rest reuse it

    async def run(self, videos: list[JudgeItem]) -> None:
        from tqdm.auto import tqdm

        self.slots = asyncio.Semaphore(self.concurrency)  # questions in flight
        self.video_slots = asyncio.Semaphore(2 * self.concurrency)  # videos decoded and held in memory at once
        self._load_lock, self._first_lock = asyncio.Lock(), asyncio.Lock()
        self._preflight_done = False
        self.queue: asyncio.Queue = asyncio.Queue()
        self.bar = tqdm(total=sum(len(v.questions) for v in videos), desc=f"judge {self.judge.registry_name}", unit="q",
                        disable=not self.progress, dynamic_ncols=True)
        writer = asyncio.create_task(self._writer())
        tasks = [asyncio.create_task(self._one_video(v)) for v in videos]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.queue.put_nowait(None)  # everything kept so far reaches the file, also when stopping
            await writer
            self.bar.close()
            await self.judge.aclose()
