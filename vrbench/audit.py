"""Judge audits: does the judge look at the video? Ask it the same questions about control clips.

From each judged video of a run, ``vrbench audit`` derives control clips that a judge who watches the
video should answer differently, asks the judge every question of the case about each of them, and
compares the answers with its answers on the real clip (``judgments/<judge>.jsonl``):

- ``static``: the video's first frame, held for as many frames as the video has (nothing moves);
- ``reversed``: the video's frames in reverse order (time runs backwards);
- ``shuffled``: the video's frames in a fixed random order, seeded by the case id and seed
  (:func:`shuffle_order`);
- ``swapped``: the video of another case of the same run (:func:`swap_partners`: cases in sorted
  order, each paired with the case half-way round the list, same seed where it has one).

Clips are mp4 files under ``RUN/audit/controls/<kind>/`` (written atomically, kept between runs);
answers go through the judge stage's own machinery (``stages.judge.judge_items``: preflight, retries,
cache, one row per answer the moment it comes) into ``RUN/audit/<judge>.jsonl``, a judgments row plus
``control``, ``source`` (the run's video the clip was made from) and ``clip``. The control kind is part
of every answer's cache key.

Flags (thresholds are defaults, each overridable; "kept" = of the videos the judge answered yes on the
real clip, the share whose control clip it also answered yes, invalid answers left out):

- ``default-yes``: the static clip keeps the yes in at least half (``DEFAULT_YES = 0.5``); only for
  layer-2 and layer-3 questions, which VR-Bench v1.1 writes so that a clip where nothing moves answers
  no (layer 1 asks what is in the scene, which a still frame may rightly show);
- ``order-blind``: the reversed clip keeps the yes in at least half (``ORDER_BLIND = 0.5``); only for
  questions of kind ``order`` (which event comes first: reversing the clip swaps it). ``motion`` and
  ``outcome`` questions are left out by default, since many hold either way round (a ball that stays
  still, a swing that reaches a height); ``order_kinds`` adds them;
- ``content-blind``: the swapped clip (another case's video) keeps the yes in at least half
  (``CONTENT_BLIND = 0.5``); every question.

A question is flagged on its own videos (its seeds); a dimension and the whole run on the answers
pooled over their questions in scope, and they also count their flagged questions. The shuffled
clip's yes-rates are reported beside the others and raise no flag.

The maths (:func:`summarize` and what it calls) are pure functions of :class:`Observation` lists.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VRBenchError
from .files import atomic_output, atomic_write_json, iter_jsonl
from .runstore import Pair, RunDir, latest_generations, parse_judgment, run_file, run_lock, safe_name, suite_for_run, update_manifest
from .stages.judge import JUDGMENT_FIELDS, JudgeItem, check_limits, count_cached, judge_items, make_judge

log = logging.getLogger(__name__)

CONTROLS = ("static", "reversed", "shuffled", "swapped")
FLAGS = ("default-yes", "order-blind", "content-blind")
#: the control clip each flag looks at
FLAG_CONTROLS = {"default-yes": "static", "order-blind": "reversed", "content-blind": "swapped"}
DEFAULT_YES = ORDER_BLIND = CONTENT_BLIND = 0.5
#: every ``audit/<judge>.jsonl`` row: a judgments row, then which control clip and what it was made from
AUDIT_FIELDS = (*JUDGMENT_FIELDS, "control", "source", "clip")
#: how control clips are made; part of each answer's cache key, bump it when a clip changes
CONTROL_PROTOCOL = "vrbench-audit-controls/v1"
_VALID = ("yes", "no")


# --- the maths -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """When a flag is raised, and which questions each flag looks at (see the module docstring)."""

    default_yes: float = DEFAULT_YES
    order_blind: float = ORDER_BLIND
    content_blind: float = CONTENT_BLIND
    order_kinds: tuple[str, ...] = ("order",)
    static_layers: tuple[int, ...] = (2, 3)

    def __post_init__(self) -> None:
        for flag in FLAGS:
            value = self.threshold(flag)
            if not 0.0 <= value <= 1.0:
                raise VRBenchError(f"--{flag}-threshold: expected a share between 0 and 1, got {value}")

    def threshold(self, flag: str) -> float:
        return {"default-yes": self.default_yes, "order-blind": self.order_blind, "content-blind": self.content_blind}[flag]

    def applies(self, flag: str, layer: int, kind: str | None) -> bool:
        """Whether ``flag`` looks at a question of this layer and kind."""
        if flag == "default-yes":
            return layer in self.static_layers
        if flag == "order-blind":
            return kind in self.order_kinds
        return True

    def info(self) -> dict[str, Any]:
        return {"default-yes": self.default_yes, "order-blind": self.order_blind, "content-blind": self.content_blind,
                "order_kinds": list(self.order_kinds), "static_layers": list(self.static_layers)}


@dataclass(frozen=True)
class Observation:
    """One question about one video: the judge's answer on the real clip and on each control clip."""

    case: str
    seed: int
    question: str
    dimension: str
    layer: int
    kind: str | None
    real: str | None  # yes / no / invalid; None when the real clip has no answer
    controls: Mapping[str, str] = field(default_factory=dict)  # control kind -> yes / no / invalid


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def answer_rates(observations: Sequence[Observation], controls: Sequence[str]) -> dict[str, Any]:
    """Yes-rates on the real clips and on each control (over valid answers), and for each control how
    often it keeps a real yes (``kept`` of ``pairs``: real yes and a valid control answer)."""
    real = [o.real for o in observations if o.real in _VALID]
    out: dict[str, Any] = {"real": {"n": len(real), "yes": real.count("yes"), "yes_rate": _rate(real.count("yes"), len(real))},
                           "controls": {}}
    for c in controls:
        answers = [o.controls[c] for o in observations if o.controls.get(c) in _VALID]
        pairs = [o for o in observations if o.real == "yes" and o.controls.get(c) in _VALID]
        kept = sum(o.controls[c] == "yes" for o in pairs)
        out["controls"][c] = {"n": len(answers), "yes": answers.count("yes"), "yes_rate": _rate(answers.count("yes"), len(answers)),
                              "pairs": len(pairs), "kept": kept, "kept_rate": _rate(kept, len(pairs))}
    return out


