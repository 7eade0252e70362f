"""`vrbench demo`: the whole pipeline on a few cases with tiny random models."""

from __future__ import annotations

from pathlib import Path

from .common import add_judge_options, judge_options
from .generate import add_generation_options, generate_videos
from .run import judge_and_score
from .score import add_scoring_options, scoring_config

#: `vrbench demo`: tiny random models, so it runs anywhere in about a minute
DEMO_MODEL = "tiny-wan"
DEMO_JUDGE = "tiny-qwen-vl"



def cmd_demo(args) -> int:
    from ..audit import audit_run
    from ..report import build_site, write_table
    from ..results import load_runs
    from ..suite import load_suite

    suite = load_suite(args.suite)
    if not args.cases:  # the first case of every dimension, so every score (and the overall) is defined
        args.cases = [next(c.id for c in suite.cases if c.dimension == d.code) for d in suite.dimensions]
    print(f"vrbench demo: {DEMO_MODEL} -> {DEMO_JUDGE} on {len(suite.select(args.cases))} cases (a CPU is enough).")
    print("Both models have RANDOM weights: the videos are noise and the numbers below are meaningless; "
          "the demo only shows that the whole pipeline works on this machine.")
    judge_opts, config = judge_options(args), scoring_config(args)
    summary = generate_videos(args)
    judge_and_score(args, summary.run_dir, judge_opts, config)
    # the judge audit on control clips (static, reversed, shuffled, another case's video), shown in the report
    audit = audit_run(summary.run_dir, args.judge, options=judge_opts, suite_path=args.suite, progress=not args.no_progress)
    flagged = audit["summary"]["overall"]["flagged"]
    print(f"audit: {audit['asked']['questions']} questions on control clips; flags raised overall: {', '.join(flagged) or 'none'}")

    runs = load_runs([summary.run_dir], suite)
    index = build_site(runs, suite, Path(summary.run_dir) / "report")
    print(f"wrote {index} (leaderboard of this one demo run; open it in a browser)")
    table = write_table(runs, suite, Path(summary.run_dir) / "report" / "leaderboard.md", "markdown", ci=True)
    print(f"wrote {table} (the same leaderboard as a Markdown table; --format latex|csv give the others)")
    run_dir = summary.run_dir
    print(f"Label its videos yourself, blind, in the browser: vrbench label {run_dir} --annotator NAME; then compare the "
          f"judge with your labels: vrbench agreement {run_dir} --human labels-NAME.csv (README: \"Labelling a study\").")
    print("Again: random weights, meaningless numbers. For real results see `vrbench run --help` and the README.")
    return 0



def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="the whole pipeline on a few cases with tiny random models (CPU, about a minute)",
        description=f"Run generate -> judge -> score -> audit -> report with {DEMO_MODEL} and {DEMO_JUDGE}, tiny randomly "
                    "initialised models built on the spot (no download). Random weights: the numbers are meaningless.",
    )
    add_generation_options(p, model_required=False)
    add_judge_options(p)
    add_scoring_options(p)
    p.set_defaults(func=cmd_demo, model=DEMO_MODEL, judge=DEMO_JUDGE, model_path=None, gen_arg=[], dtype=None,
                   device=None, offload=None, shard=None, overwrite=False, out="runs/demo")
