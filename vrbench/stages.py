"""The pipeline stages that read one stage's files and write the next's (generate, judge, score)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .errors import VRBenchError
from .runstore import RunDir, atomic_write_json, latest_generations
from .scoring import INVALID, Answer, ScoringConfig, aggregate, score_video
from .suite import Suite, find_bundled_suite, load_suite

log = logging.getLogger(__name__)


def suite_for_run(run: RunDir, suite_path: str | Path | None = None) -> Suite:
    """The suite a run was made with. Without ``--suite`` it is the bundled suite whose sha256 the run
    recorded (so a run made with v1.0 is scored with v1.0); a given suite whose content differs from the
    one recorded is refused."""
    manifest = run.read_manifest()
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
                           "report them separately")
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


def score_run(run_dir: str | Path, judge: str, config: ScoringConfig = ScoringConfig(), suite_path: str | Path | None = None) -> dict:
    """Score ``judgments/<judge>.jsonl`` of a run and write ``scores/<judge>.json``; return what was written.

    Every video that has at least one judgment row is scored; a question without a row counts as a
    missing (invalid) answer, so a partly judged video is never scored on its answered questions only.
    Layer weights are the suite's unless ``config.layer_weights`` overrides them; the result records which.
    """
    run = RunDir(run_dir)
    if not run.root.is_dir():
        raise VRBenchError(f"{run.root}: run directory not found")
    suite = suite_for_run(run, suite_path)
    weights_source = "suite" if config.layer_weights is None else "override"
    if config.layer_weights is None:
        config = replace(config, layer_weights=suite.layer_weights)
    rows = run.read_judgments(judge)
    path = run.judgments_file(judge)

    cases = {c.id: c for c in suite.cases}
    videos: dict[tuple[str, int], dict[str, Answer]] = {}
    first_line: dict[tuple[str, int, str], int] = {}
    for r in rows:
        case = cases.get(r.case)
        if case is None:
            raise VRBenchError(f"{path}:{r.line}: case: unknown case '{r.case}' (not in suite {suite.name} {suite.version})")
        try:
            q = case.question(r.question)
        except KeyError:
            raise VRBenchError(f"{path}:{r.line}: question: case {r.case} has no question '{r.question}' (expected Q1-Q{len(case.questions)})") from None
        key = (r.case, r.seed, r.question)
        if key in first_line:
            raise VRBenchError(f"{path}:{r.line}: duplicate row for {r.case} seed {r.seed} {r.question} (first at line {first_line[key]})")
        first_line[key] = r.line
        videos.setdefault((r.case, r.seed), {})[r.question] = Answer(q.layer, r.answer, r.p_yes)

    scored = []
    for (case_id, seed), answers in sorted(videos.items()):
        case = cases[case_id]
        missing = [q for q in case.questions if q.id not in answers]
        full = [answers.get(q.id, Answer(q.layer, INVALID)) for q in case.questions]
        scored.append(score_video(case_id, case.dimension, seed, full, config, n_missing=len(missing)))
    if not scored:
        raise VRBenchError(f"{path}: no judgment rows to score")

    expected = {d: len(cs) for d, cs in suite.cases_by_dimension().items()}
    scores = aggregate(
        scored,
        [d.code for d in suite.dimensions],
        {c.code: c.dimensions for c in suite.categories},
        config,
        expected_cases=expected,
    )
    manifest = run.read_manifest() or {}
    generated = latest_generations(run.root)
    expected = expected_pairs(manifest, suite, generated)
    result = {
        "vrbench_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(run.root),
        "judge": judge,
        "model": (manifest.get("generator") or {}).get("name"),
        "suite": suite.info(),
        # (case, seed) pairs of the run with no video (not generated yet, a dead shard, a failed generation)
        "videos_missing": missing_videos(expected, generated),
        "videos_expected": len(expected),
        **scores.to_dict(),
    }
    result["config"]["layer_weights_source"] = weights_source
    atomic_write_json(run.scores_file(judge), result)
    log.info("wrote %s", run.scores_file(judge))
    return result
