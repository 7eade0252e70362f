"""`vrbench generate`, `vrbench run` (generate -> judge -> score) and `vrbench demo`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import VRBenchError
from .judge import add_judge_options, judge_options
from .suite import add_cases_option

#: `vrbench demo`: tiny random models, so it runs anywhere in about a minute
DEMO_MODEL = "tiny-wan"
DEMO_JUDGE = "tiny-qwen-vl"


def _generator_options(args) -> dict:
    """``--gen-arg`` pairs plus the ``--model-path/--dtype/--device/--offload`` shortcuts, checked against the model."""
    from vrbench.generators import get_generator

    from ..options import option_types, parse_options

    cls = get_generator(args.model)
    options = parse_options(cls, args.gen_arg, owner=f"model {args.model}")
    accepted = option_types(cls)
    for flag, key in (("--model-path", "model_path"), ("--dtype", "dtype"), ("--device", "device"), ("--offload", "offload")):
        value = getattr(args, key)
        if value is None:
            continue
        if key not in accepted:
            raise VRBenchError(f"model {args.model} takes no {flag} (options: {', '.join(sorted(accepted)) or 'none'})")
        options[key] = value
    return options


def _out_dir(args) -> Path:
    from ..runstore import safe_name

    return Path(args.out) if args.out else Path("runs") / safe_name(args.model)


def _generate(args):
    from ..generation import current_shard, generate_run

    summary = generate_run(
        _out_dir(args), args.model, options=_generator_options(args), cases=args.cases, seeds=args.seeds,
        limit=args.limit, suite_path=args.suite, shard=current_shard(args.shard), overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(summary.line())
    for case_id, seed, error in summary.failed[:20]:
        print(f"  failed: {case_id} seed {seed}: {error}", file=sys.stderr)
    if len(summary.failed) > 20:
        print(f"  ... and {len(summary.failed) - 20} more failures (see generations.jsonl)", file=sys.stderr)
    return summary


#: exit status when some (case, seed) failed but the others were made (batch jobs can tell it from 2, a usage error)
EXIT_SOME_FAILED = 3


def _status(summary) -> int:
    return EXIT_SOME_FAILED if summary.failed else 0  # the summary line names how many failed


def cmd_generate(args) -> int:
    return _status(_generate(args))


def _judge_and_score(args, run_dir: Path, judge_opts: dict, config) -> None:
    """Judge and score a complete run; under a lock, so the last of several shards does it exactly once."""
    from ..console import scores_table
    from ..generation import utc_now
    from ..runstore import run_lock, update_manifest
    from ..judging import judge_run
    from ..runstore import RunDir
    from ..stages import score_run, suite_for_run

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
    from .score import scoring_config

    judge_opts, config = judge_options(args), scoring_config(args)  # bad judge settings fail before generating
    summary = _generate(args)
    if not summary.complete:
        print("other shards are still generating; the last one to finish judges and scores the run")
        return _status(summary)
    _judge_and_score(args, summary.run_dir, judge_opts, config)
    return _status(summary)


def cmd_demo(args) -> int:
    from ..report import build_site, load_runs
    from ..suite import load_suite
    from .score import scoring_config

    suite = load_suite(args.suite)
    if not args.cases:  # the first case of every dimension, so every score (and the overall) is defined
        args.cases = [next(c.id for c in suite.cases if c.dimension == d.code) for d in suite.dimensions]
    print(f"vrbench demo: {DEMO_MODEL} -> {DEMO_JUDGE} on {len(suite.select(args.cases))} cases (a CPU is enough).")
    print("Both models have RANDOM weights: the videos are noise and the numbers below are meaningless; "
          "the demo only shows that the whole pipeline works on this machine.")
    judge_opts, config = judge_options(args), scoring_config(args)
    summary = _generate(args)
    _judge_and_score(args, summary.run_dir, judge_opts, config)

    index = build_site(load_runs([summary.run_dir], suite), suite, Path(summary.run_dir) / "report")
    print(f"wrote {index} (leaderboard of this one demo run; open it in a browser)")
    print("Again: random weights, meaningless numbers. For real results see `vrbench run --help` and the README.")
    return 0


def _add_generation_options(p: argparse.ArgumentParser, model_required: bool = True) -> None:
    if model_required:
        p.add_argument("--model", required=True, metavar="NAME", help="registered model (`vrbench list models`)")
        p.add_argument("--model-path", metavar="PATH", help="local weights (a diffusers folder) or another Hub id; "
                                                            "for --model videos, the folder of videos")
        p.add_argument("--gen-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="a model option, e.g. steps=30, guidance=6, height=720 (repeatable)")
        p.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"], help="weights dtype (default: the model's)")
        p.add_argument("--device", help="auto (default: cuda:$LOCAL_RANK if CUDA, else cpu), cpu, cuda, cuda:N")
        p.add_argument("--offload", choices=["none", "model", "sequential"], help="CPU offload to save GPU memory")
        p.add_argument("--shard", metavar="i/N", help="only every N-th (case, seed) pair starting at i (0-based), for job "
                                                      "arrays; under torchrun each rank also takes its share")
        p.add_argument("--overwrite", action="store_true",
                       help="the run dir was made with other settings: discard its videos, judgments and scores")
    add_cases_option(p)
    p.add_argument("--seeds", type=int, default=1, metavar="N", help="videos per case, seeds 0..N-1 (default: 1)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N selected cases")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<model>)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub) -> None:
    from .score import add_scoring_options

    p = sub.add_parser(
        "generate", help="generate the suite's videos with a model",
        description="Generate a video per (case, seed) into OUT/videos/ and a row per video into OUT/generations.jsonl. "
                    "Resumable: rerun the same command after a crash or Ctrl-C and finished videos are skipped. "
                    "Under torchrun / accelerate launch each rank generates its share.",
        epilog="Example: vrbench generate --model wan2.1-t2v-1.3b --cases ETV CCR --seeds 2 --out runs/wan13b",
    )
    _add_generation_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "run", help="generate, judge and score in one go",
        description="Generate the videos, ask the judge every question, and score: the three stages of "
                    "`vrbench generate`, `vrbench judge` and `vrbench score`, each resumable.",
        epilog="Example: vrbench run --model lumos-nexus --judge qwen3-vl --judge-url http://localhost:8000/v1",
    )
    _add_generation_options(p)
    p.add_argument("--judge", required=True, metavar="NAME", help="registered judge (`vrbench list judges`)")
    add_judge_options(p)
    add_scoring_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo", help="the whole pipeline on a few cases with tiny random models (CPU, about a minute)",
        description=f"Run generate -> judge -> score -> report with {DEMO_MODEL} and {DEMO_JUDGE}, tiny randomly "
                    "initialised models built on the spot (no download). Random weights: the numbers are meaningless.",
    )
    _add_generation_options(p, model_required=False)
    add_judge_options(p)
    add_scoring_options(p)
    p.set_defaults(func=cmd_demo, model=DEMO_MODEL, judge=DEMO_JUDGE, model_path=None, gen_arg=[], dtype=None,
                   device=None, offload=None, shard=None, overwrite=False, out="runs/demo")
