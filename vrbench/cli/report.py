"""`vrbench report`: the static HTML leaderboard site."""

from __future__ import annotations


def cmd_report(args) -> int:
    from ..agreement import all_agreements, read_human_labels
    from ..report import build_site, load_runs
    from ..runstore import suite_for_runs
    from ..vbench import read_vbench_sources

    suite = suite_for_runs(args.run_dirs, args.suite)  # the suite the runs recorded (v1.0 runs: v1.0)
    # Read every input before writing anything, so a bad file never leaves a half-made site.
    vbench = read_vbench_sources(args.vbench, percent=args.percent) if args.vbench else None
    labels = read_human_labels(args.human) if args.human else None
    runs = load_runs(args.run_dirs, suite)
    agreement = None
    if labels is not None or len({j for r in runs for j in r.judges}) > 1:
        agreement = all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)
    index = build_site(runs, suite, args.out, vbench=vbench, agreement=agreement, copy_videos=args.copy_videos)
    print(f"wrote {index} (open it in a browser; it needs no network)")
    return 0



def register(sub) -> None:
    p = sub.add_parser("report", help="build the static HTML leaderboard site",
                       description="Build a static site (leaderboard, charts, a page per model, a page per case with its video) "
                                   "from run directories. It opens from file:// with no network.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (one per model)")
    p.add_argument("--out", required=True, metavar="SITE", help="folder to write the site into")
    p.add_argument("--vbench", nargs="+", metavar="FILE", default=[],
                   help="VBench results to show beside VR-Bench: a CSV with a model column, or MODEL=RESULTS.json")
    p.add_argument("--percent", action="store_true", help="VBench CSV values are percentages (0-100), as on the VBench leaderboard")
    p.add_argument("--human", metavar="FILE", help="human labels CSV: model,case,question,answer[,seed] or model,score")
    p.add_argument("--copy-videos", action="store_true", help="copy videos into the site (self-contained) instead of linking to the runs")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for agreement CIs (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.set_defaults(func=cmd_report)
