"""`vrbench run`: generate -> judge -> score in one command."""

from __future__ import annotations

import time
from pathlib import Path

from .common import add_judge_options, judge_options
from .generate import add_generation_options, exit_status, generate_videos
from .score import add_scoring_options, scoring_config


def judge_and_score(args, run_dir: Path, judge_opts: dict, config) -> None:
    """Judge and score a complete run (called by the one process that completed it; the lock guards against a
    `vrbench judge` started by hand at the same time)."""
    from ..console import scores_table
    from ..runstore import RunDir, run_lock, suite_for_run, update_manifest
    from ..stages.generate import utc_now
    from ..stages.judge import judge_run
    from ..stages.score import score_run

    started, t0 = utc_now(), time.monotonic()
    with run_lock(run_dir, "judge"):
        summary = judge_run(run_dir, args.judge, options=judge_opts, judge_url=args.judge_url,
                            concurrency=args.concurrency, suite_path=args.suite, cases=args.cases,
                            progress=not args.no_progress, max_failures=args.max_failures)
        print(f"judge {args.judge}: {summary['questions']} questions on {summary['videos']} videos "
              f"({summary['cache_hits']} from the cache), {summary['already_judged']} already judged")
        result = score_run(run_dir, args.judge, config, args.suite)

    def record(manifest: dict) -> None:
        manifest.setdefault("timings", {})[f"judge+score {args.judge}"] = {
            "started": started, "finished": utc_now(), "seconds": round(time.monotonic() - t0, 3)}

    update_manifest(run_dir, record)
    print(scores_table(result, suite_for_run(RunDir(run_dir), args.suite)))
    print(f"wrote {RunDir(run_dir).scores_file(args.judge)}")



def cmd_run(args) -> int:
    judge_opts, config = judge_options(args), scoring_config(args)  # bad judge settings fail before generating
    summary = generate_videos(args)
    if not summary.judge_here:  # several ranks or shards: exactly one judges and scores, the one that completed the run
        print("other shards are still generating; the last one to finish judges and scores the run" if not summary.complete
              else "another process (the one that finished the run) judges and scores it")
        return exit_status(summary)
    judge_and_score(args, summary.run_dir, judge_opts, config)
    return exit_status(summary)



def register(sub) -> None:
    p = sub.add_parser(
        "run", help="generate, judge and score in one go",
        description="Generate the videos, ask the judge every question, and score: the three stages of "
                    "`vrbench generate`, `vrbench judge` and `vrbench score`, each resumable.",
        epilog="Example: vrbench run --model lumos-nexus --judge qwen3-vl --judge-url http://localhost:8000/v1",
    )
    add_generation_options(p)
    p.add_argument("--judge", required=True, metavar="NAME", help="registered judge (`vrbench list judges`)")
    add_judge_options(p)
    add_scoring_options(p)
    p.set_defaults(func=cmd_run)
