"""The `vrbench` command line.

Each subcommand is a small function taking the parsed arguments; user mistakes raise VRBenchError
and are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .errors import SuiteError, VRBenchError

log = logging.getLogger("vrbench")


# --- list -----------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    from .console import table

    if args.what in ("models", "generators"):
        from vrbench.generators import GENERATORS

        rows = GENERATORS.describe()
        print(table(["model", "description"], rows, "ll") if rows else "no models registered")
    elif args.what == "judges":
        from vrbench.judges import JUDGES

        rows = JUDGES.describe()
        print(table(["judge", "description"], rows, "ll") if rows else "no judges registered")
    else:
        from .suite import load_suite

        suite = load_suite(args.suite)
        cases = suite.select(args.cases)
        if args.format == "jsonl":
            for c in cases:
                print(json.dumps(c.to_dict(), ensure_ascii=False))
        else:
            width = 90
            rows = [[c.id, c.category, c.prompt if len(c.prompt) <= width else c.prompt[: width - 1] + "…"] for c in cases]
            print(table(["case", "category", "prompt"], rows, "lll"))
            print(f"{len(cases)} of {len(suite.cases)} cases, suite {suite.name} {suite.version}")
    return 0


# --- suite lint -----------------------------------------------------------------------------------


def cmd_suite_lint(args) -> int:
    from .console import table
    from .suite import lint_suite

    suite, problems = lint_suite(args.path)
    if args.dimension:
        wanted = {d.upper() for d in args.dimension}
        problems = [p for p in problems if p.dimension is None or p.dimension in wanted]
    for p in problems:
        print(p)
    if suite is not None:
        counts = {d.code: 0 for d in suite.dimensions}
        for c in suite.cases:
            counts[c.dimension] += 1
        rows = [[d.code, d.name, d.category, counts[d.code]] for d in suite.dimensions
                if not args.dimension or d.code in {x.upper() for x in args.dimension}]
        print(table(["dimension", "name", "category", "valid cases"], rows, "lllr"))
        print(f"suite {suite.name} {suite.version}: {len(suite.cases)} valid cases, sha256 {suite.sha256[:12]}")
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", file=sys.stderr)
        return 1
    print("ok")
    return 0


# --- score ----------------------------------------------------------------------------------------


def cmd_score(args) -> int:
    from .console import scores_table
    from .runstore import RunDir
    from .scoring import ScoringConfig
    from .stages import score_run, suite_for_run

    run = RunDir(args.run_dir)
    judges = [args.judge] if args.judge else run.judges()
    if not judges:
        raise VRBenchError(f"{run.root}: no judgments/<judge>.jsonl files to score")
    try:
        config = ScoringConfig(
            layer_weights=tuple(args.layer_weights) if args.layer_weights else (0.2, 0.3, 0.5),
            soft=args.soft,
            gating=args.gating,
            bootstrap_samples=args.bootstrap,
            seed=args.seed,
        )
    except ValueError as e:
        raise VRBenchError(f"scoring options: {e}") from None
    suite = suite_for_run(run, args.suite)
    for judge in judges:
        result = score_run(run.root, judge, config, args.suite)
        print(f"{run.root} · judge {judge} · {'soft' if config.soft else 'hard'} answers"
              f"{' · gating' if config.gating else ''} · suite {suite.name} {suite.version}")
        print(scores_table(result, suite))
        print(f"wrote {run.scores_file(judge)}")
    return 0


# --- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrbench",
        description="VR-Bench: does this text-to-video model reason? Generate videos, judge them with an MLLM, score and publish.",
        epilog="Run `vrbench COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"vrbench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list registered models, judges, or the suite's cases",
                       description="List registered models (generators), judges, or the suite's cases.")
    p.add_argument("what", choices=["models", "generators", "judges", "cases"], help="what to list")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--cases", nargs="+", metavar="SEL", help="only these dimensions (ETV), categories (HL-Comm) or ids (ETV-07)")
    p.add_argument("--format", choices=["text", "jsonl"], default="text", help="output format for cases (default: text)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("suite", help="work with the benchmark suite", description="Work with the benchmark suite.")
    suite_sub = p.add_subparsers(dest="suite_command", metavar="SUBCOMMAND", required=True)
    q = suite_sub.add_parser("lint", help="validate a suite and print per-dimension counts",
                             description="Validate every case of a suite (format, layers, negations, leaks, duplicates); "
                                         "print each problem as file:line: field: problem and exit 1 if there are any.")
    q.add_argument("path", nargs="?", help="suite directory holding suite.json (default: the bundled VR-Bench)")
    q.add_argument("--dimension", nargs="+", metavar="DIM", help="only report problems and counts for these dimensions")
    q.set_defaults(func=cmd_suite_lint)

    p = sub.add_parser("score", help="score a run's judgments",
                       description="Read RUN_DIR/judgments/<judge>.jsonl, write RUN_DIR/scores/<judge>.json and print "
                                   "per-dimension, per-category and overall scores with 95%% bootstrap CIs.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--judge", help="judge whose judgments to score (default: every judge in the run)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--soft", action="store_true", help="use P(yes) where the judge gave one instead of hard yes/no")
    p.add_argument("--gating", action="store_true", help="a case whose layer-1 answers are all 'no' scores 0 on layers 2 and 3")
    p.add_argument("--layer-weights", nargs=3, type=float, metavar=("W1", "W2", "W3"), help="layer weights (default: 0.2 0.3 0.5)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for CIs (default: 1000; 0 = none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap random seed (default: 0)")
    p.set_defaults(func=cmd_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2) if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SuiteError as e:
        for p in e.problems[:20]:
            print(f"vrbench: error: {p}", file=sys.stderr)
        if len(e.problems) > 20:
            print(f"vrbench: error: ... and {len(e.problems) - 20} more (run `vrbench suite lint`)", file=sys.stderr)
        return 2
    except VRBenchError as e:
        print(f"vrbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vrbench: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vrbench list cases | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