def flag_stat(observations: Sequence[Observation], flag: str, thresholds: Thresholds) -> dict[str, Any]:
    """One flag over ``observations`` (those out of its scope are left out): how often its control kept a
    real yes, and whether that reaches the threshold."""
    control = FLAG_CONTROLS[flag]
    scoped = [o for o in observations if thresholds.applies(flag, o.layer, o.kind)]
    pairs = [o for o in scoped if o.real == "yes" and o.controls.get(control) in _VALID]
    kept = sum(o.controls[control] == "yes" for o in pairs)
    rate = _rate(kept, len(pairs))
    threshold = thresholds.threshold(flag)
    return {"control": control, "applies": bool(scoped), "pairs": len(pairs), "kept": kept, "rate": rate,
            "threshold": threshold, "flagged": rate is not None and rate >= threshold}


def _group(observations: Sequence[Observation], controls: Sequence[str], thresholds: Thresholds,
           flagged_questions: Mapping[str, int] | None = None) -> dict[str, Any]:
    flags = {f: flag_stat(observations, f, thresholds) for f in FLAGS}
    if flagged_questions is not None:
        for f in FLAGS:
            flags[f]["flagged_questions"] = flagged_questions.get(f, 0)
    return {"videos": len({(o.case, o.seed) for o in observations}),
            "questions": len({(o.case, o.question) for o in observations}),
            **answer_rates(observations, controls), "flags": flags,
            "flagged": [f for f in FLAGS if flags[f]["flagged"]]}


