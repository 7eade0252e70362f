"""`vrbench judge`."""

from __future__ import annotations

from .common import add_cases_option, add_judge_options, judge_options


def cmd_judge(args) -> int:
    from ..stages.judge import judge_run

    options = judge_options(args)
    summary = judge_run(
        args.run_dir, args.judge, options=options, judge_url=args.judge_url, concurrency=args.concurrency,
        suite_path=args.suite, cases=args.cases, progress=not args.no_progress, use_cache=not args.no_cache,
        retry_errors=args.retry_errors, rejudge=args.rejudge, max_failures=args.max_failures,
    )
    print(f"judge {summary['judge']}: {summary['videos']} videos, {summary['questions']} questions "
          f"({summary['cache_hits']} from the cache, {summary['requests']} requests), "
          f"{summary['already_judged']} already judged")
    print(f"answers: {summary['yes']} yes, {summary['no']} no, {summary['invalid']} invalid ({summary['errors']} errors)")
    if summary["set_aside"]:
        print(f"note: {summary['set_aside']} answers under the old settings were set aside; all questions were asked afresh")
    if summary["skipped_generation_errors"]:
        print(f"note: {summary['skipped_generation_errors']} videos failed to generate and were not judged")
    if summary["missing_videos"]:
        print(f"note: {summary['missing_videos']} (case, seed) pairs have no video yet and were not judged")
    print(f"wrote {summary['judgments']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "judge", help="answer every video's questions with an MLLM judge",
        description="Ask a judge the 8 questions of every video in RUN_DIR/generations.jsonl and append the answers to "
                    "RUN_DIR/judgments/<judge>.jsonl. Resumes: questions already answered are not asked again; answers in "
                    "the judge cache ($VRBENCH_CACHE_DIR or ~/.cache/vrbench) cost no request.",
        epilog="Judges: `vrbench list judges`. Examples: --judge qwen3-vl --judge-url http://localhost:8000/v1 · "
               "--judge gpt --judge-arg model=gpt-4.1 (key from OPENAI_API_KEY) · "
               "--judge transformers --judge-arg model=Qwen/Qwen3-VL-2B-Instruct",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--judge", required=True, metavar="NAME", help="registered judge name")
    add_judge_options(p)
    add_cases_option(p)
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--retry-errors", action="store_true", help="ask again the questions whose request or video failed")
    p.add_argument("--rejudge", action="store_true",
                   help="the run was judged under other settings: set those answers aside and ask everything again")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the judge cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_judge)
