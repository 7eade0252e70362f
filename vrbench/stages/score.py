"""The score stage: reads a run's ``judgments/<judge>.jsonl`` and writes ``scores/<judge>.json``."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..answers import INVALID
from ..errors import VRBenchError
from ..files import atomic_write_json
from ..runstore import RunDir, expected_pairs, latest_generations, missing_videos, suite_for_run
from ..scoring import Answer, ScoringConfig, aggregate, score_video

log = logging.getLogger(__name__)


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

    cases_expected = {d: len(cs) for d, cs in suite.cases_by_dimension().items()}
    scores = aggregate(
        scored,
        [d.code for d in suite.dimensions],
        {c.code: c.dimensions for c in suite.categories},
        config,
        expected_cases=cases_expected,
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