def summarize(observations: Iterable[Observation], thresholds: Thresholds = Thresholds(),
              controls: Sequence[str] = CONTROLS) -> dict[str, Any]:
    """Per question (over its seeds), per dimension and overall: yes-rates on the real and control clips,
    and the flags (see the module docstring)."""
    obs = sorted(observations, key=lambda o: (o.case, o.question, o.seed))
    by_question: dict[tuple[str, str], list[Observation]] = {}
    for o in obs:
        by_question.setdefault((o.case, o.question), []).append(o)
    questions = []
    for (case, qid), group in by_question.items():
        first = group[0]
        questions.append({"case": case, "question": qid, "dimension": first.dimension, "layer": first.layer,
                          "kind": first.kind, **_group(group, controls, thresholds)})
    dims: dict[str, list[Observation]] = {}
    for o in obs:
        dims.setdefault(o.dimension, []).append(o)

    def flagged_in(entries: list[dict]) -> dict[str, int]:
        return {f: sum(f in q["flagged"] for q in entries) for f in FLAGS}

    dimensions = {d: _group(group, controls, thresholds, flagged_in([q for q in questions if q["dimension"] == d]))
                  for d, group in sorted(dims.items())}
    return {"thresholds": thresholds.info(), "controls": list(controls), "questions": questions,
            "dimensions": dimensions, "overall": _group(obs, controls, thresholds, flagged_in(questions)),
            "flagged": [{"case": q["case"], "question": q["question"], "dimension": q["dimension"], "flags": q["flagged"]}
                        for q in questions if q["flagged"]]}


# --- control clips ---------------------------------------------------------------------------------


def parse_controls(selection: str | Sequence[str] | None) -> tuple[str, ...]:
    """``--controls static,reversed`` (a comma list, or a list of them): known kinds, in CONTROLS order."""
    if selection is None:
        return CONTROLS
    parts = [selection] if isinstance(selection, str) else list(selection)
    names = [n.strip() for p in parts for n in p.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTROLS]
    if unknown:
        raise VRBenchError(f"--controls: unknown control {unknown[0]!r} (known: {', '.join(CONTROLS)})")
    if not names:
        raise VRBenchError(f"--controls: expected one or more of {', '.join(CONTROLS)}")
    return tuple(c for c in CONTROLS if c in names)


def shuffle_order(n: int, case: str, seed: int) -> list[int]:
    """The shuffled clip's frame order: a permutation of range(n) fixed by (case, seed), never the
    identity when n >= 2 (then rotated by one)."""
    digest = hashlib.sha256(f"{CONTROL_PROTOCOL}:shuffle:{case}:{seed}".encode()).digest()
    order = list(range(n))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    if n >= 2 and order == sorted(order):
        order = order[1:] + order[:1]
    return order


def swap_partners(pairs: Iterable[Pair]) -> dict[Pair, Pair]:
    """The swapped clip of each (case, seed): a video of another case of the same run. Cases in sorted
    order, each paired with the one half-way round the list (so never itself when there are two or
    more), with the same seed where that case has it, else its lowest seed. No partner with one case."""
    seeds: dict[str, list[int]] = {}
    for case, seed in pairs:
        seeds.setdefault(case, []).append(seed)
    cases = sorted(seeds)
    if len(cases) < 2:
        return {}
    out = {}
    for i, case in enumerate(cases):
        other = cases[(i + len(cases) // 2) % len(cases)]
        for seed in seeds[case]:
            out[(case, seed)] = (other, seed if seed in seeds[other] else min(seeds[other]))
    return out


def control_frames(kind: str, frames, case: str, seed: int):
    """The frames of a static, reversed or shuffled clip made from ``frames`` (T, H, W, 3)."""
    import numpy as np

    if kind == "static":
        return np.repeat(frames[:1], len(frames), axis=0)
    if kind == "reversed":
        return frames[::-1]
    if kind == "shuffled":
        return frames[shuffle_order(len(frames), case, seed)]
    raise ValueError(kind)


def _make_frame_controls(run: RunDir, source: Path, case: str, seed: int, kinds: Sequence[str]) -> dict[str, str | None]:
    """Write the missing static, reversed and shuffled clips of one video (decoded once, only if one is
    missing); per kind None, or the one-line problem that kept it from being made."""
    from .video import probe_video, sample_frames, write_video

    problems: dict[str, str | None] = {}
    frames, fps = None, 8.0
    for kind in kinds:
        target = run.control_path(kind, case, seed)
        if target.exists():
            problems[kind] = None
            continue
        try:
            if frames is None:
                probe_video(source)  # a video, before any of its bytes are decoded
                sampled = sample_frames(source, num_frames=1 << 30, max_pixels=None)  # every frame
                frames, fps = sampled.images, sampled.fps or fps
            write_video(target, control_frames(kind, frames, case, seed), fps=fps)
            problems[kind] = None
        except (VRBenchError, OSError, ValueError) as e:
            problems[kind] = f"video: {e}"
    return problems


def _make_swapped(run: RunDir, case: str, seed: int, partner: Path, pair: Pair) -> str | None:
    """Copy the partner's video as the swapped clip of (case, seed), unless it is there; a problem or None."""
    from .video import probe_video

    target = run.control_path("swapped", case, seed)
    if target.exists() and _recorded_partner(target) == pair:
        return None
    try:
        probe_video(partner)
        with atomic_output(target, suffix=".mp4") as tmp:
            shutil.copyfile(partner, tmp)
        _partner_note(target).write_text(f"{pair[0]} {pair[1]}\n", encoding="utf-8")
    except (VRBenchError, OSError) as e:
        return f"video: {e}"
    return None


def _partner_note(clip: Path) -> Path:
    return clip.with_suffix(".partner")


def _recorded_partner(clip: Path) -> Pair | None:
    """Which (case, seed) a swapped clip was copied from (the pairing changes when cases join the run)."""
    try:
        case, seed = _partner_note(clip).read_text(encoding="utf-8").split()
        return case, int(seed)
    except (OSError, ValueError):
        return None


# --- the stage -------------------------------------------------------------------------------------


def _rel(run: RunDir, path: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), run.root.resolve())).as_posix()


