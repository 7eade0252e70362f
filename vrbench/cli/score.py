"""`vrbench score`."""

from __future__ import annotations

from ..errors import VRBenchError


def cmd_score(args) -> int:
    from ..console import scores_table
    from ..runstore import RunDir, suite_for_run
    from ..stages.score import score_run

    run = RunDir(args.run_dir)
    suite = suite_for_run(run, args.suite)  # first: a run of VBench's prompts is refused as such, judged or not
    judges = [args.judge] if args.judge else run.judges()
    if not judges:
        raise VRBenchError(f"{run.root}: no judgments/<judge>.jsonl files to score")
    config = scoring_config(args)
    for judge in judges:
        result = score_run(run.root, judge, config, args.suite)
        used = result["config"]
        print(f"{run.root} · judge {judge} · {'soft' if config.soft else 'hard'} answers"
              f"{' · gating' if config.gating else ''} · suite {suite.name} {suite.version}"
              f" · layer weights {'/'.join(f'{w:g}' for w in used['layer_weights'])} ({used['layer_weights_source']})")
        print(scores_table(result, suite))
        print(f"wrote {run.scores_file(judge)}")
    return 0


def scoring_config(args):
    """The ScoringConfig of the options added by ``add_scoring_options``."""
    from ..scoring import ScoringConfig

    try:
        return ScoringConfig(
            layer_weights=tuple(args.layer_weights) if args.layer_weights else None,  # None: the suite's
            soft=args.soft,
            gating=args.gating,
            bootstrap_samples=args.bootstrap,
            seed=args.bootstrap_seed,
        )
    except ValueError as e:
        raise VRBenchError(f"scoring options: {e}") from None


def add_scoring_options(p) -> None:
    """Options shared by every command that scores (`score`, `run`)."""
    p.add_argument("--soft", action="store_true", help="use P(yes) where the judge gave one instead of hard yes/no")
    p.add_argument("--gating", action="store_true", help="a case with no 'yes' in layer 1 scores 0 on layers 2 and 3")
    p.add_argument("--layer-weights", nargs=3, type=float, metavar=("W1", "W2", "W3"), help="layer weights (default: the suite's, 0.2 0.3 0.5 for VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for CIs (default: 1000; 0 = none)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")


def register(sub) -> None:
    p = sub.add_parser("score", help="score a run's judgments",
                       description="Read RUN_DIR/judgments/<judge>.jsonl, write RUN_DIR/scores/<judge>.json and print "
                                   "per-dimension, per-category and overall scores with 95%% bootstrap CIs.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--judge", help="judge whose judgments to score (default: every judge in the run)")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    add_scoring_options(p)
    p.set_defaults(func=cmd_score)
