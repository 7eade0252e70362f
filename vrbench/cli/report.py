"""`vrbench report`: the static HTML leaderboard site."""

from __future__ import annotations

from .common import read_runs


def cmd_report(args) -> int:
    from ..agreement import all_agreements
    from ..report import build_site
    from ..vbench import read_vbench_sources

    # Read every input before writing anything, so a bad file never leaves a half-made site.
    vbench = read_vbench_sources(args.vbench, percent=args.percent) if args.vbench else None
    suite, labels, runs = read_runs(args)
    agreement = None
    if labels is not None or len({j for r in runs for j in r.judges}) > 1:
        agreement = all_agreements(runs, suite, labels, samples=args.bootstrap, seed=args.bootstrap_seed)
    index = build_site(runs, suite, args.out, vbench=vbench, agreement=agreement, copy_videos=args.copy_videos)
    print(f"wrote {index} (open it in a browser; it needs no network)")
    return 0



def register(sub) -> None:
    p = sub.add_parser("report", help="build the static HTML leaderboard site",
                       description="Build a static site (leaderboard, charts, a page per run, a page per case with its video) "
                                   "from run directories. It opens from file:// with no network. A run is named by its label: "
                                   "run.json's label (`vrbench generate --label`), else its folder's name.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (several runs of one model may be shown; each needs its own label)")
    p.add_argument("--out", required=True, metavar="SITE", help="folder to write the site into")
    p.add_argument("--vbench", nargs="+", metavar="FILE", default=[],
                   help="VBench results to show beside VR-Bench: a CSV with a model column, or NAME=RESULTS.json; "
                        "a VBench name is matched to a run label (exactly, else ignoring case)")
    p.add_argument("--percent", action="store_true", help="VBench CSV values are percentages (0-100), as on the VBench leaderboard")
    p.add_argument("--human", metavar="FILE", help="human labels CSV: run,case,question,answer[,seed] or run,score, where run is a run's label "
                                                   "(the column may be called model)")
    p.add_argument("--copy-videos", action="store_true", help="copy videos into the site (self-contained) instead of linking to the runs")
    p.add_argument("--suite", metavar="PATH", help="suite directory (default: the bundled VR-Bench)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for agreement CIs (default: 1000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="bootstrap random seed (default: 0)")
    p.set_defaults(func=cmd_report)