def _latest(path: Path, key: Callable[[dict], tuple]) -> dict[tuple, dict]:
    return {key(r): r for _, r in iter_jsonl(path)} if path.exists() else {}


def _tokens_per_request(run: RunDir, judge: str) -> float | None:
    """Mean prompt + completion tokens of the run's judged requests (from their rows' usage), if recorded."""
    totals = []
    for _, row in iter_jsonl(run.judgments_file(judge)):
        usage = row.get("usage")
        if isinstance(usage, dict) and not row.get("cached"):
            n = sum(v for k, v in usage.items() if k in ("prompt", "completion") and isinstance(v, int))
            if n:
                totals.append(n)
    return sum(totals) / len(totals) if totals else None


def _set_aside_if_resigned(run: RunDir, judge: str, signature: dict) -> None:
    """Answers on control clips under other judge settings are not comparable: move that file aside."""
    path = run.audit_file(judge)

    def change(manifest: dict) -> None:
        audits = manifest.setdefault("audits", {})
        if path.exists() and audits.get(judge) not in (None, signature):
            from datetime import datetime, timezone

            backup = path.with_name(f"{path.name}.replaced-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}")
            path.rename(backup)
            log.warning("%s: answers under other '%s' settings moved to %s; auditing afresh", path, judge, backup.name)
        audits[judge] = signature

    update_manifest(run.root, change)


def audit_run(run_dir, judge: str, *, options: dict | None = None, judge_url: str | None = None,
              controls: str | Sequence[str] | None = None, cases: list[str] | None = None, limit: int | None = None,
              thresholds: Thresholds | None = None, concurrency: int = 8, max_failures: int = 20, suite_path=None,
              progress: bool = True, use_cache: bool = True,
              before_asking: Callable[[dict], None] | None = None) -> dict:
    """Make the control clips of a judged run, ask the judge about them, and summarise (module docstring).

    ``before_asking(cost)`` is called once questions remain, before any request: ``cost`` has
    ``questions`` (still unanswered), ``cached`` (of them, in the judge cache), ``requests`` (the
    rest, one each; an unreadable reply costs one more), ``tokens_per_request`` and ``tokens`` (estimated
    from the run's own judgments, for judges that record usage; None otherwise); it may raise to stop.
    Returns ``{"cost", "asked", "summary", "summary_file", "audit_file", "skipped"}``.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    kinds = parse_controls(controls)
    thresholds = thresholds or Thresholds()
    if limit is not None and limit < 1:
        raise VRBenchError(f"--limit: expected >= 1, got {limit}")
    check_limits(concurrency, max_failures)
    instance = make_judge(judge, options, judge_url)
    signature = instance.signature()
    suite = suite_for_run(run, suite_path)
    kinds_in_suite = {q.kind for c in suite.cases for q in c.questions if q.kind}
    unknown = [k for k in thresholds.order_kinds if k not in kinds_in_suite]
    if unknown and kinds_in_suite:
        raise VRBenchError(f"--order-kinds: unknown question kind {unknown[0]!r} (suite {suite.name} {suite.version} has: "
                           f"{', '.join(sorted(kinds_in_suite))})")
    if not kinds_in_suite:
        log.warning("suite %s %s gives its questions no kind, so no question is checked for order-blindness", suite.name, suite.version)
    judged = run.judgments_file(judge)
    if not judged.exists():
        raise VRBenchError(f"{judged}: this run has no answers from judge '{judge}'; the audit compares against them: "
                           f"run `vrbench judge {run.root} --judge {judge}` first")
    recorded = ((run.read_manifest() or {}).get("judges") or {}).get(judge)
    if recorded != signature:
        changed = sorted(k for k in set(recorded or {}) | set(signature) if (recorded or {}).get(k) != signature.get(k))
        raise VRBenchError(f"{run.run_file}: the run was judged under other '{judge}' settings ({', '.join(changed)} differ); "
                           "audit with the same --judge-arg as `vrbench judge`, so that both sets of answers are comparable")
    real = {(r.case, r.seed, r.question): r.answer for r in run.read_judgments(judge)}
    judged_pairs = {(c, s) for c, s, _ in real}

    by_id = {c.id: c for c in suite.cases}
    wanted = {c.id for c in (suite.select(cases) if cases else suite.cases)}
    finished = {k: r for k, r in latest_generations(run.root).items() if not r.get("error") and r.get("video") and k[0] in by_id}
    partners = swap_partners(finished)
    selected = sorted(k for k in finished if k[0] in wanted and k in judged_pairs)
    skipped = sum(1 for k in finished if k[0] in wanted and k not in judged_pairs)
    if skipped:
        log.warning("%d videos have no answers from '%s' yet and are not audited (run `vrbench judge` first)", skipped, judge)
    if limit is not None:
        selected = selected[:limit]
    where = run.generations_file

    with run_lock(run.root, "audit"):
        _set_aside_if_resigned(run, judge, signature)
        path = run.audit_file(judge)
        done = set(_latest(path, lambda r: (r["case"], r["seed"], r["question"], r.get("control"), r.get("source"), r.get("clip"))))
        items: list[JudgeItem] = []
        from tqdm.auto import tqdm

        if "swapped" in kinds and selected and not partners:
            log.warning("swapped: this run has videos of one case only, so there is no other case's video to swap in")
        frame_kinds = [k for k in kinds if k != "swapped"]
        key_extra = {"audit_protocol": CONTROL_PROTOCOL}
        for case_id, seed in tqdm(selected, desc="control clips", unit="video", disable=not progress, dynamic_ncols=True):
            case = by_id[case_id]
            made: dict[str, tuple[Path | None, str | None]] = {}  # kind -> (the video it is made of, a problem or None)
            try:
                source = run_file(run.root, finished[(case_id, seed)]["video"], f"{where} ({case_id} seed {seed})")
                problems = _make_frame_controls(run, source, case_id, seed, frame_kinds)
                made.update({k: (source, problems[k]) for k in frame_kinds})
            except VRBenchError as e:
                made.update({k: (None, str(e)) for k in frame_kinds})
            if "swapped" in kinds and (case_id, seed) in partners:
                pair = partners[(case_id, seed)]
                try:
                    partner = run_file(run.root, finished[pair]["video"], f"{where} ({pair[0]} seed {pair[1]})")
                    made["swapped"] = (partner, _make_swapped(run, case_id, seed, partner, pair))
                except VRBenchError as e:
                    made["swapped"] = (None, str(e))
            for kind, (src, problem) in made.items():
                clip = run.control_path(kind, case_id, seed)
                extra = {"control": kind, "source": _rel(run, src) if src is not None else None, "clip": _rel(run, clip)}
                item = JudgeItem(case_id, seed, clip if problem is None else None, case.prompt, [], problem,
                                 extra=extra, key_extra={**key_extra, "audit_control": kind})
                item.questions = [(q.id, q.text) for q in case.questions if item.done_key(q.id) not in done]
                if item.questions:
                    items.append(item)

        pending = sum(len(i.questions) for i in items)
        cached = count_cached(instance, items, signature) if (items and use_cache) else 0
        per_request = _tokens_per_request(run, judge)
        cost = {"questions": pending, "cached": cached, "requests": pending - cached, "tokens_per_request": per_request,
                "tokens": None if per_request is None else round(per_request * (pending - cached)),
                "videos": len(selected), "controls": list(kinds), "already": len(done)}
        if pending and before_asking is not None:
            before_asking(cost)
        outcome = judge_items(instance, path, items, signature, done=done, concurrency=concurrency,
                              max_failures=max_failures, progress=progress, use_cache=use_cache)

    summary = audit_summary(run, judge, suite, thresholds)
    summary_file = run.audit_summary_file(judge)
    atomic_write_json(summary_file, summary)
    tally = outcome.tally
    return {"cost": cost, "asked": {"questions": tally.asked + tally.cached, "cache_hits": tally.cached,
                                    "requests": tally.requests, **tally.answers, "errors": tally.errors},
            "summary": summary, "summary_file": str(summary_file), "audit_file": str(path), "skipped": skipped}


def observations(run: RunDir, judge: str, suite) -> list[Observation]:
    """The run's audit answers joined to its real answers, a row per (case, seed, question) audited."""
    path = run.audit_file(judge)
    if not path.exists():
        raise VRBenchError(f"{path}: no audit by judge '{judge}' in this run (run `vrbench audit {run.root} --judge {judge}`)")
    real = {(r.case, r.seed, r.question): r.answer for r in run.read_judgments(judge)}
    controls: dict[tuple[str, int, str], dict[str, str]] = {}
    for lineno, row in iter_jsonl(path):
        control = row.get("control")
        if control not in CONTROLS:
            raise VRBenchError(f"{path}:{lineno}: control: expected one of {', '.join(CONTROLS)}, got {control!r}")
        r = parse_judgment(row, f"{path}:{lineno}")
        controls.setdefault((r.case, r.seed, r.question), {})[control] = r.answer  # a later row wins
    by_id = {c.id: c for c in suite.cases}
    out = []
    for (case_id, seed, qid), answers in controls.items():
        case = by_id.get(case_id)
        if case is None:
            continue
        try:
            q = case.question(qid)
        except KeyError:
            continue
        out.append(Observation(case_id, seed, qid, case.dimension, q.layer, q.kind, real.get((case_id, seed, qid)), answers))
    return out


def audit_summary(run: RunDir, judge: str, suite, thresholds: Thresholds | None = None) -> dict:
    """What ``RUN/audit/<judge>.json`` holds: :func:`summarize` of the run's audit, with the question texts."""
    obs = observations(run, judge, suite)
    present = [c for c in CONTROLS if any(c in o.controls for o in obs)]
    summary = summarize(obs, thresholds or Thresholds(), present)
    texts = {(c.id, q.id): q.text for c in suite.cases for q in c.questions}
    for q in summary["questions"]:
        q["text"] = texts.get((q["case"], q["question"]))
    manifest = run.read_manifest() or {}
    return {"judge": judge, "run": manifest.get("label") or run.root.name, "suite": {"name": suite.name, "version": suite.version},
            "signature": (manifest.get("judges") or {}).get(judge), "protocol": CONTROL_PROTOCOL, **summary}


# --- the site's audit page -------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Judge audit: {{ label }} ({{ judge }})</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child,td.l{text-align:left}.flag{color:#a40000;font-weight:600}.muted{color:#777}
</style></head><body>
<p><a href="{{ home }}">Leaderboard</a></p>
<h1>Judge audit: {{ label }}</h1>
<p>Judge <code>{{ judge }}</code> was asked every question again about control clips made from each video:
<b>static</b> (the first frame held), <b>reversed</b>, <b>shuffled</b> (a fixed random frame order) and
<b>swapped</b> (another case's video). A judge that watches the video should answer differently.</p>
<ul>
<li><b>default-yes</b>: on layer {{ static_layers }} questions, the static clip keeps the real clip's yes in at least {{ pct(thresholds['default-yes']) }} of videos;</li>
<li><b>order-blind</b>: on questions of kind {{ order_kinds }}, the reversed clip keeps the yes in at least {{ pct(thresholds['order-blind']) }};</li>
<li><b>content-blind</b>: another case's video keeps the yes in at least {{ pct(thresholds['content-blind']) }}.</li>
</ul>
<h2>Yes-rates</h2>
<table><thead><tr><th>scope</th><th>questions</th><th>real</th>{% for c in controls %}<th>{{ c }}</th>{% endfor %}<th>flags</th></tr></thead>
<tbody>{% for name, g in groups %}<tr><td>{{ name }}</td><td>{{ g.questions }}</td><td>{{ pct(g.real.yes_rate) }}</td>
{% for c in controls %}<td>{{ pct(g.controls[c].yes_rate) }}</td>{% endfor %}
<td class="l">{% for f in flags %}{% if g.flags[f].flagged %}<span class="flag">{{ f }}</span> {% endif %}{% if g.flags[f].flagged_questions %}<span class="muted">{{ f }}: {{ g.flags[f].flagged_questions }} q</span> {% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
<h2>Flagged questions ({{ flagged|length }})</h2>
{% if flagged %}<table><thead><tr><th>case</th><th>question</th><th>kind</th><th>real yes</th>{% for c in controls %}<th>{{ c }} kept</th>{% endfor %}<th>flags</th></tr></thead>
<tbody>{% for q in flagged %}<tr><td><a href="{{ q.href }}">{{ q.case }}</a></td><td class="l">{{ q.question }}: {{ q.text }}</td>
<td class="l">L{{ q.layer }} {{ q.kind or "" }}</td><td>{{ pct(q.real.yes_rate) }}</td>
{% for c in controls %}<td>{{ pct(q.controls[c].kept_rate) }}</td>{% endfor %}
<td class="l flag">{{ q.flagged|join(", ") }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p>No question is flagged.</p>{% endif %}
<p class="muted">Control clips made by {{ protocol }}; suite {{ suite }}.</p>
</body></html>
"""


def write_audit_page(site_dir: str | Path, summary: dict, suite, *, slug: str, label: str | None = None) -> Path:
    """Write the audit page of one run for the static site; return its path.

    ``summary`` is what ``RUN/audit/<judge>.json`` holds (:func:`audit_summary`); ``slug`` is the run's
    folder under ``SITE/models/`` (its case pages are ``models/<slug>/<case>.html``, which flagged
    questions link to). The page is ``SITE/models/<slug>/audit-<judge>.html``; self-contained, no network.
    """
    import jinja2

    site = Path(site_dir)
    page_dir = site / "models" / slug
    page = page_dir / f"audit-{safe_name(summary['judge'])}.html"
    texts = {(c.id, q.id): q.text for c in suite.cases for q in c.questions}
    flagged = [{**q, "text": q.get("text") or texts.get((q["case"], q["question"]), ""),
                "href": Path(os.path.relpath(site / "models" / slug / f"{safe_name(q['case'])}.html", page_dir)).as_posix()}
               for q in summary["questions"] if q["flagged"]]
    names = {d.code: f"{d.code} {d.name}" for d in suite.dimensions}
    groups = [("Overall", summary["overall"])] + [(names.get(d, d), g) for d, g in summary["dimensions"].items()]
    th = summary["thresholds"]

    def pct(value) -> str:
        return "—" if value is None else f"{100 * value:.0f}%"

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_PAGE).render(
        label=label or summary.get("run") or slug, judge=summary["judge"], controls=summary["controls"], flags=FLAGS,
        groups=groups, flagged=flagged, thresholds=th, pct=pct, protocol=summary.get("protocol", CONTROL_PROTOCOL),
        static_layers=" and ".join(str(x) for x in th["static_layers"]), order_kinds=", ".join(th["order_kinds"]) or "none",
        suite=f"{summary['suite']['name']} {summary['suite']['version']}" if summary.get("suite") else "",
        home=Path(os.path.relpath(site / "index.html", page_dir)).as_posix())
    page_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(page, suffix=".html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    return page
